/* router.c -- see router.h. */
#include "xmpp/router.h"

#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/hmap.h"
#include "core/log.h"
#include "store/store.h"
#include "xmpp/hooks.h"
#include "xmpp/jid.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

enum to_class { CLASS_HOST, CLASS_BARE, CLASS_FULL, CLASS_REMOTE };

enum stanza_kind { KIND_IQ, KIND_MESSAGE, KIND_PRESENCE };

/* "<kind>/<class>": the event of a stanza on the addressee side. */
static const char *const addressee_events[][4] = {
    [KIND_IQ] = { "iq/host", "iq/bare", "iq/full", "iq/remote" },
    [KIND_MESSAGE] = { "message/host", "message/bare", "message/full",
                       "message/remote" },
    [KIND_PRESENCE] = { "presence/host", "presence/bare", "presence/full",
                        "presence/remote" },
};

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

struct service {
    router_service_fn *fn;
    void *ud;
};

/* domain -> struct service, owned */
static struct hmap services = HMAP_INIT;

int router_add_service(const char *domain, router_service_fn *fn, void *ud)
{
    if (server_is_local_domain(domain, strlen(domain)) ||
        hmap_get(&services, domain))
        return -ERR_EXISTS;
    struct service *sv = xmalloc(sizeof(*sv));
    sv->fn = fn;
    sv->ud = ud;
    hmap_put(&services, domain, sv);
    return 0;
}

void router_remove_service(const char *domain)
{
    free(hmap_del(&services, domain));
    if (services.count == 0)
        hmap_free(&services);
}

void router_each_service(void (*fn)(void *ud, const char *domain), void *ud)
{
    const char *k;
    void *v;
    for (size_t i = 0; hmap_next(&services, &i, &k, &v);)
        fn(ud, k);
}

bool router_is_service(const char *domain, size_t len)
{
    return services.count && hmap_getn(&services, domain, len);
}

int router_user_exists(const char *username)
{
    if (sessions_of_user(username))
        return 1;
    return store_user_exists(srv.store, username) == 1;
}

void router_bounce(const struct stanza *st, enum stanza_error e,
                   const char *text)
{
    if (errors_no_reply(st))
        return;
    struct stanza *r = errors_reply(st, e, text);
    if (stanza_attr(r, "to"))
        router_route(r);
    stanza_unref(r);
}

int router_deliver_available(const char *username, const struct stanza *st)
{
    int n = 0;
    for (struct session *s = sessions_of_user(username); s;
         s = s->next_of_user) {
        if (s->available && s->priority >= 0) {
            session_send(s, st);
            n++;
        }
    }
    return n;
}

int router_best_priority(const char *username)
{
    int best = -1;
    for (struct session *s = sessions_of_user(username); s; s = s->next_of_user)
        if (s->available && s->priority > best)
            best = s->priority;
    return best;
}

bool router_bare_gets(const struct session *s, const char *type, int best)
{
    bool to_all = is(type, "chat") || is(type, "headline");
    return best >= 0 && s->available &&
           (to_all ? s->priority >= 0 : s->priority == best);
}

/* RFC 6121 §8.5.2.1: a message to a bare JID goes to the available
 * resources with non-negative priority: chat and headline to all of
 * them, normal to those of the highest priority. With none, it is
 * offered to offline storage. */
static void message_to_bare(struct hook_ctx *h, struct stanza *st)
{
    const char *type = stanza_attr(st, "type");
    if (is(type, "error"))
        return;
    if (is(type, "groupchat")) {
        router_bounce(st, SE_SERVICE_UNAVAILABLE, NULL);
        return;
    }
    int best = router_best_priority(h->user);
    if (best >= 0) {
        for (struct session *s = sessions_of_user(h->user); s;
             s = s->next_of_user) {
            if (router_bare_gets(s, type, best))
                session_send(s, st);
        }
        return;
    }
    if (is(type, "headline"))
        return;
    int r = hooks_fire("message/offline", h, st);
    if (r == HOOK_PASS)
        router_bounce(st, SE_SERVICE_UNAVAILABLE, NULL);
    else if (r < 0)
        router_bounce(st, (enum stanza_error)-r, NULL);
}

