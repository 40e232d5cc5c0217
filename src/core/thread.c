/* thread.c -- see thread.h. */
#include "core/thread.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#define BACKGROUND_NICE 10

bool thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    bool ok = pthread_create(t, NULL, fn, arg) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

void thread_background(void)
{
    /* Raising one's own niceness needs no privilege; a failure leaves
     * the thread at normal priority, which is correct, only slower. */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), BACKGROUND_NICE);
}
