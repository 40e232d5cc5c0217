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
 * (XEP-0153 §3.2), unless the client put one there itself, so contacts'
 * clients know when to fetch a new avatar. vCards live in the store's
 * key-value documents: the vCard itself and the photo's hash. */
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
#include "store/store.h"
#include "xml/xser.h"
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

/* The SHA-1 (hex) of the vCard's decoded PHOTO/BINVAL, or "" for none. */
static void photo_hash(const struct stanza *vc, char out[41])
{
    out[0] = '\0';
    struct stanza *photo = stanza_child(vc, NS_VCARD, "PHOTO");
    struct stanza *binval = stanza_child(photo, NS_VCARD, "BINVAL");
    if (!binval)
        return;
    struct buf b64 = BUF_INIT, bin = BUF_INIT;
    stanza_text(binval, &b64);
    /* Clients wrap base64 in lines; drop the white space first. */
    struct buf clean = BUF_INIT;
    for (size_t i = 0; i < buf_used(&b64); i++) {
        char ch = buf_data(&b64)[i];
        if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t')
            buf_append(&clean, &ch, 1);
    }
    if (base64_decode(buf_data(&clean), buf_used(&clean), &bin) == 0 &&
        buf_used(&bin) > 0) {
        unsigned char d[20];
        crypto_hash(CRYPTO_SHA1, buf_data(&bin), buf_used(&bin), d);
        for (int i = 0; i < 20; i++)
            snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
    buf_free(&clean);
    buf_free(&b64);
    buf_free(&bin);
}

static int vcard_set(struct hook_ctx *h, struct stanza *iq)
{
    if (!from_owner(h))
        return -SE_FORBIDDEN;
    struct stanza *vc = stanza_child(iq, NS_VCARD, "vCard");
    struct buf xml = BUF_INIT;
    xser_write(vc, NULL, &xml);
    if (buf_used(&xml) > VCARD_MAX) {
        buf_free(&xml);
        return -SE_NOT_ACCEPTABLE;
    }
    char hash[41];
    photo_hash(vc, hash);
    int r = store_kv_put(srv.store, h->user, NS_VCARD, "vcard",
                         buf_data(&xml), buf_used(&xml));
    if (r == 0)
        r = store_kv_put(srv.store, h->user, NS_VCARD, "photo", hash,
                         strlen(hash));
    buf_free(&xml);
    if (r < 0)
        return -SE_INTERNAL_SERVER_ERROR;
    return iq_reply_empty(h, iq);
}

/* XEP-0153 §3.2: the avatar's hash in the account's broadcast presence. */
static int presence_out(struct hook_ctx *h, struct stanza *st)
{
    if (!h->sess || stanza_attr(st, "type") || stanza_attr(st, "to") ||
        stanza_child(st, NS_UPDATE, "x"))
        return HOOK_PASS;
    struct buf hash = BUF_INIT;
    if (store_kv_get(srv.store, h->sess->username, NS_VCARD, "photo",
                     &hash) == 0) {
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
