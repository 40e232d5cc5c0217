/* c2s.h -- client-to-server streams (RFC 6120 §4-§7): listeners for
 * STARTTLS (5222) and direct TLS (XEP-0368, 5223), stream negotiation,
 * SASL, resource binding, timeouts and stream errors.
 *
 * Routing is the router's, presence and roster are modules'; c2s only
 * turns bytes into stanzas for a session and stanzas back into bytes. */
#ifndef THEKE_C2S_H
#define THEKE_C2S_H

struct session;

/* Opens the configured listeners. Returns 0, or a negative ERR_* with a
 * message in err. */
int c2s_start(char *err, unsigned long errsz);
/* Sends <system-shutdown/> to every stream, closes listeners. */
void c2s_stop(void);

/* Ends a session's stream with a stream error condition name
 * ("conflict", "policy-violation", ...) and an optional text. */
void c2s_stream_error(struct session *s, const char *cond, const char *text);

#endif
