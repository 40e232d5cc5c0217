/* region.c -- see region.h. */
#include "core/region.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"

#if defined(__SANITIZE_ADDRESS__)
#define REGION_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REGION_MALLOC 1
#endif
#endif

#define ALIGN     16u
#define ROUND(n)  (((n) + (ALIGN - 1)) & ~(size_t)(ALIGN - 1))

#ifndef REGION_MALLOC

#include <sys/mman.h>

#define BLOCK_SIZE  (16u << 10)
#define SLAB_BLOCKS 64u /* blocks per mmap(): 1 MiB of address space */
#define HOT_BLOCKS  32u /* freed blocks kept resident for quick reuse */
#define LARGE_FLAG  ((size_t)1 << (sizeof(size_t) * 8 - 1))

/* Precedes every allocation. */
struct hdr {
    size_t size; /* bytes asked for; LARGE_FLAG when mmap'd alone */
    size_t pad;
};

/* Starts every block; the rest of the block is bump-allocated. */
struct block {
    struct block *next;
    size_t used; /* bytes from the block's start, this header included */
};

/* Precedes the hdr of an allocation too big for a block. */
struct large {
    struct large *next, *prev;
    size_t mapped;
    size_t pad;
};

struct region {
    struct block *blocks; /* newest first; this struct lives in the last */
    struct large *large;
    size_t bytes; /* used in older blocks, and mapped for large ones */
};

/* Blocks not in any region, per thread: hot ones are still resident,
 * cold ones were given back to the kernel with madvise(). */
static _Thread_local struct block *hot[HOT_BLOCKS];
static _Thread_local size_t nhot;
static _Thread_local struct block **cold;
static _Thread_local size_t ncold, cold_cap;

static void *map(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) {
        log_error(0, "out of memory mapping %zu bytes", n);
        abort();
    }
    return p;
}

static void push_cold(struct block *b)
{
    if (ncold == cold_cap) {
        cold_cap = cold_cap ? cold_cap * 2 : SLAB_BLOCKS;
        cold = xrealloc(cold, cold_cap * sizeof(*cold));
    }
    cold[ncold++] = b;
}

static struct block *get_block(void)
{
    struct block *b;
    if (nhot > 0) {
        b = hot[--nhot];
    } else {
        if (ncold == 0) {
            char *slab = map((size_t)SLAB_BLOCKS * BLOCK_SIZE);
            for (size_t i = SLAB_BLOCKS; i-- > 0;)
                push_cold((struct block *)(slab + i * BLOCK_SIZE));
        }
        b = cold[--ncold];
    }
    b->next = NULL;
    b->used = ROUND(sizeof(struct block));
    return b;
}

static void put_block(struct block *b)
{
    if (nhot < HOT_BLOCKS) {
        hot[nhot++] = b;
        return;
    }
    /* The pages leave the resident set now and come back zeroed on the
     * next touch. */
    madvise(b, BLOCK_SIZE, MADV_DONTNEED);
    push_cold(b);
}

struct region *region_new(void)
{
    struct block *b = get_block();
    struct region *r = (struct region *)((char *)b + b->used);
    b->used += ROUND(sizeof(*r));
    r->blocks = b;
    r->large = NULL;
    r->bytes = 0;
    return r;
}

void region_destroy(struct region *r)
{
    if (!r)
        return;
    for (struct large *l = r->large, *next; l; l = next) {
        next = l->next;
        munmap(l, l->mapped);
    }
    /* r lives in the last block: take the list before giving it back. */
    for (struct block *b = r->blocks, *next; b; b = next) {
        next = b->next;
        put_block(b);
    }
}

static void *alloc_large(struct region *r, size_t n)
{
    size_t page = 4096;
    size_t want = sizeof(struct large) + sizeof(struct hdr) + n;
    if (want < n) {
        log_error(0, "allocation of %zu bytes overflows", n);
        abort();
    }
    size_t mapped = (want + page - 1) & ~(page - 1);
    struct large *l = map(mapped);
    l->mapped = mapped;
    l->prev = NULL;
    l->next = r->large;
    if (r->large)
        r->large->prev = l;
    r->large = l;
    r->bytes += mapped;
    struct hdr *h = (struct hdr *)(l + 1);
    h->size = n | LARGE_FLAG;
    return h + 1;
}

