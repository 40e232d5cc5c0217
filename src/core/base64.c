/* base64.c -- see base64.h. RFC 4648 §4 base64 with padding.
 *
 * Decoding is strict, because every input comes from a peer: no
 * whitespace or line breaks (RFC 6120 §6.4.2 forbids them in SASL data),
 * length a multiple of four, '=' only as the last one or two characters,
 * and the unused bits before the padding must be zero (RFC 4648 §3.5), so
 * each byte string has exactly one accepted encoding. The URL-safe
 * alphabet is not handled here. */
#include "core/base64.h"

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int value_of(unsigned char c);

/* 0..63, or -1 for anything outside the alphabet (including '='). */
static int value_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

void base64_encode(const void *data, size_t len, struct buf *out)
{
    const unsigned char *in = data;
    size_t outlen = (len + 2) / 3 * 4;
    if (outlen == 0)
        return;
    char *w = buf_reserve(out, outlen);
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *w++ = alphabet[v >> 18 & 63];
        *w++ = alphabet[v >> 12 & 63];
        *w++ = alphabet[v >> 6 & 63];
        *w++ = alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *w++ = alphabet[v >> 18 & 63];
        *w++ = alphabet[v >> 12 & 63];
        *w++ = '=';
        *w++ = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *w++ = alphabet[v >> 18 & 63];
        *w++ = alphabet[v >> 12 & 63];
        *w++ = alphabet[v >> 6 & 63];
        *w++ = '=';
    }
    buf_commit(out, outlen);
}

int base64_decode(const char *s, size_t len, struct buf *out)
{
    if (len % 4 != 0)
        return -ERR_INVAL;
    if (len == 0)
        return 0;
    size_t pad = 0;
    if (s[len - 1] == '=')
        pad = s[len - 2] == '=' ? 2 : 1;
    size_t outlen = len / 4 * 3 - pad;
    /* Decode straight into reserved space and commit only when the whole
     * input is valid, so out is unchanged on failure. */
    unsigned char *w = (unsigned char *)buf_reserve(out, len / 4 * 3);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        size_t n = last ? 4 - pad : 4; /* significant characters */
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int d = 0;
            if (k < n) {
                d = value_of((unsigned char)s[i + k]);
                if (d < 0)
                    return -ERR_INVAL;
            }
            v = v << 6 | (uint32_t)d;
        }
        w[o++] = (unsigned char)(v >> 16);
        if (n > 2)
            w[o++] = (unsigned char)(v >> 8);
        if (n > 3)
            w[o++] = (unsigned char)v;
        /* The bits a padded group does not use must be zero. */
        if ((n == 2 && (v & 0xFFFF) != 0) || (n == 3 && (v & 0xFF) != 0))
            return -ERR_INVAL;
    }
    buf_commit(out, outlen);
    return 0;
}
