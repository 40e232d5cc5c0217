/* mod_carbons.c -- XEP-0280: Message Carbons (urn:xmpp:carbons:2).
 *
 * Someone who chats from a phone and a laptop sees the whole conversation
 * on both: a resource that enabled carbons gets a copy of every eligible
 * message the account receives that went to another resource
 * (<received/>), and of every one another resource sends (<sent/>),
 * wrapped in <forwarded xmlns='urn:xmpp:forward:0'/> (XEP-0297) from the
 * account's bare JID. Business agents answering as one account stay in
 * sync this way.
 *
 * Eligible (§6): type chat; type normal with a body, a receipt
 * (XEP-0184) or a chat marker (XEP-0333). Not: errors, groupchat,
 * headlines, messages marked <private/> (with XEP-0334 <no-copy/>, or
 * either alone), and carbons themselves. A resource that got the
 * message itself gets no copy: for a message to the bare JID the
 * router's rule (router_bare_gets()) says which ones did.
 *
 * Copies are made after blocking (which may refuse the message) and the
 * archive (which stamps its stanza-id, so clients can match copies and
 * archive entries). */
#include <stdio.h>
#include <string.h>

#include "mod/mod.h"
#include "mod/mod_util.h"
#include "xmpp/router.h"
#include "xmpp/sasl2.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_CLIENT "jabber:client"
#define NS_CARBONS "urn:xmpp:carbons:2"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_HINTS "urn:xmpp:hints"
#define NS_RECEIPTS "urn:xmpp:receipts"
#define NS_MARKERS "urn:xmpp:chat-markers:0"

static int slot;
static char enabled; /* its address marks a session with carbons on */

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static bool wants_copies(const struct session *s)
{
    return session_slot(s, slot) == &enabled;
}

/* Whether any session of user other than self has carbons on: most
 * accounts have one session, and then a message needs no look at all. */
static bool any_other_wants(const char *user, const struct session *self)
{
    for (struct session *o = sessions_of_user(user); o; o = o->next_of_user)
        if (o != self && wants_copies(o))
            return true;
    return false;
}

static bool eligible(const struct stanza *m)
{
    const char *type = stanza_attr(m, "type");
    if (type && !is(type, "chat") && !is(type, "normal"))
        return false;
    if (stanza_child(m, NS_CARBONS, "private") ||
        stanza_child(m, NS_HINTS, "no-copy") ||
        stanza_child(m, NS_CARBONS, "received") ||
        stanza_child(m, NS_CARBONS, "sent"))
        return false;
    return is(type, "chat") || stanza_child(m, NS_CLIENT, "body") ||
           stanza_child(m, NS_RECEIPTS, "received") ||
           stanza_child(m, NS_MARKERS, NULL);
}

/* The copy of m for the account's sessions, its 'to' set per session. */
static struct stanza *wrap(const struct stanza *m, const char *username,
                           const char *dir)
{
    char bare[2 * JID_PART_MAX + 2];
    snprintf(bare, sizeof(bare), "%s@%s", username, srv.domain);
    struct stanza *w = stanza_new(NS_CLIENT, "message");
    stanza_set_attr(w, "from", bare);
    const char *type = stanza_attr(m, "type");
    if (type)
        stanza_set_attr(w, "type", type);
    struct stanza *d = stanza_add_child(w, NS_CARBONS, dir);
    stanza_add_copy(stanza_add_child(d, NS_FORWARD, "forwarded"), m);
    return w;
}

static void send_copy(struct stanza **w, struct session *to,
                      const struct stanza *m, const char *dir)
{
    if (!*w)
        *w = wrap(m, to->username, dir);
    stanza_set_attr(*w, "to", to->jid.s);
    session_send(to, *w);
}

/* Outgoing: the sender's other resources. */
static int sent(struct hook_ctx *h, struct stanza *m)
{
    if (!h->sess || !any_other_wants(h->sess->username, h->sess) ||
        !eligible(m))
        return HOOK_PASS;
    struct stanza *w = NULL;
    for (struct session *o = sessions_of_user(h->sess->username); o;
         o = o->next_of_user)
        if (o != h->sess && wants_copies(o))
            send_copy(&w, o, m, "sent");
    stanza_unref(w);
    return HOOK_PASS;
}

/* Incoming: the addressee's resources that do not get m themselves. */
static int received(struct hook_ctx *h, struct stanza *m)
{
    if (!h->user || !any_other_wants(h->user, h->sess) || !eligible(m))
        return HOOK_PASS;
    struct session *target =
        jid_has_resource(h->to) ? sessions_find(h->to) : NULL;
    const char *type = stanza_attr(m, "type");
    int best = target ? -1 : router_best_priority(h->user);
    struct stanza *w = NULL;
    for (struct session *o = sessions_of_user(h->user); o;
         o = o->next_of_user) {
        if (!wants_copies(o) || o == target || o == h->sess)
            continue;
        if (!target && router_bare_gets(o, type, best))
            continue;
        send_copy(&w, o, m, "received");
    }
    stanza_unref(w);
    return HOOK_PASS;
}

static int set_state(struct hook_ctx *h, struct stanza *iq, bool on)
{
    if (!h->sess || (h->user && !is(h->user, h->sess->username)))
        return -SE_FORBIDDEN;
    session_slot_set(h->sess, slot, on ? &enabled : NULL);
    return iq_reply_empty(h, iq);
}

static int enable(struct hook_ctx *h, struct stanza *iq)
{
    return set_state(h, iq, true);
}

static int disable(struct hook_ctx *h, struct stanza *iq)
{
    return set_state(h, iq, false);
}

/* Bind 2 (XEP-0386): carbons on from the first stanza, so that nothing
 * sent between binding and an <enable/> iq is missed. */
static int bind2_features(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sasl2_ctx *ctx = h->data;
    stanza_set_attr(stanza_add_child(ctx->features, NULL, "feature"), "var",
                    NS_CARBONS);
    return HOOK_PASS;
}

static int bind2_bound(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sasl2_ctx *ctx = h->data;
    if (stanza_child(ctx->bind, NS_CARBONS, "enable"))
        session_slot_set(h->sess, slot, &enabled);
    return HOOK_PASS;
}

int mod_carbons_init(struct mod *m)
{
    slot = session_slot_new(NULL);
    mod_add_feature(m, NS_CARBONS);
    mod_hook_iq(m, IQ_SET, TO_HOST | TO_BARE, NS_CARBONS, "enable", enable,
                PRIO_DEFAULT);
    mod_hook_iq(m, IQ_SET, TO_HOST | TO_BARE, NS_CARBONS, "disable", disable,
                PRIO_DEFAULT);
    mod_hook(m, "pre-message", sent, PRIO_LOW);
    mod_hook(m, "message/bare", received, PRIO_LOW);
    mod_hook(m, "message/full", received, PRIO_LOW);
    mod_hook(m, "bind2-features", bind2_features, PRIO_DEFAULT);
    mod_hook(m, "bind2-bound", bind2_bound, PRIO_DEFAULT);
    return 0;
}
