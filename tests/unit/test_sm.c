/* test_sm.c -- the acknowledgement arithmetic of XEP-0198 (mod_sm.c):
 * counters are mod 2^32, so an ack across the wrap drops the right
 * stanzas, an ack of more than was sent is refused, h values are parsed
 * strictly, and the ring keeps its order while it grows and wraps.
 *
 * mod_sm.c is included to reach its static queue functions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "mod/mod_sm.c"

static void push_n(struct queue *q, unsigned first, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        char tag[32];
        int len = snprintf(tag, sizeof(tag), "<message id='%u'/>", first + i);
        struct entry e = { .len = (size_t)len, .kind = 'm', .keep = 1 };
        e.xml = xmalloc(e.len);
        memcpy(e.xml, tag, e.len);
        queue_push(q, e);
    }
}

static unsigned first_id(const struct queue *q)
{
    const struct entry *e = queue_at(q, 0);
    unsigned id = 0;
    assert_int_equal(sscanf(e->xml, "<message id='%u'", &id), 1);
    return id;
}

static void test_ack_across_wrap(void **state)
{
    (void)state;
    struct queue q = { 0 };
    q.acked = UINT32_MAX - 2; /* three stanzas before the wrap */
    push_n(&q, 0, 6);
    /* h = 1 means 2^32 + 1: all three before the wrap and one after. */
    assert_int_equal(queue_ack(&q, 1), 0);
    assert_int_equal(q.n, 2);
    assert_int_equal(first_id(&q), 4);
    assert_int_equal(q.acked, 1);
    /* The same h again confirms nothing new. */
    assert_int_equal(queue_ack(&q, 1), 0);
    assert_int_equal(q.n, 2);
    /* More than was sent: refused, nothing dropped. */
    assert_int_equal(queue_ack(&q, 4), -1);
    assert_int_equal(q.n, 2);
    /* An h from before the last one is "more than sent" too. */
    assert_int_equal(queue_ack(&q, 0), -1);
    assert_int_equal(queue_ack(&q, 3), 0);
    assert_int_equal(q.n, 0);
    assert_int_equal(q.bytes, 0);
    queue_free(&q);
}

static void test_ring_order(void **state)
{
    (void)state;
    struct queue q = { 0 };
    unsigned next = 0, acked = 0;
    /* Push and ack in uneven steps so the ring wraps and grows. */
    for (unsigned round = 0; round < 50; round++) {
        push_n(&q, next, 7);
        next += 7;
        acked += 5;
        assert_int_equal(queue_ack(&q, acked), 0);
        assert_int_equal(q.n, next - acked);
        assert_int_equal(first_id(&q), acked);
        size_t bytes = 0;
        for (uint32_t i = 0; i < q.n; i++)
            bytes += queue_at(&q, i)->len;
        assert_int_equal(q.bytes, bytes);
        for (uint32_t i = 0; i < q.n; i++) {
            unsigned id;
            sscanf(queue_at(&q, i)->xml, "<message id='%u'", &id);
            assert_int_equal(id, acked + i);
        }
    }
    queue_free(&q);
    assert_null(q.v);
}

static void test_parse_h(void **state)
{
    (void)state;
    uint32_t h = 7;
    assert_int_equal(parse_h("0", &h), 0);
    assert_int_equal(h, 0);
    assert_int_equal(parse_h("4294967295", &h), 0);
    assert_int_equal(h, UINT32_MAX);
    assert_int_equal(parse_h("4294967296", &h), -1);
    assert_int_equal(parse_h("99999999999", &h), -1);
    assert_int_equal(parse_h("", &h), -1);
    assert_int_equal(parse_h(NULL, &h), -1);
    assert_int_equal(parse_h("-1", &h), -1);
    assert_int_equal(parse_h("12a", &h), -1);
    assert_int_equal(parse_h(" 1", &h), -1);
    assert_int_equal(h, UINT32_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_across_wrap),
        cmocka_unit_test(test_ring_order),
        cmocka_unit_test(test_parse_h),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
