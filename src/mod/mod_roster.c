/* mod_roster.c -- RFC 6121 §2: roster management, with versioning
 * (XEP-0237 style "ver", RFC 6121 §2.6).
 *
 * Subscription states change only through presence (mod_presence.c); a
 * client may set names and groups, or remove an item, which also cancels
 * the subscriptions both ways (§2.5.2). */
#include "mod/mod_roster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "mod/mod.h"
#include "xmpp/errors.h"
#include "xmpp/router.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_CLIENT "jabber:client"
#define NS_ROSTERVER "urn:xmpp:features:rosterver"
#define MAX_ROSTER_ITEMS 2000
#define MAX_GROUPS 32
#define MAX_NAME_BYTES 1024

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static const char *const sub_names[] = { "none", "to", "from", "both" };

static void item_to_xml(struct stanza *query, const struct roster_item *it,
                        bool removed)
{
    struct stanza *el = stanza_add_child(query, NS_ROSTER, "item");
    stanza_set_attr(el, "jid", it->contact);
    if (removed) {
        stanza_set_attr(el, "subscription", "remove");
        return;
    }
    if (it->name)
        stanza_set_attr(el, "name", it->name);
    stanza_set_attr(el, "subscription", sub_names[it->sub & 3]);
    if (it->ask_out)
        stanza_set_attr(el, "ask", "subscribe");
    if (it->approved)
        stanza_set_attr(el, "approved", "true");
    for (size_t i = 0; i < it->ngroups; i++) {
        struct stanza *g = stanza_add_child(el, NS_ROSTER, "group");
        stanza_add_text(g, it->groups[i], strlen(it->groups[i]));
    }
}

static void version_attr(const char *username, struct stanza *query)
{
    int64_t ver = 0;
    char s[24];
    store_roster_version(srv.store, username, &ver);
    snprintf(s, sizeof(s), "%lld", (long long)ver);
    stanza_set_attr(query, "ver", s);
}

void roster_push(const char *username, const struct roster_item *item,
                 bool removed)
{
    static unsigned long push_seq;
    char id[32];
    struct stanza *iq = stanza_new(NS_CLIENT, "iq");
    stanza_set_attr(iq, "type", "set");
    snprintf(id, sizeof(id), "push%lu", ++push_seq);
    stanza_set_attr(iq, "id", id);
    struct stanza *q = stanza_add_child(iq, NS_ROSTER, "query");
    version_attr(username, q);
    item_to_xml(q, item, removed);
    for (struct session *s = sessions_of_user(username); s;
         s = s->next_of_user) {
        if (!s->interested)
            continue;
        stanza_set_attr(iq, "to", s->jid.s);
        session_send(s, iq);
    }
    stanza_unref(iq);
}

int roster_load(const char *username, const char *contact,
                struct roster_item *out)
{
    int r = store_roster_get(srv.store, username, contact, out);
    if (r == -ERR_NOTFOUND) {
        memset(out, 0, sizeof(*out));
        out->contact = xstrdup(contact);
    }
    return r;
}

static bool from_owner(const struct hook_ctx *h)
{
    return h->sess && h->user && is(h->user, h->sess->username);
}

struct list_ctx {
    struct stanza *query;
};

static void add_item(void *ud, const struct roster_item *it)
{
    struct list_ctx *c = ud;
    item_to_xml(c->query, it, false);
}

static void count_item(void *ud, const struct roster_item *it)
{
    (void)it;
    (*(size_t *)ud)++;
}

static struct stanza *result_for(const struct stanza *iq)
{
    struct stanza *r = stanza_new(NS_CLIENT, "iq");
    stanza_set_attr(r, "type", "result");
    const char *id = stanza_attr(iq, "id");
    if (id)
        stanza_set_attr(r, "id", id);
    stanza_set_attr(r, "to", stanza_attr(iq, "from"));
    return r;
}

