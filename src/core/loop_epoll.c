/* loop_epoll.c -- the epoll backend of loop.h and the loop turn itself.
 *
 * File descriptors index a table of handlers directly (fds are small
 * integers), so dispatch is one array access. Level-triggered epoll:
 * a callback that reads only part of what is ready is called again on
 * the next turn, which is how reads per wakeup stay bounded. */
#include "core/loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/timer_heap.h"

#define MAX_EVENTS_PER_WAIT 256
#define MAX_BEFORE_SLEEP 8

struct fd_slot {
    loop_io_fn *fn;
    void *ud;
    unsigned events;
};

struct loop {
    int epfd;
    bool stop;
    struct fd_slot *slots; /* indexed by fd */
    int nslots;
    uint64_t now_ms;
    struct timer_heap timers;
    struct {
        loop_hook_fn *fn;
        void *ud;
    } before_sleep[MAX_BEFORE_SLEEP];
    int nbefore_sleep;
    loop_hook_fn *after_events;
    void *after_events_ud;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct loop *loop_new(void)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return NULL;
    struct loop *l = xcalloc(1, sizeof(*l));
    l->epfd = epfd;
    l->now_ms = mono_ms();
    timer_heap_init(&l->timers);
    return l;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    close(l->epfd);
    free(l->slots);
    timer_heap_free(&l->timers);
    free(l);
}

static uint32_t to_epoll(unsigned events)
{
    uint32_t e = 0;
    if (events & LOOP_READ)
        e |= EPOLLIN | EPOLLRDHUP;
    if (events & LOOP_WRITE)
        e |= EPOLLOUT;
    return e;
}

int loop_add(struct loop *l, int fd, unsigned events, loop_io_fn *fn, void *ud)
{
    if (fd >= l->nslots) {
        int n = l->nslots ? l->nslots : 64;
        while (n <= fd)
            n *= 2;
        l->slots = xrealloc(l->slots, (size_t)n * sizeof(*l->slots));
        memset(l->slots + l->nslots, 0,
               (size_t)(n - l->nslots) * sizeof(*l->slots));
        l->nslots = n;
    }
    struct epoll_event ev = { .events = to_epoll(events), .data.fd = fd };
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -ERR_IO;
    l->slots[fd] = (struct fd_slot){ fn, ud, events };
    return 0;
}

int loop_mod(struct loop *l, int fd, unsigned events)
{
    if (fd >= l->nslots || !l->slots[fd].fn)
        return -ERR_INVAL;
    if (l->slots[fd].events == events)
        return 0;
    struct epoll_event ev = { .events = to_epoll(events), .data.fd = fd };
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
        return -ERR_IO;
    l->slots[fd].events = events;
    return 0;
}

void loop_del(struct loop *l, int fd)
{
    if (fd < 0 || fd >= l->nslots || !l->slots[fd].fn)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    l->slots[fd] = (struct fd_slot){ 0 };
}

void loop_on_before_sleep(struct loop *l, loop_hook_fn *fn, void *ud)
{
    if (l->nbefore_sleep >= MAX_BEFORE_SLEEP)
        abort(); /* a fixed handful of subsystems register these */
    l->before_sleep[l->nbefore_sleep].fn = fn;
    l->before_sleep[l->nbefore_sleep].ud = ud;
    l->nbefore_sleep++;
}

void loop_on_after_events(struct loop *l, loop_hook_fn *fn, void *ud)
{
    l->after_events = fn;
    l->after_events_ud = ud;
}

void loop_stop(struct loop *l) { l->stop = true; }

uint64_t loop_now_ms(const struct loop *l) { return l->now_ms; }

int64_t loop_wall_s(const struct loop *l)
{
    (void)l;
    return (int64_t)time(NULL);
}

void timer_start(struct loop *l, struct timer *t, uint64_t ms, timer_fn *fn,
                 void *ud)
{
    t->fn = fn;
    t->ud = ud;
    timer_heap_remove(&l->timers, t);
    t->due_ms = l->now_ms + ms;
    timer_heap_push(&l->timers, t);
}

void timer_stop(struct loop *l, struct timer *t)
{
    timer_heap_remove(&l->timers, t);
}

static void run_timers(struct loop *l)
{
    struct timer *t;
    while ((t = timer_heap_peek(&l->timers)) && t->due_ms <= l->now_ms) {
        timer_heap_remove(&l->timers, t);
        t->fn(l, t->ud);
    }
}

void loop_run(struct loop *l)
{
    struct epoll_event events[MAX_EVENTS_PER_WAIT];
    l->stop = false;
    while (!l->stop) {
        for (int i = 0; i < l->nbefore_sleep; i++)
            l->before_sleep[i].fn(l, l->before_sleep[i].ud);
        if (l->stop)
            break;
        int timeout = -1;
        struct timer *next = timer_heap_peek(&l->timers);
        if (next) {
            uint64_t now = mono_ms();
            timeout = next->due_ms <= now ? 0 : (int)(next->due_ms - now);
        }
        int n = epoll_wait(l->epfd, events, MAX_EVENTS_PER_WAIT, timeout);
        l->now_ms = mono_ms();
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd >= l->nslots || !l->slots[fd].fn)
                continue; /* closed by an earlier callback this turn */
            unsigned ev = 0;
            if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                ev |= LOOP_READ;
            if (events[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                ev |= LOOP_WRITE;
            l->slots[fd].fn(l, fd, l->slots[fd].ud, ev);
        }
        if (l->after_events && n > 0)
            l->after_events(l, l->after_events_ud);
        run_timers(l);
    }
}
