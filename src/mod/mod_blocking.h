/* mod_blocking.h -- what other modules ask of block lists (XEP-0191). */
#ifndef THEKE_MOD_BLOCKING_H
#define THEKE_MOD_BLOCKING_H

#include <stdbool.h>

#include "xmpp/jid.h"

/* True when the account user blocks j (any form of it on the list): for
 * modules that send to contacts on their own (PEP notifications) and
 * must skip those the account blocked. A failing store counts as
 * blocked. */
bool blocking_blocks(const char *user, const struct jid *j);

#endif