static int roster_get(struct hook_ctx *h, struct stanza *iq)
{
    if (!from_owner(h))
        return -SE_SERVICE_UNAVAILABLE;
    h->sess->interested = true;
    struct stanza *r = result_for(iq);
    const char *client_ver =
        stanza_attr(stanza_child(iq, NS_ROSTER, "query"), "ver");
    int64_t ver = 0;
    char cur[24];
    store_roster_version(srv.store, h->user, &ver);
    snprintf(cur, sizeof(cur), "%lld", (long long)ver);
    if (!is(client_ver, cur) || !client_ver) {
        /* RFC 6121 §2.6.3: an unchanged roster is answered with an empty
         * result; anything else gets the whole roster. */
        struct stanza *q = stanza_add_child(r, NS_ROSTER, "query");
        stanza_set_attr(q, "ver", cur);
        struct list_ctx c = { q };
        store_roster_list(srv.store, h->user, add_item, &c);
    }
    session_send(h->sess, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

/* Sends a subscription-state presence from the account to contact. */
static void send_presence_type(const char *username, const char *contact,
                               const char *type)
{
    char from[2 * JID_PART_MAX + 2];
    snprintf(from, sizeof(from), "%s@%s", username, srv.domain);
    struct stanza *p = stanza_new(NS_CLIENT, "presence");
    stanza_set_attr(p, "from", from);
    stanza_set_attr(p, "to", contact);
    stanza_set_attr(p, "type", type);
    router_route(p);
    stanza_unref(p);
}

static int remove_item(struct hook_ctx *h, const char *contact)
{
    struct roster_item it;
    if (store_roster_get(srv.store, h->user, contact, &it) < 0) {
        return -SE_ITEM_NOT_FOUND;
    }
    enum roster_sub sub = it.sub;
    bool ask = it.ask_out;
    int r = store_roster_del(srv.store, h->user, contact);
    store_pending_del(srv.store, h->user, contact);
    if (r == 0) {
        roster_push(h->user, &it, true);
        /* RFC 6121 §2.5.2: cancel both directions. */
        if (sub == SUB_TO || sub == SUB_BOTH || ask)
            send_presence_type(h->user, contact, "unsubscribe");
        if (sub == SUB_FROM || sub == SUB_BOTH)
            send_presence_type(h->user, contact, "unsubscribed");
    }
    roster_item_free(&it);
    return r == 0 ? HOOK_HANDLED : -SE_INTERNAL_SERVER_ERROR;
}

static int parse_groups(const struct stanza *item, struct roster_item *it)
{
    unsigned n = 0;
    for (struct stanza *g = stanza_next_child(item, NULL, NS_ROSTER, "group");
         g; g = stanza_next_child(item, g, NS_ROSTER, "group"))
        n++;
    if (n > MAX_GROUPS)
        return -SE_NOT_ACCEPTABLE;
    it->groups = n ? xcalloc(n, sizeof(char *)) : NULL;
    it->ngroups = 0;
    for (struct stanza *g = stanza_next_child(item, NULL, NS_ROSTER, "group");
         g; g = stanza_next_child(item, g, NS_ROSTER, "group")) {
        char *name = stanza_text_dup(g);
        /* RFC 6121 §2.3.3: empty or duplicate groups are refused. */
        bool bad = !name || !*name || strlen(name) > MAX_NAME_BYTES;
        for (size_t i = 0; !bad && i < it->ngroups; i++)
            bad = strcmp(it->groups[i], name) == 0;
        if (bad) {
            free(name);
            return -SE_NOT_ACCEPTABLE;
        }
        it->groups[it->ngroups++] = name;
    }
    return 0;
}

static int roster_set(struct hook_ctx *h, struct stanza *iq)
{
    if (!from_owner(h))
        return -SE_FORBIDDEN;
    struct stanza *q = stanza_child(iq, NS_ROSTER, "query");
    struct stanza *item = stanza_child(q, NS_ROSTER, "item");
    /* RFC 6121 §2.3.3: exactly one item. */
    if (!item || stanza_elem_count(q) != 1)
        return -SE_BAD_REQUEST;
    const char *jid_attr = stanza_attr(item, "jid");
    struct jid j = JID_INIT;
    if (!jid_attr || jid_parse(&j, jid_attr, strlen(jid_attr)) < 0)
        return -SE_JID_MALFORMED;
    char *contact = jid_bare_dup(&j);
    jid_free(&j);
    int r;
    if (is(stanza_attr(item, "subscription"), "remove")) {
        r = remove_item(h, contact);
        goto done;
    }
    struct roster_item it;
    int found = roster_load(h->user, contact, &it);
    if (found == -ERR_NOTFOUND) {
        size_t count = 0;
        store_roster_list(srv.store, h->user, count_item, &count);
        if (count >= MAX_ROSTER_ITEMS) {
            roster_item_free(&it);
            r = -SE_RESOURCE_CONSTRAINT;
            goto done;
        }
    } else if (found < 0) {
        roster_item_free(&it);
        r = -SE_INTERNAL_SERVER_ERROR;
        goto done;
    }
    const char *name = stanza_attr(item, "name");
    if (name && strlen(name) > MAX_NAME_BYTES) {
        roster_item_free(&it);
        r = -SE_NOT_ACCEPTABLE;
        goto done;
    }
    free(it.name);
    it.name = name && *name ? xstrdup(name) : NULL;
    for (size_t i = 0; i < it.ngroups; i++)
        free(it.groups[i]);
    FREE_NULL(it.groups);
    r = parse_groups(item, &it);
    if (r == 0 && store_roster_put(srv.store, h->user, &it) < 0)
        r = -SE_INTERNAL_SERVER_ERROR;
    if (r == 0) {
        roster_push(h->user, &it, false);
        r = HOOK_HANDLED;
    }
    roster_item_free(&it);
done:
    free(contact);
    if (r == HOOK_HANDLED) {
        struct stanza *res = result_for(iq);
        session_send(h->sess, res);
        stanza_unref(res);
    }
    return r;
}

static int features(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    if (h->sess->authed)
        stanza_add_child(h->data, NS_ROSTERVER, "ver");
    return HOOK_PASS;
}

int mod_roster_init(struct mod *m)
{
    mod_hook_iq(m, IQ_GET, TO_BARE, NS_ROSTER, "query", roster_get,
                PRIO_DEFAULT);
    mod_hook_iq(m, IQ_SET, TO_BARE, NS_ROSTER, "query", roster_set,
                PRIO_DEFAULT);
    mod_hook(m, "stream-features", features, PRIO_DEFAULT);
    return 0;
}
