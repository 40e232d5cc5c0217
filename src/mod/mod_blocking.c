/* mod_blocking.c -- XEP-0191: Blocking Command.
 *
 * An account's block list is a set of JIDs in the forms XEP-0016 §2.1
 * matches a sender against: user@domain/resource, user@domain,
 * domain/resource and domain. Per §3.5, nothing from a blocked JID
 * reaches the account: its messages and iq requests are answered
 * <service-unavailable/> (as if the account did not exist), its
 * presence is dropped; and nothing from the account reaches a blocked
 * JID: the account's own stanzas are refused with <not-acceptable/> and
 * <blocked xmlns='urn:xmpp:blocking:errors'/>, and the server's presence
 * on its behalf (broadcasts, probe answers) is dropped.
 *
 * Blocking sends unavailable presence to the newly blocked contacts
 * that could see the account (§3.3); unblocking sends its current
 * presence back (§3.4). Every change is pushed to each resource of the
 * account that has asked for the list (§3.2), the one that made it
 * included.
 *
 * The common case is an account that blocks nobody; which accounts are
 * known to have an empty list is remembered, so their traffic costs no
 * store query. Only this module writes block lists, and rows it does
 * not know of can only be fewer (an account deleted with thekectl), so
 * that knowledge never lets a blocked stanza through. */
#include "mod/mod_blocking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/hmap.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_presence.h"
#include "mod/mod_util.h"
#include "store/store.h"
#include "xmpp/errors.h"
#include "xmpp/router.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_BLOCKING "urn:xmpp:blocking"
#define NS_BLOCKING_ERR "urn:xmpp:blocking:errors"
#define NS_CLIENT "jabber:client"
#define LIST_MAX 1000 /* JIDs on one account's list */
#define BARE_MAX (2 * JID_PART_MAX + 2)

/* What is known of an account's list: absent, LIST_EMPTY or LIST_SOME. */
static struct hmap known = HMAP_INIT;
#define LIST_EMPTY ((void *)1)
#define LIST_SOME ((void *)2)
/* Full JIDs of the sessions that asked for their list (values unused). */
static struct hmap interested = HMAP_INIT;

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static void count_one(void *ud, const char *jid)
{
    (void)jid;
    (*(size_t *)ud)++;
}

static size_t list_size(const char *user)
{
    size_t n = 0;
    store_block_list(srv.store, user, count_one, &n);
    return n;
}

static void learn(const char *user)
{
    hmap_put(&known, user, list_size(user) ? LIST_SOME : LIST_EMPTY);
}

/* The forms of j that a list entry blocking j can have (XEP-0016
 * §2.1): j itself, its bare JID, domain/resource and domain. Owned
 * strings into c; returns how many. */
static size_t candidates(const struct jid *j, char *c[4])
{
    struct str bare = jid_bare(j), dom = jid_domain(j), res = jid_resource(j);
    size_t n = 0;
    c[n++] = xstrdup(j->s);
    if (jid_has_resource(j))
        c[n++] = xstrndup(bare.p, bare.len);
    if (jid_has_node(j)) {
        if (jid_has_resource(j)) {
            c[n] = xmalloc(dom.len + res.len + 2);
            snprintf(c[n++], dom.len + res.len + 2, "%.*s/%.*s",
                     (int)dom.len, dom.p, (int)res.len, res.p);
        }
        c[n++] = xstrndup(dom.p, dom.len);
    } else if (jid_has_resource(j)) {
        c[n++] = xstrndup(dom.p, dom.len);
    }
    return n;
}

/* Whether user blocks j: any of the forms of j on the list. */
static bool blocks(const char *user, const struct jid *j)
{
    if (!j->s)
        return false;
    void *list = hmap_get(&known, user);
    if (!list) {
        learn(user);
        list = hmap_get(&known, user);
    }
    if (list == LIST_EMPTY)
        return false;
    char *c[4];
    size_t n = candidates(j, c);
    int r = store_block_match(srv.store, user, (const char *const *)c, n);
    for (size_t i = 0; i < n; i++)
        free(c[i]);
    /* A failing store refuses rather than lets through. */
    return r != 0;
}

