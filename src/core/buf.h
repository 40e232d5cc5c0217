/* buf.h -- length-tracked strings and growable byte buffers.
 *
 * struct str borrows bytes it does not own. struct buf owns its bytes and
 * grows in place: its functions take a pointer to the buf and never hand
 * back a new pointer, so a forgotten reassignment cannot dangle (the sds
 * trap). Data is consumed from the front with an offset, so reading a
 * buffer piecewise stays linear. */
#ifndef THEKE_BUF_H
#define THEKE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

struct str {
    const char *p; /* borrowed bytes, not necessarily NUL-terminated */
    size_t len;    /* length in bytes */
};

#define STR_LIT(s) ((struct str){ (s), sizeof(s) - 1 })

struct buf {
    char *p;    /* owned storage, NULL until the first append */
    size_t off; /* bytes already consumed from the front */
    size_t len; /* end of valid data (data is p[off..len)) */
    size_t cap; /* allocated size of p */
};

#define BUF_INIT ((struct buf){ NULL, 0, 0, 0 })

/* Bytes available to read: p + off, length buf_used(). */
static inline size_t buf_used(const struct buf *b) { return b->len - b->off; }
static inline char *buf_data(const struct buf *b)
{
    /* An empty buf has no storage; NULL + 0 is undefined behaviour. */
    static char empty[1];
    return b->p ? b->p + b->off : empty;
}

/* Makes room for at least n more bytes after len; returns the write
 * pointer. Call buf_commit() with what was actually written. */
char *buf_reserve(struct buf *b, size_t n);
void buf_commit(struct buf *b, size_t n);

void buf_append_slow(struct buf *b, const void *data, size_t n);

/* Inline because serialising a stanza appends dozens of short pieces:
 * with room to spare (the usual case) and a constant n, this is a store
 * or two instead of a call. */
static inline void buf_append(struct buf *b, const void *data, size_t n)
{
    if (n > 0 && b->p && (b->off == 0 || b->off < b->len) &&
        b->cap - b->len >= n) {
        memcpy(b->p + b->len, data, n);
        b->len += n;
        return;
    }
    buf_append_slow(b, data, n);
}

static inline void buf_append_str(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Appends s with &, <, >, ', " escaped for XML text and attributes. */
void buf_append_xml_escaped(struct buf *b, const char *s, size_t n);

/* Drops n bytes from the front. Storage is compacted lazily. */
void buf_consume(struct buf *b, size_t n);
/* Empties the buffer but keeps its storage. */
void buf_reset(struct buf *b);
/* Frees storage; the buf is BUF_INIT afterwards. */
void buf_free(struct buf *b);
/* Returns a NUL-terminated view of the data (appends a NUL not counted
 * in the length). The pointer is borrowed until the next change. */
const char *buf_cstr(struct buf *b);

#endif
