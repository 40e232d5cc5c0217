/* crypto.h -- the hash, MAC, KDF and random primitives theke needs,
 * behind a small API so that only crypto.c and net/tls.c include OpenSSL. */
#ifndef THEKE_CRYPTO_H
#define THEKE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#define CRYPTO_MAX_DIGEST 64

enum crypto_hash { CRYPTO_SHA1, CRYPTO_SHA256, CRYPTO_SHA512 };

size_t crypto_digest_len(enum crypto_hash h);
void crypto_hash(enum crypto_hash h, const void *data, size_t len,
                 unsigned char *out);
void crypto_hmac(enum crypto_hash h, const void *key, size_t keylen,
                 const void *data, size_t len, unsigned char *out);
/* PBKDF2 (RFC 8018) with HMAC-h; writes crypto_digest_len(h) bytes. */
void crypto_pbkdf2(enum crypto_hash h, const char *password, size_t pwlen,
                   const unsigned char *salt, size_t saltlen,
                   unsigned iterations, unsigned char *out);
/* Cryptographically strong random bytes; aborts if the system has none. */
void crypto_random(void *out, size_t len);
/* Appends n random characters from [A-Za-z0-9] to out (NUL-terminated,
 * out must hold n + 1 bytes). For ids, nonces and resources. */
void crypto_random_token(char *out, size_t n);
/* Compares in time independent of the contents. */
bool crypto_equal(const void *a, const void *b, size_t len);

/* A secret permutation of 16-byte blocks (AES-128 with a private key):
 * turns a counter into an id that is unique and cannot be guessed or
 * counted, and back. */
#define CRYPTO_PRP_KEY 16
#define CRYPTO_PRP_BLOCK 16
struct crypto_prp;
struct crypto_prp *crypto_prp_new(const unsigned char key[CRYPTO_PRP_KEY]);
void crypto_prp_free(struct crypto_prp *p);
void crypto_prp_encrypt(struct crypto_prp *p,
                        const unsigned char in[CRYPTO_PRP_BLOCK],
                        unsigned char out[CRYPTO_PRP_BLOCK]);
void crypto_prp_decrypt(struct crypto_prp *p,
                        const unsigned char in[CRYPTO_PRP_BLOCK],
                        unsigned char out[CRYPTO_PRP_BLOCK]);

#endif