bool blocking_blocks(const char *user, const struct jid *j)
{
    return blocks(user, j);
}

/* The local account j belongs to, copied into user; false when j is
 * not a local account. */
static bool local_user(const struct jid *j, char *user)
{
    if (!j->s || !jid_has_node(j))
        return false;
    struct str d = jid_domain(j), node = jid_node(j);
    if (!server_is_local_domain(d.p, d.len))
        return false;
    memcpy(user, node.p, node.len);
    user[node.len] = '\0';
    return true;
}

/* ---- enforcement ---- */

/* §3.5: the account's own stanza to a JID it blocks. */
static int outbound(struct hook_ctx *h, struct stanza *st)
{
    struct str d = jid_domain(h->to);
    /* The account and its server stay reachable whatever the list says:
     * unblocking must remain possible. */
    if (!h->sess || jid_bare_equal(h->from, h->to) ||
        (!jid_has_node(h->to) && server_is_local_domain(d.p, d.len)) ||
        !blocks(h->sess->username, h->to))
        return HOOK_PASS;
    if (errors_no_reply(st))
        return HOOK_HANDLED;
    struct stanza *e = errors_reply(st, SE_NOT_ACCEPTABLE, NULL);
    stanza_add_child(stanza_child(e, NULL, "error"), NS_BLOCKING_ERR,
                     "blocked");
    session_send(h->sess, e);
    stanza_unref(e);
    return HOOK_HANDLED;
}

/* §3.5: messages and iq requests from a blocked JID get what a missing
 * account gets; nothing else from it is answered. */
static int inbound(struct hook_ctx *h, struct stanza *st)
{
    char sender[JID_PART_MAX + 1];
    /* An account's own resources are never kept apart, even when it
     * blocks its own domain. */
    if (!h->user || (local_user(h->from, sender) && is(sender, h->user)) ||
        !blocks(h->user, h->from))
        return HOOK_PASS;
    const char *type = stanza_attr(st, "type");
    if (is(type, "error") || is(type, "result") ||
        strcmp(st->name, "presence") == 0)
        return HOOK_HANDLED;
    return -SE_SERVICE_UNAVAILABLE;
}

/* Presence is also what the server sends on an account's behalf
 * (broadcasts, probe answers), which pre-presence does not see: it
 * does not go to JIDs the sending account blocks. */
static int presence_in(struct hook_ctx *h, struct stanza *st)
{
    char sender[JID_PART_MAX + 1];
    if (local_user(h->from, sender) && blocks(sender, h->to))
        return HOOK_HANDLED;
    return inbound(h, st);
}

/* ---- the protocol ---- */

static bool own_account(const struct hook_ctx *h)
{
    return h->sess && h->user && is(h->sess->username, h->user);
}

static void add_item(void *ud, const char *jid)
{
    stanza_set_attr(stanza_add_child(ud, NS_BLOCKING, "item"), "jid", jid);
}

