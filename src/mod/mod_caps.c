/* mod_caps.c -- XEP-0115: Entity Capabilities, the clients' side.
 *
 * A client's available presence may carry <c hash node ver/>. The
 * features behind a verification string do not change, so they are
 * cached by ver; for a ver not in the cache the server asks the client
 * itself (disco#info to its full JID for node#ver, XEP-0115 §6.2). Only
 * what other modules need is kept: the nodes the client wants
 * notifications for ("NODE+notify", XEP-0163 §4).
 *
 * Not done: checking the ver against the answer. A client that lies
 * about its ver changes what other clients with that ver are notified
 * of, never what they may read, which the node's access model decides.
 * The server's own capabilities are mod_disco's. */
#include "mod/mod_caps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hmap.h"
#include "mod/mod.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_CAPS "http://jabber.org/protocol/caps"
#define NS_INFO "http://jabber.org/protocol/disco#info"
#define NOTIFY_SUFFIX "+notify"

#define CACHE_MAX 512   /* verification strings remembered */
#define PENDING_MAX 256 /* questions to clients awaiting an answer */
#define NOTIFY_MAX 128  /* +notify features kept per client */
#define VER_MAX 128     /* bytes of a ver or node attribute */
#define NODE_MAX 256    /* bytes of a node name */
#define ID_PREFIX "caps-"

/* A set of node names; owned strings. */
struct notify {
    char **v;
    unsigned n;
};

/* Per-session state, in a session slot. */
struct caps_sess {
    char *ver;            /* owned; announced ver, NULL when none */
    struct notify notify; /* known features, empty until resolved */
};

/* A question to a client: which session asked about which ver. */
struct pending {
    char *ver; /* owned */
    char *jid; /* owned full JID asked */
};

static int slot = -1;
static struct hmap cache = HMAP_INIT;   /* ver -> struct notify, owned */
static struct hmap pending = HMAP_INIT; /* iq id -> struct pending, owned */
static unsigned long next_id;

static void notify_clear(struct notify *n)
{
    for (unsigned i = 0; i < n->n; i++)
        free(n->v[i]);
    free(n->v);
    *n = (struct notify){ NULL, 0 };
}

static void notify_copy(struct notify *dst, const struct notify *src)
{
    notify_clear(dst);
    dst->v = xcalloc(src->n ? src->n : 1, sizeof(*dst->v));
    for (unsigned i = 0; i < src->n; i++)
        dst->v[i] = xstrdup(src->v[i]);
    dst->n = src->n;
}

static void sess_free(void *v)
{
    struct caps_sess *cs = v;
    if (!cs)
        return;
    free(cs->ver);
    notify_clear(&cs->notify);
    free(cs);
}

static struct caps_sess *sess_state(struct session *s)
{
    struct caps_sess *cs = session_slot(s, slot);
    if (!cs) {
        cs = xcalloc(1, sizeof(*cs));
        session_slot_set(s, slot, cs);
    }
    return cs;
}

bool caps_wants_notify(const struct session *s, const char *node)
{
    const struct caps_sess *cs = slot >= 0 ? session_slot(s, slot) : NULL;
    if (!cs)
        return false;
    for (unsigned i = 0; i < cs->notify.n; i++)
        if (strcmp(cs->notify.v[i], node) == 0)
            return true;
    return false;
}

const char *const *caps_notify_nodes(const struct session *s, unsigned *n)
{
    const struct caps_sess *cs = slot >= 0 ? session_slot(s, slot) : NULL;
    *n = cs ? cs->notify.n : 0;
    return cs ? (const char *const *)cs->notify.v : NULL;
}

static void cache_clear(void)
{
    const char *k;
    void *v;
    for (size_t i = 0; hmap_next(&cache, &i, &k, &v);) {
        notify_clear(v);
        free(v);
    }
    hmap_free(&cache);
}

static void pending_free(struct pending *p)
{
    free(p->ver);
    free(p->jid);
    free(p);
}

static void pending_clear(void)
{
    const char *k;
    void *v;
    for (size_t i = 0; hmap_next(&pending, &i, &k, &v);)
        pending_free(v);
    hmap_free(&pending);
}

/* Gives the session its features and tells the modules. */
static void resolved(struct session *s, const struct notify *n)
{
    struct caps_sess *cs = sess_state(s);
    notify_copy(&cs->notify, n);
    struct hook_ctx h = { .sess = s, .from = &s->jid };
    hooks_fire("caps-resolved", &h, NULL);
}

