/* alloc.h -- allocation helpers that abort on out-of-memory.
 *
 * theke treats OOM as fatal (as Redis does): every caller of xmalloc()
 * may assume a non-NULL result. Sizes that come from the network must be
 * checked against their configured cap *before* they reach these. */
#ifndef THEKE_ALLOC_H
#define THEKE_ALLOC_H

#include <stddef.h>
#include <stdlib.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* Owned copy of a NUL-terminated string; xstrdup(NULL) returns NULL. */
char *xstrdup(const char *s);
/* Owned NUL-terminated copy of the first n bytes of s. */
char *xstrndup(const char *s, size_t n);

/* Frees and clears, so a second free or a use-after-free is a NULL deref. */
#define FREE_NULL(p) \
    do {             \
        free(p);     \
        (p) = NULL;  \
    } while (0)

#endif
