/* test_core.c -- buffers, the hash map, the timer heap, log quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hmap.h"
#include "core/log.h"
#include "core/timer_heap.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_consume),
        cmocka_unit_test(test_buf_xml_escape),
        cmocka_unit_test(test_hmap_many),
        cmocka_unit_test(test_timer_heap_order),
        cmocka_unit_test(test_log_quote),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
