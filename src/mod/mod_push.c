/* mod_push.c -- push notifications (XEP-0357, urn:xmpp:push:0).
 *
 * A client (Conversations, Monal, Siskin) enables push for an app server
 * (its JID, usually an external component, and a node) and then sleeps.
 * When a message for the account goes to offline storage, or reaches a
 * session that is asleep (its connection gone, stream management keeping
 * it for resumption), every registration of the account gets a publish
 * to its node, as the user's bare JID, with the publish-options the
 * client gave (its secret).
 *
 * The notification says only that there is a new message: FORM_TYPE
 * urn:xmpp:push:summary with message-count 1, never the sender or the
 * body, so the app server and the vendor's push network (Apple, Google)
 * learn nothing about who writes to whom. Clients fetch the messages
 * themselves once woken.
 *
 * Registrations live in the store's key-value documents (namespace
 * urn:xmpp:push:0, key "JID\nNODE", value the publish-options fields as
 * "VAR\tVALUE\n" lines, one per value). An
 * app server that answers a publish with item-not-found, not-authorized
 * or forbidden has forgotten the registration; it is removed. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hmap.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_util.h"
#include "store/store.h"
#include "xmpp/errors.h"
#include "xmpp/router.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_PUSH "urn:xmpp:push:0"
#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_DATA "jabber:x:data"
#define NS_CLIENT "jabber:client"

#define MAX_REGISTRATIONS 16   /* per account */
#define MAX_NODE 1024          /* bytes of a node name */
#define MAX_OPTIONS 4096       /* bytes of the stored publish-options */
#define MAX_OUTSTANDING 4096   /* publishes awaiting the app server's answer */

/* id of an outstanding publish -> "user\nJID\nNODE", owned */
static struct hmap outstanding = HMAP_INIT;
static unsigned long publish_seq;

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static bool from_owner(const struct hook_ctx *h)
{
    return h->sess && h->user && is(h->user, h->sess->username);
}

static char *reg_key(const char *jid, const char *node)
{
    size_t jl = strlen(jid), nl = strlen(node);
    char *k = xmalloc(jl + nl + 2);
    memcpy(k, jid, jl);
    k[jl] = '\n';
    memcpy(k + jl + 1, node, nl + 1);
    return k;
}

/* The 'jid' attribute of enable/disable, normalised into out. */
static int service_jid(const struct stanza *el, struct jid *out)
{
    const char *j = stanza_attr(el, "jid");
    if (!j)
        return -SE_BAD_REQUEST;
    if (jid_parse(out, j, strlen(j)) < 0)
        return -SE_JID_MALFORMED;
    return 0;
}

static void count_reg(void *ud, const char *key, const char *v, size_t n)
{
    (void)key;
    (void)v;
    (void)n;
    (*(unsigned *)ud)++;
}

/* The publish-options form as "VAR\tVALUE\n" lines; -SE_BAD_REQUEST for
 * a var or value with a tab or newline, which no real secret has. */
static int options_lines(const struct stanza *x, struct buf *out)
{
    for (struct stanza *f = stanza_next_child(x, NULL, NS_DATA, "field"); f;
         f = stanza_next_child(x, f, NS_DATA, "field")) {
        const char *var = stanza_attr(f, "var");
        if (!var || strpbrk(var, "\t\n"))
            return -SE_BAD_REQUEST;
        for (struct stanza *v = stanza_next_child(f, NULL, NS_DATA, "value");
             v; v = stanza_next_child(f, v, NS_DATA, "value")) {
            size_t start = buf_used(out);
            buf_append_str(out, var);
            buf_append(out, "\t", 1);
            size_t vstart = buf_used(out);
            stanza_text(v, out);
            if (memchr(buf_data(out) + vstart, '\t', buf_used(out) - vstart) ||
                memchr(buf_data(out) + vstart, '\n', buf_used(out) - vstart))
                return -SE_BAD_REQUEST;
            buf_append(out, "\n", 1);
            if (buf_used(out) > MAX_OPTIONS || start > MAX_OPTIONS)
                return -SE_NOT_ACCEPTABLE;
        }
    }
    return 0;
}

static int enable(struct hook_ctx *h, struct stanza *iq)
{
    if (!from_owner(h))
        return -SE_FORBIDDEN;
    struct stanza *en = stanza_child(iq, NS_PUSH, "enable");
    const char *node = stanza_attr(en, "node");
    if (!node || !*node || strlen(node) > MAX_NODE)
        return -SE_BAD_REQUEST;
    struct jid svc = JID_INIT;
    int r = service_jid(en, &svc);
    if (r < 0)
        return r;
    struct buf opts = BUF_INIT;
    struct stanza *x = stanza_child(en, NS_DATA, "x");
    if (x && (r = options_lines(x, &opts)) < 0) {
        jid_free(&svc);
        buf_free(&opts);
        return r;
    }
    char *key = reg_key(svc.s, node);
    jid_free(&svc);
    struct buf old = BUF_INIT;
    bool exists = store_kv_get(srv.store, h->user, NS_PUSH, key, &old) == 0;
    buf_free(&old);
    unsigned n = 0;
    if (!exists)
        store_kv_list(srv.store, h->user, NS_PUSH, count_reg, &n);
    if (n >= MAX_REGISTRATIONS)
        r = -SE_RESOURCE_CONSTRAINT;
    else if (store_kv_put(srv.store, h->user, NS_PUSH, key, buf_data(&opts),
                          buf_used(&opts)) < 0)
        r = -SE_INTERNAL_SERVER_ERROR;
    else
        r = iq_reply_empty(h, iq);
    if (r == HOOK_HANDLED)
        log_info(h->sess->id, "push enabled for %s", key);
    free(key);
    buf_free(&opts);
    return r;
}

