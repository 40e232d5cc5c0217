/* mod_presence.c -- RFC 6121 §3 and §4: presence subscriptions and
 * presence broadcast.
 *
 * Outbound processing (the sender's account) runs on "pre-presence";
 * inbound processing (the addressee's account) on "presence/bare" and
 * "presence/full". Both accounts live on this server, so probes are
 * answered from the sessions table directly instead of by stanza.
 * Subscription requests that cannot be delivered wait in the store and
 * are sent again at the next login (§3.1.3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_presence.h"
#include "mod/mod_roster.h"
#include "xml/xser.h"
#include "xmpp/router.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_CLIENT "jabber:client"
#define BARE_MAX (2 * JID_PART_MAX + 2)

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static void bare_of_user(char *out, const char *username)
{
    snprintf(out, BARE_MAX, "%s@%s", username, srv.domain);
}

/* ---- roster snapshots: collected first, because routing may use the
 * store while a listing is open ---- */

struct contacts {
    char **v;
    size_t n;
    unsigned mask; /* subscription bits wanted: SUB_TO and/or SUB_FROM */
};

static void collect(void *ud, const struct roster_item *it)
{
    struct contacts *c = ud;
    if (!(it->sub & c->mask))
        return;
    c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
    c->v[c->n++] = xstrdup(it->contact);
}

static void contacts_load(struct contacts *c, const char *username,
                          unsigned mask)
{
    *c = (struct contacts){ NULL, 0, mask };
    store_roster_list(srv.store, username, collect, c);
}

static void contacts_free(struct contacts *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i]);
    free(c->v);
}

/* Routes a copy of p addressed to 'to'. */
static void route_copy_to(const struct stanza *p, const char *to)
{
    struct stanza *c = stanza_copy(p);
    stanza_set_attr(c, "to", to);
    router_route(c);
    stanza_unref(c);
}

/* Sends p (from one of username's resources) to the account's
 * subscribers, to its other available resources (except skip) and,
 * when directed_from is set, to the peers that session sent directed
 * presence to. */
static void broadcast(const char *username, const struct stanza *p,
                      struct session *skip, struct session *directed_from)
{
    struct contacts subs;
    contacts_load(&subs, username, SUB_FROM);
    for (size_t i = 0; i < subs.n; i++)
        route_copy_to(p, subs.v[i]);
    if (directed_from) {
        for (unsigned i = 0; i < directed_from->ndirected; i++) {
            bool subscriber = false;
            for (size_t k = 0; k < subs.n && !subscriber; k++)
                subscriber = strcmp(subs.v[k], directed_from->directed[i]) == 0;
            if (!subscriber)
                route_copy_to(p, directed_from->directed[i]);
        }
    }
    contacts_free(&subs);
    struct stanza *c = stanza_copy(p);
    for (struct session *s = sessions_of_user(username); s;
         s = s->next_of_user) {
        if (s == skip || !s->available)
            continue;
        stanza_set_attr(c, "to", s->jid.s);
        session_send(s, c);
    }
    stanza_unref(c);
}

void presence_send_current(const char *username, const char *to)
{
    for (struct session *s = sessions_of_user(username); s;
         s = s->next_of_user) {
        if (!s->available || !s->presence)
            continue;
        struct stanza *c = stanza_copy(s->presence);
        stanza_set_attr(c, "from", s->jid.s);
        stanza_set_attr(c, "to", to);
        router_route(c);
        stanza_unref(c);
    }
}

void presence_send_unavailable_from(struct session *s, const char *to)
{
    struct stanza *p = stanza_new(NS_CLIENT, "presence");
    stanza_set_attr(p, "from", s->jid.s);
    stanza_set_attr(p, "to", to);
    stanza_set_attr(p, "type", "unavailable");
    router_route(p);
    stanza_unref(p);
}

void presence_send_unavailable(const char *username, const char *to)
{
    for (struct session *s = sessions_of_user(username); s;
         s = s->next_of_user)
        if (s->available)
            presence_send_unavailable_from(s, to);
}

