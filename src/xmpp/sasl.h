/* sasl.h -- SASL authentication for c2s (RFC 6120 §6): the mechanisms
 * SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS where the channel offers
 * binding data (TLS), SCRAM-SHA-256, SCRAM-SHA-1 and, on encrypted
 * streams only, PLAIN.
 *
 * The exchange works on decoded bytes; c2s.c handles the XML, base64 and
 * the slowing down of repeated failures. A mechanism once offered is
 * never withdrawn: clients pin the best one they have used. */
#ifndef THEKE_SASL_H
#define THEKE_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "xmpp/scram.h"

enum sasl_result { SASL_CONTINUE, SASL_SUCCESS, SASL_FAILURE, SASL_PENDING };

/* The outcome of a step that answered SASL_PENDING (SASL_SUCCESS with no
 * additional data, or SASL_FAILURE with cond), called on the loop thread
 * in a later turn; never after sasl_free(). */
typedef void sasl_resume_fn(void *ud, enum sasl_result r, const char *cond);

struct sasl;

/* Calls fn for each mechanism offered on a stream, best first. secure:
 * the channel is confidential (TLS, or loopback plaintext the operator
 * allowed); PLAIN needs it. ncb: how many channel binding types the
 * channel has; the -PLUS mechanisms need one. */
void sasl_mechanisms(bool secure, unsigned ncb,
                     void (*fn)(void *ud, const char *mech), void *ud);
/* Starts an exchange; NULL when mech is not offered on this stream. cbs
 * (copied) is the channel's binding data by type. resume(ud, ...)
 * receives the outcome of a pending step. */
struct sasl *sasl_new(const char *mech, bool secure,
                      const struct scram_cb *cbs, unsigned ncb,
                      sasl_resume_fn *resume, void *ud);
void sasl_free(struct sasl *x);

/* Feeds the client's (decoded) message. On SASL_CONTINUE out holds the
 * challenge; on SASL_SUCCESS out holds the additional data (may be
 * empty); on SASL_FAILURE *cond names the RFC 6120 §6.5 condition.
 * SASL_PENDING: a password is being hashed on a worker thread (PLAIN);
 * feed nothing more until resume() is called. */
enum sasl_result sasl_step(struct sasl *x, const char *in, size_t len,
                           struct buf *out, const char **cond);
/* The authenticated account (normalised username), after success; or the
 * claimed one after a failure (for rate limiting), possibly NULL. */
const char *sasl_username(const struct sasl *x);
const char *sasl_mech(const struct sasl *x);
/* A step answered SASL_PENDING and resume() has not been called yet. */
bool sasl_pending(const struct sasl *x);

#endif
