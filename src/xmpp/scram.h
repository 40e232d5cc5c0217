/* scram.h -- SCRAM-SHA-1 and SCRAM-SHA-256, server side (RFC 5802, 7677).
 *
 * Passwords are never stored: an account keeps, per hash, a salt, an
 * iteration count, StoredKey and ServerKey. The same credentials check
 * SASL PLAIN (by deriving SaltedPassword from the offered password).
 * Channel binding (the -PLUS variants, RFC 5802 §6, RFC 5056) is checked
 * against the binding data the caller takes from the TLS layer. */
#ifndef THEKE_SCRAM_H
#define THEKE_SCRAM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/crypto.h"

#define SCRAM_SALT_MAX 64
#define SCRAM_DEFAULT_ITERATIONS 4096

enum scram_hash { SCRAM_SHA1 = 0, SCRAM_SHA256 = 1 };

struct scram_creds {
    unsigned char salt[SCRAM_SALT_MAX];
    size_t salt_len;
    unsigned iterations;
    unsigned char stored_key[CRYPTO_MAX_DIGEST];
    unsigned char server_key[CRYPTO_MAX_DIGEST];
    size_t key_len; /* 20 for SHA-1, 32 for SHA-256 */
};

const char *scram_mech_name(enum scram_hash h); /* "SCRAM-SHA-1", ... */
/* Derives credentials from a password and a salt. The password should
 * already be SASLprep'd; scram_creds_from_password() does that. */
void scram_creds_derive(enum scram_hash h, const char *password,
                        const unsigned char *salt, size_t salt_len,
                        unsigned iterations, struct scram_creds *out);
/* SASLprep (RFC 4013) the password, pick a random 16-byte salt, derive.
 * Returns 0 or -ERR_INVAL when the password is not valid SASLprep input. */
int scram_creds_from_password(enum scram_hash h, const char *password,
                              unsigned iterations, struct scram_creds *out);
/* Checks a plaintext password (PLAIN) against stored credentials in
 * constant time. Returns 0 on match, -ERR_AUTH otherwise. */
int scram_check_password(enum scram_hash h, const struct scram_creds *c,
                         const char *password);
/* Deterministic fake credentials for a username that does not exist, so
 * that a SCRAM exchange does not reveal which accounts exist. */
void scram_creds_fake(enum scram_hash h, const char *username,
                      struct scram_creds *out);

/* Text form for storage: "iterations$b64(salt)$b64(stored)$b64(server)". */
void scram_creds_format(const struct scram_creds *c, struct buf *out);
int scram_creds_parse(enum scram_hash h, const char *s,
                      struct scram_creds *out);

#define SCRAM_CB_MAX 64 /* bytes of channel binding data */

/* A channel binding type and its data for this connection. */
struct scram_cb {
    const char *type; /* "tls-exporter", "tls-server-end-point" (static) */
    unsigned char data[SCRAM_CB_MAX];
    size_t len;
};

struct scram_server;

/* One authentication exchange; owned by the caller. */
struct scram_server *scram_server_new(enum scram_hash h);
void scram_server_free(struct scram_server *s);
/* Channel binding for this exchange (call before client-first; cbs is
 * copied, at most 4). plus: the mechanism is a -PLUS variant, so the
 * client must bind ("p=TYPE") to one of cbs. Otherwise n > 0 says that
 * -PLUS was offered on this stream, and a client that says "y" (it could
 * bind but believes we cannot) is refused: someone removed the -PLUS
 * mechanisms on the way (RFC 5802 §6). */
void scram_server_set_channel_binding(struct scram_server *s, bool plus,
                                      const struct scram_cb *cbs,
                                      unsigned n);
/* Parses client-first-message. Returns 0, or -ERR_PROTO if malformed or
 * its channel binding flag does not fit the mechanism. The username (SASLprep'd, "=2C"/"=3D"
 * decoded) and authzid (NULL when absent) are then available. */
int scram_server_client_first(struct scram_server *s, const char *msg,
                              size_t len);
const char *scram_server_username(const struct scram_server *s);
const char *scram_server_authzid(const struct scram_server *s);
/* Appends server-first-message to out using creds (copied). */
void scram_server_first(struct scram_server *s, const struct scram_creds *c,
                        struct buf *out);
/* Checks client-final-message. On success appends server-final-message
 * ("v=...") to out and returns 0; returns -ERR_AUTH for a wrong proof
 * and -ERR_PROTO for a malformed message or a nonce mismatch. */
int scram_server_client_final(struct scram_server *s, const char *msg,
                              size_t len, struct buf *out);

#endif
