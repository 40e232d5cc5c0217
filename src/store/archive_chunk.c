/* archive_chunk.c -- the packed form of an account's archive entries. */
#include "store/archive_chunk.h"

#include <string.h>

#include "core/alloc.h"
#include "store/varint.h"

#define CHUNK_VERSION 1

static int64_t diff(int64_t a, int64_t b);
static bool c_string(const unsigned char *p, const unsigned char *end,
                     uint64_t len);
static size_t party_bytes(size_t blen, size_t rlen);
static size_t entry_bytes(const struct archive_chunk *c, size_t i);
static void recount(struct archive_chunk *c);
static int add_party(struct archive_chunk *c, const char *bare, size_t blen,
                     const char *res, size_t rlen);
static void push_entry(struct archive_chunk *c, int64_t seq, int64_t ts_ms,
                       uint32_t party);

/* a - b without signed overflow: times come from a clock, but a chunk
 * read back from disk may hold anything. */
static int64_t diff(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

static size_t party_bytes(size_t blen, size_t rlen)
{
    return varint_len(blen) + blen + 1 + varint_len(rlen) + rlen + 1;
}

/* The encoded size of entry i, which depends on the one before it. */
static size_t entry_bytes(const struct archive_chunk *c, size_t i)
{
    const struct archive_entry *e = &c->entries[i];
    int64_t prev_seq = i ? c->entries[i - 1].seq : 0;
    int64_t prev_ts = i ? c->entries[i - 1].ts_ms : 0;
    return varint_len((uint64_t)(e->seq - prev_seq)) +
           varint_len(zigzag(diff(e->ts_ms, prev_ts))) + varint_len(e->party);
}

static void recount(struct archive_chunk *c)
{
    c->bytes = 1 + varint_len(c->nparties) + varint_len(c->n);
    for (size_t i = 0; i < c->nparties; i++)
        c->bytes += party_bytes(c->parties[i].blen, c->parties[i].rlen);
    for (size_t i = 0; i < c->n; i++) {
        c->bytes += entry_bytes(c, i);
        int64_t ts = c->entries[i].ts_ms;
        if (i == 0 || ts < c->min_ts)
            c->min_ts = ts;
        if (i == 0 || ts > c->max_ts)
            c->max_ts = ts;
    }
}

void archive_chunk_reset(struct archive_chunk *c)
{
    c->nparties = 0;
    c->n = 0;
    c->bytes = 0;
    c->min_ts = c->max_ts = 0;
}

void archive_chunk_free(struct archive_chunk *c)
{
    free(c->parties);
    free(c->entries);
    *c = ARCHIVE_CHUNK_INIT;
}

int archive_chunk_party(const struct archive_chunk *c, const char *bare,
                        size_t blen, const char *res, size_t rlen)
{
    for (size_t i = 0; i < c->nparties; i++) {
        const struct archive_party *p = &c->parties[i];
        if (p->blen == blen && p->rlen == rlen &&
            memcmp(p->bare, bare, blen) == 0 && memcmp(p->res, res, rlen) == 0)
            return (int)i;
    }
    return -1;
}

static int add_party(struct archive_chunk *c, const char *bare, size_t blen,
                     const char *res, size_t rlen)
{
    if (c->nparties == c->parties_cap) {
        c->parties_cap = c->parties_cap ? c->parties_cap * 2 : 8;
        c->parties = xrealloc(c->parties, c->parties_cap * sizeof(*c->parties));
    }
    c->parties[c->nparties] = (struct archive_party){bare, res, blen, rlen};
    return (int)c->nparties++;
}

static void push_entry(struct archive_chunk *c, int64_t seq, int64_t ts_ms,
                       uint32_t party)
{
    if (c->n == c->entries_cap) {
        c->entries_cap = c->entries_cap ? c->entries_cap * 2 : 16;
        c->entries = xrealloc(c->entries, c->entries_cap * sizeof(*c->entries));
    }
    c->entries[c->n++] = (struct archive_entry){seq, ts_ms, party};
}

/* Whether p holds len bytes without a NUL, then a NUL, before end: the
 * string is the same read by its length or as a C string. */
static bool c_string(const unsigned char *p, const unsigned char *end,
                     uint64_t len)
{
    return len < (uint64_t)(end - p) && p[len] == '\0' &&
           memchr(p, '\0', (size_t)len) == NULL;
}

int archive_chunk_decode(struct archive_chunk *c, const void *body, size_t len)
{
    archive_chunk_reset(c);
    const unsigned char *p = body, *end = p + len;
    uint64_t nparties, n;
    if (len < 1 || *p++ != CHUNK_VERSION ||
        varint_get(&p, end, &nparties) < 0 || nparties > len)
        goto bad;
    for (uint64_t i = 0; i < nparties; i++) {
        uint64_t blen, rlen;
        const char *bare, *res;
        if (varint_get(&p, end, &blen) < 0 || !c_string(p, end, blen))
            goto bad;
        bare = (const char *)p;
        p += blen + 1;
        if (varint_get(&p, end, &rlen) < 0 || !c_string(p, end, rlen))
            goto bad;
        res = (const char *)p;
        p += rlen + 1;
        add_party(c, bare, blen, res, rlen);
    }
    if (varint_get(&p, end, &n) < 0 || n > len)
        goto bad;
    if (n > c->entries_cap) {
        c->entries_cap = (size_t)n;
        c->entries = xrealloc(c->entries, c->entries_cap * sizeof(*c->entries));
    }
    /* The size is counted as encoding will write it (a body read back
     * may use longer varints than needed), with the times' bounds. */
    size_t bytes = 1 + varint_len(nparties) + varint_len(n);
    for (size_t i = 0; i < c->nparties; i++)
        bytes += party_bytes(c->parties[i].blen, c->parties[i].rlen);
    int64_t seq = 0, ts = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t dseq, dts, party;
        if (varint_get(&p, end, &dseq) < 0 || varint_get(&p, end, &dts) < 0 ||
            varint_get(&p, end, &party) < 0 || party >= nparties ||
            (i > 0 && dseq == 0) || dseq > (uint64_t)(INT64_MAX - seq))
            goto bad;
        seq += (int64_t)dseq;
        ts = (int64_t)((uint64_t)ts + (uint64_t)unzigzag(dts));
        c->entries[c->n++] = (struct archive_entry){seq, ts, (uint32_t)party};
        bytes += varint_len(dseq) + varint_len(dts) + varint_len(party);
        if (i == 0 || ts < c->min_ts)
            c->min_ts = ts;
        if (i == 0 || ts > c->max_ts)
            c->max_ts = ts;
    }
    if (p != end)
        goto bad;
    c->bytes = bytes;
    return 0;
bad:
    archive_chunk_reset(c);
    return -1;
}

