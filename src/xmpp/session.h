/* session.h -- client sessions and the registry of bound resources.
 *
 * A session is born with its connection (c2s.c), becomes authenticated
 * (SASL) and then bound to a full JID (RFC 6120 §7). Only bound sessions
 * are in the registry, which maps an account to the list of its sessions
 * so that routing to a bare JID touches that account only. */
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
    /* private to session.c / c2s.c */
    struct session *next_of_user;
    struct xstream *xs;
    struct xstream *retired_xs; /* stopped parser, freed after its feed */
    struct sasl *sasl;
    unsigned state;
    bool header_sent;
    bool opened;             /* framed: <open/> received on this stream */
    struct timer timer;
    uint64_t last_read_ms;
    bool ping_outstanding;
    bool auth_delayed;
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

/* Serialises st to the session's connection (st is borrowed). Drops it
 * silently when the connection is gone. */
void session_send(struct session *s, const struct stanza *st);
/* Sends one element already serialised with jabber:client as the
 * namespace in scope (as session_send() writes it and the store keeps
 * it). */
void session_send_raw(struct session *s, const char *xml, size_t len);

/* Remembers that s sent directed presence to jid (RFC 6121 §4.6). */
void session_add_directed(struct session *s, const char *jid);
void session_clear_directed(struct session *s);

#endif
