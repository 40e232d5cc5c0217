/* loop.h -- the event loop: file events, timers, before-sleep work.
 *
 * An ae-style API (Redis ae.c) over one readiness backend (loop_epoll.c).
 * Timers live in a binary heap (timer.c), so an idle connection costs
 * nothing per tick and the next deadline is found in O(1).
 *
 * One loop turn: wait for events or the nearest timer, run ready file
 * callbacks, the after-events hook, due timers, then the before-sleep
 * callbacks in the order they were registered (theked commits storage
 * before it flushes sockets, so nothing is acknowledged before it is
 * durable). */
#ifndef THEKE_LOOP_H
#define THEKE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define LOOP_READ 1u
#define LOOP_WRITE 2u

struct loop;

typedef void loop_io_fn(struct loop *l, int fd, void *ud, unsigned events);
typedef void loop_hook_fn(struct loop *l, void *ud);
typedef void timer_fn(struct loop *l, void *ud);

/* A timer is embedded in its owner's struct; the loop only borrows it. */
struct timer {
    uint64_t due_ms;   /* private: absolute deadline, loop clock */
    unsigned heap_idx; /* private: position in the heap, 0 = not armed */
    timer_fn *fn;      /* private */
    void *ud;          /* private */
};

/* Owned loop; fails only when the kernel refuses an epoll instance. */
struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Watches fd for events (LOOP_READ | LOOP_WRITE). ud is borrowed until
 * loop_del(). Returns 0 or -ERR_IO. */
int loop_add(struct loop *l, int fd, unsigned events, loop_io_fn *fn, void *ud);
int loop_mod(struct loop *l, int fd, unsigned events);
void loop_del(struct loop *l, int fd);

/* Registers work to run at the end of every turn, before waiting. */
void loop_on_before_sleep(struct loop *l, loop_hook_fn *fn, void *ud);

/* Registers the one piece of work that runs after the file callbacks of
 * a turn, before its timers: the place to finish work the callbacks
 * only collected (net/conn.c reads sockets there, in parallel). */
void loop_on_after_events(struct loop *l, loop_hook_fn *fn, void *ud);

/* Runs until loop_stop(). */
void loop_run(struct loop *l);
void loop_stop(struct loop *l);

/* Monotonic milliseconds, sampled once per turn. */
uint64_t loop_now_ms(const struct loop *l);
/* Wall-clock seconds since the epoch (injectable for tests). */
int64_t loop_wall_s(const struct loop *l);

/* Arms t to fire once after ms (re-arms when already armed). */
void timer_start(struct loop *l, struct timer *t, uint64_t ms, timer_fn *fn,
                 void *ud);
void timer_stop(struct loop *l, struct timer *t);
static inline bool timer_armed(const struct timer *t) { return t->heap_idx != 0; }

#endif
