/* mod_caps.c -- XEP-0115: Entity Capabilities, the clients' side.
 *
 * A client's available presence may carry <c hash node ver/>. The
 * features behind a verification string do not change, so they are
 * cached by ver; for a ver not in the cache the server asks the client
 * itself (disco#info to its full JID for node#ver, XEP-0115 §6.2). Only
 * what other modules need is kept: the nodes the client wants
 * notifications for ("NODE+notify", XEP-0163 §4).
 *
 * An answer is cached only when its SHA-1 verification string is the
 * ver the client announced; otherwise it counts for that session alone,
 * so a client cannot change what others with that ver are notified of.
 * The server's own capabilities are mod_disco's (with caps_ver()). */
#include "mod/mod_caps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/crypto.h"
#include "core/hmap.h"
#include "core/log.h"
#include "mod/mod.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_CAPS "http://jabber.org/protocol/caps"
#define NS_INFO "http://jabber.org/protocol/disco#info"
#define NS_DATA "jabber:x:data"
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
    char *ver;  /* owned */
    char *jid;  /* owned full JID asked */
    bool sha1;  /* the ver claims to be SHA-1, which can be checked */
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

/* ---- verification strings (XEP-0115 §5.1) ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts n owned strings and appends each with '<' (XEP-0115 §5.1). */
static void append_sorted(char **v, size_t n, struct buf *s)
{
    qsort(v, n, sizeof(*v), cmp_str);
    for (size_t i = 0; i < n; i++) {
        buf_append_str(s, v[i]);
        buf_append(s, "<", 1);
        free(v[i]);
    }
}

static char *attr_dup(const struct stanza *el, const char *name)
{
    const char *v = stanza_attr(el, name);
    return xstrdup(v ? v : "");
}

/* Orders "VAR<VALUES..." strings by VAR alone. */
static int cmp_var(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t xl = strcspn(x, "<"), yl = strcspn(y, "<");
    int c = memcmp(x, y, xl < yl ? xl : yl);
    return c ? c : (xl > yl) - (xl < yl);
}

/* One extension form: FORM_TYPE, then its other fields by var, each
 * with its values sorted (XEP-0115 §5.1 step 8). */
static char *form_string(const struct stanza *x)
{
    struct buf s = BUF_INIT, type = BUF_INIT;
    unsigned nf = stanza_elem_count(x), k = 0;
    char **fields = xcalloc(nf ? nf : 1, sizeof(*fields));
    for (struct stanza *f = stanza_next_child(x, NULL, NS_DATA, "field"); f;
         f = stanza_next_child(x, f, NS_DATA, "field")) {
        const char *var = stanza_attr(f, "var");
        if (var && strcmp(var, "FORM_TYPE") == 0) {
            stanza_child_text(f, NS_DATA, "value", &type);
            continue;
        }
        unsigned nv = stanza_elem_count(f), j = 0;
        char **vals = xcalloc(nv ? nv : 1, sizeof(*vals));
        for (struct stanza *v = stanza_next_child(f, NULL, NS_DATA, "value");
             v; v = stanza_next_child(f, v, NS_DATA, "value"))
            vals[j++] = stanza_text_dup(v);
        struct buf one = BUF_INIT;
        buf_append_str(&one, var ? var : "");
        buf_append(&one, "<", 1);
        append_sorted(vals, j, &one);
        free(vals);
        fields[k++] = xstrdup(buf_cstr(&one));
        buf_free(&one);
    }
    buf_append_str(&s, buf_cstr(&type));
    buf_append(&s, "<", 1);
    qsort(fields, k, sizeof(*fields), cmp_var);
    for (unsigned i = 0; i < k; i++) {
        buf_append_str(&s, fields[i]);
        free(fields[i]);
    }
    free(fields);
    buf_free(&type);
    char *out = xstrdup(buf_cstr(&s));
    buf_free(&s);
    return out;
}

