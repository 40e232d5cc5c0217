/* mod_vcard.c -- vcard-temp (XEP-0054) and vCard-based avatars in
 * presence (XEP-0153).
 *
 * An account sets its vCard with an iq set to itself and reads it back
 * with a get; another account reads it with a get to the bare JID, if it
 * may see the account's presence (subscription from or both): a
 * customer's profile is not public. Without a vCard a get answers an
 * empty <vCard/>.
 *
 * When the vCard holds a PHOTO, its SHA-1 goes into the account's
 * available presence as <x xmlns='vcard-temp:x:update'><photo>HASH</photo>
 * (XEP-0153 §3.2), in place of any the client put there, so contacts'
 * clients know when to fetch a new avatar. vCards live in the store's
 * key-value documents: the vCard itself and the photo's hash. A new
 * photo set by a client fires "vcard-photo" (mod_vcard.h), which avatar
 * conversion (XEP-0398) follows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/err.h"
#include "mod/mod.h"
#include "mod/mod_roster.h"
#include "mod/mod_util.h"
#include "mod/mod_vcard.h"
#include "store/store.h"
#include "xml/xser.h"
#include "xml/xstream.h"
#include "xmpp/errors.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_VCARD "vcard-temp"
#define NS_UPDATE "vcard-temp:x:update"
#define VCARD_MAX (256u << 10) /* bytes of a stored vCard, photo included */

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static bool from_owner(const struct hook_ctx *h)
{
    return h->sess && h->user && is(h->user, h->sess->username);
}

/* May the sender see the account's profile? Its own sessions, and
 * contacts the account shares its presence with. */
static bool may_read(const struct hook_ctx *h)
{
    if (from_owner(h))
        return true;
    if (!h->from || !h->from->s)
        return false;
    char *bare = jid_bare_dup(h->from);
    struct roster_item it;
    bool ok = roster_load(h->user, bare, &it) == 0 &&
              (it.sub == SUB_FROM || it.sub == SUB_BOTH);
    roster_item_free(&it);
    free(bare);
    return ok;
}

static int vcard_get(struct hook_ctx *h, struct stanza *iq)
{
    if (!may_read(h))
        return -SE_FORBIDDEN;
    if (!h->sess) /* only clients ask; the answer is spliced for them */
        return -SE_SERVICE_UNAVAILABLE;
    struct buf b = BUF_INIT;
    int r = store_kv_get(srv.store, h->user, NS_VCARD, "vcard", &b);
    if (r < 0 && r != -ERR_NOTFOUND) {
        buf_free(&b);
        return -SE_INTERNAL_SERVER_ERROR;
    }
    if (r != 0)
        buf_append_str(&b, "<vCard xmlns='" NS_VCARD "'/>");
    iq_reply_raw(h, iq, buf_data(&b), buf_used(&b));
    buf_free(&b);
    return HOOK_HANDLED;
}

/* The vCard's decoded PHOTO/BINVAL, appended to bin; its TYPE to type
 * (when given). 0, or -1 when there is no photo. */
static int photo_decode(const struct stanza *vc, struct buf *bin,
                        struct buf *type)
{
    struct stanza *photo = stanza_child(vc, NS_VCARD, "PHOTO");
    struct stanza *binval = stanza_child(photo, NS_VCARD, "BINVAL");
    if (!binval)
        return -1;
    struct buf b64 = BUF_INIT;
    stanza_text(binval, &b64);
    /* Clients wrap base64 in lines; drop the white space first. */
    struct buf clean = BUF_INIT;
    for (size_t i = 0; i < buf_used(&b64); i++) {
        char ch = buf_data(&b64)[i];
        if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t')
            buf_append(&clean, &ch, 1);
    }
    int r = base64_decode(buf_data(&clean), buf_used(&clean), bin) == 0 &&
                    buf_used(bin) > 0
                ? 0
                : -1;
    if (r == 0 && type)
        stanza_child_text(photo, NS_VCARD, "TYPE", type);
    buf_free(&clean);
    buf_free(&b64);
    return r;
}

