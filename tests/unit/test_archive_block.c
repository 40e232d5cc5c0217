/* test_archive_block.c -- the packed form of archived messages: round
 * trips, sizes, and bodies that are not blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "store/archive_block.h"

static struct archive_block_msg msg(int64_t seq, int64_t ts, const char *a,
                                    const char *b, const char *xml)
{
    return (struct archive_block_msg){
        .seq = seq,
        .ts_ms = ts,
        .user_a = a,
        .user_b = b,
        .alen = strlen(a),
        .blen = b ? strlen(b) : 0,
        .xml = xml,
        .len = strlen(xml),
    };
}

static void assert_msg(const struct archive_block_msg *got,
                       const struct archive_block_msg *want)
{
    assert_int_equal(got->seq, want->seq);
    assert_int_equal(got->ts_ms, want->ts_ms);
    assert_int_equal(got->alen, want->alen);
    assert_memory_equal(got->user_a, want->user_a, want->alen);
    if (want->user_b) {
        assert_non_null(got->user_b);
        assert_int_equal(got->blen, want->blen);
        assert_memory_equal(got->user_b, want->user_b, want->blen);
    } else {
        assert_null(got->user_b);
    }
    assert_int_equal(got->len, want->len);
    assert_memory_equal(got->xml, want->xml, want->len);
}

static void test_round_trip(void **state)
{
    (void)state;
    /* The first seq above the block's key (an earlier first message
     * went), seqs far apart, a time before 1970, one holder or two. */
    const struct archive_block_msg v[] = {
        msg(12, 1700000000000, "alice", "bob",
            "<message><body>hi</body>"
            "</message>"),
        msg(13, 1700000000001, "bob", NULL, "<message/>"),
        msg(900000000000, -5, "carol", "dave", "<m>\xc3\xa4</m>"),
    };
    struct buf b = BUF_INIT;
    int64_t prev = 10;
    for (size_t i = 0; i < 3; i++) {
        size_t before = buf_used(&b);
        archive_block_add(&b, &v[i], prev);
        assert_int_equal(buf_used(&b) - before,
                         archive_block_size(&v[i], prev));
        prev = v[i].seq;
    }
    struct archive_block_reader rd;
    archive_block_open(&rd, buf_data(&b), buf_used(&b), 10);
    struct archive_block_msg m;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(archive_block_next(&rd, &m), 1);
        assert_msg(&m, &v[i]);
    }
    assert_int_equal(archive_block_next(&rd, &m), 0);
    /* An empty body is a block without messages, also as SQLite hands
     * it over (NULL). */
    archive_block_open(&rd, "", 0, 1);
    assert_int_equal(archive_block_next(&rd, &m), 0);
    archive_block_open(&rd, NULL, 0, 1);
    assert_int_equal(archive_block_next(&rd, &m), 0);
    /* A key that a damaged row made negative, or a difference that would
     * take the seq past the largest, is no block. */
    archive_block_open(&rd, buf_data(&b), buf_used(&b), -5);
    assert_int_equal(archive_block_next(&rd, &m), 1);
    assert_int_equal(m.seq, -3);
    archive_block_open(&rd, buf_data(&b), buf_used(&b), INT64_MAX - 1);
    assert_int_equal(archive_block_next(&rd, &m), -1);
    buf_free(&b);
}

/* Every cut of a valid body, and every corrupted byte, reads as
 * malformed or as a prefix of the messages, never past the end. */
static void test_malformed(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    struct archive_block_msg a = msg(5, 1000, "alice", "bob", "<x/>");
    struct archive_block_msg c = msg(6, 1001, "bob", NULL, "<y/>");
    archive_block_add(&b, &a, 5);
    archive_block_add(&b, &c, 5);
    size_t len = buf_used(&b);
    struct archive_block_reader rd;
    struct archive_block_msg m;
    for (size_t cut = 0; cut < len; cut++) {
        archive_block_open(&rd, buf_data(&b), cut, 5);
        int r, n = 0;
        while ((r = archive_block_next(&rd, &m)) == 1)
            n++;
        assert_true(n < 2);
        assert_true(cut == 0 || r == -1 || (r == 0 && n == 1));
    }
    char copy[256];
    assert_true(len <= sizeof(copy));
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, buf_data(&b), len);
        copy[i] ^= (char)0xff;
        archive_block_open(&rd, copy, len, 5);
        int r;
        while ((r = archive_block_next(&rd, &m)) == 1)
            assert_true(m.xml + m.len <= copy + len && m.xml >= copy);
        assert_true(r == 0 || r == -1);
    }
    /* A second message with the seq of the first, and a message without
     * an account, are not messages of a block. */
    buf_reset(&b);
    archive_block_add(&b, &a, 5);
    struct buf dup = BUF_INIT;
    buf_append(&dup, buf_data(&b), buf_used(&b));
    buf_append(&dup, buf_data(&b), buf_used(&b));
    archive_block_open(&rd, buf_data(&dup), buf_used(&dup), 5);
    assert_int_equal(archive_block_next(&rd, &m), 1);
    assert_int_equal(archive_block_next(&rd, &m), -1);
    static const unsigned char no_account[] = {0, 2, 0, 0, 1, 'x'};
    archive_block_open(&rd, no_account, sizeof(no_account), 1);
    assert_int_equal(archive_block_next(&rd, &m), -1);
    buf_free(&b);
    buf_free(&dup);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