/* Asks the client for the features behind node#ver. */
static void ask(struct session *s, const char *node, const char *ver)
{
    /* Questions a client never answers would pile up: start over. */
    if (pending.count >= PENDING_MAX)
        pending_clear();
    char id[32];
    snprintf(id, sizeof(id), ID_PREFIX "%lu", ++next_id);
    struct pending *p = xcalloc(1, sizeof(*p));
    p->ver = xstrdup(ver);
    p->jid = xstrdup(s->jid.s);
    hmap_put(&pending, id, p);

    char qnode[2 * VER_MAX + 2];
    snprintf(qnode, sizeof(qnode), "%s#%s", node, ver);
    struct stanza *iq = stanza_new("jabber:client", "iq");
    stanza_set_attr(iq, "type", "get");
    stanza_set_attr(iq, "id", id);
    stanza_set_attr(iq, "from", srv.domain);
    stanza_set_attr(iq, "to", s->jid.s);
    stanza_set_attr(stanza_add_child(iq, NS_INFO, "query"), "node", qnode);
    session_send(s, iq);
    stanza_unref(iq);
}

static int pre_presence(struct hook_ctx *h, struct stanza *p)
{
    /* Only broadcast available presence describes the client. */
    if (!h->sess || !h->sess->bound || stanza_attr(p, "to") ||
        stanza_attr(p, "type"))
        return HOOK_PASS;
    struct stanza *c = stanza_child(p, NS_CAPS, "c");
    const char *ver = c ? stanza_attr(c, "ver") : NULL;
    const char *node = c ? stanza_attr(c, "node") : NULL;
    /* Legacy caps (no hash) name extensions, not a feature set. */
    if (!ver || !node || !stanza_attr(c, "hash") || !*ver ||
        strlen(ver) > VER_MAX || strlen(node) > VER_MAX)
        return HOOK_PASS;
    struct caps_sess *cs = sess_state(h->sess);
    if (cs->ver && strcmp(cs->ver, ver) == 0)
        return HOOK_PASS;
    free(cs->ver);
    cs->ver = xstrdup(ver);
    notify_clear(&cs->notify);
    struct notify *known = hmap_get(&cache, ver);
    if (known)
        resolved(h->sess, known);
    else
        ask(h->sess, node, ver);
    return HOOK_PASS;
}

/* The client's answer: its features, of which the +notify ones count. */
static int iq_result(struct hook_ctx *h, struct stanza *iq)
{
    const char *id = stanza_attr(iq, "id");
    if (!id || strncmp(id, ID_PREFIX, strlen(ID_PREFIX)) != 0)
        return HOOK_PASS;
    struct pending *p = hmap_get(&pending, id);
    if (!p || strcmp(p->jid, h->from->s) != 0)
        return HOOK_PASS;
    hmap_del(&pending, id);
    struct session *s = sessions_find(h->from);
    struct stanza *q = stanza_child(iq, NS_INFO, "query");
    const char *type = stanza_attr(iq, "type");
    struct notify n = { NULL, 0 };
    if (q && type && strcmp(type, "result") == 0) {
        n.v = xcalloc(NOTIFY_MAX, sizeof(*n.v));
        size_t sl = strlen(NOTIFY_SUFFIX);
        for (struct stanza *f = stanza_next_child(q, NULL, NS_INFO, "feature");
             f && n.n < NOTIFY_MAX;
             f = stanza_next_child(q, f, NS_INFO, "feature")) {
            const char *var = stanza_attr(f, "var");
            size_t len = var ? strlen(var) : 0;
            if (len > sl && len - sl <= NODE_MAX &&
                strcmp(var + len - sl, NOTIFY_SUFFIX) == 0)
                n.v[n.n++] = xstrndup(var, len - sl);
        }
        if (cache.count >= CACHE_MAX)
            cache_clear();
        struct notify *c = xcalloc(1, sizeof(*c));
        notify_copy(c, &n);
        struct notify *old = hmap_put(&cache, p->ver, c);
        if (old) {
            notify_clear(old);
            free(old);
        }
    }
    struct caps_sess *cs = s ? session_slot(s, slot) : NULL;
    /* The client may have announced other caps meanwhile. */
    if (cs && cs->ver && strcmp(cs->ver, p->ver) == 0)
        resolved(s, &n);
    notify_clear(&n);
    pending_free(p);
    return HOOK_HANDLED;
}

static void shutdown_caps(void)
{
    cache_clear();
    pending_clear();
    slot = -1;
}

int mod_caps_init(struct mod *m)
{
    slot = session_slot_new(sess_free);
    mod_on_shutdown(m, shutdown_caps);
    mod_hook(m, "pre-presence", pre_presence, PRIO_HIGH);
    mod_hook(m, "iq-result/host", iq_result, PRIO_DEFAULT);
    return 0;
}
