/* xstream.h -- incremental parser for an XMPP XML stream (RFC 6120 §4, §11).
 *
 * Wraps expat (the only file that includes it is xstream.c). Bytes are fed
 * as they arrive, split anywhere; the parser reports the stream header,
 * every complete top-level child of the stream as a stanza tree, the end
 * of the stream, and errors. It enforces the restricted XML of RFC 6120
 * §11.1: no DTD, no entity declarations or references beyond the five
 * predefined ones, no processing instructions, no comments. Limits are
 * applied while parsing, before a stanza is built completely. */
#ifndef THEKE_XSTREAM_H
#define THEKE_XSTREAM_H

#include <stddef.h>

#include "xml/stanza.h"

enum xstream_error {
    XSE_NONE = 0,
    XSE_NOT_WELL_FORMED,    /* <not-well-formed/> */
    XSE_POLICY_VIOLATION,   /* stanza larger than max_stanza_size */
    XSE_RESTRICTED_XML,     /* DTD, entity declaration, PI, comment */
    XSE_INVALID_NAMESPACE,  /* stream element not in the streams namespace */
    XSE_BAD_FORMAT,         /* depth or attribute count over limits */
};

struct xstream_limits {
    size_t max_stanza_size; /* bytes of one top-level element, tags included */
    unsigned max_depth;     /* element nesting inside a stanza */
    unsigned max_attrs;     /* attributes per element */
};

struct xstream_cb {
    /* The stream header arrived. hdr is the <stream:stream> element with
     * its attributes and no children, borrowed for the call only. */
    void (*stream_open)(void *ud, const struct stanza *hdr);
    /* A complete top-level element; the callee owns st (must unref). */
    void (*stanza)(void *ud, struct stanza *st);
    /* </stream:stream> arrived. */
    void (*stream_close)(void *ud);
    /* Parsing failed; no more callbacks follow until xstream_reset(). */
    void (*error)(void *ud, enum xstream_error err);
};

struct xstream;

/* Owned parser; cb and ud are borrowed for its lifetime. */
struct xstream *xstream_new(const struct xstream_limits *lim,
                            const struct xstream_cb *cb, void *ud);
void xstream_free(struct xstream *xs);

/* Feeds bytes. Returns 0, or a negative ERR_* once the stream has failed
 * (the error callback has then been called exactly once) or was stopped.
 * Callbacks may call xstream_reset() or xstream_stop() on the same parser:
 * parsing of the current chunk then pauses at the end of the current
 * element; after a reset the rest of the chunk is fed to the fresh
 * parser, after a stop it is discarded. After an error the rest of the
 * chunk is discarded too, whatever the error callback does. Callbacks
 * must not free the parser nor feed it. Returns -ERR_PROTO after an
 * error, -ERR_CLOSED after a stop. */
int xstream_feed(struct xstream *xs, const char *data, size_t len);

/* Starts a fresh stream (stream restart after STARTTLS or SASL success).
 * Safe to call from inside a callback. Beware after <proceed/>: bytes
 * behind <starttls/> in the same chunk are plaintext and must not reach
 * the new stream (STARTTLS command injection); stop this parser there
 * and create a new one once TLS is up. */
void xstream_reset(struct xstream *xs);
/* Stops parsing for good; later feeds return an error without callbacks
 * and a reset does not revive the parser. */
void xstream_stop(struct xstream *xs);
/* Changes the size cap, e.g. raising it after authentication. */
void xstream_set_max_stanza_size(struct xstream *xs, size_t max);

/* Bytes held by the parser: its own state plus expat's allocations, not
 * counting a stanza under construction. Between stanzas a stream holds
 * no expat parser (see xstream.c): it lends it to the thread's spares
 * at the end of every feed that ends there. For metrics and tests. */
size_t xstream_memory(const struct xstream *xs);
/* Frees the calling thread's spare parsers. Other threads' spares go
 * when they end; the thread that runs main() calls this before exit. */
void xstream_drop_spares(void);

const char *xstream_error_str(enum xstream_error err);

/* Parses one element serialised with jabber:client as the namespace in
 * scope (as session_send_raw() takes it and the store keeps it), for
 * code that holds a stanza as XML and must look inside it again.
 * Returns an owned tree, or NULL when xml is not one well-formed
 * element. */
struct stanza *xstream_parse_one(const char *xml, size_t len);

#endif
