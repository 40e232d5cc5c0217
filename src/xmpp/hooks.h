/* hooks.h -- named events and keyed stanza handlers (Prosody's events).
 *
 * A handler is registered under a key: a named event ("presence/bare",
 * "session-closed", "stream-features") or, for iq get/set, the tuple
 * (type, addressee class, child namespace, child name). Dispatch is one
 * hash lookup, then the handlers of that key in order of priority
 * (higher first); the first result other than HOOK_PASS ends it.
 *
 * Handlers borrow the stanza for the call (the router owns it); to keep
 * it they take stanza_ref() or a copy. A handler returns HOOK_HANDLED,
 * HOOK_PASS, or -SE_<condition> (errors.h), which the router turns into
 * an error reply.
 *
 * Like the routing they serve, registration and firing happen on the
 * event loop's thread only. */
#ifndef THEKE_HOOKS_H
#define THEKE_HOOKS_H

#include <stdbool.h>

#include "xml/stanza.h"
#include "xmpp/jid.h"

#define HOOK_PASS 0
#define HOOK_HANDLED 1

#define PRIO_DEFAULT 0
#define PRIO_HIGH 100
#define PRIO_LOW (-100)

/* iq types a handler takes */
#define IQ_GET 1u
#define IQ_SET 2u
/* addressee classes */
#define TO_HOST 1u /* the server's domain */
#define TO_BARE 2u /* a local account's bare JID; an iq without 'to' is
                      addressed to the sender's own account */

struct session;

struct hook_ctx {
    struct session *sess;   /* session the stanza came from; NULL when the
                               server generated it */
    const struct jid *from; /* sender (a full JID from a session) */
    const struct jid *to;   /* addressee, normalised; for stanzas from a
                               session without 'to', the sender's bare JID */
    const char *user;       /* local account named by 'to', NULL when 'to'
                               is the host or remote */
    void *data;             /* event-specific payload, see the event */
};

typedef int hook_fn(struct hook_ctx *h, struct stanza *st);

void hooks_add(const char *event, hook_fn *fn, int prio);
void hooks_add_iq(unsigned types, unsigned to, const char *ns,
                  const char *name, hook_fn *fn, int prio);
/* Runs the handlers of event; returns the first non-PASS result or
 * HOOK_PASS. st may be NULL for events without a stanza. */
int hooks_fire(const char *event, struct hook_ctx *h, struct stanza *st);
/* Runs the handlers for an iq of type (IQ_GET or IQ_SET) addressed to a
 * class, keyed by its first child element. */
int hooks_fire_iq(unsigned type, unsigned to, const char *ns,
                  const char *name, struct hook_ctx *h, struct stanza *st);
bool hooks_has(const char *event);
/* Drops every registration (shutdown, tests). */
void hooks_clear(void);

#endif
