/* hmap.c -- see hmap.h. */
#include "core/hmap.h"

#include <string.h>

#include "core/alloc.h"

uint32_t hmap_hash(const char *s, size_t len)
{
    /* FNV-1a: short keys (JIDs, hook names), good enough spread. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static struct hmap_slot *find(const struct hmap *m, const char *key,
                              size_t len, uint32_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct hmap_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

void *hmap_getn(const struct hmap *m, const char *key, size_t len)
{
    struct hmap_slot *s = find(m, key, len, hmap_hash(key, len));
    return s ? s->value : NULL;
}

void *hmap_get(const struct hmap *m, const char *key)
{
    return hmap_getn(m, key, strlen(key));
}

static void insert_slot(struct hmap *m, struct hmap_slot src)
{
    size_t mask = m->cap - 1;
    size_t i = src.hash & mask;
    while (m->slots[i].key)
        i = (i + 1) & mask;
    m->slots[i] = src;
}

static void grow(struct hmap *m)
{
    struct hmap_slot *old = m->slots;
    size_t oldcap = m->cap;
    m->cap = oldcap ? oldcap * 2 : 16;
    m->slots = xcalloc(m->cap, sizeof(*m->slots));
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key)
            insert_slot(m, old[i]);
    free(old);
}

void *hmap_put(struct hmap *m, const char *key, void *value)
{
    size_t len = strlen(key);
    uint32_t h = hmap_hash(key, len);
    struct hmap_slot *s = find(m, key, len, h);
    if (s) {
        void *prev = s->value;
        s->value = value;
        return prev;
    }
    if ((m->count + 1) * 4 > m->cap * 3)
        grow(m);
    insert_slot(
        m, (struct hmap_slot){xstrndup(key, len), h, (uint32_t)len, value});
    m->count++;
    return NULL;
}

void *hmap_del(struct hmap *m, const char *key)
{
    size_t len = strlen(key);
    struct hmap_slot *s = find(m, key, len, hmap_hash(key, len));
    if (!s)
        return NULL;
    void *value = s->value;
    free(s->key);
    size_t mask = m->cap - 1;
    size_t i = (size_t)(s - m->slots);
    /* Backward-shift: move later entries of the probe run into the hole
     * so that no tombstones are needed. */
    for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        /* Entry j may move to i if its home is not in (i, j]. */
        if ((j > i && (home <= i || home > j)) ||
            (j < i && (home <= i && home > j))) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i] = (struct hmap_slot){ 0 };
    m->count--;
    return value;
}

void hmap_free(struct hmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    *m = HMAP_INIT;
}

int hmap_next(const struct hmap *m, size_t *pos, const char **key,
              void **value)
{
    for (; *pos < m->cap; (*pos)++) {
        if (m->slots[*pos].key) {
            if (key)
                *key = m->slots[*pos].key;
            if (value)
                *value = m->slots[*pos].value;
            (*pos)++;
            return 1;
        }
    }
    return 0;
}
