/* session.h -- client sessions and the registry of bound resources.
 *
 * A session is born with its connection (c2s.c), becomes authenticated
 * (SASL) and then bound to a full JID (RFC 6120 §7). Only bound sessions
 * are in the registry, which maps an account to the list of its sessions
 * so that routing to a bare JID touches that account only.
 *
 * A bound session may outlive its connection: when the connection
 * breaks, a "session-detached" handler (stream management, XEP-0198) can
 * keep it bound and receiving while it waits for the client to come back
 * on a new connection (c2s_session_take_over()) or gives up
 * (c2s_session_release()).
 *
 * Events about sessions (hooks.h), each with h->sess the session:
 *   session-bound      a resource was bound
 *   session-in         a stanza arrived from the bound session's client,
 *                      before it is routed (st borrowed)
 *   session-out        a stanza is on its way to the session (see
 *                      struct session_out); a handler that returns
 *                      HOOK_HANDLED has taken it (held, queued, dropped)
 *                      and writes it itself with session_write*() if at
 *                      all
 *   session-detached   the connection of a bound session went away
 *                      without the stream being ended on purpose;
 *                      HOOK_HANDLED keeps the session (see above)
 *   session-resumed    s continues an older session on a new connection;
 *                      fired by the module that resumed it, once it has
 *                      re-sent what the old connection left unconfirmed
 *   session-closed     the session leaves the registry for good */
#ifndef THEKE_SESSION_H
#define THEKE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"
#include "xmpp/jid.h"

struct buf;
struct conn;
struct session;
struct xstream;
struct stanza;
struct sasl;

/* How a session's XML reaches its peer. c2s.c negotiates a stream the
 * same way whatever carries it; only these operations differ between a
 * TCP stream (one XML document, RFC 6120 §4) and WebSocket (one message
 * per element, RFC 7395). Incoming data reaches the parser through
 * c2s_input() for a stream and c2s_input_message() for a framed
 * transport. */
struct session_transport {
    const char *name;  /* "tcp", "websocket": for logs */
    /* Each element travels as a document of its own, opened with <open/>
     * and closed with <close/> (RFC 7395 §3.3): top-level elements
     * declare their namespaces, and STARTTLS is not offered. */
    bool framed;
    /* SASL may bind to the connection's TLS (-PLUS mechanisms, RFC 5929,
     * XEP-0440). Not on WebSocket: a browser cannot see into the TLS of
     * its connection, and a common web library (stanza) picks -PLUS
     * whenever it is offered and then sends no binding at all. */
    bool channel_binding;
    /* Writes the start of a stream (<stream:stream> or <open/>) with
     * the session's stream_id. */
    void (*open)(struct session *s);
    /* The buffer to append exactly one top-level element to; end()
     * hands it to the connection. The buffer is borrowed until end(). */
    struct buf *(*begin)(struct session *s);
    void (*end)(struct session *s);
    /* Ends the stream (</stream:stream> or <close/>), then the
     * connection once its output is flushed. reason is static. */
    void (*close)(struct session *s, const char *reason);
};

/* Per-session state of modules, in slots handed out at module init, so
 * the core needs no field per feature and moves the state whole when a
 * session continues on a new connection. */
#define SESSION_SLOTS 8

