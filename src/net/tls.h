/* tls.h -- TLS for connections, server side (OpenSSL lives only here).
 *
 * TLS 1.2 or newer only. Buffers are released while a connection is idle
 * (SSL_MODE_RELEASE_BUFFERS), which matters with many idle clients.
 * ALPN "xmpp-client" is selected when offered (XEP-0368). */
#ifndef THEKE_TLS_H
#define THEKE_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct tls_ctx;
struct tls;

/* Loads a PEM certificate chain and key. Returns 0 or -ERR_TLS with a
 * one-line reason in err. *out is owned by the caller. */
int tls_ctx_new(const char *cert_path, const char *key_path,
                struct tls_ctx **out, char *err, size_t errsz);
void tls_ctx_free(struct tls_ctx *ctx);

/* Server-side TLS over the non-blocking socket fd (borrowed). */
struct tls *tls_new(struct tls_ctx *ctx, int fd);
void tls_free(struct tls *t);

/* Each returns -ERR_AGAIN when the socket is not ready; tls_want() then
 * tells which readiness (LOOP_READ or LOOP_WRITE) to wait for. */
int tls_handshake(struct tls *t);
/* > 0 bytes read, 0 on a clean close by the peer, or negative ERR_*. */
ssize_t tls_read(struct tls *t, void *buf, size_t len);
/* > 0 bytes written, or negative ERR_*. */
ssize_t tls_write(struct tls *t, const void *buf, size_t len);
unsigned tls_want(const struct tls *t);
/* Decrypted bytes already buffered inside the TLS layer. */
size_t tls_pending(const struct tls *t);
/* Sends close_notify, best effort, without waiting. */
void tls_shutdown(struct tls *t);
/* "TLSv1.3" etc., for logs. */
const char *tls_version(const struct tls *t);
/* Channel binding data (RFC 5056) of an established connection for type
 * "tls-exporter" (RFC 9266; TLS 1.3, or 1.2 with extended master secret),
 * "tls-server-end-point" (RFC 5929: the hash of our certificate) or
 * "tls-unique" (RFC 5929: the first Finished message, as TLS 1.2 defines
 * it, also on TLS 1.3, where clients that predate XEP-0440 still use it).
 * Returns its length, or -ERR_NOTFOUND when this connection has none of
 * that type. */
int tls_channel_binding(struct tls *t, const char *type, unsigned char *out,
                        size_t max);

#endif
