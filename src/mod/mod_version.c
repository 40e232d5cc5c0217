/* mod_version.c -- XEP-0092: Software Version, for the server only.
 * The operating system is not disclosed: it helps attackers more than
 * users. */
#include <string.h>

#include "core/version.h"
#include "mod/mod.h"
#include "mod/mod_util.h"

#define NS_VERSION "jabber:iq:version"

static int version(struct hook_ctx *h, struct stanza *iq)
{
    struct stanza *r = iq_result(iq);
    struct stanza *q = stanza_add_child(r, NS_VERSION, "query");
    struct stanza *name = stanza_add_child(q, NS_VERSION, "name");
    stanza_add_text(name, "theke", 5);
    struct stanza *ver = stanza_add_child(q, NS_VERSION, "version");
    stanza_add_text(ver, THEKE_VERSION, strlen(THEKE_VERSION));
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

int mod_version_init(struct mod *m)
{
    mod_add_feature(m, NS_VERSION);
    mod_hook_iq(m, IQ_GET, TO_HOST, NS_VERSION, "query", version,
                PRIO_DEFAULT);
    return 0;
}
