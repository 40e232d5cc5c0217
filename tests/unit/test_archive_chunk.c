/* test_archive_chunk.c -- the packed form of archive entries: round
 * trips, the limits of a chunk, filtering, and bodies that are not
 * chunks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/archive_chunk.h"

/* Encodes c into out, which must come out as long as c says, and, with
 * back, decodes it again into back (whose strings then point into out). */
static void round_trip(const struct archive_chunk *c, struct buf *out,
                       struct archive_chunk *back)
{
    buf_reset(out);
    archive_chunk_encode(c, out);
    assert_int_equal(buf_used(out), c->bytes);
    if (back)
        assert_int_equal(
            archive_chunk_decode(back, buf_data(out), buf_used(out)), 0);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct archive_chunk c = ARCHIVE_CHUNK_INIT, d = ARCHIVE_CHUNK_INIT;
    struct buf b = BUF_INIT;
    /* Times that go back (a clock set back) and seqs far apart. */
    assert_true(archive_chunk_add(&c, 7, 1700000000000, "bob@x", "phone"));
    assert_true(archive_chunk_add(&c, 8, 1700000000500, "carol@x", ""));
    assert_true(archive_chunk_add(&c, 9, 1699999999000, "bob@x", "phone"));
    assert_true(
        archive_chunk_add(&c, 900000000000, 1700000001000, "bob@x", "laptop"));
    assert_int_equal(c.n, 4);
    assert_int_equal(c.nparties, 3);
    assert_int_equal(c.min_ts, 1699999999000);
    assert_int_equal(c.max_ts, 1700000001000);
    round_trip(&c, &b, &d);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.bytes, c.bytes);
    assert_int_equal(d.min_ts, c.min_ts);
    assert_int_equal(d.max_ts, c.max_ts);
    for (size_t i = 0; i < c.n; i++) {
        assert_int_equal(d.entries[i].seq, c.entries[i].seq);
        assert_int_equal(d.entries[i].ts_ms, c.entries[i].ts_ms);
        const struct archive_party *p = &d.parties[d.entries[i].party];
        const struct archive_party *q = &c.parties[c.entries[i].party];
        assert_string_equal(p->bare, q->bare);
        assert_string_equal(p->res, q->res);
    }
    assert_int_equal(archive_chunk_party(&d, "bob@x", 5, "laptop", 6), 2);
    assert_int_equal(archive_chunk_party(&d, "bob@x", 5, "lap", 3), -1);

    /* Appending to a decoded chunk goes on where it ended. */
    assert_true(
        archive_chunk_add(&d, 900000000001, 1700000002000, "carol@x", ""));
    assert_int_equal(d.nparties, 3);
    struct buf b2 = BUF_INIT;
    round_trip(&d, &b2, &c);
    assert_int_equal(c.n, 5);
    assert_int_equal(c.entries[4].seq, 900000000001);
    archive_chunk_free(&c);
    archive_chunk_free(&d);
    buf_free(&b);
    buf_free(&b2);
}

static void test_limits(void **state)
{
    (void)state;
    struct archive_chunk c = ARCHIVE_CHUNK_INIT;
    /* At most ARCHIVE_CHUNK_MAX_ENTRIES entries. */
    int64_t seq = 1;
    while (archive_chunk_add(&c, seq, 1000 + seq, "bob@x", "r"))
        seq++;
    assert_int_equal(c.n, ARCHIVE_CHUNK_MAX_ENTRIES);
    assert_true(c.bytes <= ARCHIVE_CHUNK_MAX_BYTES);

    /* At most ARCHIVE_CHUNK_MAX_BYTES: every entry with another party. */
    archive_chunk_reset(&c);
    static char jids[ARCHIVE_CHUNK_MAX_ENTRIES][64]; /* borrowed by c */
    size_t n = 0;
    for (;; n++) {
        assert_true(n < ARCHIVE_CHUNK_MAX_ENTRIES);
        snprintf(jids[n], sizeof(jids[n]), "customer-%05zu@example.org", n);
        size_t before = c.bytes;
        if (!archive_chunk_add(&c, (int64_t)n + 1, 1000, jids[n], "")) {
            assert_int_equal(c.bytes, before);
            break;
        }
    }
    assert_true(n > 10 && n < ARCHIVE_CHUNK_MAX_ENTRIES);
    assert_true(c.bytes <= ARCHIVE_CHUNK_MAX_BYTES);
    struct buf b = BUF_INIT;
    round_trip(&c, &b, NULL);

    /* The first entry is taken however long its JID. */
    archive_chunk_reset(&c);
    char *big = malloc(3072);
    memset(big, 'a', 3071);
    big[3071] = '\0';
    assert_true(archive_chunk_add(&c, 1, 1, big, ""));
    assert_false(archive_chunk_add(&c, 2, 1, "bob@x", ""));
    struct archive_chunk d = ARCHIVE_CHUNK_INIT;
    round_trip(&c, &b, &d);
    assert_string_equal(d.parties[0].bare, big);
    free(big);
    archive_chunk_free(&c);
    archive_chunk_free(&d);
    buf_free(&b);
}