char *caps_ver(const struct stanza *q)
{
    unsigned n = stanza_elem_count(q), ni = 0, nf = 0, nx = 0;
    char **ids = xcalloc(n + 1, sizeof(*ids));
    char **feats = xcalloc(n + 1, sizeof(*feats));
    char **forms = xcalloc(n + 1, sizeof(*forms));
    for (struct stanza *c = stanza_next_child(q, NULL, NULL, NULL); c;
         c = stanza_next_child(q, c, NULL, NULL)) {
        if (strcmp(c->ns, NS_INFO) == 0 && strcmp(c->name, "identity") == 0) {
            char *cat = attr_dup(c, "category"), *type = attr_dup(c, "type");
            char *lang = xstrdup(stanza_attr_ns(c, NS_XML, "lang")
                                     ? stanza_attr_ns(c, NS_XML, "lang")
                                     : "");
            char *name = attr_dup(c, "name");
            struct buf b = BUF_INIT;
            buf_printf(&b, "%s/%s/%s/%s", cat, type, lang, name);
            ids[ni++] = xstrdup(buf_cstr(&b));
            buf_free(&b);
            free(cat);
            free(type);
            free(lang);
            free(name);
        } else if (strcmp(c->ns, NS_INFO) == 0 &&
                   strcmp(c->name, "feature") == 0) {
            feats[nf++] = attr_dup(c, "var");
        } else if (strcmp(c->ns, NS_DATA) == 0 && strcmp(c->name, "x") == 0) {
            forms[nx++] = form_string(c);
        }
    }
    struct buf s = BUF_INIT;
    append_sorted(ids, ni, &s);
    append_sorted(feats, nf, &s);
    /* Forms sort by FORM_TYPE, which starts each string. */
    qsort(forms, nx, sizeof(*forms), cmp_str);
    for (unsigned i = 0; i < nx; i++) {
        buf_append_str(&s, forms[i]);
        free(forms[i]);
    }
    free(ids);
    free(feats);
    free(forms);
    unsigned char digest[20];
    crypto_hash(CRYPTO_SHA1, buf_data(&s), buf_used(&s), digest);
    buf_free(&s);
    struct buf b64 = BUF_INIT;
    base64_encode(digest, sizeof(digest), &b64);
    char *ver = xstrdup(buf_cstr(&b64));
    buf_free(&b64);
    return ver;
}

/* ---- clients' capabilities ---- */

/* Gives the session its features and tells the modules. */
static void resolved(struct session *s, const struct notify *n)
{
    struct caps_sess *cs = sess_state(s);
    notify_copy(&cs->notify, n);
    struct hook_ctx h = { .sess = s, .from = &s->jid };
    hooks_fire("caps-resolved", &h, NULL);
}

/* Asks the client for the features behind node#ver. */
static void ask(struct session *s, const char *node, const char *ver,
                bool sha1)
{
    /* Questions a client never answers would pile up: start over. */
    if (pending.count >= PENDING_MAX)
        pending_clear();
    char id[32];
    snprintf(id, sizeof(id), ID_PREFIX "%lu", ++next_id);
    struct pending *p = xcalloc(1, sizeof(*p));
    p->ver = xstrdup(ver);
    p->jid = xstrdup(s->jid.s);
    p->sha1 = sha1;
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
        ask(h->sess, node, ver, strcmp(stanza_attr(c, "hash"), "sha-1") == 0);
    return HOOK_PASS;
}

static void cache_put(const char *ver, const struct notify *n)
{
    if (cache.count >= CACHE_MAX)
        cache_clear();
    struct notify *c = xcalloc(1, sizeof(*c));
    notify_copy(c, n);
    struct notify *old = hmap_put(&cache, ver, c);
    if (old) {
        notify_clear(old);
        free(old);
    }
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
        char *ver = p->sha1 ? caps_ver(q) : NULL;
        if (ver && strcmp(ver, p->ver) == 0)
            cache_put(p->ver, &n);
        else
            log_debug(0, "caps: the answer does not match ver %s", p->ver);
        free(ver);
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
