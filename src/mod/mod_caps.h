/* mod_caps.h -- what other modules learn of clients' entity capabilities
 * (XEP-0115).
 *
 * When a session's client announces capabilities in its available
 * presence, mod_caps learns its features (from a cache by verification
 * string, or by asking the client) and then fires "caps-resolved" with
 * h->sess the session and no stanza. It fires again when the client
 * announces other capabilities. Personal eventing uses it to learn which
 * nodes a client wants notifications for ("NODE+notify", XEP-0163 §4). */
#ifndef THEKE_MOD_CAPS_H
#define THEKE_MOD_CAPS_H

#include <stdbool.h>

struct session;
struct stanza;

/* The SHA-1 verification string (XEP-0115 §5.1) of a disco#info
 * <query/>: identities, features and extension forms. Owned. */
char *caps_ver(const struct stanza *q);

/* True when the session's client announced the feature NODE+notify. */
bool caps_wants_notify(const struct session *s, const char *node);

/* The nodes the session's client wants notifications for, borrowed
 * until its next presence; *n is 0 while they are not known. */
const char *const *caps_notify_nodes(const struct session *s, unsigned *n);

#endif
