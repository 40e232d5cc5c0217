/* fuzz_archive_chunk.c -- libFuzzer target for the archive's chunk codec
 * (store/archive_chunk.c), which reads bodies back from the database.
 *
 * Checked for every body that decodes: entries refer to existing
 * parties, seqs strictly increase, the times bound min_ts/max_ts, the
 * encoded size is what the chunk says, encoding and decoding again gives
 * the same chunk, and so does filtering out every other entry and
 * appending one more. Build and run: see fuzz/README.md. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/archive_chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct archive_chunk *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct archive_entry *e = &c->entries[i];
        if (e->party >= c->nparties)
            abort();
        if (i > 0 && e->seq <= c->entries[i - 1].seq)
            abort();
        if (e->ts_ms < c->min_ts || e->ts_ms > c->max_ts)
            abort();
    }
    for (size_t i = 0; i < c->nparties; i++)
        if (strlen(c->parties[i].bare) != c->parties[i].blen ||
            strlen(c->parties[i].res) != c->parties[i].rlen)
            abort();
}

static void same(const struct archive_chunk *a, const struct archive_chunk *b)
{
    if (a->n != b->n || a->nparties != b->nparties || a->bytes != b->bytes)
        abort();
    for (size_t i = 0; i < a->n; i++) {
        const struct archive_entry *x = &a->entries[i], *y = &b->entries[i];
        if (x->seq != y->seq || x->ts_ms != y->ts_ms ||
            strcmp(a->parties[x->party].bare, b->parties[y->party].bare) ||
            strcmp(a->parties[x->party].res, b->parties[y->party].res))
            abort();
    }
}

/* Encodes c, decodes it into out (whose parties then point into b). */
static void round_trip(const struct archive_chunk *c, struct buf *b,
                       struct archive_chunk *out)
{
    buf_reset(b);
    archive_chunk_encode(c, b);
    if (buf_used(b) != c->bytes)
        abort();
    if (archive_chunk_decode(out, buf_data(b), buf_used(b)) != 0)
        abort();
    check(out);
    same(c, out);
}

static bool odd_index(void *ud, const struct archive_entry *e)
{
    size_t *i = ud;
    (void)e;
    return (*i)++ % 2 == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct archive_chunk c = ARCHIVE_CHUNK_INIT, d = ARCHIVE_CHUNK_INIT,
                         e = ARCHIVE_CHUNK_INIT;
    struct buf b1 = BUF_INIT, b2 = BUF_INIT;
    if (archive_chunk_decode(&c, data, size) == 0) {
        check(&c);
        round_trip(&c, &b1, &d);
        size_t i = 0;
        archive_chunk_filter(&d, odd_index, &i);
        check(&d);
        int64_t next = d.n ? d.entries[d.n - 1].seq + 1 : 1;
        if (next > 0 && archive_chunk_add(&d, next, 0, "x@y", "r"))
            check(&d);
        round_trip(&d, &b2, &e);
    } else if (c.n != 0 || c.nparties != 0) {
        abort(); /* a refused body leaves the chunk empty */
    }
    archive_chunk_free(&c);
    archive_chunk_free(&d);
    archive_chunk_free(&e);
    buf_free(&b1);
    buf_free(&b2);
    return 0;
}
