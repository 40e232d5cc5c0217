/* mod.c -- the module table (generated from modules.def) and the feature
 * lists that disco reports. */
#include "mod/mod.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "xmpp/session.h"

#define MODULE(name) int mod_##name##_init(struct mod *m);
#include "mod/modules.def"
#undef MODULE

static const struct {
    const char *name;
    int (*init)(struct mod *m);
} module_table[] = {
#define MODULE(name) { #name, mod_##name##_init },
#include "mod/modules.def"
#undef MODULE
};

struct feature_list {
    const char **v;
    unsigned n, cap;
};

static struct feature_list server_features, account_features;

#define N_MODULES (sizeof(module_table) / sizeof(module_table[0]))
static struct mod mods[N_MODULES];
static size_t started;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void add(struct feature_list *l, const char *ns)
{
    for (unsigned i = 0; i < l->n; i++)
        if (strcmp(l->v[i], ns) == 0)
            return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = ns;
    qsort(l->v, l->n, sizeof(*l->v), cmp_str);
}

void mod_add_feature(struct mod *m, const char *ns)
{
    (void)m;
    add(&server_features, ns);
}

void mod_add_account_feature(struct mod *m, const char *ns)
{
    (void)m;
    add(&account_features, ns);
}

const char *const *mod_features(unsigned *n)
{
    *n = server_features.n;
    return server_features.v;
}

const char *const *mod_account_features(unsigned *n)
{
    *n = account_features.n;
    return account_features.v;
}

int modules_init(void)
{
    for (size_t i = 0; i < N_MODULES; i++) {
        mods[i] = (struct mod){ .name = module_table[i].name };
        started = i + 1;
        int r = module_table[i].init(&mods[i]);
        if (r < 0) {
            log_error(0, "module %s failed to start", module_table[i].name);
            return r;
        }
    }
    return 0;
}

void modules_shutdown(void)
{
    while (started > 0) {
        struct mod *m = &mods[--started];
        if (m->shutdown)
            m->shutdown();
    }
    FREE_NULL(server_features.v);
    FREE_NULL(account_features.v);
    server_features = (struct feature_list){ 0 };
    account_features = (struct feature_list){ 0 };
    hooks_clear();
    session_slots_reset();
}
