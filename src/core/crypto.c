/* crypto.c -- see crypto.h. Hashes, HMAC, PBKDF2 (RFC 8018) and random
 * bytes on top of OpenSSL's EVP layer. Besides net/tls.c and
 * net/tlscert.c this is the only file that includes OpenSSL, so the rest
 * of the tree stays independent of its API and versions. */
#include "core/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

static const EVP_MD *md_of(enum crypto_hash h);

static const EVP_MD *md_of(enum crypto_hash h)
{
    switch (h) {
    case CRYPTO_SHA1:
        return EVP_sha1();
    case CRYPTO_SHA256:
        return EVP_sha256();
    case CRYPTO_SHA512:
        return EVP_sha512();
    }
    abort();
}

/* A failure of these primitives means a broken library or no memory;
 * there is no sensible way to continue an authentication with a wrong
 * hash, so it is fatal like OOM. */
static void fatal(const char *what)
{
    fprintf(stderr, "theke: crypto: %s failed\n", what);
    abort();
}

size_t crypto_digest_len(enum crypto_hash h)
{
    switch (h) {
    case CRYPTO_SHA1:
        return 20;
    case CRYPTO_SHA256:
        return 32;
    case CRYPTO_SHA512:
        return 64;
    }
    abort();
}

void crypto_hash(enum crypto_hash h, const void *data, size_t len,
                 unsigned char *out)
{
    unsigned n = 0;
    if (EVP_Digest(data, len, out, &n, md_of(h), NULL) != 1 ||
        n != crypto_digest_len(h))
        fatal("digest");
}

void crypto_hmac(enum crypto_hash h, const void *key, size_t keylen,
                 const void *data, size_t len, unsigned char *out)
{
    unsigned n = 0;
    /* HMAC() takes an int key length; our keys are digests and salts. */
    if (keylen > (size_t)INT_MAX)
        fatal("hmac key length");
    if (!HMAC(md_of(h), key, (int)keylen, data, len, out, &n) ||
        n != crypto_digest_len(h))
        fatal("hmac");
}

void crypto_pbkdf2(enum crypto_hash h, const char *password, size_t pwlen,
                   const unsigned char *salt, size_t saltlen,
                   unsigned iterations, unsigned char *out)
{
    if (pwlen > (size_t)INT_MAX || saltlen > (size_t)INT_MAX ||
        iterations == 0 || iterations > (unsigned)INT_MAX)
        fatal("pbkdf2 arguments");
    if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, (int)saltlen,
                          (int)iterations, md_of(h), (int)crypto_digest_len(h),
                          out) != 1)
        fatal("pbkdf2");
}

void crypto_random(void *out, size_t len)
{
    unsigned char *p = out;
    while (len > 0) {
        int n = len > 1 << 20 ? 1 << 20 : (int)len;
        if (RAND_bytes(p, n) != 1)
            fatal("random");
        p += n;
        len -= (size_t)n;
    }
}

void crypto_random_token(char *out, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char pool[64];
    size_t avail = 0, used = 0;
    size_t i = 0;
    while (i < n) {
        if (used == avail) {
            crypto_random(pool, sizeof(pool));
            avail = sizeof(pool);
            used = 0;
        }
        unsigned char b = pool[used++];
        /* Rejection sampling: 248 = 4 * 62, so accepting only bytes
         * below it keeps every character equally likely. */
        if (b < 248)
            out[i++] = alphabet[b % 62];
    }
    out[n] = '\0';
    OPENSSL_cleanse(pool, sizeof(pool));
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