static void send_type(const char *from_user, const char *to,
                      const char *type)
{
    char from[BARE_MAX];
    bare_of_user(from, from_user);
    struct stanza *p = stanza_new(NS_CLIENT, "presence");
    stanza_set_attr(p, "from", from);
    stanza_set_attr(p, "to", to);
    stanza_set_attr(p, "type", type);
    router_route(p);
    stanza_unref(p);
}

static void deliver_to_available(const char *username, struct stanza *p)
{
    for (struct session *s = sessions_of_user(username); s;
         s = s->next_of_user)
        if (s->available)
            session_send(s, p);
}

static void save_and_push(const char *username, struct roster_item *it)
{
    if (store_roster_put(srv.store, username, it) == 0)
        roster_push(username, it, false);
}

struct pending_find {
    const char *contact;
    bool found;
};

static void find_pending(void *ud, int64_t id, const char *contact,
                         const char *xml, size_t len)
{
    (void)id;
    (void)xml;
    (void)len;
    struct pending_find *f = ud;
    if (strcmp(f->contact, contact) == 0)
        f->found = true;
}

static bool has_pending(const char *username, const char *contact)
{
    struct pending_find f = { contact, false };
    store_pending_list(srv.store, username, find_pending, &f);
    return f.found;
}

/* ---- available / unavailable from the client ---- */

static int parse_priority(const struct stanza *p)
{
    struct buf b = BUF_INIT;
    int prio = 0;
    if (stanza_child_text(p, NS_CLIENT, "priority", &b) == 0) {
        long v = strtol(buf_cstr(&b), NULL, 10);
        prio = v < -128 ? -128 : v > 127 ? 127 : (int)v;
    }
    buf_free(&b);
    return prio;
}

struct pending_send {
    struct session *s;
};

static void resend_pending(void *ud, int64_t id, const char *contact,
                           const char *xml, size_t len)
{
    (void)id;
    (void)contact;
    struct pending_send *ps = ud;
    session_send_raw(ps->s, xml, len);
}

static void initial_presence(struct session *s)
{
    /* Probes (§4.2.2), answered locally: presence of the contacts this
     * account is subscribed to, and of its own other resources. */
    struct contacts to;
    contacts_load(&to, s->username, SUB_TO);
    for (size_t i = 0; i < to.n; i++) {
        struct jid j = JID_INIT;
        if (jid_parse(&j, to.v[i], strlen(to.v[i])) == 0 && jid_has_node(&j)) {
            struct str d = jid_domain(&j);
            struct str node = jid_node(&j);
            char user[JID_PART_MAX + 1];
            if (server_is_local_domain(d.p, d.len)) {
                memcpy(user, node.p, node.len);
                user[node.len] = '\0';
                presence_send_current(user, s->jid.s);
            }
        }
        jid_free(&j);
    }
    contacts_free(&to);
    for (struct session *o = sessions_of_user(s->username); o;
         o = o->next_of_user) {
        if (o != s && o->available && o->presence) {
            struct stanza *c = stanza_copy(o->presence);
            stanza_set_attr(c, "from", o->jid.s);
            stanza_set_attr(c, "to", s->jid.s);
            session_send(s, c);
            stanza_unref(c);
        }
    }
    /* §3.1.3: requests that arrived while the account was offline. */
    struct pending_send ps = { s };
    store_pending_list(srv.store, s->username, resend_pending, &ps);
    struct hook_ctx h = { .sess = s, .from = &s->jid };
    hooks_fire("presence/initial", &h, NULL);
}

