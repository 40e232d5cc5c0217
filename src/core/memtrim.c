/* memtrim.c -- see memtrim.h. */
#include "core/memtrim.h"

#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/loop.h"

/* A burst counts as over when a check finds no churn since the one
 * before; a burst that never ends is trimmed every FORCE_CHECKS checks. */
#define CHECK_MS 1000
#define FORCE_CHECKS 30

static struct loop *trim_loop;
static struct timer check_timer;
static unsigned long churn, churn_at_check;
static unsigned busy_checks;

static void on_check(struct loop *l, void *ud)
{
    (void)ud;
    bool quiet = churn == churn_at_check;
    churn_at_check = churn;
    if (quiet || ++busy_checks >= FORCE_CHECKS) {
        busy_checks = 0;
        malloc_trim(0);
    }
    if (!quiet)
        timer_start(l, &check_timer, CHECK_MS, on_check, NULL);
}

void memtrim_start(struct loop *l) { trim_loop = l; }

void memtrim_note(void)
{
    churn++;
    if (trim_loop && !timer_armed(&check_timer))
        timer_start(trim_loop, &check_timer, CHECK_MS, on_check, NULL);
}

void memtrim_stop(void)
{
    if (trim_loop)
        timer_stop(trim_loop, &check_timer);
    trim_loop = NULL;
}
