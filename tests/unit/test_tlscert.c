/* test_tlscert.c -- the self-signed certificate: generated into a
 * temporary directory, then loaded back and inspected with OpenSSL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "net/tlscert.h"

struct paths {
    char dir[64];
    char cert[128];
    char key[128];
};

static int setup(void **state)
{
    struct paths *p = calloc(1, sizeof(*p));
    if (!p)
        return -1;
    snprintf(p->dir, sizeof(p->dir), "/tmp/theke-tlscert-XXXXXX");
    if (!mkdtemp(p->dir)) {
        free(p);
        return -1;
    }
    snprintf(p->cert, sizeof(p->cert), "%s/cert.pem", p->dir);
    snprintf(p->key, sizeof(p->key), "%s/key.pem", p->dir);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct paths *p = *state;
    DIR *d = opendir(p->dir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", p->dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(p->dir);
    free(p);
    return 0;
}

static size_t count_files(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static X509 *load_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

static EVP_PKEY *load_key(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(k);
    return k;
}

/* The DNS names in subjectAltName, joined by spaces. */
static void san_names(X509 *x, char *out, size_t outsz)
{
    out[0] = '\0';
    GENERAL_NAMES *names =
        X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    assert_non_null(names);
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type != GEN_DNS)
            continue;
        const ASN1_IA5STRING *s = g->d.dNSName;
        size_t used = strlen(out);
        snprintf(out + used, outsz - used, "%s%.*s", used ? " " : "",
                 ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
    }
    GENERAL_NAMES_free(names);
}

static void test_generate(void **state)
{
    struct paths *p = *state;
    char err[256] = "untouched";
    assert_int_equal(tlscert_make_selfsigned("chat.example.com", p->cert,
                                             p->key, err, sizeof(err)),
                     0);
    /* Only the two files; no temporary left behind. */
    assert_int_equal(count_files(p->dir), 2);

    struct stat st;
    assert_int_equal(stat(p->key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(p->cert, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0044);

    X509 *x = load_cert(p->cert);
    EVP_PKEY *k = load_key(p->key);

    assert_int_equal(X509_get_version(x), X509_VERSION_3);
    assert_int_equal(X509_check_private_key(x, k), 1);
    assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
    /* Self-signed: the signature verifies with its own key. */
    assert_int_equal(X509_verify(x, k), 1);
    assert_int_equal(
        X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);

    char cn[128];
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
                                          NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, "chat.example.com");

    char names[256];
    san_names(x, names, sizeof(names));
    assert_string_equal(names, "chat.example.com *.chat.example.com");
    assert_int_equal(X509_check_host(x, "chat.example.com", 0, 0, NULL), 1);
    assert_int_equal(
        X509_check_host(x, "conference.chat.example.com", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(x, "example.com", 0, 0, NULL), 0);

    /* Usable for a TLS server, and not a CA. */
    assert_int_equal(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
    assert_int_equal(X509_check_ca(x), 0);

    /* Valid from now (give or take the backdating) for ten years. */
    int days, secs;
    assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notBefore(x)),
                     1);
    assert_true(days == 0 && secs <= 0 && secs > -7200);
    assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)),
                     1);
    assert_true(days >= 3649 && days <= 3650);

    X509_free(x);
    EVP_PKEY_free(k);
}

static void test_regenerate_replaces(void **state)
{
    struct paths *p = *state;
    char err[256];
    assert_int_equal(
        tlscert_make_selfsigned("a.example", p->cert, p->key, err, sizeof(err)),
        0);
    X509 *a = load_cert(p->cert);
    assert_int_equal(
        tlscert_make_selfsigned("b.example", p->cert, p->key, err, sizeof(err)),
        0);
    X509 *b = load_cert(p->cert);
    EVP_PKEY *k = load_key(p->key);
    assert_int_equal(count_files(p->dir), 2);
    assert_int_equal(X509_check_host(b, "b.example", 0, 0, NULL), 1);
    assert_int_equal(X509_check_private_key(b, k), 1);
    assert_int_not_equal(
        ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)),
        0);
    X509_free(a);
    X509_free(b);
    EVP_PKEY_free(k);
}

static void test_names(void **state)
{
    struct paths *p = *state;
    char err[256], names[512];

    /* Case and a trailing dot are normalised. */
    assert_int_equal(tlscert_make_selfsigned("Example.ORG.", p->cert, p->key,
                                             err, sizeof(err)),
                     0);
    X509 *x = load_cert(p->cert);
    san_names(x, names, sizeof(names));
    assert_string_equal(names, "example.org *.example.org");
    X509_free(x);

    /* An IDN becomes its A-label. */
    assert_int_equal(tlscert_make_selfsigned("b\xc3\xbc"
                                             "cher.example",
                                             p->cert, p->key, err, sizeof(err)),
                     0);
    x = load_cert(p->cert);
    san_names(x, names, sizeof(names));
    assert_string_equal(names, "xn--bcher-kva.example *.xn--bcher-kva.example");
    X509_free(x);

    /* An address gets an iPAddress entry and no wildcard. */
    assert_int_equal(
        tlscert_make_selfsigned("127.0.0.1", p->cert, p->key, err, sizeof(err)),
        0);
    x = load_cert(p->cert);
    assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    X509_free(x);
    assert_int_equal(
        tlscert_make_selfsigned("[::1]", p->cert, p->key, err, sizeof(err)), 0);
    x = load_cert(p->cert);
    assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
    X509_free(x);

    /* A name too long for CN still works, through a critical SAN. */
    char longname[200];
    memset(longname, 'a', 60);
    memcpy(longname + 60, ".", 1);
    memset(longname + 61, 'b', 60);
    strcpy(longname + 121, ".example");
    assert_int_equal(
        tlscert_make_selfsigned(longname, p->cert, p->key, err, sizeof(err)),
        0);
    x = load_cert(p->cert);
    assert_int_equal(X509_check_host(x, longname, 0, 0, NULL), 1);
    int crit = -1;
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    assert_int_equal(crit, 1);
    GENERAL_NAMES_free(g);
    X509_free(x);
}

static void test_errors(void **state)
{
    struct paths *p = *state;
    char err[256];
    static const char *const bad[] = {
        "",           ".",          "a b",         "a,DNS:evil.example", "a/b",
        "-a.example", "a..example", "a_b.example", "\xff.example",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (tlscert_make_selfsigned(bad[i], p->cert, p->key, err,
                                    sizeof(err)) != -ERR_INVAL)
            fail_msg("accepted domain #%zu \"%s\"", i, bad[i]);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(count_files(p->dir), 0);

    char cert[256], key[256];
    snprintf(cert, sizeof(cert), "%s/missing/cert.pem", p->dir);
    snprintf(key, sizeof(key), "%s/missing/key.pem", p->dir);
    assert_int_equal(
        tlscert_make_selfsigned("example.com", cert, key, err, sizeof(err)),
        -ERR_IO);
    assert_non_null(strstr(err, "missing"));
    assert_int_equal(count_files(p->dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_generate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regenerate_replaces, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