static void go_unavailable(struct session *s, const struct stanza *p)
{
    if (!s->available)
        return;
    struct stanza *u;
    if (p) {
        u = stanza_copy(p);
    } else {
        u = stanza_new(NS_CLIENT, "presence");
        stanza_set_attr(u, "type", "unavailable");
    }
    stanza_set_attr(u, "from", s->jid.s);
    stanza_set_attr(u, "to", NULL);
    broadcast(s->username, u, NULL, s);
    stanza_unref(u);
    s->available = false;
    if (s->presence) {
        stanza_unref(s->presence);
        s->presence = NULL;
    }
    session_clear_directed(s);
}

static void broadcast_from_client(struct session *s, struct stanza *p)
{
    const char *type = stanza_attr(p, "type");
    if (is(type, "unavailable")) {
        go_unavailable(s, p);
        return;
    }
    if (type)
        return; /* subscription types need a 'to' */
    bool initial = !s->available;
    s->available = true;
    s->priority = parse_priority(p);
    if (s->presence)
        stanza_unref(s->presence);
    s->presence = stanza_copy(p);
    stanza_set_attr(s->presence, "to", NULL);
    broadcast(s->username, s->presence, NULL, NULL);
    if (initial)
        initial_presence(s);
}

/* ---- outbound subscription processing (§3, the sender's side) ---- */

static void outbound_subscription(struct hook_ctx *h, struct stanza *p,
                                  const char *type, const char *contact)
{
    const char *user = h->sess->username;
    struct roster_item it;
    roster_load(user, contact, &it);
    bool route = true;
    if (is(type, "subscribe")) {
        if (!(it.sub & SUB_TO) && !it.ask_out) {
            it.ask_out = true;
            save_and_push(user, &it);
        }
    } else if (is(type, "subscribed")) {
        if (has_pending(user, contact)) {
            store_pending_del(srv.store, user, contact);
            if (!(it.sub & SUB_FROM)) {
                it.sub |= SUB_FROM;
                it.approved = false;
                save_and_push(user, &it);
            }
        } else if (!(it.sub & SUB_FROM)) {
            /* §3.4 pre-approval: remembered, not sent. */
            route = false;
            if (!it.approved) {
                it.approved = true;
                save_and_push(user, &it);
            }
        } else {
            route = false; /* already subscribed: nothing to say */
        }
    } else if (is(type, "unsubscribe")) {
        if ((it.sub & SUB_TO) || it.ask_out) {
            it.sub &= ~SUB_TO;
            it.ask_out = false;
            save_and_push(user, &it);
        }
    } else { /* unsubscribed */
        bool pending = has_pending(user, contact);
        if (pending)
            store_pending_del(srv.store, user, contact);
        if (it.sub & SUB_FROM) {
            it.sub &= ~SUB_FROM;
            it.approved = false;
            save_and_push(user, &it);
            presence_send_unavailable(user, contact);
        } else if (it.approved) {
            it.approved = false;
            save_and_push(user, &it);
            route = pending;
        } else {
            route = pending;
        }
    }
    if (route) {
        /* §3.1.2: the sender is stamped as a bare JID. */
        char from[BARE_MAX];
        bare_of_user(from, user);
        stanza_set_attr(p, "from", from);
        stanza_set_attr(p, "to", contact);
        router_route(p);
        if (is(type, "subscribed"))
            presence_send_current(user, contact);
    }
    roster_item_free(&it);
}

static int pre_presence(struct hook_ctx *h, struct stanza *p)
{
    struct session *s = h->sess;
    const char *type = stanza_attr(p, "type");
    if (!stanza_attr(p, "to")) {
        broadcast_from_client(s, p);
        return HOOK_HANDLED;
    }
    if (is(type, "subscribe") || is(type, "subscribed") ||
        is(type, "unsubscribe") || is(type, "unsubscribed")) {
        char *contact = jid_bare_dup(h->to);
        outbound_subscription(h, p, type, contact);
        free(contact);
        return HOOK_HANDLED;
    }
    if (!type || is(type, "unavailable")) {
        /* §4.6 directed presence: remember it to say goodbye later. */
        if (!type && s->available)
            session_add_directed(s, h->to->s);
    }
    return HOOK_PASS;
}

