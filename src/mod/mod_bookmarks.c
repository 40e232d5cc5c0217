/* mod_bookmarks.c -- XEP-0402 §5.3: PEP Native Bookmarks kept in step
 * with the bookmarks older clients keep in Private XML Storage
 * (storage:bookmarks of XEP-0048, over XEP-0049).
 *
 * Clients that use the PEP node urn:xmpp:bookmarks:1 (one item per room)
 * only do so when the server announces urn:xmpp:bookmarks:1#compat, so
 * that clients still on private storage see the same rooms. A private
 * storage get of storage:bookmarks answers the rooms of the PEP node
 * (with the other bookmarks, URLs, as stored); a set publishes each
 * room that is new or changed to the node and retracts those no longer
 * listed, then lets mod_private store the document as before. Without a
 * PEP node a get is mod_private's alone.
 *
 * Not done: the storage:bookmarks PEP node of XEP-0223 (#compat-pep). A
 * room's <extensions/> survive a round trip through an old client; its
 * unknown attributes do not. */
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_pep.h"
#include "mod/mod_util.h"
#include "mod/pep_config.h"
#include "store/store.h"
#include "xml/xser.h"
#include "xml/xstream.h"
#include "xmpp/errors.h"
#include "xmpp/jid.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_PRIVATE "jabber:iq:private"
#define NS_LEGACY "storage:bookmarks"
#define NODE "urn:xmpp:bookmarks:1"

/* The node configuration XEP-0402 §3 asks for, in pep_config's text. */
#define OPTIONS                                                                \
    "pubsub#persist_items\t1\n"                                                \
    "pubsub#access_model\twhitelist\n"                                         \
    "pubsub#max_items\tmax\n"                                                  \
    "pubsub#send_last_published_item\tnever\n"

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

/* The rooms of the PEP node: ids (room JIDs) and payloads. */
struct rooms {
    char **id, **xml;
    size_t n;
};

static void rooms_free(struct rooms *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->id[i]);
        free(r->xml[i]);
    }
    free(r->id);
    free(r->xml);
    *r = (struct rooms){ NULL, NULL, 0 };
}

static void take_room(void *ud, const char *id, const char *xml, size_t len)
{
    struct rooms *r = ud;
    r->id = xrealloc(r->id, (r->n + 1) * sizeof(*r->id));
    r->xml = xrealloc(r->xml, (r->n + 1) * sizeof(*r->xml));
    r->id[r->n] = xstrdup(id);
    r->xml[r->n++] = xstrndup(xml, len);
}

static long room_find(const struct rooms *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->id[i], id) == 0)
            return (long)i;
    return -1;
}

/* Copies the text child 'name' from one element to another. */
static void copy_text(struct stanza *to, const char *ns,
                      const struct stanza *from, const char *from_ns,
                      const char *name)
{
    struct buf t = BUF_INIT;
    if (stanza_child_text(from, from_ns, name, &t) == 0)
        stanza_add_text(stanza_add_child(to, ns, name), buf_data(&t),
                        buf_used(&t));
    buf_free(&t);
}

/* XEP-0402 conference (item id jid) -> XEP-0048 conference. */
static void to_legacy(struct stanza *storage, const char *jid,
                      const char *xml)
{
    struct stanza *c = xstream_parse_one(xml, strlen(xml));
    if (!c)
        return;
    if (is(c->ns, NODE) && is(c->name, "conference")) {
        struct stanza *o = stanza_add_child(storage, NS_LEGACY, "conference");
        stanza_set_attr(o, "jid", jid);
        if (stanza_attr(c, "name"))
            stanza_set_attr(o, "name", stanza_attr(c, "name"));
        const char *aj = stanza_attr(c, "autojoin");
        stanza_set_attr(o, "autojoin",
                        is(aj, "true") || is(aj, "1") ? "true" : "false");
        copy_text(o, NS_LEGACY, c, NODE, "nick");
        copy_text(o, NS_LEGACY, c, NODE, "password");
    }
    stanza_unref(c);
}

/* XEP-0048 conference -> XEP-0402 payload, serialised into out; the
 * <extensions/> of the room's current item (old, may be NULL) kept. */
static void from_legacy(const struct stanza *o, const char *old,
                        struct buf *out)
{
    struct stanza *c = stanza_new(NODE, "conference");
    if (stanza_attr(o, "name"))
        stanza_set_attr(c, "name", stanza_attr(o, "name"));
    const char *aj = stanza_attr(o, "autojoin");
    if (is(aj, "true") || is(aj, "1"))
        stanza_set_attr(c, "autojoin", "true");
    copy_text(c, NODE, o, NS_LEGACY, "nick");
    copy_text(c, NODE, o, NS_LEGACY, "password");
    struct stanza *prev = old ? xstream_parse_one(old, strlen(old)) : NULL;
    struct stanza *ext = prev ? stanza_child(prev, NODE, "extensions") : NULL;
    if (ext)
        stanza_add_copy(c, ext);
    xser_write(c, "", out);
    stanza_unref(prev);
    stanza_unref(c);
}