bool archive_chunk_add(struct archive_chunk *c, int64_t seq, int64_t ts_ms,
                       const char *bare, const char *res)
{
    if (c->n >= ARCHIVE_CHUNK_MAX_ENTRIES)
        return false;
    if (c->n == 0)
        recount(c);
    size_t blen = strlen(bare), rlen = strlen(res);
    int party = archive_chunk_party(c, bare, blen, res, rlen);
    size_t grow = 0;
    if (party < 0)
        grow += party_bytes(blen, rlen) + varint_len(c->nparties + 1) -
                varint_len(c->nparties);
    int64_t prev_seq = c->n ? c->entries[c->n - 1].seq : 0;
    int64_t prev_ts = c->n ? c->entries[c->n - 1].ts_ms : 0;
    grow += varint_len((uint64_t)(seq - prev_seq)) +
            varint_len(zigzag(diff(ts_ms, prev_ts))) +
            varint_len(party < 0 ? c->nparties : (size_t)party) +
            varint_len(c->n + 1) - varint_len(c->n);
    if (c->n > 0 && c->bytes + grow > ARCHIVE_CHUNK_MAX_BYTES)
        return false;
    if (party < 0)
        party = add_party(c, bare, blen, res, rlen);
    push_entry(c, seq, ts_ms, (uint32_t)party);
    c->bytes += grow;
    if (c->n == 1 || ts_ms < c->min_ts)
        c->min_ts = ts_ms;
    if (c->n == 1 || ts_ms > c->max_ts)
        c->max_ts = ts_ms;
    return true;
}

void archive_chunk_filter(struct archive_chunk *c,
                          bool (*keep)(void *ud, const struct archive_entry *e),
                          void *ud)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->n; i++)
        if (keep(ud, &c->entries[i]))
            c->entries[kept++] = c->entries[i];
    c->n = kept;
    /* Renumber the parties still referred to, in their old order. */
    uint32_t *map = xcalloc(c->nparties ? c->nparties : 1, sizeof(*map));
    for (size_t i = 0; i < c->n; i++)
        map[c->entries[i].party] = 1;
    size_t np = 0;
    for (size_t i = 0; i < c->nparties; i++) {
        if (!map[i])
            continue;
        c->parties[np] = c->parties[i];
        map[i] = (uint32_t)np++;
    }
    c->nparties = np;
    for (size_t i = 0; i < c->n; i++)
        c->entries[i].party = map[c->entries[i].party];
    free(map);
    recount(c);
}

void archive_chunk_encode(const struct archive_chunk *c, struct buf *out)
{
    buf_append(out, (const char[]){CHUNK_VERSION}, 1);
    varint_put(out, c->nparties);
    for (size_t i = 0; i < c->nparties; i++) {
        const struct archive_party *p = &c->parties[i];
        varint_put(out, p->blen);
        buf_append(out, p->bare, p->blen + 1);
        varint_put(out, p->rlen);
        buf_append(out, p->res, p->rlen + 1);
    }
    varint_put(out, c->n);
    /* The entries, most of the body, written in place. */
    unsigned char *start = (unsigned char *)buf_reserve(out, c->n * 3 * VARINT_MAX);
    unsigned char *w = start;
    int64_t seq = 0, ts = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct archive_entry *e = &c->entries[i];
        w = varint_write(w, (uint64_t)(e->seq - seq));
        w = varint_write(w, zigzag(diff(e->ts_ms, ts)));
        w = varint_write(w, e->party);
        seq = e->seq;
        ts = e->ts_ms;
    }
    buf_commit(out, (size_t)(w - start));
}