static bool odd_seq(void *ud, const struct archive_entry *e)
{
    (void)ud;
    return e->seq % 2 == 1;
}

static void test_filter(void **state)
{
    (void)state;
    struct archive_chunk c = ARCHIVE_CHUNK_INIT, d = ARCHIVE_CHUNK_INIT;
    assert_true(archive_chunk_add(&c, 1, 100, "a@x", ""));
    assert_true(archive_chunk_add(&c, 2, 50, "b@x", ""));
    assert_true(archive_chunk_add(&c, 3, 300, "c@x", ""));
    assert_true(archive_chunk_add(&c, 4, 400, "a@x", ""));
    assert_true(archive_chunk_add(&c, 5, 200, "c@x", ""));
    archive_chunk_filter(&c, odd_seq, NULL);
    assert_int_equal(c.n, 3);
    /* b@x and its time are gone; the others renumbered in order. */
    assert_int_equal(c.nparties, 2);
    assert_string_equal(c.parties[0].bare, "a@x");
    assert_string_equal(c.parties[1].bare, "c@x");
    assert_int_equal(c.entries[1].party, 1);
    assert_int_equal(c.min_ts, 100);
    assert_int_equal(c.max_ts, 300);
    struct buf b = BUF_INIT;
    round_trip(&c, &b, &d);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.entries[2].seq, 5);
    assert_string_equal(d.parties[d.entries[2].party].bare, "c@x");
    archive_chunk_free(&c);
    archive_chunk_free(&d);
    buf_free(&b);
}

/* Every truncation and every single-byte change of a valid body either
 * decodes or is refused; nothing reads outside it (ASan watches). */
static void test_bad_bodies(void **state)
{
    (void)state;
    struct archive_chunk c = ARCHIVE_CHUNK_INIT, d = ARCHIVE_CHUNK_INIT;
    assert_true(archive_chunk_add(&c, 5, 1000, "bob@x", "r"));
    assert_true(archive_chunk_add(&c, 6, 2000, "carol@x", ""));
    struct buf b = BUF_INIT;
    round_trip(&c, &b, NULL);
    size_t len = buf_used(&b);
    unsigned char *copy = malloc(len);
    for (size_t cut = 0; cut < len; cut++) {
        memcpy(copy, buf_data(&b), cut);
        assert_int_equal(archive_chunk_decode(&d, copy, cut), -1);
        assert_int_equal(d.n, 0);
    }
    for (size_t i = 0; i < len; i++) {
        for (int v = 0; v < 256; v += 17) {
            memcpy(copy, buf_data(&b), len);
            copy[i] = (unsigned char)v;
            if (archive_chunk_decode(&d, copy, len) == 0)
                for (size_t k = 0; k < d.n; k++)
                    assert_true(d.entries[k].party < d.nparties);
        }
    }
    static const unsigned char not_chunks[][4] = {
        {2, 0, 0},    /* another version */
        {1, 0, 1},    /* an entry without bytes */
        {1, 0, 0, 0}, /* bytes after the end */
    };
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(
            archive_chunk_decode(&d, not_chunks[i], i == 2 ? 4 : 3), -1);
    /* A NUL inside a JID: its length and its C string would differ. */
    static const unsigned char nul[] = {1, 1, 3, 'a', 0, 'b', 0,
                                        0, 0, 1, 5,   0, 0};
    assert_int_equal(archive_chunk_decode(&d, nul, sizeof(nul)), -1);
    /* The same seq twice. */
    static const unsigned char dup[] = {1, 1, 1, 'a', 0, 0, 0,
                                        2, 5, 0, 0,   0, 0, 0};
    assert_int_equal(archive_chunk_decode(&d, dup, sizeof(dup)), -1);
    free(copy);
    archive_chunk_free(&c);
    archive_chunk_free(&d);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_bad_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
