/* mod_avatar_conversion.c -- XEP-0398: User Avatar to vCard-Based
 * Avatars Conversion.
 *
 * Modern clients publish their avatar over PEP (XEP-0084); older ones
 * and group chats read the vCard's PHOTO (XEP-0054) and its hash in
 * presence (XEP-0153). The server keeps the two in step, both ways
 * (§3): an avatar published to urn:xmpp:avatar:metadata is copied, from
 * the matching urn:xmpp:avatar:data item, into the vCard; a vCard set
 * with a new PHOTO is published as avatar data and metadata. The
 * presence hash itself is mod_vcard's.
 *
 * Each direction checks whether the other side already holds the same
 * image (by its SHA-1), which is also what ends the echo of its own
 * conversion. Not done: converting image formats (the vCard gets the
 * type the metadata names, PEP the type the vCard names), and avatars
 * whose metadata points only at a URL (§3.1: nothing to copy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_pep.h"
#include "mod/mod_vcard.h"
#include "xml/xstream.h"

#define NS_CONVERSION "urn:xmpp:pep-vcard-conversion:0"
#define NODE_DATA "urn:xmpp:avatar:data"
#define NODE_META "urn:xmpp:avatar:metadata"
#define TYPE_MAX 64 /* bytes of a MIME type */

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

/* The decoded image of an avatar data payload (<data>BASE64</data>),
 * appended to bin. 0, or -1 when it is not one. */
static int decode_data(const char *xml, size_t len, struct buf *bin)
{
    struct stanza *data = xstream_parse_one(xml, len);
    if (!data)
        return -1;
    struct buf text = BUF_INIT, clean = BUF_INIT;
    int r = -1;
    if (is(data->ns, NODE_DATA) && is(data->name, "data")) {
        stanza_text(data, &text);
        /* Base64 may come wrapped in lines. */
        for (size_t i = 0; i < buf_used(&text); i++) {
            char ch = buf_data(&text)[i];
            if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t')
                buf_append(&clean, &ch, 1);
        }
        r = base64_decode(buf_data(&clean), buf_used(&clean), bin) == 0 &&
                    buf_used(bin) > 0
                ? 0
                : -1;
    }
    buf_free(&text);
    buf_free(&clean);
    stanza_unref(data);
    return r;
}

/* §3.1: the metadata names the avatar; its image goes into the vCard.
 * Empty metadata (XEP-0084 §4.5) means no avatar. */
static int pep_published(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    const struct pep_published *ev = h->data;
    if (!is(ev->node, NODE_META))
        return HOOK_PASS;
    struct stanza *meta = xstream_parse_one(ev->xml, ev->len);
    if (!meta)
        return HOOK_PASS;
    /* The first image stored in PEP, not one only linked to. */
    struct stanza *info = NULL;
    for (struct stanza *i = stanza_next_child(meta, NULL, NODE_META, "info");
         i && !info; i = stanza_next_child(meta, i, NODE_META, "info"))
        if (!stanza_attr(i, "url") && stanza_attr(i, "id"))
            info = i;
    bool any = stanza_child(meta, NODE_META, "info") != NULL;
    char have[VCARD_HASH_LEN + 1];
    vcard_photo_hash(ev->user, have);
    struct buf item = BUF_INIT, bin = BUF_INIT;
    if (!info) {
        if (!any && *have &&
            vcard_photo_store(ev->user, NULL, NULL, 0, "") < 0)
            log_warn(0, "avatar: could not remove a vCard photo");
        goto out;
    }
    const char *id = stanza_attr(info, "id");
    const char *type = stanza_attr(info, "type");
    if (strcasecmp(id, have) == 0)
        goto out;
    if (pep_item_get(ev->user, NODE_DATA, id, &item) < 0 ||
        decode_data(buf_data(&item), buf_used(&item), &bin) < 0) {
        log_debug(0, "avatar: metadata without its data");
        goto out;
    }
    char hash[VCARD_HASH_LEN + 1];
    vcard_image_hash(buf_data(&bin), buf_used(&bin), hash);
    /* §3.1: the id is the image's SHA-1; a mismatch is not the image
     * the metadata describes. */
    if (strcasecmp(hash, id) != 0) {
        log_debug(0, "avatar: data does not hash to its id");
        goto out;
    }
    if (vcard_photo_store(ev->user, type && strlen(type) <= TYPE_MAX
                                        ? type
                                        : "image/png",
                          buf_data(&bin), buf_used(&bin), hash) < 0)
        log_warn(0, "avatar: the avatar does not fit into the vCard");
out:
    buf_free(&item);
    buf_free(&bin);
    stanza_unref(meta);
    return HOOK_PASS;
}

/* A MIME type from the image's first bytes, for a vCard photo without
 * TYPE: XEP-0084 metadata must name one. */
static const char *sniff(const unsigned char *p, size_t n)
{
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return "image/jpeg";
    if (n >= 6 && memcmp(p, "GIF8", 4) == 0)
        return "image/gif";
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return "image/webp";
    return "application/octet-stream";
}

/* §3.2: a vCard with a new photo is published as avatar data, then
 * metadata; a vCard without one as empty metadata. */
static int vcard_photo(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    const struct vcard_photo *ev = h->data;
    struct buf xml = BUF_INIT, b64 = BUF_INIT;
    char id[17];
    if (!*ev->hash) {
        crypto_random_token(id, 16);
        buf_append_str(&xml, "<metadata xmlns='" NODE_META "'/>");
        if (pep_publish(h->user, NODE_META, id, buf_data(&xml),
                        buf_used(&xml), NULL) < 0)
            log_warn(0, "avatar: could not publish empty metadata");
        goto out;
    }
    const char *type = ev->type;
    if (!*type || strlen(type) > TYPE_MAX || strpbrk(type, "'<&\""))
        type = sniff(ev->data, ev->len);
    base64_encode(ev->data, ev->len, &b64);
    buf_append_str(&xml, "<data xmlns='" NODE_DATA "'>");
    buf_append(&xml, buf_data(&b64), buf_used(&b64));
    buf_append_str(&xml, "</data>");
    if (pep_publish(h->user, NODE_DATA, ev->hash, buf_data(&xml),
                    buf_used(&xml), NULL) < 0) {
        log_warn(0, "avatar: the vCard photo does not fit into PEP");
        goto out;
    }
    buf_reset(&xml);
    buf_printf(&xml,
               "<metadata xmlns='" NODE_META "'><info bytes='%zu' id='%s'"
               " type='%s'/></metadata>",
               ev->len, ev->hash, type);
    if (pep_publish(h->user, NODE_META, ev->hash, buf_data(&xml),
                    buf_used(&xml), NULL) < 0)
        log_warn(0, "avatar: could not publish the metadata");
out:
    buf_free(&xml);
    buf_free(&b64);
    return HOOK_PASS;
}

int mod_avatar_conversion_init(struct mod *m)
{
    mod_add_account_feature(m, NS_CONVERSION);
    mod_hook(m, "pep-published", pep_published, PRIO_DEFAULT);
    mod_hook(m, "vcard-photo", vcard_photo, PRIO_DEFAULT);
    return 0;
}
