/* varint.h -- the integer encodings of the archive's packed rows.
 *
 * Unsigned LEB128 (7 bits a byte, low first, the high bit set on all but
 * the last) and zigzag for signed differences, shared by the chunks of
 * entries (archive_chunk.h) and the blocks of messages (archive_block.h).
 * Reading never runs past the end it is given. */
#ifndef THEKE_VARINT_H
#define THEKE_VARINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* The most bytes one varint takes. */
#define VARINT_MAX 10

static inline size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes v at w, which has room for VARINT_MAX bytes; returns the end. */
static inline unsigned char *varint_write(unsigned char *w, uint64_t v)
{
    while (v >= 0x80) {
        *w++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *w++ = (unsigned char)v;
    return w;
}

static inline void varint_put(struct buf *out, uint64_t v)
{
    unsigned char b[VARINT_MAX];
    buf_append(out, b, (size_t)(varint_write(b, v) - b));
}

/* Reads one varint at *p (advanced past it); -1 when it runs past end or
 * is longer than 64 bits allow. */
static inline int varint_get(const unsigned char **p, const unsigned char *end,
                             uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p == end)
            return -1;
        unsigned char b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static inline uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

#endif