static bool from_owner(const struct hook_ctx *h)
{
    return h->sess && h->user && is(h->user, h->sess->username);
}

static struct stanza *legacy_payload(struct stanza *iq)
{
    struct stanza *q = stanza_child(iq, NS_PRIVATE, "query");
    struct stanza *el = q ? stanza_child(q, NULL, NULL) : NULL;
    if (!el || stanza_elem_count(q) != 1 || !is(el->ns, NS_LEGACY) ||
        !is(el->name, "storage"))
        return NULL;
    return el;
}

/* A get answers the rooms of the PEP node and the other bookmarks of
 * the stored document. */
static int get(struct hook_ctx *h, struct stanza *iq)
{
    struct rooms rooms = { NULL, NULL, 0 };
    if (pep_items_each(h->user, NODE, take_room, &rooms) < 0)
        return HOOK_PASS;
    struct buf doc = BUF_INIT;
    struct stanza *stored = NULL;
    if (store_kv_get(srv.store, h->user, NS_PRIVATE, NS_LEGACY, &doc) == 0)
        stored = xstream_parse_one(buf_data(&doc), buf_used(&doc));
    struct stanza *r = iq_result(iq);
    struct stanza *q = stanza_add_child(r, NS_PRIVATE, "query");
    struct stanza *storage = stanza_add_child(q, NS_LEGACY, "storage");
    for (struct stanza *c = stored ? stanza_next_child(stored, NULL, NULL,
                                                       NULL)
                                   : NULL;
         c; c = stanza_next_child(stored, c, NULL, NULL))
        if (!(is(c->ns, NS_LEGACY) && is(c->name, "conference")))
            stanza_add_copy(storage, c);
    for (size_t i = 0; i < rooms.n; i++)
        to_legacy(storage, rooms.id[i], rooms.xml[i]);
    iq_send_reply(h, r);
    stanza_unref(r);
    stanza_unref(stored);
    buf_free(&doc);
    rooms_free(&rooms);
    return HOOK_HANDLED;
}

/* A set brings the PEP node to the rooms listed, then mod_private
 * stores the document. */
static int set(struct hook_ctx *h, const struct stanza *storage)
{
    struct rooms rooms = { NULL, NULL, 0 };
    pep_items_each(h->user, NODE, take_room, &rooms);
    bool *kept = xcalloc(rooms.n + 1, sizeof(*kept));
    struct pep_config want = { .n = 0 };
    pep_config_read(&want, OPTIONS);
    unsigned count = 0;
    int ret = HOOK_PASS;
    for (struct stanza *o = stanza_next_child(storage, NULL, NS_LEGACY,
                                              "conference");
         o; o = stanza_next_child(storage, o, NS_LEGACY, "conference")) {
        const char *jid = stanza_attr(o, "jid");
        struct jid j = JID_INIT;
        if (!jid || jid_parse(&j, jid, strlen(jid)) < 0 ||
            jid_has_resource(&j)) {
            jid_free(&j);
            continue;
        }
        /* More rooms than the node keeps would lose the oldest. */
        if (++count > PEP_ITEMS_CAP) {
            jid_free(&j);
            ret = -SE_NOT_ACCEPTABLE;
            break;
        }
        long at = room_find(&rooms, j.s);
        struct buf xml = BUF_INIT;
        from_legacy(o, at >= 0 ? rooms.xml[at] : NULL, &xml);
        if (at >= 0)
            kept[at] = true;
        if (at < 0 || strcmp(rooms.xml[at], buf_cstr(&xml)) != 0) {
            int r = pep_publish(h->user, NODE, j.s, buf_data(&xml),
                                buf_used(&xml), &want);
            /* A node made otherwise by a client keeps its settings. */
            if (r == -SE_CONFLICT)
                r = pep_publish(h->user, NODE, j.s, buf_data(&xml),
                                buf_used(&xml), NULL);
            if (r < 0)
                log_warn(0, "bookmarks: a room was not published (%d)", r);
        }
        buf_free(&xml);
        jid_free(&j);
    }
    for (size_t i = 0; i < rooms.n && ret == HOOK_PASS; i++)
        if (!kept[i])
            pep_retract(h->user, NODE, rooms.id[i]);
    free(kept);
    pep_config_free(&want);
    rooms_free(&rooms);
    return ret;
}

static int private_iq(struct hook_ctx *h, struct stanza *iq)
{
    struct stanza *storage = legacy_payload(iq);
    if (!from_owner(h) || !storage)
        return HOOK_PASS;
    if (is(stanza_attr(iq, "type"), "get"))
        return get(h, iq);
    return set(h, storage);
}

int mod_bookmarks_init(struct mod *m)
{
    mod_add_account_feature(m, NODE "#compat");
    /* Before mod_private, which stores the document afterwards. */
    mod_hook_iq(m, IQ_GET | IQ_SET, TO_BARE, NS_PRIVATE, "query", private_iq,
                PRIO_HIGH);
    return 0;
}
