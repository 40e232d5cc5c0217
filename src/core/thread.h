/* thread.h -- starting helper threads. */
#ifndef THEKE_THREAD_H
#define THEKE_THREAD_H

#include <pthread.h>
#include <stdbool.h>

/* pthread_create() with every signal blocked in the new thread: signals
 * (SIGTERM through signalfd) belong to the event loop's thread. */
bool thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
