/* scram.c -- see scram.h. SCRAM server side, RFC 5802 §5 and §7 with the
 * SHA-256 variant of RFC 7677.
 *
 * The messages are parsed strictly against the RFC 5802 §7 grammar and
 * every input is bounded before anything is copied. What the grammar
 * allows but this server does not support is refused: channel binding
 * ("p=", RFC 5802 §6; we offer no -PLUS mechanism) and the reserved "m="
 * attribute (which RFC 5802 §5.1 says MUST fail the exchange). Other
 * extensions are syntax-checked and ignored, as §5.1 requires.
 *
 * Not here: choosing a mechanism, mapping the SASLprep'd username to an
 * account and judging the authzid (xmpp/sasl.c), and storing credentials
 * (store/). */
#include "xmpp/scram.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stringprep.h>

#include "core/utf8.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/err.h"

#define CLIENT_FIRST_MAX 1024 /* bytes; real clients send < 200 */
/* client-final carries the combined nonce (bounded by client-first) and
 * a proof of at most 64 bytes, so this is generous. */
#define CLIENT_FINAL_MAX 2048
#define NAME_MAX_BYTES   1023 /* username or authzid, before and after prep */
#define PASSWORD_MAX     1023 /* bytes, as for SASL PLAIN in sasl.c */
#define NONCE_SUFFIX_LEN 24   /* random characters the server adds */
#define NONCE_SUFFIX_MAX 64
#define SALT_LEN         16       /* bytes of new random salts */
#define ITERATIONS_MAX   10000000 /* refuse absurd stored counts */

enum state {
    ST_START, /* waiting for client-first-message */
    ST_FIRST, /* client-first parsed, server-first not yet sent */
    ST_SENT,  /* server-first sent, waiting for client-final */
    ST_DONE,  /* finished or failed; every further call fails */
};

#define CB_TYPES_MAX 4

struct scram_server {
    enum scram_hash h;
    enum state state;
    bool plus;                        /* a -PLUS mechanism */
    struct scram_cb cbs[CB_TYPES_MAX]; /* what this channel can bind to */
    unsigned ncbs;
    int bound;                        /* index into cbs the client chose,
                                         -1 for none */
    char *username; /* owned, decoded and SASLprep'd */
    char *authzid;  /* owned, decoded; NULL when absent */
    char *gs2;      /* owned gs2-header as received, e.g. "n,," */
    size_t gs2_len;
    char *first_bare; /* owned client-first-message-bare */
    size_t first_bare_len;
    char *cnonce;             /* owned client nonce */
    char *nonce;              /* owned cnonce + suffix, set by server-first */
    struct buf server_first;  /* the server-first-message we sent */
    struct scram_creds creds; /* copy of the account's credentials */
    char suffix[NONCE_SUFFIX_MAX + 1]; /* server part of the nonce */
};

struct cursor {
    const char *p; /* borrowed message */
    size_t len;
    size_t pos; /* next byte to read */
};

static enum crypto_hash hash_of(enum scram_hash h);
static int saslprep(const char *in, size_t max, char **out);
static int next_attr(struct cursor *c, char *attr, struct str *val);
static bool at_end(const struct cursor *c);
static int expect_comma(struct cursor *c);
static int saslname_decode(struct str v, char **out);
static bool nonce_valid(struct str v);
static int extension_check(char attr, struct str v);
static void fake_secret_init(void);

static enum crypto_hash hash_of(enum scram_hash h)
{
    return h == SCRAM_SHA256 ? CRYPTO_SHA256 : CRYPTO_SHA1;
}

const char *scram_mech_name(enum scram_hash h)
{
    return h == SCRAM_SHA256 ? "SCRAM-SHA-256" : "SCRAM-SHA-1";
}

/* SASLprep (RFC 4013) of a NUL-terminated string. On success *out is an
 * owned string of 1..max bytes; returns -ERR_INVAL otherwise. */
