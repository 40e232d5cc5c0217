/* hmap.h -- a hash map from NUL-terminated string keys to pointers.
 *
 * Open addressing with linear probing and tombstone-free backward-shift
 * deletion, so lookups stay short after many removals. Keys are copied
 * and owned by the map; values are borrowed (the caller owns them). */
#ifndef THEKE_HMAP_H
#define THEKE_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
    char *key;      /* owned; NULL = empty */
    uint32_t hash;
    uint32_t len;   /* of key, compared before its bytes */
    void *value;    /* borrowed */
};

struct hmap {
    struct hmap_slot *slots;
    size_t cap;   /* power of two, or 0 */
    size_t count;
};

#define HMAP_INIT ((struct hmap){ NULL, 0, 0 })

uint32_t hmap_hash(const char *s, size_t len);
void *hmap_get(const struct hmap *m, const char *key);
void *hmap_getn(const struct hmap *m, const char *key, size_t len);
/* Inserts or replaces; returns the previous value or NULL. */
void *hmap_put(struct hmap *m, const char *key, void *value);
/* Removes; returns the value or NULL when absent. */
void *hmap_del(struct hmap *m, const char *key);
/* Frees the map's storage and keys, not the values. */
void hmap_free(struct hmap *m);

/* Iteration: for (size_t i = 0; hmap_next(m, &i, &k, &v);) ... Must not
 * insert or delete while iterating. */
int hmap_next(const struct hmap *m, size_t *pos, const char **key,
              void **value);

#endif
