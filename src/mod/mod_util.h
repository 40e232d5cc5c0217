/* mod_util.h -- small helpers shared by modules for building replies. */
#ifndef THEKE_MOD_UTIL_H
#define THEKE_MOD_UTIL_H

#include "xml/stanza.h"
#include "xmpp/hooks.h"

/* An owned iq result for iq: id kept, to/from swapped. */
struct stanza *iq_result(const struct stanza *iq);
/* Sends reply back to where iq came from: straight to the session for a
 * client's request, through the router otherwise. reply is borrowed. */
void iq_send_reply(struct hook_ctx *h, struct stanza *reply);
/* Sends an empty result for iq. Returns HOOK_HANDLED. */
int iq_reply_empty(struct hook_ctx *h, const struct stanza *iq);

#endif