static int get_list(struct hook_ctx *h, struct stanza *iq)
{
    if (!own_account(h))
        return -SE_FORBIDDEN;
    struct stanza *r = iq_result(iq);
    struct stanza *l = stanza_add_child(r, NS_BLOCKING, "blocklist");
    if (store_block_list(srv.store, h->user, add_item, l) < 0) {
        stanza_unref(r);
        return -SE_INTERNAL_SERVER_ERROR;
    }
    hmap_put(&interested, h->sess->jid.s, (void *)1);
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

/* Pushes a copy of what changed (a <block/> or <unblock/>) to the
 * account's resources that asked for the list. */
static void push(const char *user, const struct stanza *change)
{
    for (struct session *s = sessions_of_user(user); s; s = s->next_of_user) {
        if (!hmap_get(&interested, s->jid.s))
            continue;
        char id[17];
        crypto_random_token(id, 16);
        struct stanza *iq = stanza_new(NS_CLIENT, "iq");
        stanza_set_attr(iq, "type", "set");
        stanza_set_attr(iq, "id", id);
        stanza_set_attr(iq, "to", s->jid.s);
        stanza_add_copy(iq, change);
        session_send(s, iq);
        stanza_unref(iq);
    }
}

/* The JIDs of a <block/> or <unblock/>, normalised; *n of them, owned. */
static int parse_items(const struct stanza *el, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    for (struct stanza *it = stanza_next_child(el, NULL, NS_BLOCKING, "item");
         it; it = stanza_next_child(el, it, NS_BLOCKING, "item")) {
        const char *v = stanza_attr(it, "jid");
        struct jid j = JID_INIT;
        if (!v || jid_parse(&j, v, strlen(v)) < 0)
            return -SE_JID_MALFORMED;
        if (*n == LIST_MAX) {
            jid_free(&j);
            return -SE_POLICY_VIOLATION;
        }
        *out = xrealloc(*out, (*n + 1) * sizeof(**out));
        (*out)[(*n)++] = j.s; /* the string is all a jid owns */
    }
    return 0;
}

static void free_items(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

struct contacts {
    char **v;
    size_t n;
};

static void collect_sub_from(void *ud, const struct roster_item *it)
{
    struct contacts *c = ud;
    if (!(it->sub & SUB_FROM))
        return;
    c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
    c->v[c->n++] = xstrdup(it->contact);
}

/* Whether the list entry 'item' covers the subscriber (a bare JID):
 * the entry is that JID, a full JID of it, or its domain. */
static const char *covered_target(const char *item, const char *contact)
{
    size_t cl = strlen(contact);
    if (strncmp(item, contact, cl) == 0 &&
        (item[cl] == '\0' || item[cl] == '/'))
        return item; /* that JID, or one resource of it */
    const char *at = strchr(contact, '@');
    if (at && !strchr(item, '@') && strcmp(item, at + 1) == 0)
        return contact; /* its whole domain */
    return NULL;
}

/* §3.3 and §3.4: the subscribers that items cover get the account's
 * unavailable (blocking) or current (unblocking) presence. */
static void tell_subscribers(const char *user, char **items, size_t n,
                             bool blocking)
{
    struct contacts c = { NULL, 0 };
    store_roster_list(srv.store, user, collect_sub_from, &c);
    for (size_t i = 0; i < c.n; i++) {
        for (size_t k = 0; k < n; k++) {
            const char *to = covered_target(items[k], c.v[i]);
            if (!to)
                continue;
            if (blocking)
                presence_send_unavailable(user, to);
            else
                presence_send_current(user, to);
        }
    }
    free_items(c.v, c.n);
}

/* Whether any of items (list entries) blocks j. */
static bool covers(char **items, size_t n, const struct jid *j)
{
    char *c[4];
    size_t nc = candidates(j, c);
    bool hit = false;
    for (size_t i = 0; i < nc; i++) {
        for (size_t k = 0; k < n && !hit; k++)
            hit = strcmp(c[i], items[k]) == 0;
        free(c[i]);
    }
    return hit;
}

/* §3.3: the peers a resource sent directed presence to (RFC 6121 §4.6)
 * saw it available too; the ones items cover see it go. */
static void tell_directed(const char *user, char **items, size_t n)
{
    for (struct session *s = sessions_of_user(user); s; s = s->next_of_user) {
        for (unsigned i = 0; s->available && i < s->ndirected; i++) {
            struct jid j = JID_INIT;
            const char *d = s->directed[i];
            if (jid_parse(&j, d, strlen(d)) == 0 && covers(items, n, &j))
                presence_send_unavailable_from(s, d);
            jid_free(&j);
        }
    }
}

static int block(struct hook_ctx *h, struct stanza *iq)
{
    if (!own_account(h))
        return -SE_FORBIDDEN;
    struct stanza *el = stanza_child(iq, NS_BLOCKING, "block");
    char **items;
    size_t n;
    int r = parse_items(el, &items, &n);
    if (r == 0 && n == 0)
        r = -SE_BAD_REQUEST; /* §3.3: at least one item */
    if (r == 0 && list_size(h->user) + n > LIST_MAX)
        r = -SE_RESOURCE_CONSTRAINT;
    if (r == 0) {
        /* Said while the contacts may still hear it. */
        tell_subscribers(h->user, items, n, true);
        tell_directed(h->user, items, n);
        hmap_put(&known, h->user, LIST_SOME);
        for (size_t i = 0; i < n && r == 0; i++)
            if (store_block_add(srv.store, h->user, items[i]) < 0)
                r = -SE_INTERNAL_SERVER_ERROR;
    }
    if (r == 0) {
        iq_reply_empty(h, iq);
        push(h->user, el);
    }
    free_items(items, n);
    return r < 0 ? r : HOOK_HANDLED;
}

static void collect_jid(void *ud, const char *jid)
{
    struct contacts *c = ud;
    c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
    c->v[c->n++] = xstrdup(jid);
}

static int unblock(struct hook_ctx *h, struct stanza *iq)
{
    if (!own_account(h))
        return -SE_FORBIDDEN;
    struct stanza *el = stanza_child(iq, NS_BLOCKING, "unblock");
    char **items;
    size_t n;
    int r = parse_items(el, &items, &n);
    if (r == 0 && n == 0) {
        /* §3.4: no item unblocks everyone. */
        struct contacts all = { NULL, 0 };
        r = store_block_list(srv.store, h->user, collect_jid, &all) < 0 ||
                    store_block_clear(srv.store, h->user) < 0
                ? -SE_INTERNAL_SERVER_ERROR
                : 0;
        free(items);
        items = all.v;
        n = all.n;
    } else {
        for (size_t i = 0; i < n && r == 0; i++) {
            int d = store_block_del(srv.store, h->user, items[i]);
            if (d < 0 && d != -ERR_NOTFOUND)
                r = -SE_INTERNAL_SERVER_ERROR;
        }
    }
    learn(h->user);
    if (r == 0) {
        iq_reply_empty(h, iq);
        push(h->user, el);
        tell_subscribers(h->user, items, n, false);
    }
    free_items(items, n);
    return r < 0 ? r : HOOK_HANDLED;
}

static int session_closed(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    if (h->sess && h->sess->jid.s)
        hmap_del(&interested, h->sess->jid.s);
    return HOOK_PASS;
}

int mod_blocking_init(struct mod *m)
{
    mod_add_feature(m, NS_BLOCKING);
    mod_hook_iq(m, IQ_GET, TO_BARE, NS_BLOCKING, "blocklist", get_list,
                PRIO_DEFAULT);
    mod_hook_iq(m, IQ_SET, TO_BARE, NS_BLOCKING, "block", block,
                PRIO_DEFAULT);
    mod_hook_iq(m, IQ_SET, TO_BARE, NS_BLOCKING, "unblock", unblock,
                PRIO_DEFAULT);
    /* Before everything else that acts on a stanza (archive, carbons,
     * offline storage, delivery). */
    static const char *const out[] = { "pre-message", "pre-presence",
                                       "pre-iq" };
    static const char *const in[] = { "message/bare", "message/full",
                                      "iq/bare", "iq/full" };
    for (size_t i = 0; i < 3; i++)
        mod_hook(m, out[i], outbound, PRIO_HIGH);
    for (size_t i = 0; i < 4; i++)
        mod_hook(m, in[i], inbound, PRIO_HIGH);
    mod_hook(m, "presence/bare", presence_in, PRIO_HIGH);
    mod_hook(m, "presence/full", presence_in, PRIO_HIGH);
    mod_hook(m, "session-closed", session_closed, PRIO_DEFAULT);
    return 0;
}
