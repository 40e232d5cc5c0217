/* base64.h -- RFC 4648 base64 for SASL payloads and stored keys. */
#ifndef THEKE_BASE64_H
#define THEKE_BASE64_H

#include <stddef.h>

#include "core/buf.h"

/* Appends the base64 encoding of data to out. */
void base64_encode(const void *data, size_t len, struct buf *out);
/* Appends the decoded bytes to out; whitespace is not allowed. Returns 0
 * or -ERR_INVAL on bad characters or padding (out is left unchanged). */
int base64_decode(const char *s, size_t len, struct buf *out);

#endif
