/* thread.h -- starting helper threads. */
#ifndef THEKE_THREAD_H
#define THEKE_THREAD_H

#include <pthread.h>
#include <stdbool.h>

/* pthread_create() with every signal blocked in the new thread: signals
 * (SIGTERM through signalfd) belong to the event loop's thread. */
bool thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* Lowers the calling thread's priority (Linux's per-thread nice) so that
 * background writers give way to the event loop when both could run:
 * they catch up in the loop's idle time instead of delaying its answers. */
void thread_background(void);

#endif
