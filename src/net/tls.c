/* tls.c -- see tls.h. The only file (with tlscert.c and core/crypto.c)
 * that includes OpenSSL. */
#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/loop.h"

struct tls_ctx {
    SSL_CTX *ssl_ctx;
};

struct tls {
    SSL *ssl;
    unsigned want; /* LOOP_READ / LOOP_WRITE wanted by the last call */
};

/* ALPN protocol list in wire format: length byte, then the name. */
static const unsigned char alpn_xmpp_client[] = "\x0bxmpp-client";

static int select_alpn(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, alpn_xmpp_client,
                              sizeof(alpn_xmpp_client) - 1, in,
                              inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = sel;
        return SSL_TLSEXT_ERR_OK;
    }
    /* A client that offers other protocols only still gets XMPP: the
     * port is dedicated to it. */
    return SSL_TLSEXT_ERR_NOACK;
}

static void last_error(char *err, size_t errsz, const char *what)
{
    unsigned long e = ERR_get_error();
    char reason[200];
    ERR_error_string_n(e, reason, sizeof(reason));
    snprintf(err, errsz, "%s: %s", what, e ? reason : "unknown error");
    ERR_clear_error();
}

int tls_ctx_new(const char *cert_path, const char *key_path,
                struct tls_ctx **out, char *err, size_t errsz)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    if (!c) {
        last_error(err, errsz, "creating TLS context");
        return -ERR_TLS;
    }
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS |
                            SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(c, cert_path) != 1) {
        last_error(err, errsz, cert_path);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(c, key_path, SSL_FILETYPE_PEM) != 1) {
        last_error(err, errsz, key_path);
        goto fail;
    }
    if (SSL_CTX_check_private_key(c) != 1) {
        last_error(err, errsz, "certificate and key do not match");
        goto fail;
    }
    SSL_CTX_set_alpn_select_cb(c, select_alpn, NULL);
    *out = xcalloc(1, sizeof(**out));
    (*out)->ssl_ctx = c;
    return 0;
fail:
    SSL_CTX_free(c);
    return -ERR_TLS;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

struct tls *tls_new(struct tls_ctx *ctx, int fd)
{
    SSL *ssl = SSL_new(ctx->ssl_ctx);
    if (!ssl)
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    struct tls *t = xcalloc(1, sizeof(*t));
    t->ssl = ssl;
    return t;
}

void tls_free(struct tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}

/* Maps an OpenSSL result to our convention and records what to wait for. */
static int map_result(struct tls *t, int r)
{
    int e = SSL_get_error(t->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        t->want = LOOP_READ;
        return -ERR_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        t->want = LOOP_WRITE;
        return -ERR_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return -ERR_CLOSED;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return -ERR_CLOSED;
    default:
        ERR_clear_error();
        return -ERR_TLS;
    }
}

int tls_handshake(struct tls *t)
{
    t->want = 0;
    int r = SSL_do_handshake(t->ssl);
    if (r == 1)
        return 0;
    return map_result(t, r);
}

ssize_t tls_read(struct tls *t, void *buf, size_t len)
{
    t->want = 0;
    size_t got = 0;
    int r = SSL_read_ex(t->ssl, buf, len, &got);
    if (r == 1)
        return (ssize_t)got;
    r = map_result(t, r);
    return r == -ERR_CLOSED ? 0 : r;
}

ssize_t tls_write(struct tls *t, const void *buf, size_t len)
{
    t->want = 0;
    size_t put = 0;
    int r = SSL_write_ex(t->ssl, buf, len, &put);
    if (r == 1)
        return (ssize_t)put;
    return map_result(t, r);
}

unsigned tls_want(const struct tls *t) { return t->want; }

size_t tls_pending(const struct tls *t)
{
    return (size_t)SSL_pending(t->ssl);
}

void tls_shutdown(struct tls *t)
{
    if (SSL_is_init_finished(t->ssl))
        SSL_shutdown(t->ssl);
    ERR_clear_error();
}

const char *tls_version(const struct tls *t) { return SSL_get_version(t->ssl); }

int tls_channel_binding(struct tls *t, const char *type, unsigned char *out,
                        size_t max)
{
    if (!SSL_is_init_finished(t->ssl))
        return -ERR_NOTFOUND;
    if (strcmp(type, "tls-exporter") == 0) {
        /* Without TLS 1.3 or the extended master secret the exporter
         * does not identify the connection (the triple handshake). */
        static const char label[] = "EXPORTER-Channel-Binding";
        if ((SSL_version(t->ssl) < TLS1_3_VERSION &&
             SSL_get_extms_support(t->ssl) != 1) ||
            max < 32 ||
            SSL_export_keying_material(t->ssl, out, 32, label,
                                       sizeof(label) - 1, NULL, 0, 0) != 1) {
            ERR_clear_error();
            return -ERR_NOTFOUND;
        }
        return 32;
    }
    if (strcmp(type, "tls-unique") == 0) {
        /* The client's Finished after a full handshake, ours after a
         * resumption: the one sent first in TLS 1.2, and what clients
         * (OpenSSL's, Python's) compute on TLS 1.3 too. */
        size_t n = SSL_session_reused(t->ssl)
                       ? SSL_get_finished(t->ssl, out, max)
                       : SSL_get_peer_finished(t->ssl, out, max);
        return n > 0 && n <= max ? (int)n : -ERR_NOTFOUND;
    }
    if (strcmp(type, "tls-server-end-point") == 0) {
        X509 *cert = SSL_get_certificate(t->ssl);
        int md_nid = NID_undef;
        if (!cert || !OBJ_find_sigid_algs(X509_get_signature_nid(cert),
                                          &md_nid, NULL))
            return -ERR_NOTFOUND;
        /* RFC 5929 §4.1: MD5 and SHA-1 become SHA-256. */
        if (md_nid == NID_md5 || md_nid == NID_sha1)
            md_nid = NID_sha256;
        const EVP_MD *md = EVP_get_digestbynid(md_nid);
        unsigned len = 0;
        if (!md || (size_t)EVP_MD_get_size(md) > max ||
            X509_digest(cert, md, out, &len) != 1) {
            ERR_clear_error();
            return -ERR_NOTFOUND;
        }
        return (int)len;
    }
    return -ERR_NOTFOUND;
}