/* Fires "<kind>/<class>" (the addressee side) and bounces a refusal.
 * Returns the hooks' result. */
static int fire_addressee(enum stanza_kind kind, struct hook_ctx *h,
                          struct stanza *st, enum to_class cls)
{
    int r = hooks_fire(addressee_events[kind][cls], h, st);
    if (r < 0)
        router_bounce(st, (enum stanza_error)-r, NULL);
    return r;
}

static void route_iq(struct hook_ctx *h, struct stanza *st, enum to_class cls)
{
    const char *type = stanza_attr(st, "type");
    unsigned iqtype = is(type, "get") ? IQ_GET : is(type, "set") ? IQ_SET : 0;
    if (!iqtype && !is(type, "result") && !is(type, "error")) {
        router_bounce(st, SE_BAD_REQUEST, "unknown iq type");
        return;
    }
    int r = fire_addressee(KIND_IQ, h, st, cls);
    if (r != HOOK_PASS)
        return;
    if (cls == CLASS_FULL) {
        struct session *s = sessions_find(h->to);
        if (s)
            session_send(s, st);
        else if (iqtype)
            router_bounce(st, SE_SERVICE_UNAVAILABLE, NULL);
        return;
    }
    if (!iqtype) {
        /* Results and errors for the server or an account: only a module
         * that asked something cares. */
        hooks_fire(cls == CLASS_HOST ? "iq-result/host" : "iq-result/bare", h,
                   st);
        return;
    }
    /* RFC 6120 §8.2.3: a get or set has exactly one payload element. */
    struct stanza *payload = stanza_child(st, NULL, NULL);
    if (!payload || stanza_elem_count(st) != 1) {
        router_bounce(st, SE_BAD_REQUEST, "an iq needs exactly one child");
        return;
    }
    r = hooks_fire_iq(iqtype, cls == CLASS_HOST ? TO_HOST : TO_BARE,
                      payload->ns, payload->name, h, st);
    if (r == HOOK_PASS)
        router_bounce(st, SE_SERVICE_UNAVAILABLE, NULL);
    else if (r < 0)
        router_bounce(st, (enum stanza_error)-r, NULL);
}

static void route_message(struct hook_ctx *h, struct stanza *st,
                          enum to_class cls)
{
    if (fire_addressee(KIND_MESSAGE, h, st, cls) != HOOK_PASS ||
        cls == CLASS_HOST)
        return;
    if (cls == CLASS_FULL) {
        struct session *s = sessions_find(h->to);
        if (s) {
            session_send(s, st);
            return;
        }
        /* RFC 6121 §8.5.3.2.1: no such resource. */
        const char *type = stanza_attr(st, "type");
        if (is(type, "headline") || is(type, "error"))
            return;
        if (is(type, "groupchat")) {
            router_bounce(st, SE_SERVICE_UNAVAILABLE, NULL);
            return;
        }
    }
    message_to_bare(h, st);
}

static void route_presence(struct hook_ctx *h, struct stanza *st,
                           enum to_class cls)
{
    if (fire_addressee(KIND_PRESENCE, h, st, cls) != HOOK_PASS ||
        cls != CLASS_FULL)
        return;
    struct session *s = sessions_find(h->to);
    if (s)
        session_send(s, st);
}

/* An account that does not exist (RFC 6121 §8.5.1). */
static void to_no_account(struct hook_ctx *h, struct stanza *st)
{
    const char *type = stanza_attr(st, "type");
    if (strcmp(st->name, "presence") == 0) {
        /* §3.1.3 and §4.3: answer subscription requests and probes so the
         * sender's client does not wait forever. */
        if (is(type, "subscribe") || is(type, "probe")) {
            struct stanza *r = stanza_new(st->ns, "presence");
            struct str bare = jid_bare(h->to);
            char buf[3 * JID_PART_MAX + 3];
            memcpy(buf, bare.p, bare.len);
            buf[bare.len] = '\0';
            stanza_set_attr(r, "from", buf);
            stanza_set_attr(r, "to", stanza_attr(st, "from"));
            stanza_set_attr(r, "type", "unsubscribed");
            router_route(r);
            stanza_unref(r);
        }
        return;
    }
    if (strcmp(st->name, "message") == 0 && is(type, "headline"))
        return;
    router_bounce(st, SE_SERVICE_UNAVAILABLE, NULL);
}

