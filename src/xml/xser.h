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

/* Remembers that the tree whose version is v serialises, with
 * default_ns in scope, to xml (len bytes, copied): a module that holds
 * the text of a stanza already (the archive's copy) spares the next
 * xser_write() of the unchanged root its work. One memo per thread,
 * replaced by the next. The caller answers for xml being exactly what
 * xser_write() writes; builds with XSER_CHECK_MEMO compare the two on
 * every use and abort on a difference. */
void xser_memo(struct stanza_version v, const char *default_ns,
               const char *xml, size_t len);
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
