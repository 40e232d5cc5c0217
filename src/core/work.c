/* work.c -- see work.h. */
#include "core/work.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/thread.h"

#define MAX_THREADS 64
/* Jobs waiting for a thread; beyond this work_submit() says no, so a
 * flood of logins cannot queue unbounded CPU work. */
#define MAX_QUEUED 4096

struct work {
    work_run_fn *run;
    work_done_fn *done;
    void *arg;
    atomic_bool cancelled; /* a cancelled job that has not started is
                              skipped */
    struct work *next;
};

/* Jobs move from todo (FIFO) to a worker to finished (any order); both
 * lists are under lock. The loop drains finished when the eventfd says
 * there is something. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct work *todo_head, **todo_tail = &todo_head;
static struct work *finished;
static unsigned queued;
static bool stopping;
static pthread_t threads[MAX_THREADS];
static unsigned nthreads;
static int efd = -1;
static struct loop *loop;

static void *worker(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!todo_head && !stopping)
            pthread_cond_wait(&wake, &lock);
        if (!todo_head)
            break;
        struct work *w = todo_head;
        todo_head = w->next;
        if (!todo_head)
            todo_tail = &todo_head;
        queued--;
        pthread_mutex_unlock(&lock);

        if (!atomic_load(&w->cancelled))
            w->run(w->arg);

        pthread_mutex_lock(&lock);
        bool was_empty = finished == NULL;
        w->next = finished;
        finished = w;
        if (was_empty) {
            uint64_t one = 1;
            /* A full counter still wakes the loop; nothing to handle. */
            ssize_t r = write(efd, &one, sizeof(one));
            (void)r;
        }
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void deliver(struct work *list)
{
    /* The list is newest first; completions go out oldest first. */
    struct work *rev = NULL;
    while (list) {
        struct work *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    while (rev) {
        struct work *w = rev;
        rev = w->next;
        w->done(w->arg, atomic_load(&w->cancelled));
        free(w);
    }
}

static void on_event(struct loop *l, int fd, void *ud, unsigned events)
{
    (void)l;
    (void)ud;
    (void)events;
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof(n));
    (void)r;
    pthread_mutex_lock(&lock);
    struct work *list = finished;
    finished = NULL;
    pthread_mutex_unlock(&lock);
    deliver(list);
}

int work_init(struct loop *l, unsigned want)
{
    if (want == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        want = cpus > 0 ? (unsigned)cpus : 1;
    }
    if (want > MAX_THREADS)
        want = MAX_THREADS;
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0 || loop_add(l, efd, LOOP_READ, on_event, NULL) < 0) {
        log_error(0, "cannot set up worker notification");
        if (efd >= 0)
            close(efd);
        efd = -1;
        return -ERR_IO;
    }
    loop = l;
    stopping = false;
    for (nthreads = 0; nthreads < want; nthreads++)
        if (!thread_start(&threads[nthreads], worker, NULL))
            break;
    if (nthreads == 0) {
        log_error(0, "cannot start worker threads");
        work_shutdown();
        return -ERR_IO;
    }
    return 0;
}

void work_shutdown(void)
{
    pthread_mutex_lock(&lock);
    stopping = true;
    /* Jobs not started yet are not run: they are only cancelled. */
    struct work *pending = todo_head;
    todo_head = NULL;
    todo_tail = &todo_head;
    queued = 0;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    for (unsigned i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    nthreads = 0;
    for (struct work *w = pending; w; w = w->next)
        atomic_store(&w->cancelled, true);
    struct work *done_list = finished;
    finished = NULL;
    for (struct work *w = done_list; w; w = w->next)
        atomic_store(&w->cancelled, true);
    deliver(pending);
    deliver(done_list);
    if (efd >= 0) {
        if (loop)
            loop_del(loop, efd);
        close(efd);
        efd = -1;
    }
    loop = NULL;
}

struct work *work_submit(work_run_fn *run, work_done_fn *done, void *arg)
{
    if (nthreads == 0)
        return NULL;
    struct work *w = xcalloc(1, sizeof(*w));
    w->run = run;
    w->done = done;
    w->arg = arg;
    atomic_init(&w->cancelled, false);
    pthread_mutex_lock(&lock);
    if (queued >= MAX_QUEUED) {
        pthread_mutex_unlock(&lock);
        free(w);
        return NULL;
    }
    queued++;
    *todo_tail = w;
    todo_tail = &w->next;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    return w;
}

void work_cancel(struct work *w) { atomic_store(&w->cancelled, true); }

unsigned work_threads(void) { return nthreads; }
