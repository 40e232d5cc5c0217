/* iopool.c -- see iopool.h. */
#include "core/iopool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "core/log.h"
#include "core/thread.h"

#define MAX_HELPERS 63

/* One batch at a time, run by the loop thread. Helpers join a batch
 * while it is open; the loop closes it when it runs out of items and
 * waits only for the helpers that joined. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t batch_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t helpers_done = PTHREAD_COND_INITIALIZER;
static unsigned long generation; /* under lock */
static bool open_batch;          /* under lock */
static unsigned joined;          /* helpers inside the batch, under lock */
static bool stopping;            /* under lock */

static void **batch_items; /* written before open, read after join */
static size_t batch_n;
static iopool_fn *batch_fn;
static atomic_size_t next_item;

static pthread_t helpers[MAX_HELPERS];
static unsigned nhelpers;

static void drain(unsigned worker)
{
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&next_item, 1,
                                             memory_order_relaxed);
        if (i >= batch_n)
            return;
        batch_fn(batch_items[i], worker);
    }
}

static void *helper(void *arg)
{
    unsigned worker = (unsigned)(uintptr_t)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!stopping && (!open_batch || generation == seen))
            pthread_cond_wait(&batch_ready, &lock);
        if (stopping)
            break;
        seen = generation;
        joined++;
        pthread_mutex_unlock(&lock);
        drain(worker);
        pthread_mutex_lock(&lock);
        if (--joined == 0 && !open_batch)
            pthread_cond_signal(&helpers_done);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

void iopool_init(unsigned threads)
{
    if (threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus > 0 ? (unsigned)cpus : 1;
    }
    unsigned want = threads - 1;
    if (want > MAX_HELPERS)
        want = MAX_HELPERS;
    stopping = false;
    for (nhelpers = 0; nhelpers < want; nhelpers++)
        if (!thread_start(&helpers[nhelpers], helper,
                          (void *)(uintptr_t)(nhelpers + 1)))
            break;
    if (nhelpers < want)
        log_warn(0, "started %u of %u I/O threads", nhelpers, want);
}

void iopool_shutdown(void)
{
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_broadcast(&batch_ready);
    pthread_mutex_unlock(&lock);
    for (unsigned i = 0; i < nhelpers; i++)
        pthread_join(helpers[i], NULL);
    nhelpers = 0;
}

unsigned iopool_threads(void) { return nhelpers + 1; }

void iopool_run(void **items, size_t n, iopool_fn *fn)
{
    if (nhelpers == 0 || n < 2) {
        for (size_t i = 0; i < n; i++)
            fn(items[i], 0);
        return;
    }
    batch_items = items;
    batch_n = n;
    batch_fn = fn;
    atomic_store_explicit(&next_item, 0, memory_order_relaxed);
    pthread_mutex_lock(&lock);
    generation++;
    open_batch = true;
    pthread_cond_broadcast(&batch_ready);
    pthread_mutex_unlock(&lock);

    drain(0);

    pthread_mutex_lock(&lock);
    open_batch = false;
    while (joined > 0)
        pthread_cond_wait(&helpers_done, &lock);
    pthread_mutex_unlock(&lock);
}