static int saslprep(const char *in, size_t max, char **out)
{
    *out = NULL;
    size_t n = strlen(in);
    if (n == 0 || n > max || !utf8_valid((const unsigned char *)in, n))
        return -ERR_INVAL;
    char *p = NULL;
    if (stringprep_profile(in, &p, "SASLprep", 0) != STRINGPREP_OK) {
        free(p);
        return -ERR_INVAL;
    }
    size_t pn = strlen(p);
    if (pn == 0 || pn > max) {
        explicit_bzero(p, pn);
        free(p);
        return -ERR_INVAL;
    }
    *out = p;
    return 0;
}

/* Reads one attribute "x=value" where value runs to the next ',' or the
 * end (RFC 5802 §7 attr-val). The value may be empty here; callers that
 * need 1*value-char check. */
static int next_attr(struct cursor *c, char *attr, struct str *val)
{
    if (c->len - c->pos < 2 || c->p[c->pos + 1] != '=')
        return -ERR_PROTO;
    char a = c->p[c->pos];
    if (!((a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z')))
        return -ERR_PROTO;
    size_t start = c->pos + 2;
    const char *comma = memchr(c->p + start, ',', c->len - start);
    size_t end = comma ? (size_t)(comma - c->p) : c->len;
    *attr = a;
    val->p = c->p + start;
    val->len = end - start;
    c->pos = end;
    return 0;
}

static bool at_end(const struct cursor *c)
{
    return c->pos == c->len;
}

static int expect_comma(struct cursor *c)
{
    if (c->pos >= c->len || c->p[c->pos] != ',')
        return -ERR_PROTO;
    c->pos++;
    return 0;
}

/* Decodes a saslname (RFC 5802 §5.1): ',' and '=' travel as "=2C" and
 * "=3D"; any other '=' is malformed. ABNF literals are case-insensitive
 * (RFC 5234 §2.3), so "=2c" is accepted too. *out is owned. */
static int saslname_decode(struct str v, char **out)
{
    *out = NULL;
    if (v.len == 0)
        return -ERR_PROTO;
    char *d = xmalloc(v.len + 1);
    size_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        char ch = v.p[i];
        if (ch == '=') {
            if (v.len - i < 3)
                goto fail;
            char h1 = v.p[i + 1], h2 = v.p[i + 2];
            if (h1 == '2' && (h2 == 'C' || h2 == 'c'))
                ch = ',';
            else if (h1 == '3' && (h2 == 'D' || h2 == 'd'))
                ch = '=';
            else
                goto fail;
            i += 2;
        }
        d[n++] = ch;
    }
    d[n] = '\0';
    if (n > NAME_MAX_BYTES || !utf8_valid((unsigned char *)d, n))
        goto fail;
    *out = d;
    return 0;
fail:
    free(d);
    return -ERR_PROTO;
}

/* c-nonce / nonce: 1*printable, where printable is %x21-2B / %x2D-7E. */
static bool nonce_valid(struct str v)
{
    if (v.len == 0)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char ch = (unsigned char)v.p[i];
        if (ch < 0x21 || ch > 0x7E || ch == ',')
            return false;
    }
    return true;
}

/* An extension attribute we do not know: ignored if well-formed, except
 * the reserved "m" which must fail (RFC 5802 §5.1). */
static int extension_check(char attr, struct str v)
{
    if (attr == 'm' || v.len == 0 ||
        !utf8_valid((const unsigned char *)v.p, v.len))
        return -ERR_PROTO;
    return 0;
}

void scram_creds_derive(enum scram_hash h, const char *password,
                        const unsigned char *salt, size_t salt_len,
                        unsigned iterations, struct scram_creds *out)
{
    enum crypto_hash ch = hash_of(h);
    size_t dl = crypto_digest_len(ch);
    unsigned char salted[CRYPTO_MAX_DIGEST], client_key[CRYPTO_MAX_DIGEST];

    assert(salt_len <= SCRAM_SALT_MAX);
    memset(out, 0, sizeof(*out));
    memcpy(out->salt, salt, salt_len);
    out->salt_len = salt_len;
    out->iterations = iterations;
    out->key_len = dl;

    /* RFC 5802 §3: SaltedPassword, ClientKey, StoredKey, ServerKey. */
    crypto_pbkdf2(ch, password, strlen(password), salt, salt_len, iterations,
                  salted);
    crypto_hmac(ch, salted, dl, "Client Key", 10, client_key);
    crypto_hash(ch, client_key, dl, out->stored_key);
    crypto_hmac(ch, salted, dl, "Server Key", 10, out->server_key);
    explicit_bzero(salted, sizeof(salted));
    explicit_bzero(client_key, sizeof(client_key));
}

int scram_creds_from_password(enum scram_hash h, const char *password,
                              unsigned iterations, struct scram_creds *out)
{
    if (iterations == 0 || iterations > ITERATIONS_MAX)
        return -ERR_INVAL;
    char *prepped;
    if (saslprep(password, PASSWORD_MAX, &prepped) < 0)
        return -ERR_INVAL;
    unsigned char salt[SALT_LEN];
    crypto_random(salt, sizeof(salt));
    scram_creds_derive(h, prepped, salt, sizeof(salt), iterations, out);
    explicit_bzero(prepped, strlen(prepped));
    free(prepped);
    return 0;
}

int scram_check_password(enum scram_hash h, const struct scram_creds *c,
                         const char *password)
{
    size_t dl = crypto_digest_len(hash_of(h));
    if (c->key_len != dl || c->salt_len > SCRAM_SALT_MAX ||
        c->iterations == 0 || c->iterations > ITERATIONS_MAX)
        return -ERR_AUTH;
    char *prepped;
    if (saslprep(password, PASSWORD_MAX, &prepped) < 0)
        return -ERR_AUTH;
    struct scram_creds t;
    scram_creds_derive(h, prepped, c->salt, c->salt_len, c->iterations, &t);
    explicit_bzero(prepped, strlen(prepped));
    free(prepped);
    /* Both comparisons always run, so timing says nothing about which
     * key differed. */
    bool ok = crypto_equal(t.stored_key, c->stored_key, dl);
    ok &= crypto_equal(t.server_key, c->server_key, dl);
    explicit_bzero(&t, sizeof(t));
    return ok ? 0 : -ERR_AUTH;
}

/* Key for the fake credentials: random per process, so fake salts are
 * stable while the server runs (a repeated probe sees the same salt, as
 * for a real account) but cannot be predicted or compared across
 * servers. */
static unsigned char fake_secret[32];
static pthread_once_t fake_once = PTHREAD_ONCE_INIT;

static void fake_secret_init(void)
{
    crypto_random(fake_secret, sizeof(fake_secret));
}

void scram_creds_fake(enum scram_hash h, const char *username,
                      struct scram_creds *out)
{
    static const char *const labels[] = {"salt", "stored-key", "server-key"};
    unsigned char mac[3][CRYPTO_MAX_DIGEST];
    size_t dl = crypto_digest_len(hash_of(h));

    pthread_once(&fake_once, fake_secret_init);
    /* HMAC(secret, label NUL mechanism NUL username): the mechanism is
     * part of the input because a real account has independent salts
     * for SHA-1 and SHA-256. */
    for (size_t i = 0; i < 3; i++) {
        struct buf in = BUF_INIT;
        buf_append(&in, labels[i], strlen(labels[i]) + 1);
        buf_append(&in, scram_mech_name(h), strlen(scram_mech_name(h)) + 1);
        buf_append_str(&in, username);
        crypto_hmac(CRYPTO_SHA512, fake_secret, sizeof(fake_secret),
                    buf_data(&in), buf_used(&in), mac[i]);
        buf_free(&in);
    }
    memset(out, 0, sizeof(*out));
    memcpy(out->salt, mac[0], SALT_LEN);
    out->salt_len = SALT_LEN;
    /* TODO: follow the configured iteration count, so a server that
     * raises it does not tell fake accounts apart by their count. */
    out->iterations = SCRAM_DEFAULT_ITERATIONS;
    memcpy(out->stored_key, mac[1], dl);
    memcpy(out->server_key, mac[2], dl);
    out->key_len = dl;
    explicit_bzero(mac, sizeof(mac));
}

void scram_creds_format(const struct scram_creds *c, struct buf *out)
{
    buf_printf(out, "%u$", c->iterations);
    base64_encode(c->salt, c->salt_len, out);
    buf_append(out, "$", 1);
    base64_encode(c->stored_key, c->key_len, out);
    buf_append(out, "$", 1);
    base64_encode(c->server_key, c->key_len, out);
}

int scram_creds_parse(enum scram_hash h, const char *s, struct scram_creds *out)
{
    size_t dl = crypto_digest_len(hash_of(h));
    const char *field[4];
    size_t flen[4];
    const char *p = s;
    for (size_t i = 0; i < 4; i++) {
        const char *end = strchr(p, '$');
        if ((end != NULL) != (i < 3))
            return -ERR_INVAL;
        if (!end)
            end = p + strlen(p);
        field[i] = p;
        flen[i] = (size_t)(end - p);
        p = end + 1;
    }

    if (flen[0] == 0 || flen[0] > 9 || field[0][0] == '0')
        return -ERR_INVAL;
    unsigned long it = 0;
    for (size_t i = 0; i < flen[0]; i++) {
        if (field[0][i] < '0' || field[0][i] > '9')
            return -ERR_INVAL;
        it = it * 10 + (unsigned long)(field[0][i] - '0');
    }
    if (it > ITERATIONS_MAX)
        return -ERR_INVAL;

    int r = -ERR_INVAL;
    struct buf salt = BUF_INIT, stored = BUF_INIT, server = BUF_INIT;
    if (base64_decode(field[1], flen[1], &salt) < 0 ||
        base64_decode(field[2], flen[2], &stored) < 0 ||
        base64_decode(field[3], flen[3], &server) < 0)
        goto done;
    if (buf_used(&salt) == 0 || buf_used(&salt) > SCRAM_SALT_MAX ||
        buf_used(&stored) != dl || buf_used(&server) != dl)
        goto done;
    memset(out, 0, sizeof(*out));
    memcpy(out->salt, buf_data(&salt), buf_used(&salt));
    out->salt_len = buf_used(&salt);
    out->iterations = (unsigned)it;
    memcpy(out->stored_key, buf_data(&stored), dl);
    memcpy(out->server_key, buf_data(&server), dl);
    out->key_len = dl;
    r = 0;
done:
    buf_free(&salt);
    buf_free(&stored);
    buf_free(&server);
    return r;
}

struct scram_server *scram_server_new(enum scram_hash h)
{
    struct scram_server *s = xcalloc(1, sizeof(*s));
    s->h = h;
    s->state = ST_START;
    s->bound = -1;
    crypto_random_token(s->suffix, NONCE_SUFFIX_LEN);
    return s;
}

void scram_server_set_channel_binding(struct scram_server *s, bool plus,
                                      const struct scram_cb *cbs,
                                      unsigned n)
{
    s->plus = plus;
    s->ncbs = n < CB_TYPES_MAX ? n : CB_TYPES_MAX;
    memcpy(s->cbs, cbs, s->ncbs * sizeof(*cbs));
}

/* gs2-cbind-flag (RFC 5802 §7): "n", "y" or "p=" cb-name; checks it
 * against the mechanism and the channel. */
static int cbind_flag(struct scram_server *s, struct cursor *c)
{
    const char *m = c->p;
    if (m[0] == 'n' || m[0] == 'y') {
        /* A -PLUS mechanism needs binding; "y" while we offer it here is
         * a downgrade. */
        if (s->plus || (m[0] == 'y' && s->ncbs > 0))
            return -ERR_PROTO;
        c->pos = 1;
        return 0;
    }
    if (m[0] != 'p' || c->len < 3 || m[1] != '=' || !s->plus)
        return -ERR_PROTO;
    size_t end = 2;
    while (end < c->len && m[end] != ',')
        end++;
    for (unsigned i = 0; i < s->ncbs; i++) {
        if (strlen(s->cbs[i].type) == end - 2 &&
            memcmp(s->cbs[i].type, m + 2, end - 2) == 0) {
            s->bound = (int)i;
            c->pos = end;
            return 0;
        }
    }
    return -ERR_PROTO; /* a type this channel does not have */
}

void scram_server_free(struct scram_server *s)
{
    if (!s)
        return;
    free(s->username);
    free(s->authzid);
    free(s->gs2);
    free(s->first_bare);
    free(s->cnonce);
    free(s->nonce);
    buf_free(&s->server_first);
    explicit_bzero(&s->creds, sizeof(s->creds));
    free(s);
}

const char *scram_server_username(const struct scram_server *s)
{
    return s->username;
}

const char *scram_server_authzid(const struct scram_server *s)
{
    return s->authzid;
}

int scram_server_client_first(struct scram_server *s, const char *msg,
                              size_t len)
{
    struct cursor c = {msg, len, 0};
    char attr;
    struct str v;
    char *name = NULL;

    if (s->state != ST_START)
        return -ERR_PROTO;
    s->state = ST_DONE; /* until it has parsed completely */
    if (len == 0 || len > CLIENT_FIRST_MAX || memchr(msg, '\0', len))
        return -ERR_PROTO;

    /* gs2-header = gs2-cbind-flag "," [ authzid ] "," (RFC 5802 §7) */
    if (len < 3 || cbind_flag(s, &c) < 0 || expect_comma(&c) < 0 ||
        at_end(&c))
        return -ERR_PROTO;
    if (msg[c.pos] != ',') {
        if (next_attr(&c, &attr, &v) < 0 || attr != 'a' ||
            saslname_decode(v, &s->authzid) < 0)
            return -ERR_PROTO;
    }
    if (expect_comma(&c) < 0)
        return -ERR_PROTO;
    s->gs2 = xstrndup(msg, c.pos);
    s->gs2_len = c.pos;

    /* client-first-message-bare = [reserved-mext ","] username ","
     * nonce ["," extensions] */
    size_t bare = c.pos;
    if (next_attr(&c, &attr, &v) < 0 || attr != 'n')
        return -ERR_PROTO; /* also refuses a leading "m=" */
    if (saslname_decode(v, &name) < 0)
        return -ERR_PROTO;
    int r = saslprep(name, NAME_MAX_BYTES, &s->username);
    free(name);
    if (r < 0)
        return -ERR_PROTO;
    if (expect_comma(&c) < 0 || next_attr(&c, &attr, &v) < 0 || attr != 'r' ||
        !nonce_valid(v))
        return -ERR_PROTO;
    s->cnonce = xstrndup(v.p, v.len);
    while (!at_end(&c)) {
        if (expect_comma(&c) < 0 || next_attr(&c, &attr, &v) < 0 ||
            extension_check(attr, v) < 0)
            return -ERR_PROTO;
    }
    s->first_bare = xstrndup(msg + bare, len - bare);
    s->first_bare_len = len - bare;
    s->state = ST_FIRST;
    return 0;
}

void scram_server_first(struct scram_server *s, const struct scram_creds *c,
                        struct buf *out)
{
    assert(s->state == ST_FIRST);
    assert(c->salt_len <= SCRAM_SALT_MAX);
    s->creds = *c;
    size_t cl = strlen(s->cnonce), sl = strlen(s->suffix);
    s->nonce = xmalloc(cl + sl + 1);
    memcpy(s->nonce, s->cnonce, cl);
    memcpy(s->nonce + cl, s->suffix, sl + 1);

    /* server-first-message = nonce "," salt "," iteration-count */
    buf_printf(&s->server_first, "r=%s,s=", s->nonce);
    base64_encode(c->salt, c->salt_len, &s->server_first);
    buf_printf(&s->server_first, ",i=%u", c->iterations);
    buf_append(out, buf_data(&s->server_first), buf_used(&s->server_first));
    s->state = ST_SENT;
}

int scram_server_client_final(struct scram_server *s, const char *msg,
                              size_t len, struct buf *out)
{
    struct cursor c = {msg, len, 0};
    char attr;
    struct str v, proof = {NULL, 0};
    size_t without_proof = 0;
    int r = -ERR_PROTO;
    struct buf cb = BUF_INIT, pf = BUF_INIT, auth = BUF_INIT;
    enum crypto_hash ch = hash_of(s->h);
    size_t dl = crypto_digest_len(ch);
    unsigned char sig[CRYPTO_MAX_DIGEST], key[CRYPTO_MAX_DIGEST];
    unsigned char stored[CRYPTO_MAX_DIGEST];

    if (s->state != ST_SENT)
        return -ERR_PROTO;
    s->state = ST_DONE;
    if (len == 0 || len > CLIENT_FINAL_MAX || memchr(msg, '\0', len))
        return -ERR_PROTO;

    /* client-final-message = channel-binding "," nonce ["," extensions]
     * "," proof. c= carries the gs2-header, followed by the channel's
     * binding data when the client bound to it. */
    const struct scram_cb *bound = s->bound >= 0 ? &s->cbs[s->bound] : NULL;
    size_t cb_len = s->gs2_len + (bound ? bound->len : 0);
    if (next_attr(&c, &attr, &v) < 0 || attr != 'c' ||
        base64_decode(v.p, v.len, &cb) < 0 || buf_used(&cb) != cb_len ||
        memcmp(buf_data(&cb), s->gs2, s->gs2_len) != 0 ||
        (bound && !crypto_equal(buf_data(&cb) + s->gs2_len, bound->data,
                                bound->len)))
        goto done;
    if (expect_comma(&c) < 0 || next_attr(&c, &attr, &v) < 0 || attr != 'r' ||
        v.len != strlen(s->nonce) || memcmp(v.p, s->nonce, v.len) != 0)
        goto done;
    while (!proof.p) {
        size_t comma = c.pos;
        if (expect_comma(&c) < 0 || next_attr(&c, &attr, &v) < 0)
            goto done;
        if (attr == 'p') {
            if (!at_end(&c))
                goto done;
            proof = v;
            without_proof = comma;
        } else if (extension_check(attr, v) < 0) {
            goto done;
        }
    }
    if (base64_decode(proof.p, proof.len, &pf) < 0 || buf_used(&pf) != dl)
        goto done;

    r = -ERR_AUTH;
    if (s->creds.key_len != dl)
        goto done;
    /* AuthMessage = client-first-message-bare "," server-first-message
     *               "," client-final-message-without-proof (§3) */
    buf_append(&auth, s->first_bare, s->first_bare_len);
    buf_append(&auth, ",", 1);
    buf_append(&auth, buf_data(&s->server_first), buf_used(&s->server_first));
    buf_append(&auth, ",", 1);
    buf_append(&auth, msg, without_proof);

    /* ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the
     * proof is right when H(ClientKey) is the StoredKey. */
    crypto_hmac(ch, s->creds.stored_key, dl, buf_data(&auth), buf_used(&auth),
                sig);
    for (size_t i = 0; i < dl; i++)
        key[i] = (unsigned char)buf_data(&pf)[i] ^ sig[i];
    crypto_hash(ch, key, dl, stored);
    if (!crypto_equal(stored, s->creds.stored_key, dl))
        goto done;

    crypto_hmac(ch, s->creds.server_key, dl, buf_data(&auth), buf_used(&auth),
                sig);
    buf_append(out, "v=", 2);
    base64_encode(sig, dl, out);
    r = 0;
done:
    explicit_bzero(key, sizeof(key));
    buf_free(&cb);
    buf_free(&pf);
    buf_free(&auth);
    return r;
}