void *region_alloc(struct region *r, size_t n)
{
    size_t need = sizeof(struct hdr) + ROUND(n);
    if (n > BLOCK_SIZE || need > BLOCK_SIZE - ROUND(sizeof(struct block)))
        return alloc_large(r, n);
    struct block *b = r->blocks;
    if (b->used + need > BLOCK_SIZE) {
        r->bytes += b->used;
        b = get_block();
        b->next = r->blocks;
        r->blocks = b;
    }
    struct hdr *h = (struct hdr *)((char *)b + b->used);
    b->used += need;
    h->size = n;
    return h + 1;
}

static struct hdr *hdr_of(void *p) { return (struct hdr *)p - 1; }

/* True when p is the newest allocation of the newest block. */
static bool is_last(const struct region *r, void *p)
{
    const struct block *b = r->blocks;
    size_t end = (size_t)((char *)p - (const char *)b) + ROUND(hdr_of(p)->size);
    return (char *)p > (const char *)b &&
           (char *)p < (const char *)b + BLOCK_SIZE && end == b->used;
}

void region_free(struct region *r, void *p)
{
    if (!p)
        return;
    struct hdr *h = hdr_of(p);
    if (h->size & LARGE_FLAG) {
        struct large *l = (struct large *)h - 1;
        if (l->prev)
            l->prev->next = l->next;
        else
            r->large = l->next;
        if (l->next)
            l->next->prev = l->prev;
        r->bytes -= l->mapped;
        munmap(l, l->mapped);
        return;
    }
    if (is_last(r, p))
        r->blocks->used -= sizeof(struct hdr) + ROUND(h->size);
}

void *region_realloc(struct region *r, void *p, size_t n)
{
    if (!p)
        return region_alloc(r, n);
    struct hdr *h = hdr_of(p);
    size_t old = h->size & ~LARGE_FLAG;
    if (!(h->size & LARGE_FLAG) && is_last(r, p)) {
        struct block *b = r->blocks;
        size_t start = (size_t)((char *)p - (char *)b);
        if (start + ROUND(n) <= BLOCK_SIZE && n <= BLOCK_SIZE) {
            b->used = start + ROUND(n);
            h->size = n;
            return p;
        }
    }
    void *q = region_alloc(r, n);
    memcpy(q, p, old < n ? old : n);
    region_free(r, p);
    return q;
}

size_t region_bytes(const struct region *r)
{
    return r->bytes + r->blocks->used;
}

#else /* REGION_MALLOC: every allocation visible to the sanitizer */

struct hdr {
    struct hdr *next, *prev;
    size_t size;
    size_t pad;
};

struct region {
    struct hdr *list;
    size_t bytes;
};

struct region *region_new(void) { return xcalloc(1, sizeof(struct region)); }

void region_destroy(struct region *r)
{
    if (!r)
        return;
    for (struct hdr *h = r->list, *next; h; h = next) {
        next = h->next;
        free(h);
    }
    free(r);
}

static void unlink_hdr(struct region *r, struct hdr *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        r->list = h->next;
    if (h->next)
        h->next->prev = h->prev;
    r->bytes -= h->size;
}

static void *link_hdr(struct region *r, struct hdr *h, size_t n)
{
    h->size = n;
    h->prev = NULL;
    h->next = r->list;
    if (r->list)
        r->list->prev = h;
    r->list = h;
    r->bytes += n;
    return h + 1;
}

void *region_alloc(struct region *r, size_t n)
{
    return link_hdr(r, xmalloc(sizeof(struct hdr) + n), n);
}

void region_free(struct region *r, void *p)
{
    if (!p)
        return;
    struct hdr *h = (struct hdr *)p - 1;
    unlink_hdr(r, h);
    free(h);
}

void *region_realloc(struct region *r, void *p, size_t n)
{
    if (!p)
        return region_alloc(r, n);
    struct hdr *h = (struct hdr *)p - 1;
    unlink_hdr(r, h);
    h = xrealloc(h, sizeof(struct hdr) + n);
    return link_hdr(r, h, n);
}

size_t region_bytes(const struct region *r) { return r->bytes; }

#endif
