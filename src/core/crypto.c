/* crypto.c -- see crypto.h. Hashes, HMAC, PBKDF2 (RFC 8018) and random
 * bytes on top of OpenSSL's EVP layer. Besides net/tls.c and
 * net/tlscert.c this is the only file that includes OpenSSL, so the rest
 * of the tree stays independent of its API and versions. */
#include "core/crypto.h"

/* PBKDF2 below uses the one-block SHA-1/SHA-256 calls that OpenSSL 3
 * marks deprecated but keeps; see crypto_pbkdf2(). */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <limits.h>
#include <string.h>
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

/* PBKDF2 is the cost of every PLAIN login and of every password set.
 * OpenSSL's PKCS5_PBKDF2_HMAC() goes through the EVP MAC layer for each
 * of the thousands of iterations and spends most of its time there; this
 * keeps the HMAC key's inner and outer states and copies them per
 * iteration, which gives the same bytes 3 to 4 times faster (checked
 * against PKCS5_PBKDF2_HMAC() and RFC 6070/7914 vectors in test_scram).
 * Only the first output block is needed: dkLen is the digest length. */
union sha_ctx {
    SHA_CTX sha1;
    SHA256_CTX sha256;
};

static void sha_init(enum crypto_hash h, union sha_ctx *c)
{
    if (h == CRYPTO_SHA1)
        SHA1_Init(&c->sha1);
    else
        SHA256_Init(&c->sha256);
}

static void sha_update(enum crypto_hash h, union sha_ctx *c, const void *p,
                       size_t n)
{
    if (h == CRYPTO_SHA1)
        SHA1_Update(&c->sha1, p, n);
    else
        SHA256_Update(&c->sha256, p, n);
}

static void sha_final(enum crypto_hash h, union sha_ctx *c, unsigned char *out)
{
    if (h == CRYPTO_SHA1)
        SHA1_Final(out, &c->sha1);
    else
        SHA256_Final(out, &c->sha256);
}

void crypto_pbkdf2(enum crypto_hash h, const char *password, size_t pwlen,
                   const unsigned char *salt, size_t saltlen,
                   unsigned iterations, unsigned char *out)
{
    if (pwlen > (size_t)INT_MAX || saltlen > (size_t)INT_MAX ||
        iterations == 0 || iterations > (unsigned)INT_MAX)
        fatal("pbkdf2 arguments");
    size_t dl = crypto_digest_len(h);
    if (h != CRYPTO_SHA1 && h != CRYPTO_SHA256) {
        if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, (int)saltlen,
                              (int)iterations, md_of(h), (int)dl, out) != 1)
            fatal("pbkdf2");
        return;
    }
    enum { BLOCK = 64 }; /* SHA-1 and SHA-256 block size */
    unsigned char key[BLOCK] = {0}, pad[BLOCK], u[CRYPTO_MAX_DIGEST];
    if (pwlen > BLOCK)
        crypto_hash(h, password, pwlen, key);
    else
        memcpy(key, password, pwlen);
    union sha_ctx inner, outer, c;
    for (size_t i = 0; i < BLOCK; i++)
        pad[i] = key[i] ^ 0x36;
    sha_init(h, &inner);
    sha_update(h, &inner, pad, BLOCK);
    for (size_t i = 0; i < BLOCK; i++)
        pad[i] = key[i] ^ 0x5c;
    sha_init(h, &outer);
    sha_update(h, &outer, pad, BLOCK);

    /* U1 = HMAC(P, S || INT(1)); T = U1 ^ U2 ^ ... */
    static const unsigned char block_index[4] = {0, 0, 0, 1};
    c = inner;
    sha_update(h, &c, salt, saltlen);
    sha_update(h, &c, block_index, sizeof(block_index));
    sha_final(h, &c, u);
    c = outer;
    sha_update(h, &c, u, dl);
    sha_final(h, &c, u);
    memcpy(out, u, dl);
    for (unsigned n = 1; n < iterations; n++) {
        c = inner;
        sha_update(h, &c, u, dl);
        sha_final(h, &c, u);
        c = outer;
        sha_update(h, &c, u, dl);
        sha_final(h, &c, u);
        for (size_t i = 0; i < dl; i++)
            out[i] ^= u[i];
    }
    explicit_bzero(key, sizeof(key));
    explicit_bzero(pad, sizeof(pad));
    explicit_bzero(u, sizeof(u));
    explicit_bzero(&inner, sizeof(inner));
    explicit_bzero(&outer, sizeof(outer));
    explicit_bzero(&c, sizeof(c));
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

struct crypto_prp {
    EVP_CIPHER_CTX *enc, *dec;
};

static EVP_CIPHER_CTX *prp_ctx(const unsigned char *key, int encrypt)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c || EVP_CipherInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL,
                                encrypt) != 1) {
        fprintf(stderr, "theke: AES-128 is not available\n");
        abort();
    }
    EVP_CIPHER_CTX_set_padding(c, 0);
    return c;
}

struct crypto_prp *crypto_prp_new(const unsigned char key[CRYPTO_PRP_KEY])
{
    struct crypto_prp *p = malloc(sizeof(*p));
    if (!p)
        abort();
    p->enc = prp_ctx(key, 1);
    p->dec = prp_ctx(key, 0);
    return p;
}

void crypto_prp_free(struct crypto_prp *p)
{
    if (!p)
        return;
    EVP_CIPHER_CTX_free(p->enc);
    EVP_CIPHER_CTX_free(p->dec);
    free(p);
}

/* One ECB block: no state carries from one call to the next. */
static void prp_block(EVP_CIPHER_CTX *c, const unsigned char *in,
                      unsigned char *out)
{
    int n = 0;
    if (EVP_CipherUpdate(c, out, &n, in, CRYPTO_PRP_BLOCK) != 1 ||
        n != CRYPTO_PRP_BLOCK)
        abort();
}

void crypto_prp_encrypt(struct crypto_prp *p,
                        const unsigned char in[CRYPTO_PRP_BLOCK],
                        unsigned char out[CRYPTO_PRP_BLOCK])
{
    prp_block(p->enc, in, out);
}

void crypto_prp_decrypt(struct crypto_prp *p,
                        const unsigned char in[CRYPTO_PRP_BLOCK],
                        unsigned char out[CRYPTO_PRP_BLOCK])
{
    prp_block(p->dec, in, out);
}
