/* xser.h -- serialising stanza trees to XML text.
 *
 * Output is canonical enough for XMPP: attribute values in single quotes,
 * text and attributes escaped, xmlns written on an element only when its
 * namespace differs from the one in scope. */
#ifndef THEKE_XSER_H
#define THEKE_XSER_H

#include "core/buf.h"
#include "xml/stanza.h"

/* Appends el as XML to out. default_ns is the namespace in scope at el
 * (the stream's default, "jabber:client" on c2s), so that a stanza in
 * that namespace is written without an xmlns attribute. */
void xser_write(const struct stanza *el, const char *default_ns,
                struct buf *out);

/* Opens the memo of this thread (one, replaced by the next) for the tree
 * whose version is v with default_ns in scope, and returns its emptied
 * buffer: the caller writes there what xser_write() would write for
 * that tree, so that the next xser_write() of the unchanged root copies
 * it. A module that holds the text of a stanza already (the archive's
 * copy) spares the serialiser its work this way. The caller answers
 * for the text being exact; builds with XSER_CHECK_MEMO compare the two
 * on every use and abort on a difference. NULL when default_ns is too
 * long to remember. */
struct buf *xser_memo_open(struct stanza_version v, const char *default_ns);
/* Forgets this thread's memo and frees its storage. */
void xser_memo_clear(void);

/* Appends s (n bytes) escaped for an attribute value in single or
 * double quotes, for callers that write a few tags by hand around XML
 * that is already serialised (archived messages). */
void xser_escape_attr(const char *s, size_t n, struct buf *out);

/* Appends to out the start tag of el only, attribute values escaped and
 * each cut to 64 bytes, for logging ("<message type='chat' to='...'>").
 * Never includes children or text. */
void xser_top_tag(const struct stanza *el, struct buf *out);

#endif
