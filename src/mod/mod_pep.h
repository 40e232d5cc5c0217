/* mod_pep.h -- what other modules see of personal eventing (XEP-0163).
 *
 * Modules that follow or make publications on an account's PEP nodes
 * (avatar conversion, XEP-0398) use these instead of the store, so that
 * node configuration, limits and notifications stay in one place. */
#ifndef THEKE_MOD_PEP_H
#define THEKE_MOD_PEP_H

#include <stddef.h>

#include "core/buf.h"
#include "store/store.h"

struct pep_config;

/* The payload of the "pep-published" event (h->user is the owner,
 * h->sess NULL), fired after an item was stored and its notifications
 * sent, whoever published it. All borrowed for the event. */
struct pep_published {
    const char *user; /* the account */
    const char *node;
    const char *id;   /* the item id */
    const char *xml;  /* the payload element, serialised */
    size_t len;
};

/* Publishes xml (len bytes: one serialised element with a namespace) as
 * item id of user's node, as if the account had done so with
 * publish-options want (NULL for none): the node is created or its
 * configuration must match, notifications go out and "pep-published"
 * fires. 0, or -SE_<condition> (-SE_CONFLICT when the node's
 * configuration differs from want). */
int pep_publish(const char *user, const char *node, const char *id,
                const char *xml, size_t len, const struct pep_config *want);

/* Appends the payload of item id of user's node to out. 0, or
 * -ERR_NOTFOUND when there is no such node or item. */
int pep_item_get(const char *user, const char *node, const char *id,
                 struct buf *out);

/* Retracts item id of user's node, notifying as the node's
 * configuration says. 0, or -ERR_NOTFOUND when there is no such node
 * or item. */
int pep_retract(const char *user, const char *node, const char *id);

/* Calls fn with each item of user's node, oldest first (fn must not
 * change the node). 0, or -ERR_NOTFOUND when there is no such node. */
int pep_items_each(const char *user, const char *node, store_pep_item_fn *fn,
                   void *ud);

#endif
