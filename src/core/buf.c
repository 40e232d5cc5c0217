/* buf.c -- see buf.h. */
#include "buf.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"

char *buf_reserve(struct buf *b, size_t n)
{
    if (b->off > 0 && b->off == b->len) {
        b->off = b->len = 0;
    }
    if (b->cap - b->len >= n)
        return b->p + b->len;
    /* Compact first when at least half the storage is consumed; this
     * keeps front-consumption amortised O(1) without unbounded growth. */
    if (b->off > 0 && b->off >= b->cap / 2) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= n)
            return b->p + b->len;
    }
    size_t want = b->len + n;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < want)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
    return b->p + b->len;
}

void buf_commit(struct buf *b, size_t n) { b->len += n; }

void buf_append_slow(struct buf *b, const void *data, size_t n)
{
    if (n == 0)
        return;
    memcpy(buf_reserve(b, n), data, n);
    b->len += n;
}


void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char *w = buf_reserve(b, 128);
    int n = vsnprintf(w, b->cap - b->len, fmt, ap);
    if (n >= 0 && (size_t)n >= b->cap - b->len) {
        w = buf_reserve(b, (size_t)n + 1);
        n = vsnprintf(w, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    if (n > 0)
        b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void buf_append_xml_escaped(struct buf *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '\'': rep = "&apos;"; break;
        case '"': rep = "&quot;"; break;
        default: continue;
        }
        buf_append(b, s + start, i - start);
        buf_append_str(b, rep);
        start = i + 1;
    }
    buf_append(b, s + start, n - start);
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= buf_used(b)) {
        b->off = b->len = 0;
        return;
    }
    b->off += n;
}

void buf_reset(struct buf *b) { b->off = b->len = 0; }

void buf_free(struct buf *b)
{
    free(b->p);
    *b = BUF_INIT;
}

const char *buf_cstr(struct buf *b)
{
    char *w = buf_reserve(b, 1);
    *w = '\0';
    return buf_data(b);
}
