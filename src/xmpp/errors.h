/* errors.h -- stanza error conditions (RFC 6120 §8.3) and stream error
 * conditions (RFC 6120 §4.9), and the replies that carry them.
 *
 * Hook handlers return -SE_<condition>; the router turns that into an
 * error reply with errors_reply(). */
#ifndef THEKE_ERRORS_H
#define THEKE_ERRORS_H

#include <stdbool.h>

#include "core/buf.h"
#include "xml/stanza.h"

#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_STREAMS_ERR "urn:ietf:params:xml:ns:xmpp-streams"

enum stanza_error {
    SE_NONE = 0,
    SE_BAD_REQUEST,
    SE_CONFLICT,
    SE_FEATURE_NOT_IMPLEMENTED,
    SE_FORBIDDEN,
    SE_GONE,
    SE_INTERNAL_SERVER_ERROR,
    SE_ITEM_NOT_FOUND,
    SE_JID_MALFORMED,
    SE_NOT_ACCEPTABLE,
    SE_NOT_ALLOWED,
    SE_NOT_AUTHORIZED,
    SE_POLICY_VIOLATION,
    SE_RECIPIENT_UNAVAILABLE,
    SE_REDIRECT,
    SE_REGISTRATION_REQUIRED,
    SE_REMOTE_SERVER_NOT_FOUND,
    SE_REMOTE_SERVER_TIMEOUT,
    SE_RESOURCE_CONSTRAINT,
    SE_SERVICE_UNAVAILABLE,
    SE_SUBSCRIPTION_REQUIRED,
    SE_UNDEFINED_CONDITION,
    SE_UNEXPECTED_REQUEST,
    SE__COUNT
};

enum stream_error {
    STE_BAD_FORMAT,
    STE_BAD_NAMESPACE_PREFIX,
    STE_CONFLICT,
    STE_CONNECTION_TIMEOUT,
    STE_HOST_GONE,
    STE_HOST_UNKNOWN,
    STE_IMPROPER_ADDRESSING,
    STE_INTERNAL_SERVER_ERROR,
    STE_INVALID_FROM,
    STE_INVALID_NAMESPACE,
    STE_INVALID_XML,
    STE_NOT_AUTHORIZED,
    STE_NOT_WELL_FORMED,
    STE_POLICY_VIOLATION,
    STE_RESOURCE_CONSTRAINT,
    STE_RESTRICTED_XML,
    STE_SYSTEM_SHUTDOWN,
    STE_UNDEFINED_CONDITION,
    STE_UNSUPPORTED_ENCODING,
    STE_UNSUPPORTED_STANZA_TYPE,
    STE_UNSUPPORTED_VERSION,
    STE__COUNT
};

/* "service-unavailable", ... */
const char *errors_stanza_name(enum stanza_error e);
/* "cancel", "modify", "auth", "wait" (RFC 6120 §8.3.3). */
const char *errors_stanza_type(enum stanza_error e);
const char *errors_stream_name(enum stream_error e);

/* Appends <stream:error> with the condition cond (a name such as
 * "conflict") and an optional text, then </stream:stream>. */
void errors_stream_append(struct buf *out, const char *cond,
                          const char *text);
/* Appends the <stream:error> element alone; standalone declares the
 * stream: prefix on it, for a transport where each element is a
 * document of its own (RFC 7395 §3.3.3). */
void errors_stream_element(struct buf *out, const char *cond,
                           const char *text, bool standalone);

/* Builds the error reply to st: same kind and id, from/to swapped,
 * type='error', an <error/> with the condition and optional text. Per
 * RFC 6120 §8.3.1 the original payload is not echoed (it may be large or
 * private). Owned by the caller. */
struct stanza *errors_reply(const struct stanza *st, enum stanza_error e,
                            const char *text);

/* True when st must never be answered with an error (it is an error or
 * an iq result already): RFC 6120 §8.3.1 forbids error loops. */
int errors_no_reply(const struct stanza *st);

#endif
