/* region.h -- memory for one owner that goes back to the kernel, all of
 * it, when the owner is done.
 *
 * An XML parser allocates about 10 KiB when a stream wakes up and frees
 * it when the stream goes quiet again. Taken from malloc, those bytes
 * end up between small long-lived objects of other connections and stay
 * in the process's resident set after they are freed. A region takes
 * whole 16 KiB blocks from mmap'd slabs and hands them back with
 * madvise() when destroyed, so a quiet connection really costs only what
 * it keeps.
 *
 * Inside a region allocation is a bump pointer: free() gives memory back
 * only when it is the latest allocation (the common realloc-grow case);
 * everything else waits for region_destroy(). Owners whose allocations
 * churn watch region_bytes() and start over with a new region. A region
 * and its blocks belong to the thread that made them.
 *
 * Built with AddressSanitizer, every allocation is a plain malloc() so
 * that the sanitizer still sees overflows and leaks in the owner. */
#ifndef THEKE_REGION_H
#define THEKE_REGION_H

#include <stddef.h>

struct region;

struct region *region_new(void);
/* Frees every allocation still in r and r itself. */
void region_destroy(struct region *r);

/* As malloc/realloc/free; aborts on out-of-memory like xmalloc(). */
void *region_alloc(struct region *r, size_t n);
void *region_realloc(struct region *r, void *p, size_t n);
void region_free(struct region *r, void *p);

/* Bytes the region has handed out and not taken back, bookkeeping and
 * frees it could not reuse included; about what is resident. */
size_t region_bytes(const struct region *r);

#endif