struct session {
    /* read-only outside c2s.c */
    const struct session_transport *tr; /* borrowed, static */
    void *tr_ud;             /* the transport's per-connection state */
    unsigned long id;        /* the connection's id, for logs */
    struct conn *conn;       /* NULL once the connection is gone */
    bool secure;             /* TLS is on */
    bool authed;             /* SASL succeeded */
    bool bound;              /* in the registry with jid */
    char *username;          /* owned; the account, after SASL */
    struct jid jid;          /* full JID once bound */
    /* presence state, owned by the presence and roster modules */
    bool available;          /* sent available presence */
    bool interested;         /* requested the roster (RFC 6121 §2.1.6) */
    int priority;            /* of the last available presence */
    struct stanza *presence; /* last available presence (a reference) */
    char **directed;         /* JIDs sent directed presence, owned */
    unsigned ndirected;
    void *slots[SESSION_SLOTS]; /* module state, see session_slot_new() */
    /* router.c: the last 'to' this session addressed that was written
     * as parsing writes it, parsed (a client talks to the same few
     * addresses over and over) */
    struct jid last_to;
    /* private to session.c / c2s.c */
    struct session *next_of_user;
    struct xstream *xs;
    struct xstream *retired_xs; /* stopped parser, freed after its feed */
    struct sasl *sasl;
    struct stanza *sasl2_request; /* <authenticate/> of a SASL2 exchange
                                     under way (XEP-0388), a reference */
    unsigned state;
    bool header_sent;
    bool opened;             /* framed: <open/> received on this stream */
    struct timer timer;
    uint64_t last_read_ms;
    bool ping_outstanding;
    bool auth_delayed;
    bool ending;             /* the stream ends on purpose: no detaching */
    char stream_id[20];
    uint64_t connected_ms;
    struct session *all_prev, *all_next; /* every c2s session */
};

/* Adds s (bound, with a full JID) to the registry. A session already
 * bound to the same full JID is returned so the caller can replace it
 * (RFC 6120 §7.7.2.2); otherwise NULL. */
struct session *sessions_add(struct session *s);
void sessions_remove(struct session *s);
struct session *sessions_find(const struct jid *full);
/* First bound session of an account; iterate with ->next_of_user. */
struct session *sessions_of_user(const char *username);
size_t sessions_count_user(const char *username);
size_t sessions_count(void);

/* What "session-out" handlers get in h->data; the stanza itself is the
 * event's st (borrowed, not to be changed) or, when the sender had it
 * serialised only, NULL with the XML here. */
struct session_out {
    const char *xml; /* one serialised stanza when st is NULL */
    size_t len;
};

/* Sends st to the session (st is borrowed): through the "session-out"
 * handlers, then to the connection. Dropped when the connection is gone
 * and no handler took it. */
void session_send(struct session *s, const struct stanza *st);
/* The same for one element already serialised with jabber:client as
 * the namespace in scope (as session_send() writes it and the store
 * keeps it). */
void session_send_raw(struct session *s, const char *xml, size_t len);
/* Writes st / XML straight to the connection, past the "session-out"
 * handlers: for stream-level elements (nonzas) and for stanzas a handler
 * took and sends now. Nothing happens without a connection, or once
 * its stream is being closed. */
void session_write(struct session *s, const struct stanza *st);
void session_write_raw(struct session *s, const char *xml, size_t len);

/* Reserves a slot for per-session state of a module (at its init);
 * free_fn (may be NULL) frees a slot's value when the session is freed.
 * Returns the slot number; aborts when SESSION_SLOTS are taken, which
 * is a build-time mistake. */
int session_slot_new(void (*free_fn)(void *value));
static inline void *session_slot(const struct session *s, int slot)
{
    return s->slots[slot];
}
/* Sets a slot's value (owned by the session from now on); the previous
 * value is the caller's to free. */
static inline void session_slot_set(struct session *s, int slot, void *v)
{
    s->slots[slot] = v;
}
/* Forgets every slot registration (module shutdown, tests). */
void session_slots_reset(void);

/* Moves the XMPP state of old into s: its bound JID and place in the
 * registry, presence state and module slots. s authenticated as the same
 * account and is not bound; old is left unbound and empty (its
 * connection, if any, untouched). */
void session_move_state(struct session *s, struct session *old);
/* Frees what a session owns besides its connection: presence state,
 * module slots, JID and username. s must not be bound. */
void session_free_state(struct session *s);

/* Remembers that s sent directed presence to jid (RFC 6121 §4.6). */
void session_add_directed(struct session *s, const char *jid);
void session_clear_directed(struct session *s);

#endif
