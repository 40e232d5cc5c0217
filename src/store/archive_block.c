/* archive_block.c -- the packed form of archived messages. */
#include "store/archive_block.h"

#include <lz4.h>
#include <string.h>

#include "store/varint.h"

/* Bodies shorter than this are stored as they are: LZ4 gains little on
 * them. */
#define PACK_MIN 128
/* The longest body packed and unpacked: a block holds about
 * ARCHIVE_BLOCK_BYTES or one message, which max_stanza_size bounds at
 * 16 MiB; a longer body is stored as it is. A damaged length must not
 * make us allocate more. */
#define UNPACK_MAX (16u << 20)

static const unsigned char packed_mark[2] = {0x80, 0x00};

size_t archive_block_size(const struct archive_block_msg *m, int64_t prev)
{
    size_t blen = m->user_b ? m->blen : 0;
    return varint_len((uint64_t)(m->seq - prev)) +
           varint_len(zigzag(m->ts_ms)) + varint_len(m->alen) + m->alen +
           varint_len(blen) + blen + varint_len(m->len) + m->len;
}

void archive_block_add(struct buf *out, const struct archive_block_msg *m,
                       int64_t prev)
{
    size_t blen = m->user_b ? m->blen : 0;
    unsigned char *w = (unsigned char *)buf_reserve(
        out, 5 * VARINT_MAX + m->alen + blen + m->len);
    unsigned char *start = w;
    w = varint_write(w, (uint64_t)(m->seq - prev));
    w = varint_write(w, zigzag(m->ts_ms));
    w = varint_write(w, m->alen);
    memcpy(w, m->user_a, m->alen);
    w = varint_write(w + m->alen, blen);
    if (blen)
        memcpy(w, m->user_b, blen);
    w = varint_write(w + blen, m->len);
    memcpy(w, m->xml, m->len);
    buf_commit(out, (size_t)(w + m->len - start));
}

void archive_block_open(struct archive_block_reader *r, const void *body,
                        size_t len, int64_t first)
{
    /* SQLite hands an empty blob over as NULL. */
    r->p = body;
    r->end = body ? r->p + len : r->p;
    r->seq = first;
    r->started = false;
}

/* A string of the body: its length, then its bytes. */
static int take(struct archive_block_reader *r, const char **s, size_t *len)
{
    uint64_t n;
    if (varint_get(&r->p, r->end, &n) < 0 || n > (uint64_t)(r->end - r->p))
        return -1;
    *s = (const char *)r->p;
    *len = (size_t)n;
    r->p += n;
    return 0;
}

int archive_block_next(struct archive_block_reader *r,
                       struct archive_block_msg *m)
{
    if (r->p == r->end)
        return 0;
    uint64_t delta, ts;
    if (varint_get(&r->p, r->end, &delta) < 0 || delta > INT64_MAX ||
        r->seq > INT64_MAX - (int64_t)delta || (r->started && delta == 0) ||
        varint_get(&r->p, r->end, &ts) < 0 ||
        take(r, &m->user_a, &m->alen) < 0 ||
        take(r, &m->user_b, &m->blen) < 0 || take(r, &m->xml, &m->len) < 0 ||
        m->alen == 0)
        return -1;
    r->seq += (int64_t)delta;
    r->started = true;
    m->seq = r->seq;
    m->ts_ms = unzigzag(ts);
    if (m->blen == 0)
        m->user_b = NULL;
    return 1;
}

void archive_block_pack(const void *body, size_t len, struct buf *out)
{
    if (len >= PACK_MIN && len <= UNPACK_MAX) {
        int bound = LZ4_compressBound((int)len);
        size_t head = sizeof(packed_mark) + varint_len(len);
        unsigned char *w =
            (unsigned char *)buf_reserve(out, head + (size_t)bound);
        memcpy(w, packed_mark, sizeof(packed_mark));
        varint_write(w + sizeof(packed_mark), len);
        int n = LZ4_compress_default(body, (char *)w + head, (int)len, bound);
        if (n > 0 && head + (size_t)n < len) {
            buf_commit(out, head + (size_t)n);
            return;
        }
    }
    buf_append(out, body, len);
}

void archive_block_unpack(const void *stored, size_t len, struct buf *out)
{
    const unsigned char *p = stored, *end = p + len;
    if (!stored || len < sizeof(packed_mark) ||
        memcmp(p, packed_mark, sizeof(packed_mark)) != 0) {
        if (len)
            buf_append(out, stored, len);
        return;
    }
    p += sizeof(packed_mark);
    uint64_t raw;
    if (varint_get(&p, end, &raw) == 0 && raw > 0 && raw <= UNPACK_MAX) {
        char *w = buf_reserve(out, (size_t)raw);
        int n =
            LZ4_decompress_safe((const char *)p, w, (int)(end - p), (int)raw);
        if (n >= 0 && (uint64_t)n == raw) {
            buf_commit(out, (size_t)raw);
            return;
        }
    }
    /* A varint cut short: the reader's first step fails on it. */
    buf_append(out, packed_mark, 1);
}
