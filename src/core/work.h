/* work.h -- CPU-heavy jobs off the event loop.
 *
 * Password hashing costs milliseconds; on the loop it would stall every
 * other connection and cap logins at one core. A job's run() goes to a
 * small pool of worker threads; its done() comes back on the loop thread
 * in a later turn, woken through an eventfd. run() may touch only the
 * job's own argument: no store, no sessions, no logging.
 *
 * An owner that goes away while its job runs calls work_cancel(); done()
 * is still called exactly once (with cancelled set), so the argument
 * always has one owner that frees it; a job cancelled before it started
 * does not run. Jobs start in the order submitted. */
#ifndef THEKE_WORK_H
#define THEKE_WORK_H

#include <stdbool.h>

struct loop;
struct work;

typedef void work_run_fn(void *arg);
typedef void work_done_fn(void *arg, bool cancelled);

/* Starts threads workers (0: one per online CPU). Returns 0 or -ERR_IO. */
int work_init(struct loop *l, unsigned threads);
/* Waits for running jobs, calls done(cancelled) for the rest, stops the
 * threads. */
void work_shutdown(void);

/* Queues a job; the handle stays valid until done() is called. NULL
 * (and no done()) when the queue is full or there are no workers: the
 * caller answers "try again later". */
struct work *work_submit(work_run_fn *run, work_done_fn *done, void *arg);
void work_cancel(struct work *w);

/* Number of worker threads running. */
unsigned work_threads(void);

#endif
