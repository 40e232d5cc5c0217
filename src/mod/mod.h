/* mod.h -- what a feature module sees of the server.
 *
 * Each module file exports one init function, listed in modules.def;
 * modules_init() calls them in that order. A module registers hooks and
 * advertises its features; the core never names a module. */
#ifndef THEKE_MOD_H
#define THEKE_MOD_H

#include "xmpp/hooks.h"

struct mod {
    const char *name;       /* "ping", as in modules.def */
    void (*shutdown)(void); /* see mod_on_shutdown() */
};

/* fn runs at shutdown (modules_shutdown(), in reverse order of
 * initialisation): the place to free what the module holds. */
static inline void mod_on_shutdown(struct mod *m, void (*fn)(void))
{
    m->shutdown = fn;
}

/* Advertises a feature in the server's disco#info (XEP-0030). */
void mod_add_feature(struct mod *m, const char *ns);
/* Advertises a feature in every account's bare-JID disco#info. */
void mod_add_account_feature(struct mod *m, const char *ns);

static inline void mod_hook(struct mod *m, const char *event, hook_fn *fn,
                            int prio)
{
    (void)m;
    hooks_add(event, fn, prio);
}

static inline void mod_hook_iq(struct mod *m, unsigned types, unsigned to,
                               const char *ns, const char *name, hook_fn *fn,
                               int prio)
{
    (void)m;
    hooks_add_iq(types, to, ns, name, fn, prio);
}

/* Extension forms (XEP-0128) and anything else an answer to disco#info
 * needs beyond features: mod_disco fires "disco-info/host" (the server)
 * and "disco-info/bare" (an account, h->user) once identities and
 * features are in, with h->data the <query/> being built. Handlers
 * append to it (form_add() in mod_util.h) and return HOOK_PASS.
 * Likewise "disco-items/bare" for an account's disco#items (no node):
 * handlers append <item/> elements, as h->from may see them. */

/* The advertised features, sorted and unique; borrowed. */
const char *const *mod_features(unsigned *n);
const char *const *mod_account_features(unsigned *n);

/* Runs every module's init; returns 0 or the first error. */
int modules_init(void);
/* Forgets features and hooks (shutdown). */
void modules_shutdown(void);

#endif