/* ---- inbound processing (§3, the addressee's side) ---- */

static void inbound_subscription(const char *user, struct stanza *p,
                                 const char *type, const char *contact)
{
    struct roster_item it;
    roster_load(user, contact, &it);
    if (is(type, "subscribe")) {
        if (it.sub & SUB_FROM) {
            send_type(user, contact, "subscribed");
        } else if (it.approved) {
            it.sub |= SUB_FROM;
            it.approved = false;
            save_and_push(user, &it);
            send_type(user, contact, "subscribed");
            presence_send_current(user, contact);
        } else {
            struct buf xml = BUF_INIT;
            xser_write(p, NS_CLIENT, &xml);
            store_pending_add(srv.store, user, contact, buf_data(&xml),
                              buf_used(&xml));
            buf_free(&xml);
            deliver_to_available(user, p);
        }
    } else if (is(type, "subscribed")) {
        if (it.ask_out && !(it.sub & SUB_TO)) {
            it.sub |= SUB_TO;
            it.ask_out = false;
            save_and_push(user, &it);
            deliver_to_available(user, p);
        }
    } else if (is(type, "unsubscribe")) {
        store_pending_del(srv.store, user, contact);
        if (it.sub & SUB_FROM) {
            it.sub &= ~SUB_FROM;
            it.approved = false;
            save_and_push(user, &it);
            deliver_to_available(user, p);
            presence_send_unavailable(user, contact);
        }
    } else { /* unsubscribed */
        if ((it.sub & SUB_TO) || it.ask_out) {
            it.sub &= ~SUB_TO;
            it.ask_out = false;
            save_and_push(user, &it);
            deliver_to_available(user, p);
        }
    }
    roster_item_free(&it);
}

static int inbound(struct hook_ctx *h, struct stanza *p, bool to_full)
{
    const char *type = stanza_attr(p, "type");
    const char *from = stanza_attr(p, "from");
    if (!from)
        return HOOK_HANDLED;
    struct jid fj = JID_INIT;
    if (jid_parse(&fj, from, strlen(from)) < 0)
        return HOOK_HANDLED;
    char *contact = jid_bare_dup(&fj);
    jid_free(&fj);
    int r = HOOK_HANDLED;
    if (is(type, "subscribe") || is(type, "subscribed") ||
        is(type, "unsubscribe") || is(type, "unsubscribed")) {
        inbound_subscription(h->user, p, type, contact);
    } else if (is(type, "probe")) {
        struct roster_item it;
        if (store_roster_get(srv.store, h->user, contact, &it) == 0) {
            if (it.sub & SUB_FROM)
                presence_send_current(h->user, from);
            roster_item_free(&it);
        }
    } else if (to_full) {
        r = HOOK_PASS; /* the router delivers to that resource */
    } else if (!type || is(type, "unavailable")) {
        deliver_to_available(h->user, p);
    }
    free(contact);
    return r;
}

static int presence_bare(struct hook_ctx *h, struct stanza *p)
{
    return inbound(h, p, false);
}

static int presence_full(struct hook_ctx *h, struct stanza *p)
{
    return inbound(h, p, true);
}

static int session_closed(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    go_unavailable(h->sess, NULL);
    return HOOK_PASS;
}

static int features(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    /* RFC 6121 §3.4.1: pre-approval is supported. */
    if (h->sess->authed)
        stanza_add_child(h->data, "urn:xmpp:features:pre-approval", "sub");
    return HOOK_PASS;
}

int mod_presence_init(struct mod *m)
{
    mod_hook(m, "stream-features", features, PRIO_DEFAULT);
    mod_hook(m, "pre-presence", pre_presence, PRIO_DEFAULT);
    mod_hook(m, "presence/bare", presence_bare, PRIO_DEFAULT);
    mod_hook(m, "presence/full", presence_full, PRIO_DEFAULT);
    mod_hook(m, "session-closed", session_closed, PRIO_DEFAULT);
    return 0;
}
