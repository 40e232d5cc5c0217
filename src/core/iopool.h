/* iopool.h -- spread one loop turn's socket work over several cores.
 *
 * The event loop owns all state; sessions, routing and storage stay on
 * its thread, so the order of each conversation is the order in which
 * the loop handles stanzas. What is spread is the part that touches only
 * one connection: recv()/send() and TLS record crypto, which is most of
 * a message's cost. iopool_run() hands a batch of items to the pool's
 * threads and works on it itself; it returns when every item is done
 * (the model of Redis's threaded I/O).
 *
 * Threads that are asleep when a batch starts only join if they wake
 * before it is finished; a batch never waits for a sleeping thread. */
#ifndef THEKE_IOPOOL_H
#define THEKE_IOPOOL_H

#include <stddef.h>

/* worker: which of the iopool_threads() threads runs the call (0 is the
 * caller), for per-thread scratch space. */
typedef void iopool_fn(void *item, unsigned worker);

/* Starts threads - 1 helper threads (the caller is the first); 0 means
 * one per online CPU. */
void iopool_init(unsigned threads);
void iopool_shutdown(void);
/* Threads working on a batch, the caller included (1 without helpers). */
unsigned iopool_threads(void);

/* Calls fn(items[i], worker) once for each i < n, in any order and on
 * any of the pool's threads, and returns when all calls have returned. */
void iopool_run(void **items, size_t n, iopool_fn *fn);

#endif
