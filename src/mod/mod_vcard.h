/* mod_vcard.h -- what other modules see of vcard-temp (XEP-0054).
 *
 * Avatar conversion (XEP-0398) keeps the vCard's PHOTO and the PEP
 * avatar of an account in step: it learns of a new vCard photo through
 * the "vcard-photo" event and writes one through vcard_photo_store(). */
#ifndef THEKE_MOD_VCARD_H
#define THEKE_MOD_VCARD_H

#include <stddef.h>

#define VCARD_HASH_LEN 40 /* hex SHA-1 of a photo */

/* The payload of the "vcard-photo" event, fired (h->user the account,
 * h->sess the client's session) after a client stored a vCard whose
 * photo differs from the one before. All borrowed for the event. */
struct vcard_photo {
    const char *hash;     /* hex SHA-1 of the new photo, "" for none */
    const char *old_hash; /* of the photo before, "" for none */
    const char *type;     /* PHOTO/TYPE, "" when not given */
    const void *data;     /* the decoded image, len bytes */
    size_t len;
};

/* The hash XEP-0153 and XEP-0084 name an image by: its SHA-1 in lower
 * case hex, into out (VCARD_HASH_LEN + 1 bytes). */
void vcard_image_hash(const void *data, size_t len, char *out);

/* The hex SHA-1 of the account's vCard photo into out (VCARD_HASH_LEN
 * + 1 bytes): "" when the vCard has none. 0, -ERR_NOTFOUND when the
 * account has no vCard, or another error. */
int vcard_photo_hash(const char *user, char *out);

/* Replaces the PHOTO of user's vCard (created when missing) with an
 * image of MIME type 'type' (len bytes), or removes it when data is
 * NULL; hash is the image's hex SHA-1 (the XEP-0153 hash). Does not
 * fire "vcard-photo". 0, -ERR_LIMIT when the vCard would exceed its
 * limit, or another error. */
int vcard_photo_store(const char *user, const char *type, const void *data,
                      size_t len, const char *hash);

#endif
