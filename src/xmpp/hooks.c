/* hooks.c -- see hooks.h. */
#include "xmpp/hooks.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hmap.h"

struct hook_entry {
    hook_fn *fn;
    int prio;
};

struct hook_list {
    struct hook_entry *v; /* sorted by prio, highest first */
    unsigned n, cap;
};

static struct hmap registry = HMAP_INIT;

/* Events are nearly always named by string literals, so the address of
 * the name finds its list again without hashing; the name is compared
 * too, as a buffer on the stack may have held another name at the same
 * address. Events without handlers are remembered as well. Every
 * registration empties the cache. */
#define CACHE_SLOTS    64
#define CACHE_NAME_MAX 40
struct cache_slot {
    const char *event; /* the caller's pointer, NULL when empty */
    char name[CACHE_NAME_MAX];
    struct hook_list *list; /* NULL: no handlers */
};
static struct cache_slot cache[CACHE_SLOTS];

static struct hook_list *lookup(const char *event)
{
    struct cache_slot *c = &cache[((uintptr_t)event >> 3) % CACHE_SLOTS];
    if (c->event == event && strcmp(c->name, event) == 0)
        return c->list;
    struct hook_list *l = hmap_get(&registry, event);
    size_t len = strlen(event);
    if (len < CACHE_NAME_MAX) {
        c->event = event;
        memcpy(c->name, event, len + 1);
        c->list = l;
    }
    return l;
}

/* Long enough for "iq/set/bare/" + a namespace and a name; longer keys
 * are cut, which only ever makes a lookup miss. */
#define KEY_MAX 512

static void iq_key(char *key, unsigned type, unsigned to, const char *ns,
                   const char *name)
{
    snprintf(key, KEY_MAX, "iq/%s/%s/%s %s", type == IQ_GET ? "get" : "set",
             to == TO_HOST ? "host" : "bare", ns, name);
}

void hooks_add(const char *event, hook_fn *fn, int prio)
{
    memset(cache, 0, sizeof(cache));
    struct hook_list *l = hmap_get(&registry, event);
    if (!l) {
        l = xcalloc(1, sizeof(*l));
        hmap_put(&registry, event, l);
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    unsigned i = l->n;
    while (i > 0 && l->v[i - 1].prio < prio) {
        l->v[i] = l->v[i - 1];
        i--;
    }
    l->v[i] = (struct hook_entry){ fn, prio };
    l->n++;
}

void hooks_add_iq(unsigned types, unsigned to, const char *ns,
                  const char *name, hook_fn *fn, int prio)
{
    char key[KEY_MAX];
    for (unsigned t = IQ_GET; t <= IQ_SET; t <<= 1) {
        if (!(types & t))
            continue;
        for (unsigned c = TO_HOST; c <= TO_BARE; c <<= 1) {
            if (!(to & c))
                continue;
            iq_key(key, t, c, ns, name);
            hooks_add(key, fn, prio);
        }
    }
}

int hooks_fire(const char *event, struct hook_ctx *h, struct stanza *st)
{
    struct hook_list *l = lookup(event);
    if (!l)
        return HOOK_PASS;
    for (unsigned i = 0; i < l->n; i++) {
        int r = l->v[i].fn(h, st);
        if (r != HOOK_PASS)
            return r;
    }
    return HOOK_PASS;
}

int hooks_fire_iq(unsigned type, unsigned to, const char *ns,
                  const char *name, struct hook_ctx *h, struct stanza *st)
{
    char key[KEY_MAX];
    iq_key(key, type, to, ns, name);
    return hooks_fire(key, h, st);
}

bool hooks_has(const char *event) { return lookup(event) != NULL; }

void hooks_clear(void)
{
    memset(cache, 0, sizeof(cache));
    struct hook_list *l;
    for (size_t i = 0; hmap_next(&registry, &i, NULL, (void **)&l);) {
        free(l->v);
        free(l);
    }
    hmap_free(&registry);
}
