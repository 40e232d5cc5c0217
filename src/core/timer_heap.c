/* timer_heap.c -- see timer_heap.h. */
#include "core/timer_heap.h"

#include "core/alloc.h"

void timer_heap_init(struct timer_heap *h) { *h = (struct timer_heap){ 0 }; }

void timer_heap_free(struct timer_heap *h)
{
    for (unsigned i = 1; i <= h->n; i++)
        h->v[i]->heap_idx = 0;
    free(h->v);
    *h = (struct timer_heap){ 0 };
}

static void place(struct timer_heap *h, unsigned i, struct timer *t)
{
    h->v[i] = t;
    t->heap_idx = i;
}

static void sift_up(struct timer_heap *h, unsigned i)
{
    struct timer *t = h->v[i];
    while (i > 1 && h->v[i / 2]->due_ms > t->due_ms) {
        place(h, i, h->v[i / 2]);
        i /= 2;
    }
    place(h, i, t);
}

static void sift_down(struct timer_heap *h, unsigned i)
{
    struct timer *t = h->v[i];
    for (;;) {
        unsigned c = i * 2;
        if (c > h->n)
            break;
        if (c + 1 <= h->n && h->v[c + 1]->due_ms < h->v[c]->due_ms)
            c++;
        if (h->v[c]->due_ms >= t->due_ms)
            break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, t);
}

void timer_heap_push(struct timer_heap *h, struct timer *t)
{
    if (h->n + 1 >= h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    h->n++;
    place(h, h->n, t);
    sift_up(h, h->n);
}

void timer_heap_remove(struct timer_heap *h, struct timer *t)
{
    unsigned i = t->heap_idx;
    if (i == 0)
        return;
    t->heap_idx = 0;
    struct timer *last = h->v[h->n--];
    if (i > h->n)
        return; /* t was the last element */
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->heap_idx);
}

struct timer *timer_heap_peek(const struct timer_heap *h)
{
    return h->n ? h->v[1] : NULL;
}
