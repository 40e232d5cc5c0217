/* test_core.c -- buffers, the hash map, the timer heap, log quoting,
 * regions, worker jobs, the I/O pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hmap.h"
#include "core/iopool.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/region.h"
#include "core/timer_heap.h"
#include "core/work.h"

static void test_buf_append_consume(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%04d", i);
    assert_int_equal(buf_used(&b), 4000);
    buf_consume(&b, 3996);
    assert_memory_equal(buf_data(&b), "0999", 4);
    /* Consumed space is reused instead of growing forever. */
    size_t cap = b.cap;
    for (int i = 0; i < 100; i++) {
        buf_append(&b, "abcd", 4);
        buf_consume(&b, 4);
    }
    assert_int_equal(b.cap, cap);
    buf_free(&b);
}

static void test_buf_xml_escape(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    const char *in = "a<b>&'\"c";
    buf_append_xml_escaped(&b, in, strlen(in));
    assert_string_equal(buf_cstr(&b), "a&lt;b&gt;&amp;&apos;&quot;c");
    buf_free(&b);
}

static void test_hmap_many(void **state)
{
    (void)state;
    struct hmap m = HMAP_INIT;
    char key[32];
    static int values[5000];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "user%d", i);
        values[i] = i;
        assert_null(hmap_put(&m, key, &values[i]));
    }
    assert_int_equal(m.count, 5000);
    /* Delete every other key: the rest must still be found (this
     * exercises backward-shift deletion across probe runs). */
    for (int i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof(key), "user%d", i);
        assert_ptr_equal(hmap_del(&m, key), &values[i]);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "user%d", i);
        int *v = hmap_get(&m, key);
        if (i % 2)
            assert_ptr_equal(v, &values[i]);
        else
            assert_null(v);
    }
    assert_ptr_equal(hmap_getn(&m, "user15xyz", 6), &values[15]);
    size_t n = 0;
    for (size_t pos = 0; hmap_next(&m, &pos, NULL, NULL);)
        n++;
    assert_int_equal(n, 2500);
    hmap_free(&m);
}

static void test_timer_heap_order(void **state)
{
    (void)state;
    struct timer_heap h;
    struct timer t[200];
    timer_heap_init(&h);
    for (int i = 0; i < 200; i++) {
        memset(&t[i], 0, sizeof(t[i]));
        t[i].due_ms = (uint64_t)((i * 7919) % 200);
        timer_heap_push(&h, &t[i]);
    }
    /* Remove a few from the middle, as a closing connection does. */
    for (int i = 0; i < 200; i += 10)
        timer_heap_remove(&h, &t[i]);
    uint64_t last = 0;
    unsigned popped = 0;
    struct timer *x;
    while ((x = timer_heap_peek(&h))) {
        assert_true(x->due_ms >= last);
        last = x->due_ms;
        timer_heap_remove(&h, x);
        assert_int_equal(x->heap_idx, 0);
        popped++;
    }
    assert_int_equal(popped, 180);
    timer_heap_free(&h);
}

static void test_log_quote(void **state)
{
    (void)state;
    char out[LOG_QUOTE_BUFSZ];
    assert_string_equal(log_quote(out, sizeof(out), "a\"b\n", 4),
                        "\"a\\\"b\\x0a\"");
    char big[200];
    memset(big, 'x', sizeof(big));
    log_quote(out, sizeof(out), big, sizeof(big));
    /* Cut to 64 bytes, marked as cut. */
    assert_int_equal(strlen(out), 64 + 2 + 3);
    assert_string_equal(out + 66, "...");
}

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7);
}

static void check_fill(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(p[i], (unsigned char)(seed + i * 7));
}

/* Allocations keep their contents through growth and through other
 * allocations, in blocks and alone (large), and a freed newest
 * allocation is given back at once. */
static void test_region_contents(void **state)
{
    (void)state;
    struct region *r = region_new();
    enum { N = 300 };
    unsigned char *p[N];
    size_t len[N];
    for (unsigned i = 0; i < N; i++) {
        len[i] = (i * 37) % 900 + 1;
        if (i % 50 == 7)
            len[i] = 40000; /* larger than a block */
        p[i] = region_alloc(r, len[i]);
        assert_int_equal((uintptr_t)p[i] % 16, 0);
        fill(p[i], len[i], i);
    }
    for (unsigned i = 0; i < N; i += 3) {
        len[i] += 1000;
        p[i] = region_realloc(r, p[i], len[i]);
        fill(p[i] + len[i] - 1000, 1000, i + len[i] - 1000);
    }
    for (unsigned i = 0; i < N; i++) {
        if (i % 3 == 0) {
            check_fill(p[i], len[i] - 1000, i);
            check_fill(p[i] + len[i] - 1000, 1000, i + len[i] - 1000);
        } else {
            check_fill(p[i], len[i], i);
        }
    }
    /* The newest allocation grows in place and, freed, is given back. */
    size_t held = region_bytes(r);
    unsigned char *q = region_alloc(r, 100);
    fill(q, 100, 9);
    unsigned char *q2 = region_realloc(r, q, 200);
    check_fill(q2, 100, 9);
#ifndef HAVE_ASAN
    assert_ptr_equal(q2, q);
#endif
    region_free(r, q2);
    assert_int_equal(region_bytes(r), held);
    for (unsigned i = 0; i < N; i += 2)
        region_free(r, p[i]);
    region_destroy(r);
}

