/* mod_ping.c -- XEP-0199: XMPP Ping.
 * Answers pings to the server and to an account's bare JID. The server's
 * own keepalive pings to clients are sent by xmpp/c2s.c, not here. */
#include "mod/mod.h"
#include "mod/mod_util.h"

#define NS_PING "urn:xmpp:ping"

static int ping(struct hook_ctx *h, struct stanza *iq)
{
    return iq_reply_empty(h, iq);
}

int mod_ping_init(struct mod *m)
{
    mod_add_feature(m, NS_PING);
    mod_hook_iq(m, IQ_GET, TO_HOST | TO_BARE, NS_PING, "ping", ping,
                PRIO_DEFAULT);
    return 0;
}
