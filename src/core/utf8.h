/* utf8.h -- UTF-8 validation. */
#ifndef THEKE_UTF8_H
#define THEKE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s (n bytes) is well-formed UTF-8 (RFC 3629): no overlong
 * forms, no surrogates, nothing above U+10FFFF. libidn is lenient about
 * some malformed sequences, so input is checked before it gets there. */
bool utf8_valid(const unsigned char *s, size_t n);

#endif