struct match_ctx {
    const char *prefix; /* "JID\n" */
    size_t len;
    char **keys;
    unsigned n;
};

static void collect_jid(void *ud, const char *key, const char *v, size_t n)
{
    (void)v;
    (void)n;
    struct match_ctx *m = ud;
    if (strncmp(key, m->prefix, m->len) == 0 && m->n < MAX_REGISTRATIONS * 4)
        m->keys[m->n++] = xstrdup(key);
}

static int disable(struct hook_ctx *h, struct stanza *iq)
{
    if (!from_owner(h))
        return -SE_FORBIDDEN;
    struct stanza *dis = stanza_child(iq, NS_PUSH, "disable");
    struct jid svc = JID_INIT;
    int r = service_jid(dis, &svc);
    if (r < 0)
        return r;
    const char *node = stanza_attr(dis, "node");
    if (node) {
        char *key = reg_key(svc.s, node);
        store_kv_del(srv.store, h->user, NS_PUSH, key);
        free(key);
    } else {
        /* Without a node: every registration with that app server. */
        char *prefix = reg_key(svc.s, "");
        char *keys[MAX_REGISTRATIONS * 4];
        struct match_ctx m = { prefix, strlen(prefix), keys, 0 };
        store_kv_list(srv.store, h->user, NS_PUSH, collect_jid, &m);
        for (unsigned i = 0; i < m.n; i++) {
            store_kv_del(srv.store, h->user, NS_PUSH, keys[i]);
            free(keys[i]);
        }
        free(prefix);
    }
    jid_free(&svc);
    return iq_reply_empty(h, iq);
}

/* Rebuilds the form from options_lines()'s text, values of one var
 * together in their order. */
static void add_options(struct stanza *po, const char *text, size_t len)
{
    struct stanza *x = stanza_add_child(po, NS_DATA, "x");
    stanza_set_attr(x, "type", "submit");
    struct stanza *field = NULL;
    const char *end = text + len;
    while (text < end) {
        const char *nl = memchr(text, '\n', (size_t)(end - text));
        const char *tab = memchr(text, '\t', (size_t)(end - text));
        if (!nl || !tab || tab > nl)
            break;
        char *var = xstrndup(text, (size_t)(tab - text));
        if (!field || !is(stanza_attr(field, "var"), var)) {
            field = stanza_add_child(x, NULL, "field");
            stanza_set_attr(field, "var", var);
        }
        free(var);
        stanza_add_text(stanza_add_child(field, NULL, "value"), tab + 1,
                        (size_t)(nl - tab - 1));
        text = nl + 1;
    }
}

struct notify_ctx {
    const char *user;
    char from[3 * JID_PART_MAX + 3]; /* the user's bare JID */
};

static void publish(void *ud, const char *key, const char *opts, size_t len)
{
    struct notify_ctx *n = ud;
    const char *nl = strchr(key, '\n');
    if (!nl)
        return;
    char *jid = xstrndup(key, (size_t)(nl - key));
    char id[32];
    snprintf(id, sizeof(id), "push-%lu", ++publish_seq);

    struct stanza *iq = stanza_new(NS_CLIENT, "iq");
    stanza_set_attr(iq, "type", "set");
    stanza_set_attr(iq, "id", id);
    stanza_set_attr(iq, "from", n->from);
    stanza_set_attr(iq, "to", jid);
    struct stanza *ps = stanza_add_child(iq, NS_PUBSUB, "pubsub");
    struct stanza *pub = stanza_add_child(ps, NULL, "publish");
    stanza_set_attr(pub, "node", nl + 1);
    struct stanza *item = stanza_add_child(pub, NULL, "item");
    struct stanza *note = stanza_add_child(item, NS_PUSH, "notification");
    struct stanza *x = stanza_add_child(note, NS_DATA, "x");
    stanza_set_attr(x, "type", "submit");
    struct stanza *f = stanza_add_child(x, NULL, "field");
    stanza_set_attr(f, "var", "FORM_TYPE");
    stanza_add_text(stanza_add_child(f, NULL, "value"),
                    "urn:xmpp:push:summary", 21);
    f = stanza_add_child(x, NULL, "field");
    stanza_set_attr(f, "var", "message-count");
    stanza_add_text(stanza_add_child(f, NULL, "value"), "1", 1);
    if (len) /* the client's publish-options (XEP-0357 §5: its secret) */
        add_options(stanza_add_child(ps, NULL, "publish-options"), opts, len);
    if (outstanding.count < MAX_OUTSTANDING) {
        size_t ul = strlen(n->user), kl = strlen(key);
        char *who = xmalloc(ul + kl + 2);
        memcpy(who, n->user, ul);
        who[ul] = '\n';
        memcpy(who + ul + 1, key, kl + 1);
        free(hmap_put(&outstanding, id, who));
    }
    router_route(iq);
    stanza_unref(iq);
    free(jid);
}

