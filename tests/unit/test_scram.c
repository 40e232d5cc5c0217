/* test_scram.c -- SCRAM-SHA-1/-256 server side against the RFC 5802 and
 * RFC 7677 examples, malformed messages, PLAIN checks, stored credential
 * format; also the base64 and crypto primitives underneath.
 *
 * scram.c is included so the tests can fix the server nonce, which is
 * random in production. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmpp/scram.c"

#include <openssl/evp.h>

#include "core/base64.h"
#include "core/crypto.h"
#include "core/err.h"

/* Forces the random part of the server nonce for a test vector. */
static void set_nonce_suffix(struct scram_server *s, const char *suffix)
{
    assert_true(strlen(suffix) <= NONCE_SUFFIX_MAX);
    strcpy(s->suffix, suffix);
}

static void creds_from_b64_salt(enum scram_hash h, const char *password,
                                const char *salt_b64, unsigned it,
                                struct scram_creds *out)
{
    struct buf salt = BUF_INIT;
    assert_int_equal(base64_decode(salt_b64, strlen(salt_b64), &salt), 0);
    scram_creds_derive(h, password, (unsigned char *)buf_data(&salt),
                       buf_used(&salt), it, out);
    buf_free(&salt);
}

/* Runs one exchange. Returns the result of client_final; server-first and
 * server-final land in sf and out. */
static int exchange(enum scram_hash h, const struct scram_creds *c,
                    const char *suffix, const char *first, const char *final,
                    struct buf *sf, struct buf *out)
{
    struct scram_server *s = scram_server_new(h);
    if (suffix)
        set_nonce_suffix(s, suffix);
    int r = scram_server_client_first(s, first, strlen(first));
    if (r == 0) {
        scram_server_first(s, c, sf);
        r = scram_server_client_final(s, final, strlen(final), out);
    }
    scram_server_free(s);
    return r;
}