static void dispatch(struct hook_ctx *h, struct stanza *st)
{
    enum to_class cls;
    char user[JID_PART_MAX + 1];
    struct str domain = jid_domain(h->to);
    if (!server_is_local_domain(domain.p, domain.len))
        cls = CLASS_REMOTE;
    else if (!jid_has_node(h->to))
        cls = CLASS_HOST;
    else
        cls = jid_has_resource(h->to) ? CLASS_FULL : CLASS_BARE;

    if (cls == CLASS_REMOTE) {
        struct service *sv =
            services.count ? hmap_getn(&services, domain.p, domain.len) : NULL;
        if (sv) {
            h->user = NULL;
            sv->fn(sv->ud, h, st);
            return;
        }
        if (strcmp(st->name, "presence") != 0)
            router_bounce(st, SE_REMOTE_SERVER_NOT_FOUND,
                          "this server does not federate");
        return;
    }
    h->user = NULL;
    if (cls != CLASS_HOST) {
        struct str node = jid_node(h->to);
        memcpy(user, node.p, node.len);
        user[node.len] = '\0';
        h->user = user;
        if (!router_user_exists(user)) {
            to_no_account(h, st);
            return;
        }
    }
    if (strcmp(st->name, "iq") == 0)
        route_iq(h, st, cls);
    else if (strcmp(st->name, "message") == 0)
        route_message(h, st, cls);
    else
        route_presence(h, st, cls);
}

void router_route(struct stanza *st)
{
    struct jid from = JID_INIT, to = JID_INIT;
    const char *from_attr = stanza_attr(st, "from");
    const char *to_attr = stanza_attr(st, "to");
    if (!to_attr || jid_parse(&to, to_attr, strlen(to_attr)) < 0) {
        log_debug(0, "dropping server stanza without a valid 'to'");
        return;
    }
    if (from_attr)
        jid_parse(&from, from_attr, strlen(from_attr));
    struct hook_ctx h = { .sess = NULL, .from = &from, .to = &to };
    dispatch(&h, st);
    jid_free(&from);
    jid_free(&to);
}

void router_from_client(struct session *s, struct stanza *st)
{
    char event[16];
    struct jid to = JID_INIT;
    stanza_set_attr(st, "from", s->jid.s);
    const char *to_attr = stanza_attr(st, "to");
    if (to_attr && s->last_to.s && strcmp(to_attr, s->last_to.s) == 0) {
        /* The same text parses the same way. */
        jid_copy(&to, &s->last_to);
    } else if (to_attr) {
        if (jid_parse(&to, to_attr, strlen(to_attr)) < 0) {
            router_bounce(st, SE_JID_MALFORMED, NULL);
            return;
        }
        /* Normalised; most clients send it that way already, and only
         * that spelling is remembered, so the stanza needs no change
         * when the cache answers. */
        if (strcmp(to.s, to_attr) != 0) {
            stanza_set_attr(st, "to", to.s);
        } else {
            jid_free(&s->last_to);
            jid_copy(&s->last_to, &to);
        }
    } else {
        jid_bare_of(&to, &s->jid);
    }
    struct hook_ctx h = { .sess = s, .from = &s->jid, .to = &to };
    strcpy(event, "pre-");
    strcat(event, st->name);
    int r = hooks_fire(event, &h, st);
    if (r < 0)
        router_bounce(st, (enum stanza_error)-r, NULL);
    else if (r == HOOK_PASS)
        dispatch(&h, st);
    jid_free(&to);
}
