/* timer_heap.h -- a binary min-heap of timers ordered by deadline.
 * Used by the event loop; positions are stored in the timers themselves
 * so removal is O(log n) without a search. Index 0 means "not armed",
 * so the heap is 1-based. */
#ifndef THEKE_TIMER_HEAP_H
#define THEKE_TIMER_HEAP_H

#include "core/loop.h"

struct timer_heap {
    struct timer **v; /* v[1..n]; borrowed timers */
    unsigned n, cap;
};

void timer_heap_init(struct timer_heap *h);
void timer_heap_free(struct timer_heap *h);
void timer_heap_push(struct timer_heap *h, struct timer *t);
/* Removes t if armed; no-op otherwise. */
void timer_heap_remove(struct timer_heap *h, struct timer *t);
struct timer *timer_heap_peek(const struct timer_heap *h);

#endif