void vcard_image_hash(const void *data, size_t len, char *out)
{
    unsigned char d[20];
    crypto_hash(CRYPTO_SHA1, data, len, d);
    for (int i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int vcard_photo_hash(const char *user, char *out)
{
    struct buf b = BUF_INIT;
    out[0] = '\0';
    int r = store_kv_get(srv.store, user, NS_VCARD, "photo", &b);
    if (r == 0 && buf_used(&b) == VCARD_HASH_LEN)
        memcpy(out, buf_data(&b), VCARD_HASH_LEN + 1);
    buf_free(&b);
    return r;
}

/* Stores the serialised vCard and its photo's hash. */
static int save(const char *user, const struct buf *xml, const char *hash)
{
    if (buf_used(xml) > VCARD_MAX)
        return -ERR_LIMIT;
    int r = store_kv_put(srv.store, user, NS_VCARD, "vcard", buf_data(xml),
                         buf_used(xml));
    if (r == 0)
        r = store_kv_put(srv.store, user, NS_VCARD, "photo", hash,
                         strlen(hash));
    return r;
}

int vcard_photo_store(const char *user, const char *type, const void *data,
                      size_t len, const char *hash)
{
    struct buf xml = BUF_INIT;
    int r = store_kv_get(srv.store, user, NS_VCARD, "vcard", &xml);
    if (r < 0 && r != -ERR_NOTFOUND)
        goto out;
    struct stanza *vc = r == 0 ? xstream_parse_one(buf_data(&xml),
                                                   buf_used(&xml))
                               : stanza_new(NS_VCARD, "vCard");
    if (!vc) {
        r = -ERR_STORE;
        goto out;
    }
    struct stanza *old;
    while ((old = stanza_child(vc, NS_VCARD, "PHOTO")))
        stanza_remove_child(vc, old);
    if (data) {
        struct stanza *photo = stanza_add_child(vc, NS_VCARD, "PHOTO");
        struct stanza *t = stanza_add_child(photo, NS_VCARD, "TYPE");
        stanza_add_text(t, type, strlen(type));
        struct buf b64 = BUF_INIT;
        base64_encode(data, len, &b64);
        stanza_add_text(stanza_add_child(photo, NS_VCARD, "BINVAL"),
                        buf_data(&b64), buf_used(&b64));
        buf_free(&b64);
    }
    buf_reset(&xml);
    xser_write(vc, NULL, &xml);
    stanza_unref(vc);
    r = save(user, &xml, data ? hash : "");
out:
    buf_free(&xml);
    return r;
}

static int vcard_set(struct hook_ctx *h, struct stanza *iq)
{
    if (!from_owner(h))
        return -SE_FORBIDDEN;
    struct stanza *vc = stanza_child(iq, NS_VCARD, "vCard");
    struct buf xml = BUF_INIT, bin = BUF_INIT, type = BUF_INIT;
    char hash[VCARD_HASH_LEN + 1] = "", old[VCARD_HASH_LEN + 1];
    xser_write(vc, NULL, &xml);
    if (photo_decode(vc, &bin, &type) == 0)
        vcard_image_hash(buf_data(&bin), buf_used(&bin), hash);
    vcard_photo_hash(h->user, old);
    int r = save(h->user, &xml, hash);
    if (r == 0 && strcmp(hash, old) != 0) {
        struct vcard_photo ev = { hash, old, buf_cstr(&type), buf_data(&bin),
                                  buf_used(&bin) };
        struct hook_ctx eh = { .sess = h->sess, .from = h->from,
                               .user = h->user, .data = &ev };
        hooks_fire("vcard-photo", &eh, NULL);
    }
    buf_free(&xml);
    buf_free(&bin);
    buf_free(&type);
    if (r == -ERR_LIMIT)
        return -SE_NOT_ACCEPTABLE;
    if (r < 0)
        return -SE_INTERNAL_SERVER_ERROR;
    return iq_reply_empty(h, iq);
}

/* XEP-0153 §3.2: the avatar's hash in the account's broadcast presence.
 * Once the account has a vCard the server's hash is the one that counts
 * (XEP-0398 §4: a client need not know it), so it replaces the
 * client's, which may be stale or the empty "not ready" element. */
static int presence_out(struct hook_ctx *h, struct stanza *st)
{
    if (!h->sess || stanza_attr(st, "type") || stanza_attr(st, "to"))
        return HOOK_PASS;
    struct buf hash = BUF_INIT;
    if (store_kv_get(srv.store, h->sess->username, NS_VCARD, "photo",
                     &hash) == 0) {
        struct stanza *old;
        while ((old = stanza_child(st, NS_UPDATE, "x")))
            stanza_remove_child(st, old);
        struct stanza *x = stanza_add_child(st, NS_UPDATE, "x");
        struct stanza *p = stanza_add_child(x, NULL, "photo");
        if (buf_used(&hash))
            stanza_add_text(p, buf_data(&hash), buf_used(&hash));
    }
    buf_free(&hash);
    return HOOK_PASS;
}

int mod_vcard_init(struct mod *m)
{
    mod_add_feature(m, NS_VCARD);
    mod_hook_iq(m, IQ_GET, TO_BARE, NS_VCARD, "vCard", vcard_get,
                PRIO_DEFAULT);
    mod_hook_iq(m, IQ_SET, TO_BARE, NS_VCARD, "vCard", vcard_set,
                PRIO_DEFAULT);
    /* Before mod_presence broadcasts the presence. */
    mod_hook(m, "pre-presence", presence_out, PRIO_HIGH);
    return 0;
}
