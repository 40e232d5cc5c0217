/* mod_util.c -- see mod_util.h. */
#include "mod/mod_util.h"

#include "xmpp/router.h"
#include "xmpp/session.h"

struct stanza *iq_result(const struct stanza *iq)
{
    struct stanza *r = stanza_new(iq->ns, "iq");
    const char *id = stanza_attr(iq, "id");
    const char *from = stanza_attr(iq, "from");
    const char *to = stanza_attr(iq, "to");
    stanza_set_attr(r, "type", "result");
    if (id)
        stanza_set_attr(r, "id", id);
    if (to)
        stanza_set_attr(r, "from", to);
    if (from)
        stanza_set_attr(r, "to", from);
    return r;
}

void iq_send_reply(struct hook_ctx *h, struct stanza *reply)
{
    if (h->sess && (!h->sess->bound || !stanza_attr(reply, "to")))
        session_send(h->sess, reply);
    else
        router_route(reply);
}

int iq_reply_empty(struct hook_ctx *h, const struct stanza *iq)
{
    struct stanza *r = iq_result(iq);
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}