#ifndef HAVE_ASAN
static long resident_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld %ld", &size, &resident), 2);
    fclose(f);
    return resident * 4;
}
#endif

/* The point of regions: memory of destroyed regions leaves the resident
 * set even while small malloc()ed objects were made between them. */
static void test_region_returns_memory(void **state)
{
    (void)state;
#ifdef HAVE_ASAN
    skip();
#else
    enum { N = 2000, TOUCH = 10000 };
    struct region **r = calloc(N, sizeof(*r));
    void **small = calloc(N, sizeof(*small));
    long before = resident_kib();
    for (unsigned i = 0; i < N; i++) {
        r[i] = region_new();
        memset(region_alloc(r[i], TOUCH), 1, TOUCH);
        small[i] = malloc(64);
        memset(small[i], 2, 64);
    }
    long busy = resident_kib();
    assert_true(busy - before > N * (TOUCH / 1024) * 9 / 10);
    for (unsigned i = 0; i < N; i++)
        region_destroy(r[i]);
    long after = resident_kib();
    print_message("regions: %ld KiB before, %ld busy, %ld after\n", before,
                  busy, after);
    /* A few hot blocks stay for reuse; the rest is gone. */
    assert_true(after - before < (busy - before) / 10);
    for (unsigned i = 0; i < N; i++)
        free(small[i]);
    free(small);
    free(r);
#endif
}

struct job {
    unsigned in, out;
    int done_calls;
    bool cancelled;
    bool ran;
};

static unsigned jobs_left;
static struct loop *job_loop;

static void job_run(void *arg)
{
    struct job *j = arg;
    j->ran = true;
    j->out = j->in * j->in;
}

static void job_done(void *arg, bool cancelled)
{
    struct job *j = arg;
    j->done_calls++;
    j->cancelled = cancelled;
    if (--jobs_left == 0)
        loop_stop(job_loop);
}

static void job_timeout(struct loop *l, void *ud)
{
    (void)ud;
    loop_stop(l);
}

/* Every job's done() comes back once, on the loop, with the worker's
 * result; a job cancelled before a worker took it does not run. */
static void test_work_jobs(void **state)
{
    (void)state;
    enum { N = 200 };
    job_loop = loop_new();
    assert_non_null(job_loop);
    assert_int_equal(work_init(job_loop, 2), 0);
    assert_int_equal(work_threads(), 2);
    static struct job jobs[N];
    struct work *handles[N];
    memset(jobs, 0, sizeof(jobs));
    jobs_left = N;
    for (unsigned i = 0; i < N; i++) {
        jobs[i].in = i;
        handles[i] = work_submit(job_run, job_done, &jobs[i]);
        assert_non_null(handles[i]);
    }
    work_cancel(handles[N - 1]);
    struct timer t = {0};
    timer_start(job_loop, &t, 10000, job_timeout, NULL);
    loop_run(job_loop);
    timer_stop(job_loop, &t);
    assert_int_equal(jobs_left, 0);
    for (unsigned i = 0; i < N - 1; i++) {
        assert_int_equal(jobs[i].done_calls, 1);
        assert_false(jobs[i].cancelled);
        assert_int_equal(jobs[i].out, i * i);
    }
    assert_int_equal(jobs[N - 1].done_calls, 1);
    assert_true(jobs[N - 1].cancelled);
    /* Jobs still queued at shutdown are only cancelled. */
    jobs_left = 1;
    work_shutdown();
    assert_null(work_submit(job_run, job_done, &jobs[0]));
    loop_free(job_loop);
}

static atomic_uint bad_worker;

static void bump(void *item, unsigned worker)
{
    if (worker >= iopool_threads())
        atomic_fetch_add(&bad_worker, 1);
    (*(unsigned *)item)++;
}

/* Every item of every batch is handled exactly once, whether the helper
 * threads join a batch or sleep through it. */
static void test_iopool_batches(void **state)
{
    (void)state;
    enum { N = 1000, ROUNDS = 2000 };
    static unsigned counts[N];
    static void *items[N];
    memset(counts, 0, sizeof(counts));
    for (unsigned i = 0; i < N; i++)
        items[i] = &counts[i];
    iopool_init(3);
    assert_int_equal(iopool_threads(), 3);
    for (unsigned r = 0; r < ROUNDS; r++)
        iopool_run(items, (r * 7) % N + 1, bump);
    unsigned long total = 0;
    for (unsigned i = 0; i < N; i++)
        total += counts[i];
    unsigned long want = 0;
    for (unsigned r = 0; r < ROUNDS; r++)
        want += (r * 7) % N + 1;
    assert_int_equal(total, want);
    assert_int_equal(atomic_load(&bad_worker), 0);
    for (unsigned i = 1; i < N; i++)
        assert_true(counts[i] <= counts[i - 1]);
    iopool_shutdown();
    assert_int_equal(iopool_threads(), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_consume),
        cmocka_unit_test(test_buf_xml_escape),
        cmocka_unit_test(test_hmap_many),
        cmocka_unit_test(test_timer_heap_order),
        cmocka_unit_test(test_log_quote),
        cmocka_unit_test(test_region_contents),
        cmocka_unit_test(test_region_returns_memory),
        cmocka_unit_test(test_work_jobs),
        cmocka_unit_test(test_iopool_batches),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
