/* mod_roster.h -- what other modules use of the roster module. */
#ifndef THEKE_MOD_ROSTER_H
#define THEKE_MOD_ROSTER_H

#include "store/store.h"

#define NS_ROSTER "jabber:iq:roster"

/* Sends a roster push for item (or its removal) to every interested
 * resource of username (RFC 6121 §2.1.6). */
void roster_push(const char *username, const struct roster_item *item,
                 bool removed);

/* Loads the item for contact into out; returns 0, or -ERR_NOTFOUND with
 * out set to a fresh item (subscription none) for contact. */
int roster_load(const char *username, const char *contact,
                struct roster_item *out);

#endif