static void test_rfc5802_sha1(void **state)
{
    (void)state;
    struct scram_creds c;
    creds_from_b64_salt(SCRAM_SHA1, "pencil", "QSXCR+Q6sek8bf92", 4096, &c);
    assert_int_equal(c.key_len, 20);
    struct buf sf = BUF_INIT, out = BUF_INIT;
    int r = exchange(SCRAM_SHA1, &c, "3rfcNHYJY1ZVvWVs7j",
                     "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
                     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
                     "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
                     &sf, &out);
    assert_int_equal(r, 0);
    assert_string_equal(buf_cstr(&sf),
                        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
                        "s=QSXCR+Q6sek8bf92,i=4096");
    assert_string_equal(buf_cstr(&out), "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
    buf_free(&sf);
    buf_free(&out);
}

static void test_rfc7677_sha256(void **state)
{
    (void)state;
    struct scram_creds c;
    creds_from_b64_salt(SCRAM_SHA256, "pencil",
                        "W22ZaJ0SNY7soEsUEjb6gQ==", 4096, &c);
    assert_int_equal(c.key_len, 32);
    struct buf sf = BUF_INIT, out = BUF_INIT;
    int r = exchange(SCRAM_SHA256, &c, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
                     "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
                     "c=biws,r=rOprNGfwEbeRWgbNEkqO"
                     "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                     &sf, &out);
    assert_int_equal(r, 0);
    assert_string_equal(buf_cstr(&sf),
                        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                        "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    assert_string_equal(buf_cstr(&out),
                        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    buf_free(&sf);
    buf_free(&out);
}

static void test_wrong_proof(void **state)
{
    (void)state;
    struct scram_creds c;
    creds_from_b64_salt(SCRAM_SHA1, "pencil", "QSXCR+Q6sek8bf92", 4096, &c);
    struct buf sf = BUF_INIT, out = BUF_INIT;
    int r = exchange(SCRAM_SHA1, &c, "3rfcNHYJY1ZVvWVs7j",
                     "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
                     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
                     "p=w0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
                     &sf, &out);
    assert_int_equal(r, -ERR_AUTH);
    assert_int_equal(buf_used(&out), 0);

    /* The right proof against other credentials (another password). */
    creds_from_b64_salt(SCRAM_SHA1, "pencil2", "QSXCR+Q6sek8bf92", 4096, &c);
    buf_reset(&sf);
    r = exchange(SCRAM_SHA1, &c, "3rfcNHYJY1ZVvWVs7j",
                 "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
                 "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
                 "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
                 &sf, &out);
    assert_int_equal(r, -ERR_AUTH);
    assert_int_equal(buf_used(&out), 0);
    buf_free(&sf);
    buf_free(&out);
}

/* A minimal SCRAM client, to drive exchanges the RFC examples do not
 * cover (authzid, "y" flag, extensions, escaped names). */
struct client {
    enum scram_hash h;
    const char *password;
    char first_bare[512];
    char without_proof[1024];
};

/* Channel binding of the next client_run(): what the server is told
 * about the channel, and the data the client binds to (NULL: none). */
static bool run_plus;
static const struct scram_cb *run_cbs;
static unsigned run_ncbs;
static const unsigned char *client_cb;
static size_t client_cb_len;

static void client_final(struct client *cl, const char *gs2, const char *sf,
                         const char *ext, struct buf *final)
{
    enum crypto_hash ch = cl->h == SCRAM_SHA256 ? CRYPTO_SHA256 : CRYPTO_SHA1;
    size_t dl = crypto_digest_len(ch);
    /* Parse r= and s= and i= from server-first. */
    char nonce[256], salt_b64[128];
    unsigned it;
    assert_int_equal(
        sscanf(sf, "r=%255[^,],s=%127[^,],i=%u", nonce, salt_b64, &it), 3);
    struct buf salt = BUF_INIT, cb = BUF_INIT, auth = BUF_INIT;
    assert_int_equal(base64_decode(salt_b64, strlen(salt_b64), &salt), 0);
    struct buf cbin = BUF_INIT;
    buf_append(&cbin, gs2, strlen(gs2));
    if (client_cb)
        buf_append(&cbin, client_cb, client_cb_len);
    base64_encode(buf_data(&cbin), buf_used(&cbin), &cb);
    buf_free(&cbin);
    snprintf(cl->without_proof, sizeof(cl->without_proof), "c=%s,r=%s%s",
             buf_cstr(&cb), nonce, ext ? ext : "");
    buf_printf(&auth, "%s,%s,%s", cl->first_bare, sf, cl->without_proof);

    unsigned char salted[64], ck[64], sk[64], sig[64], proof[64];
    crypto_pbkdf2(ch, cl->password, strlen(cl->password),
                  (unsigned char *)buf_data(&salt), buf_used(&salt), it,
                  salted);
    crypto_hmac(ch, salted, dl, "Client Key", 10, ck);
    crypto_hash(ch, ck, dl, sk);
    crypto_hmac(ch, sk, dl, buf_data(&auth), buf_used(&auth), sig);
    for (size_t i = 0; i < dl; i++)
        proof[i] = ck[i] ^ sig[i];
    buf_printf(final, "%s,p=", cl->without_proof);
    base64_encode(proof, dl, final);
    buf_free(&salt);
    buf_free(&cb);
    buf_free(&auth);
}

/* Runs a full exchange with the test client; returns client_final's
 * result and, through s_out, leaves the server for inspection. */
static int client_run(enum scram_hash h, const char *gs2, const char *bare,
                      const char *ext, const char *password,
                      const struct scram_creds *c, struct scram_server **s_out)
{
    struct client cl = {h, password, "", ""};
    snprintf(cl.first_bare, sizeof(cl.first_bare), "%s", bare);
    char first[600];
    snprintf(first, sizeof(first), "%s%s", gs2, bare);
    struct scram_server *s = scram_server_new(h);
    *s_out = s;
    if (run_cbs || run_plus)
        scram_server_set_channel_binding(s, run_plus, run_cbs, run_ncbs);
    int r = scram_server_client_first(s, first, strlen(first));
    if (r < 0)
        return r;
    struct buf sf = BUF_INIT, final = BUF_INIT, out = BUF_INIT;
    scram_server_first(s, c, &sf);
    client_final(&cl, gs2, buf_cstr(&sf), ext, &final);
    r = scram_server_client_final(s, buf_data(&final), buf_used(&final), &out);
    if (r == 0)
        assert_memory_equal(buf_data(&out), "v=", 2);
    buf_free(&sf);
    buf_free(&final);
    buf_free(&out);
    return r;
}

/* The -PLUS variants: the client must bind to a type the channel has,
 * with the channel's data; "y" is a downgrade once -PLUS is offered. */
static void test_channel_binding(void **state)
{
    (void)state;
    struct scram_creds c;
    struct scram_server *s;
    struct scram_cb cbs[2] = {{"tls-exporter", {0}, 32},
                              {"tls-server-end-point", {0}, 32}};
    for (int i = 0; i < 32; i++) {
        cbs[0].data[i] = (unsigned char)i;
        cbs[1].data[i] = (unsigned char)(0xA0 + i);
    }
    unsigned char wrong[32];
    memcpy(wrong, cbs[0].data, 32);
    wrong[31] ^= 1;
    for (int h = SCRAM_SHA1; h <= SCRAM_SHA256; h++) {
        assert_int_equal(scram_creds_from_password(h, "secret", 4096, &c), 0);
        run_plus = true;
        run_cbs = cbs;
        run_ncbs = 2;
        for (int t = 0; t < 2; t++) {
            char gs2[64];
            snprintf(gs2, sizeof(gs2), "p=%s,,", cbs[t].type);
            client_cb = cbs[t].data;
            client_cb_len = cbs[t].len;
            assert_int_equal(client_run(h, gs2, "n=alice,r=abc", NULL,
                                        "secret", &c, &s),
                             0);
            scram_server_free(s);
            /* Another channel's data: a man in the middle. */
            client_cb = wrong;
            assert_true(client_run(h, gs2, "n=alice,r=abc", NULL, "secret",
                                   &c, &s) < 0);
            scram_server_free(s);
        }
        /* With an authzid after the flag. */
        client_cb = cbs[0].data;
        assert_int_equal(client_run(h, "p=tls-exporter,a=alice,",
                                    "n=alice,r=abc", NULL, "secret", &c, &s),
                         0);
        assert_string_equal(scram_server_authzid(s), "alice");
        scram_server_free(s);
        /* A type the channel lacks, and no binding on a -PLUS mechanism. */
        client_cb = NULL;
        assert_int_equal(client_run(h, "p=tls-unique,,", "n=alice,r=abc",
                                    NULL, "secret", &c, &s),
                         -ERR_PROTO);
        scram_server_free(s);
        assert_int_equal(
            client_run(h, "n,,", "n=alice,r=abc", NULL, "secret", &c, &s),
            -ERR_PROTO);
        scram_server_free(s);
        /* Plain SCRAM on a stream that offers -PLUS: "n" is fine, "y"
         * means the -PLUS offer was stripped, and "p=" needs -PLUS. */
        run_plus = false;
        assert_int_equal(
            client_run(h, "n,,", "n=alice,r=abc", NULL, "secret", &c, &s), 0);
        scram_server_free(s);
        assert_int_equal(
            client_run(h, "y,,", "n=alice,r=abc", NULL, "secret", &c, &s),
            -ERR_PROTO);
        scram_server_free(s);
        client_cb = cbs[0].data;
        assert_int_equal(client_run(h, "p=tls-exporter,,", "n=alice,r=abc",
                                    NULL, "secret", &c, &s),
                         -ERR_PROTO);
        scram_server_free(s);
        run_cbs = NULL;
        run_ncbs = 0;
        client_cb = NULL;
    }
}

static void test_client_variants(void **state)
{
    (void)state;
    struct scram_creds c;
    struct scram_server *s;
    for (int h = SCRAM_SHA1; h <= SCRAM_SHA256; h++) {
        assert_int_equal(scram_creds_from_password(h, "secret", 4096, &c), 0);

        assert_int_equal(
            client_run(h, "n,,", "n=alice,r=abc", NULL, "secret", &c, &s), 0);
        assert_string_equal(scram_server_username(s), "alice");
        assert_null(scram_server_authzid(s));
        /* A second client-final or client-first is refused. */
        struct buf out = BUF_INIT;
        assert_int_equal(scram_server_client_final(s, "c=biws", 6, &out),
                         -ERR_PROTO);
        assert_int_equal(scram_server_client_first(s, "n,,n=a,r=b", 10),
                         -ERR_PROTO);
        buf_free(&out);
        scram_server_free(s);

        /* "y": the client could bind but thinks we cannot (RFC 5802 §6). */
        assert_int_equal(
            client_run(h, "y,,", "n=alice,r=abc", NULL, "secret", &c, &s), 0);
        scram_server_free(s);

        assert_int_equal(client_run(h, "n,a=alice@example.com,",
                                    "n=alice,r=abc", NULL, "secret", &c, &s),
                         0);
        assert_string_equal(scram_server_authzid(s), "alice@example.com");
        scram_server_free(s);

        /* Escaped names: "=2C" is ',' and "=3D" is '='. */
        assert_int_equal(client_run(h, "n,a=a=2Cb=3Dc,", "n=x=3Dy=2Cz,r=abc",
                                    NULL, "secret", &c, &s),
                         0);
        assert_string_equal(scram_server_authzid(s), "a,b=c");
        assert_string_equal(scram_server_username(s), "x=y,z");
        scram_server_free(s);

        /* Unknown extensions are ignored, in both messages. */
        assert_int_equal(client_run(h, "n,,", "n=alice,r=abc,x=1,y=2", ",z=3",
                                    "secret", &c, &s),
                         0);
        scram_server_free(s);

        /* SASLprep applies to the username: U+00AD maps to nothing. */
        assert_int_equal(client_run(h, "n,,",
                                    "n=al\xc2\xad"
                                    "ice,r=abc",
                                    NULL, "secret", &c, &s),
                         0);
        assert_string_equal(scram_server_username(s), "alice");
        scram_server_free(s);

        assert_int_equal(
            client_run(h, "n,,", "n=alice,r=abc", NULL, "wrong", &c, &s),
            -ERR_AUTH);
        scram_server_free(s);
    }
}

static void test_server_nonce(void **state)
{
    (void)state;
    struct scram_creds c;
    scram_creds_fake(SCRAM_SHA256, "bob", &c);
    struct scram_server *s = scram_server_new(SCRAM_SHA256);
    const char *first = "n,,n=bob,r=clientnonce";
    assert_int_equal(scram_server_client_first(s, first, strlen(first)), 0);
    struct buf sf = BUF_INIT;
    scram_server_first(s, &c, &sf);
    const char *p = buf_cstr(&sf);
    assert_memory_equal(p, "r=clientnonce", 13);
    const char *comma = strchr(p, ',');
    assert_non_null(comma);
    assert_int_equal(comma - (p + 13), NONCE_SUFFIX_LEN);
    for (const char *q = p + 13; q < comma; q++)
        assert_true((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                    (*q >= '0' && *q <= '9'));
    buf_free(&sf);
    scram_server_free(s);
}

static void test_bad_client_first(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "n",
        "n,",
        "n,,",
        "x,,n=user,r=abc",
        "N,,n=user,r=abc",
        "p=tls-unique,,n=user,r=abc",
        "p=tls-exporter,a=user,n=user,r=abc",
        "p,,n=user,r=abc",
        "y,n=user,r=abc",
        "n,,m=ext,n=user,r=abc",
        "n,,N=user,r=abc",
        "n,,n=,r=abc",
        "n,,n=us=2Ber,r=abc",
        "n,,n=user=,r=abc",
        "n,,n=user=2,r=abc",
        "n,,n=us=,r=abc",
        "n,,n=user",
        "n,,n=user,",
        "n,,n=user,r=",
        "n,,n=user,r=a b",
        "n,,n=user,r=abc\x7f",
        "n,,n=user,r=ab\xc3\xa9",
        "n,,n=user,r=abc,",
        "n,,n=user,r=abc,m=x",
        "n,,n=user,r=abc,1=x",
        "n,,n=user,r=abc,x=",
        "n,,n=user,r=abc,x",
        "n,,n=user,r=abc,,x=1",
        "n,,r=abc,n=user",
        "n,,n=user,x=1,r=abc",
        "n,a=,n=user,r=abc",
        "n,a=x",
        "n,b=x,n=user,r=abc",
        "n,a=x=41,n=user,r=abc",
        "n,,n=us\xff"
        "er,r=abc",
        "n,,n=us\xc0\xaf"
        "er,r=abc", /* overlong '/' */
        "n,,n=us\xed\xa0\x80"
        "er,r=abc",                  /* surrogate */
        "n,a=\xe2\x82,n=user,r=abc", /* truncated sequence */
        "n,,n=us\x07"
        "er,r=abc",            /* SASLprep prohibits controls */
        "n,,n=\xc2\xad,r=abc", /* empty after SASLprep */
        "n,,n=\xd8\xa7"
        "a,r=abc", /* bidi: RandAL mixed with L */
        " n,,n=user,r=abc",
        "n ,,n=user,r=abc",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct scram_server *s = scram_server_new(SCRAM_SHA1);
        int r = scram_server_client_first(s, bad[i], strlen(bad[i]));
        if (r != -ERR_PROTO)
            fail_msg("accepted client-first #%zu \"%s\"", i, bad[i]);
        scram_server_free(s);
    }

    /* No message at all (an empty SASL response). */
    struct scram_server *e = scram_server_new(SCRAM_SHA1);
    assert_int_equal(scram_server_client_first(e, NULL, 0), -ERR_PROTO);
    scram_server_free(e);

    /* An embedded NUL. */
    struct scram_server *s = scram_server_new(SCRAM_SHA1);
    assert_int_equal(scram_server_client_first(s, "n,,n=us\0er,r=abc", 16),
                     -ERR_PROTO);
    scram_server_free(s);

    /* The length bound: 1024 bytes pass, 1025 do not. */
    char msg[1100];
    for (size_t n = 1024; n <= 1025; n++) {
        memset(msg, 'u', sizeof(msg));
        memcpy(msg, "n,,n=", 5);
        memcpy(msg + n - 6, ",r=abc", 6);
        s = scram_server_new(SCRAM_SHA1);
        assert_int_equal(scram_server_client_first(s, msg, n),
                         n == 1024 ? 0 : -ERR_PROTO);
        scram_server_free(s);
    }
}

/* Copies t to b with '~' replaced by nonce and '#' by the proof of the
 * RFC 5802 example. */
static void expand(struct buf *b, const char *t, const char *nonce)
{
    for (; *t; t++) {
        if (*t == '~')
            buf_append_str(b, nonce);
        else if (*t == '#')
            buf_append_str(b, "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
        else
            buf_append(b, t, 1);
    }
}

static void test_bad_client_final(void **state)
{
    (void)state;
    /* Each is sent after the RFC 5802 exchange's first two messages;
     * '~' stands for the combined nonce and '#' for the right proof. */
    static const char *const bad[] = {
        "",
        "c=biws",
        "c=biws,r=~",
        "c=biws,r=~,",
        "c=biws,r=~,p=",
        "c=biws,r=~,p",
        "c=biws,r=~,p=v0X8v3Bz2T0CJGbJQyF0X+HI4T",
        "c=biws,r=~,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts",
        "c=biws,r=~,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Tt=",
        /* Well-formed base64, but not 20 bytes. */
        "c=biws,r=~,p=v0X8v3Bz2T0CJGbJQyF0X+HI",
        "c=biws,r=~,p=djBYOHYzQnoyVDBDSkdiSlF5RjBYK0hJNFRzPQ==",
        "c=biws,r=~,p=#,x=1",
        "c=biws,r=~,m=1,p=#",
        "c=biws,r=~,x=,p=#",
        "c=biws,r=~,p=#,p=#",
        "c=eSws,r=~,p=#",
        "c=biwe,r=~,p=#",
        "c=,r=~,p=#",
        "c=biws=,r=~,p=#",
        "c=bi ws,r=~,p=#",
        "r=~,c=biws,p=#",
        "c=biws,p=#",
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL,p=#",
        "c=biws,r=~x,p=#",
        "c=biws,r=,p=#",
        "C=biws,r=~,p=#",
        "c=biws,R=~,p=#",
        "c=biws,r=~,P=#",
        "c=biws,r=~,p=#\x7f",
        " c=biws,r=~,p=#",
    };
    const char *nonce = "fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j";
    struct scram_creds c;
    creds_from_b64_salt(SCRAM_SHA1, "pencil", "QSXCR+Q6sek8bf92", 4096, &c);

    /* The placeholders expand to the right message. */
    struct buf ok = BUF_INIT, okf = BUF_INIT, oko = BUF_INIT;
    expand(&ok, "c=biws,r=~,p=#", nonce);
    assert_int_equal(exchange(SCRAM_SHA1, &c, "3rfcNHYJY1ZVvWVs7j",
                              "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
                              buf_cstr(&ok), &okf, &oko),
                     0);
    buf_free(&ok);
    buf_free(&okf);
    buf_free(&oko);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct buf final = BUF_INIT, sf = BUF_INIT, out = BUF_INIT;
        expand(&final, bad[i], nonce);
        int r = exchange(SCRAM_SHA1, &c, "3rfcNHYJY1ZVvWVs7j",
                         "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
                         buf_cstr(&final), &sf, &out);
        if (r != -ERR_PROTO)
            fail_msg("client-final #%zu \"%s\" gave %d", i, buf_cstr(&final),
                     r);
        assert_int_equal(buf_used(&out), 0);
        buf_free(&final);
        buf_free(&sf);
        buf_free(&out);
    }

    /* c= must carry the gs2-header actually sent, authzid included. */
    struct scram_server *s = scram_server_new(SCRAM_SHA1);
    const char *first = "n,a=user,n=user,r=abc";
    assert_int_equal(scram_server_client_first(s, first, strlen(first)), 0);
    struct buf sf = BUF_INIT, out = BUF_INIT;
    scram_server_first(s, &c, &sf);
    char final[256];
    snprintf(final, sizeof(final), "c=biws,r=abc%s,p=%s", s->suffix,
             "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
    assert_int_equal(scram_server_client_final(s, final, strlen(final), &out),
                     -ERR_PROTO);
    scram_server_free(s);
    buf_free(&sf);
    buf_free(&out);

    /* client-final before server-first. */
    s = scram_server_new(SCRAM_SHA1);
    assert_int_equal(scram_server_client_final(s, "c=biws", 6, &out),
                     -ERR_PROTO);
    scram_server_free(s);
}

static void test_fake_creds(void **state)
{
    (void)state;
    struct scram_creds a, b, c, d;
    scram_creds_fake(SCRAM_SHA256, "nobody", &a);
    scram_creds_fake(SCRAM_SHA256, "nobody", &b);
    scram_creds_fake(SCRAM_SHA256, "nobody2", &c);
    scram_creds_fake(SCRAM_SHA1, "nobody", &d);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_int_equal(a.salt_len, 16);
    assert_int_equal(a.key_len, 32);
    assert_int_equal(d.key_len, 20);
    assert_int_equal(a.iterations, SCRAM_DEFAULT_ITERATIONS);
    assert_memory_not_equal(a.salt, c.salt, a.salt_len);
    assert_memory_not_equal(a.salt, d.salt, a.salt_len);

    /* No password opens a fake account. */
    struct scram_server *s;
    assert_int_equal(
        client_run(SCRAM_SHA256, "n,,", "n=nobody,r=abc", NULL, "", &a, &s),
        -ERR_AUTH);
    scram_server_free(s);
    assert_int_equal(scram_check_password(SCRAM_SHA256, &a, "x"), -ERR_AUTH);
}

static void test_plain_check(void **state)
{
    (void)state;
    struct scram_creds c;
    creds_from_b64_salt(SCRAM_SHA1, "pencil", "QSXCR+Q6sek8bf92", 4096, &c);
    assert_int_equal(scram_check_password(SCRAM_SHA1, &c, "pencil"), 0);
    assert_int_equal(scram_check_password(SCRAM_SHA1, &c, "Pencil"), -ERR_AUTH);
    assert_int_equal(scram_check_password(SCRAM_SHA1, &c, ""), -ERR_AUTH);
    /* Credentials of the other hash never match. */
    assert_int_equal(scram_check_password(SCRAM_SHA256, &c, "pencil"),
                     -ERR_AUTH);

    for (int h = SCRAM_SHA1; h <= SCRAM_SHA256; h++) {
        struct scram_creds a, b;
        assert_int_equal(scram_creds_from_password(h, "pencil", 4096, &a), 0);
        assert_int_equal(scram_creds_from_password(h, "pencil", 4096, &b), 0);
        assert_int_equal(a.salt_len, 16);
        /* Fresh salt each time. */
        assert_memory_not_equal(a.salt, b.salt, a.salt_len);
        assert_int_equal(scram_check_password(h, &a, "pencil"), 0);
        assert_int_equal(scram_check_password(h, &b, "pencil"), 0);
        assert_int_equal(scram_check_password(h, &a, "pencil "), -ERR_AUTH);

        /* RFC 4013 §3: SOFT HYPHEN maps to nothing, ROMAN NUMERAL NINE
         * normalises to "IX", NO-BREAK SPACE to a space. */
        assert_int_equal(scram_creds_from_password(h, "IX", 4096, &a), 0);
        assert_int_equal(scram_check_password(h, &a, "I\xc2\xadX"), 0);
        assert_int_equal(scram_check_password(h, &a, "\xe2\x85\xa8"), 0);
        assert_int_equal(scram_check_password(h, &a, "ix"), -ERR_AUTH);
        assert_int_equal(scram_creds_from_password(h,
                                                   "a\xc2\xa0"
                                                   "b",
                                                   4096, &a),
                         0);
        assert_int_equal(scram_check_password(h, &a, "a b"), 0);

        /* Prohibited or empty passwords are refused. */
        assert_int_equal(scram_creds_from_password(h, "a\x07", 4096, &a),
                         -ERR_INVAL);
        assert_int_equal(scram_creds_from_password(h, "", 4096, &a),
                         -ERR_INVAL);
        assert_int_equal(scram_creds_from_password(h, "\xff", 4096, &a),
                         -ERR_INVAL);
        assert_int_equal(scram_creds_from_password(h, "x", 0, &a), -ERR_INVAL);
        assert_int_equal(scram_check_password(h, &b, "a\x07"), -ERR_AUTH);
    }
    assert_string_equal(scram_mech_name(SCRAM_SHA1), "SCRAM-SHA-1");
    assert_string_equal(scram_mech_name(SCRAM_SHA256), "SCRAM-SHA-256");
}

static void test_creds_format(void **state)
{
    (void)state;
    for (int h = SCRAM_SHA1; h <= SCRAM_SHA256; h++) {
        struct scram_creds a, b;
        assert_int_equal(scram_creds_from_password(h, "pencil", 4097, &a), 0);
        struct buf t = BUF_INIT;
        scram_creds_format(&a, &t);
        memset(&b, 0xAA, sizeof(b));
        assert_int_equal(scram_creds_parse(h, buf_cstr(&t), &b), 0);
        assert_int_equal(b.iterations, 4097);
        assert_int_equal(b.salt_len, a.salt_len);
        assert_int_equal(b.key_len, a.key_len);
        assert_memory_equal(b.salt, a.salt, a.salt_len);
        assert_memory_equal(b.stored_key, a.stored_key, a.key_len);
        assert_memory_equal(b.server_key, a.server_key, a.key_len);
        assert_int_equal(scram_check_password(h, &b, "pencil"), 0);
        /* The other hash's key length does not parse. */
        assert_int_equal(scram_creds_parse(!h, buf_cstr(&t), &b), -ERR_INVAL);
        buf_free(&t);
    }

    struct scram_creds c;
    creds_from_b64_salt(SCRAM_SHA1, "pencil", "QSXCR+Q6sek8bf92", 4096, &c);
    struct buf t = BUF_INIT;
    scram_creds_format(&c, &t);
    /* StoredKey and ServerKey of the RFC 5802 example. */
    assert_string_equal(buf_cstr(&t), "4096$QSXCR+Q6sek8bf92$"
                                      "6dlGYMOdZcOPutkcNY8U2g7vK9Y=$"
                                      "D+CSWLOshSulAsxiupA+qs2/fTE=");
    buf_free(&t);

    static const char *const bad[] = {
        "",
        "4096",
        "4096$QSXCR+Q6sek8bf92$6dlGYMOdZcOPutkcNY8U2g7vK9Y=",
        "4096$QSXCR+Q6sek8bf92$6dlGYMOdZcOPutkcNY8U2g7vK9Y=$"
        "D+CSWLOshSulAsxiupA+qs2/fTE=$",
        "0$QSXCR+Q6sek8bf92$6dlGYMOdZcOPutkcNY8U2g7vK9Y=$"
        "D+CSWLOshSulAsxiupA+qs2/fTE=",
        "04096$QSXCR+Q6sek8bf92$6dlGYMOdZcOPutkcNY8U2g7vK9Y=$"
        "D+CSWLOshSulAsxiupA+qs2/fTE=",
        "-1$QSXCR+Q6sek8bf92$6dlGYMOdZcOPutkcNY8U2g7vK9Y=$"
        "D+CSWLOshSulAsxiupA+qs2/fTE=",
        "99999999999$QSXCR+Q6sek8bf92$6dlGYMOdZcOPutkcNY8U2g7vK9Y=$"
        "D+CSWLOshSulAsxiupA+qs2/fTE=",
        "4096$$6dlGYMOdZcOPutkcNY8U2g7vK9Y=$D+CSWLOshSulAsxiupA+qs2/fTE=",
        "4096$QSXCR+Q6sek8bf9$6dlGYMOdZcOPutkcNY8U2g7vK9Y=$"
        "D+CSWLOshSulAsxiupA+qs2/fTE=",
        "4096$QSXCR+Q6sek8bf92$6dlGYMOdZcOPutkcNY8U2g7v$"
        "D+CSWLOshSulAsxiupA+qs2/fTE=",
        "4096$QSXCR+Q6sek8bf92$6dlGYMOdZcOPutkcNY8U2g7vK9Y=$"
        "D+CSWLOshSulAsxiupA+qs2/fTE=x",
        "4096x$QSXCR+Q6sek8bf92$6dlGYMOdZcOPutkcNY8U2g7vK9Y=$"
        "D+CSWLOshSulAsxiupA+qs2/fTE=",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (scram_creds_parse(SCRAM_SHA1, bad[i], &c) != -ERR_INVAL)
            fail_msg("parsed bad credentials #%zu \"%s\"", i, bad[i]);
}

/* RFC 4648 §10. */
static void test_base64_vectors(void **state)
{
    (void)state;
    static const char *const v[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct buf b = BUF_INIT;
        base64_encode(v[i][0], strlen(v[i][0]), &b);
        assert_int_equal(buf_used(&b), strlen(v[i][1]));
        assert_memory_equal(buf_cstr(&b), v[i][1], buf_used(&b));
        buf_reset(&b);
        assert_int_equal(base64_decode(v[i][1], strlen(v[i][1]), &b), 0);
        assert_int_equal(buf_used(&b), strlen(v[i][0]));
        if (buf_used(&b))
            assert_memory_equal(buf_data(&b), v[i][0], buf_used(&b));
        buf_free(&b);
    }

    /* Every byte value and every length round-trips. */
    unsigned char data[300];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7 + 3);
    for (size_t n = 0; n <= sizeof(data); n++) {
        struct buf e = BUF_INIT, d = BUF_INIT;
        base64_encode(data, n, &e);
        assert_int_equal(buf_used(&e), (n + 2) / 3 * 4);
        assert_int_equal(base64_decode(buf_cstr(&e), buf_used(&e), &d), 0);
        assert_int_equal(buf_used(&d), n);
        if (n)
            assert_memory_equal(buf_data(&d), data, n);
        buf_free(&e);
        buf_free(&d);
    }
}

static void test_base64_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zg=",    "Zg",        "Z",        "Z===",    "====",
        "Zm9v\n", "Zm 9v",     "Zm9v ",    "Zh==",    "Zm9=",
        "=Zg=",   "Zg==Zg==",  "Zm9v!A==", "Zg=a",    "Zm-v",
        "Zm_v",   "Zm9vYmFy=", "Zm9vY===", "Zm\x80v",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct buf b = BUF_INIT;
        buf_append_str(&b, "keep");
        if (base64_decode(bad[i], strlen(bad[i]), &b) != -ERR_INVAL)
            fail_msg("decoded bad base64 #%zu \"%s\"", i, bad[i]);
        /* The output is untouched on failure. */
        assert_int_equal(buf_used(&b), 4);
        assert_memory_equal(buf_data(&b), "keep", 4);
        buf_free(&b);
    }
    struct buf b = BUF_INIT;
    assert_int_equal(base64_decode("Zm\0v", 4, &b), -ERR_INVAL);
    buf_free(&b);
}

static void hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_crypto(void **state)
{
    (void)state;
    unsigned char d[CRYPTO_MAX_DIGEST];
    char x[2 * CRYPTO_MAX_DIGEST + 1];

    crypto_hash(CRYPTO_SHA1, "abc", 3, d);
    hex(d, 20, x);
    assert_string_equal(x, "a9993e364706816aba3e25717850c26c9cd0d89d");
    crypto_hash(CRYPTO_SHA256, "abc", 3, d);
    hex(d, 32, x);
    assert_string_equal(x, "ba7816bf8f01cfea414140de5dae2223"
                           "b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(crypto_digest_len(CRYPTO_SHA512), 64);

    /* RFC 4231 §4.3, test case 2. */
    const char *msg = "what do ya want for nothing?";
    crypto_hmac(CRYPTO_SHA256, "Jefe", 4, msg, strlen(msg), d);
    hex(d, 32, x);
    assert_string_equal(x, "5bdcc146bf60754e6a042426089575c7"
                           "5a003f089d2739839dec58b964ec3843");
    /* RFC 2202 §3, test case 2. */
    crypto_hmac(CRYPTO_SHA1, "Jefe", 4, msg, strlen(msg), d);
    hex(d, 20, x);
    assert_string_equal(x, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");

    /* RFC 6070, PBKDF2-HMAC-SHA1, c = 4096. */
    crypto_pbkdf2(CRYPTO_SHA1, "password", 8, (const unsigned char *)"salt", 4,
                  4096, d);
    hex(d, 20, x);
    assert_string_equal(x, "4b007901b765489abead49d926f721d065a429c1");
    /* RFC 6070 test 5, first 20 bytes: password and salt over a block. */
    crypto_pbkdf2(CRYPTO_SHA1, "passwordPASSWORDpassword", 24,
                  (const unsigned char *)"saltSALTsaltSALTsaltSALTsaltSALTsalt",
                  36, 4096, d);
    hex(d, 20, x);
    assert_string_equal(x, "3d2eec4fe41c849b80c8d83662c0e44a8b291a96");
    /* RFC 7914 §11, PBKDF2-HMAC-SHA256, c = 1, first 32 bytes. */
    crypto_pbkdf2(CRYPTO_SHA256, "passwd", 6, (const unsigned char *)"salt", 4,
                  1, d);
    hex(d, 32, x);
    assert_string_equal(x, "55ac046e56e3089fec1691c22544b605"
                           "f94185216dde0465e68b9d57c20dacbc");
    /* The same bytes as OpenSSL's own PBKDF2, keys longer than a block
     * included. */
    for (unsigned len = 0; len < 150; len += 7) {
        char pw[160];
        unsigned char salt[20], want[32];
        for (unsigned i = 0; i < len; i++)
            pw[i] = (char)('!' + (i * 13 + len) % 90);
        crypto_random(salt, sizeof(salt));
        for (int sha256 = 0; sha256 < 2; sha256++) {
            size_t dl = sha256 ? 32 : 20;
            assert_int_equal(PKCS5_PBKDF2_HMAC(pw, (int)len, salt,
                                               sizeof(salt), 100,
                                               sha256 ? EVP_sha256()
                                                      : EVP_sha1(),
                                               (int)dl, want),
                             1);
            crypto_pbkdf2(sha256 ? CRYPTO_SHA256 : CRYPTO_SHA1, pw, len, salt,
                          sizeof(salt), 100, d);
            assert_memory_equal(d, want, dl);
        }
    }

    assert_true(crypto_equal("abcd", "abcd", 4));
    assert_false(crypto_equal("abcd", "abce", 4));

    char tok[65], tok2[65];
    crypto_random_token(tok, 64);
    crypto_random_token(tok2, 64);
    assert_int_equal(strlen(tok), 64);
    assert_string_not_equal(tok, tok2);
    for (size_t i = 0; i < 64; i++)
        assert_true((tok[i] >= 'a' && tok[i] <= 'z') ||
                    (tok[i] >= 'A' && tok[i] <= 'Z') ||
                    (tok[i] >= '0' && tok[i] <= '9'));
    crypto_random_token(tok, 0);
    assert_string_equal(tok, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5802_sha1),
        cmocka_unit_test(test_rfc7677_sha256),
        cmocka_unit_test(test_wrong_proof),
        cmocka_unit_test(test_client_variants),
        cmocka_unit_test(test_channel_binding),
        cmocka_unit_test(test_server_nonce),
        cmocka_unit_test(test_bad_client_first),
        cmocka_unit_test(test_bad_client_final),
        cmocka_unit_test(test_fake_creds),
        cmocka_unit_test(test_plain_check),
        cmocka_unit_test(test_creds_format),
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_base64_bad),
        cmocka_unit_test(test_crypto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
