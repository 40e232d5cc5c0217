/* test_archive_block.c -- the packed form of archived messages: round
 * trips, sizes, and bodies that are not blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
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

/* A block of chat messages between a few accounts, as the archiver
 * fills one. */
static void chat_block(struct buf *b, int64_t first)
{
    char xml[256];
    int64_t prev = first;
    for (int i = 0; buf_used(b) < ARCHIVE_BLOCK_BYTES - 256; i++) {
        snprintf(xml, sizeof(xml),
                 "<message xmlns='jabber:client' type='chat'"
                 " to='u%d@shop.example/phone' id='m%d'"
                 " from='u%d@shop.example/web'><body>Order %d is ready"
                 " for pick-up.</body></message>",
                 i % 7, 1000 + i, (i + 1) % 7, 4711 + i);
        struct archive_block_msg m =
            msg(first + i, 1700000000000 + i, "u1", "u2", xml);
        archive_block_add(b, &m, prev);
        prev = m.seq;
    }
}

/* Reads the body stored as stored[0..len) whole: 1 when every message
 * reads, -1 when the reader refuses it. */
static int read_stored(const void *stored, size_t len, int64_t first, size_t *n)
{
    struct buf body = BUF_INIT;
    archive_block_unpack(stored, len, &body);
    struct archive_block_reader rd;
    struct archive_block_msg m;
    archive_block_open(&rd, buf_data(&body), buf_used(&body), first);
    int r;
    *n = 0;
    while ((r = archive_block_next(&rd, &m)) == 1) {
        assert_true(m.xml >= buf_data(&body) &&
                    m.xml + m.len <= buf_data(&body) + buf_used(&body));
        (*n)++;
    }
    buf_free(&body);
    return r == 0 ? 1 : -1;
}

static void test_pack(void **state)
{
    (void)state;
    struct buf body = BUF_INIT, stored = BUF_INIT, back = BUF_INIT;
    chat_block(&body, 100);
    archive_block_pack(buf_data(&body), buf_used(&body), &stored);
    /* Markup and addresses repeat: a third or less of the text. */
    assert_true(buf_used(&stored) * 3 < buf_used(&body));
    assert_memory_equal(buf_data(&stored), "\x80\x00", 2);
    archive_block_unpack(buf_data(&stored), buf_used(&stored), &back);
    assert_int_equal(buf_used(&back), buf_used(&body));
    assert_memory_equal(buf_data(&back), buf_data(&body), buf_used(&body));

    /* What does not get shorter is stored as it is, and so is what is
     * short, and a block written before compression reads as it is. */
    buf_reset(&body);
    buf_reset(&stored);
    char noise[1024];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof(noise) - 1; i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (char)('!' + (x >> 16) % 90);
    }
    noise[sizeof(noise) - 1] = '\0';
    struct archive_block_msg m = msg(7, 1000, "alice", NULL, noise);
    archive_block_add(&body, &m, 7);
    archive_block_pack(buf_data(&body), buf_used(&body), &stored);
    assert_int_equal(buf_used(&stored), buf_used(&body));
    assert_memory_equal(buf_data(&stored), buf_data(&body), buf_used(&body));
    size_t n;
    assert_int_equal(read_stored(buf_data(&stored), buf_used(&stored), 7, &n),
                     1);
    assert_int_equal(n, 1);
    buf_reset(&body);
    buf_reset(&stored);
    m = msg(7, 1000, "alice", NULL, "<x/>");
    archive_block_add(&body, &m, 7);
    archive_block_pack(buf_data(&body), buf_used(&body), &stored);
    assert_int_equal(buf_used(&stored), buf_used(&body));
    /* SQLite's NULL for an empty blob. */
    buf_reset(&back);
    archive_block_unpack(NULL, 0, &back);
    assert_int_equal(buf_used(&back), 0);
    buf_free(&body);
    buf_free(&stored);
    buf_free(&back);
}

/* A stored body cut short or changed never reads past its bytes; cut
 * short, it does not decompress and its block reads as unreadable. */
static void test_pack_damaged(void **state)
{
    (void)state;
    struct buf body = BUF_INIT, stored = BUF_INIT;
    chat_block(&body, 100);
    size_t whole;
    assert_int_equal(read_stored(buf_data(&body), buf_used(&body), 100, &whole),
                     1);
    archive_block_pack(buf_data(&body), buf_used(&body), &stored);
    size_t len = buf_used(&stored);
    char *copy = malloc(len);
    assert_non_null(copy);
    size_t n;
    for (size_t cut = 2; cut < len; cut++) {
        memcpy(copy, buf_data(&stored), cut);
        assert_int_equal(read_stored(copy, cut, 100, &n), -1);
        assert_int_equal(n, 0);
    }
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, buf_data(&stored), len);
        copy[i] ^= (char)0x5a;
        int r = read_stored(copy, len, 100, &n);
        assert_true(r == 1 || r == -1);
        assert_true(n <= whole);
    }
    /* A length past what a block holds is not believed. */
    static const unsigned char huge[] = {0x80, 0x00, 0xff, 0xff,
                                         0xff, 0xff, 0x0f, 0x00};
    assert_int_equal(read_stored(huge, sizeof(huge), 1, &n), -1);
    free(copy);
    buf_free(&body);
    buf_free(&stored);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_pack),
        cmocka_unit_test(test_pack_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
