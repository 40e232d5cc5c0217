/* mod_util.h -- small helpers shared by modules for building replies. */
#ifndef THEKE_MOD_UTIL_H
#define THEKE_MOD_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "xml/stanza.h"
#include "xmpp/hooks.h"

#define NS_DATA "jabber:x:data"
#define NS_DELAY_UTIL "urn:xmpp:delay"
#define DATETIME_MAX 32 /* bytes datetime_format() writes, NUL included */

/* An owned iq result for iq: id kept, to/from swapped. */
struct stanza *iq_result(const struct stanza *iq);
/* Sends reply back to where iq came from: straight to the session for a
 * client's request, through the router otherwise. reply is borrowed. */
void iq_send_reply(struct hook_ctx *h, struct stanza *reply);
/* Sends an empty result for iq. Returns HOOK_HANDLED. */
int iq_reply_empty(struct hook_ctx *h, const struct stanza *iq);
/* Sends the result for a client's iq with inner (len bytes of serialised
 * XML, from the store) as its payload, spliced in without parsing it.
 * Needs h->sess. Returns HOOK_HANDLED. */
int iq_reply_raw(struct hook_ctx *h, const struct stanza *iq,
                 const char *inner, size_t len);

/* XEP-0082 DateTime in UTC ("2026-11-23T06:35:35Z"), with milliseconds
 * when with_ms ("...35.123Z"). out holds DATETIME_MAX bytes. */
void datetime_format(int64_t ms, bool with_ms, char *out);
/* Parses an XEP-0082 DateTime (fractions of a second and a zone offset
 * allowed) into Unix milliseconds. 0, or -ERR_INVAL for anything else. */
int datetime_parse(const char *s, int64_t *ms);
/* True when message m carries chat states (XEP-0085) and nothing else:
 * "typing" notifications, not worth storing or waking anyone for. */
bool message_only_chat_state(const struct stanza *m);
/* XEP-0203: marks m as delayed since ms (Unix milliseconds) by this
 * server, unless it carries the server's delay already: a message kept
 * twice (unacknowledged, then offline) keeps its first arrival time. */
void delay_add(struct stanza *m, int64_t ms);

/* Data forms (XEP-0004) and their FORM_TYPE (XEP-0068). Appends an <x/>
 * of type ('form', 'result', ...) to parent, with the hidden FORM_TYPE
 * field when form_type is set; returns it, borrowed from the tree. */
struct stanza *form_add(struct stanza *parent, const char *type,
                        const char *form_type);
/* Appends a field (type and value may be NULL); returns it. */
struct stanza *form_add_field(struct stanza *x, const char *var,
                              const char *type, const char *value);
void form_field_add_value(struct stanza *field, const char *value);
/* The FORM_TYPE of a form: an owned string, or NULL when it has none. */
char *form_type_dup(const struct stanza *x);

#endif