/* Before mod_offline stores the message: the account has no resource
 * that can take it, so its devices are asleep or gone. */
static int offline_message(struct hook_ctx *h, struct stanza *m)
{
    const char *type = stanza_attr(m, "type");
    if (type && !is(type, "chat") && !is(type, "normal"))
        return HOOK_PASS;
    if (!stanza_child(m, NS_CLIENT, "body"))
        return HOOK_PASS; /* chat states, receipts: nothing to wake for */
    /* A message that waited in a sleeping session and goes offline now
     * that the session has ended: its push went out when it arrived.
     * Stream management stamped it with our domain's delay. */
    struct stanza *delay = stanza_child(m, "urn:xmpp:delay", "delay");
    if (delay && is(stanza_attr(delay, "from"), srv.domain))
        return HOOK_PASS;
    struct notify_ctx n = { .user = h->user };
    snprintf(n.from, sizeof(n.from), "%s@%s", h->user, srv.domain);
    store_kv_list(srv.store, h->user, NS_PUSH, publish, &n);
    return HOOK_PASS;
}

/* A stanza for a session whose connection is gone: stream management
 * holds it until the client resumes, which a push makes it do. */
static int to_sleeping_session(struct hook_ctx *h, struct stanza *st)
{
    struct session *s = h->sess;
    if (!s || s->conn || !s->bound)
        return HOOK_PASS;
    struct session_out *out = h->data;
    bool message_with_body;
    if (st) {
        const char *type = stanza_attr(st, "type");
        message_with_body = strcmp(st->name, "message") == 0 &&
                            (!type || is(type, "chat") || is(type, "normal")) &&
                            stanza_child(st, NS_CLIENT, "body");
    } else {
        /* Serialised already (offline and archive copies): a message
         * with a body, by its text. */
        message_with_body = out && out->len > 8 &&
                            memcmp(out->xml, "<message", 8) == 0 &&
                            memmem(out->xml, out->len, "<body", 5) &&
                            !memmem(out->xml, out->len, "type='error'", 12);
    }
    if (!message_with_body)
        return HOOK_PASS;
    struct notify_ctx n = { .user = s->username };
    snprintf(n.from, sizeof(n.from), "%s@%s", s->username, srv.domain);
    store_kv_list(srv.store, s->username, NS_PUSH, publish, &n);
    return HOOK_PASS;
}

/* The app server's answer to a publish. */
static int publish_answer(struct hook_ctx *h, struct stanza *iq)
{
    (void)h;
    const char *id = stanza_attr(iq, "id");
    if (!id || strncmp(id, "push-", 5) != 0)
        return HOOK_PASS;
    char *who = hmap_del(&outstanding, id);
    if (!who)
        return HOOK_PASS;
    if (is(stanza_attr(iq, "type"), "error")) {
        struct stanza *err = stanza_child(iq, NULL, "error");
        bool gone = stanza_child(err, NS_STANZAS, "item-not-found") ||
                    stanza_child(err, NS_STANZAS, "not-authorized") ||
                    stanza_child(err, NS_STANZAS, "forbidden");
        char *nl = strchr(who, '\n');
        if (gone && nl) {
            *nl = '\0';
            store_kv_del(srv.store, who, NS_PUSH, nl + 1);
            log_info(0, "push registration of %s removed: the app server "
                        "refused it", who);
        }
    }
    free(who);
    return HOOK_HANDLED;
}

static void shutdown_push(void)
{
    const char *k;
    void *v;
    for (size_t i = 0; hmap_next(&outstanding, &i, &k, &v);)
        free(v);
    hmap_free(&outstanding);
}

int mod_push_init(struct mod *m)
{
    mod_on_shutdown(m, shutdown_push);
    mod_add_account_feature(m, NS_PUSH);
    mod_hook_iq(m, IQ_SET, TO_BARE, NS_PUSH, "enable", enable, PRIO_DEFAULT);
    mod_hook_iq(m, IQ_SET, TO_BARE, NS_PUSH, "disable", disable,
                PRIO_DEFAULT);
    mod_hook(m, "message/offline", offline_message, PRIO_HIGH);
    /* Before stream management queues the stanza. */
    mod_hook(m, "session-out", to_sleeping_session, PRIO_HIGH);
    mod_hook(m, "iq-result/bare", publish_answer, PRIO_DEFAULT);
    return 0;
}
