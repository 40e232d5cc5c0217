/* c2s.h -- client-to-server streams (RFC 6120 §4-§7): listeners for
 * STARTTLS (5222) and direct TLS (XEP-0368, 5223), stream negotiation,
 * SASL, resource binding, timeouts and stream errors.
 *
 * Routing is the router's, presence and roster are modules'; c2s only
 * turns bytes into stanzas for a session and stanzas back into bytes. */
#ifndef THEKE_C2S_H
#define THEKE_C2S_H

#include <stdbool.h>
#include <stddef.h>

struct conn;
struct session;
struct session_transport;

/* Opens the configured listeners. Returns 0, or a negative ERR_* with a
 * message in err. */
int c2s_start(char *err, unsigned long errsz);
/* Sends <system-shutdown/> to every stream, closes listeners. */
void c2s_stop(void);

/* The transport of the c2s ports: an XML stream over TCP or TLS. */
extern const struct session_transport c2s_stream_transport;

/* Starts a client session on a connection another layer accepted (the
 * HTTP server, after a WebSocket upgrade): the session negotiates its
 * stream like one on the c2s ports, writing through tr (static) with
 * tr_ud as its per-connection state. secure: the connection is
 * encrypted. The caller hands input to c2s_input() or
 * c2s_input_message() and calls c2s_session_closed() from its closed()
 * callback; the session is borrowed until then. */
struct session *c2s_session_new(struct conn *c,
                                const struct session_transport *tr,
                                void *tr_ud, bool secure);
/* Bytes of a stream transport (RFC 6120 §4), split anywhere. */
void c2s_input(struct session *s, const char *data, size_t len);
/* One complete message of a framed transport (RFC 7395 §3.3.3): one
 * element, <open/> or <close/> included. */
void c2s_input_message(struct session *s, const char *data, size_t len);
/* The connection is going away: ends the session and frees it, unless
 * a "session-detached" handler keeps it bound (session.h); either way
 * the caller is done with it. */
void c2s_session_closed(struct session *s, const char *reason);
/* The stanza size limit in force on a session's stream (lower before
 * authentication), for transports that bound their messages. */
size_t c2s_max_stanza(const struct session *s);

/* Ends a session's stream with a stream error condition name
 * ("conflict", "policy-violation", ...) and an optional text. A detached
 * session (no connection) is ended and freed at the next timer run
 * instead, so the caller may hold it until it returns to the loop. */
void c2s_stream_error(struct session *s, const char *cond, const char *text);

/* Ends a detached session now ("session-closed", out of the registry)
 * and frees it: what the owner of a detached session calls when it
 * gives up waiting (see "session-detached" in session.h). Not to be
 * called from inside a delivery to s. */
void c2s_session_release(struct session *s);
/* s (authenticated, not bound) continues old, a session of the same
 * account (XEP-0198 resumption): old's state moves into s, and old's
 * connection, if it still has one, is closed with <conflict/>; old is
 * freed. */
void c2s_session_take_over(struct session *s, struct session *old);

#endif
