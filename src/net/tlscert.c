/* tlscert.c -- see tlscert.h. One of the three files (with net/tls.c and
 * core/crypto.c) that include OpenSSL.
 *
 * The certificate follows RFC 5280 for an end-entity server certificate
 * and RFC 6125 for naming: the domain appears as a DNS-ID in
 * subjectAltName, which is what clients check (RFC 6120 §13.7.1.2); CN
 * is kept only for old tools that display it. No XmppAddr or SRV-ID is
 * added: a self-signed certificate is accepted by pinning, not by name.
 *
 * Not here: loading certificates and running TLS (net/tls.c), or
 * renewing through ACME, which is left to the operator's tools. */
#include "net/tlscert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <idna.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/err.h"

#define VALID_DAYS    3650 /* ten years */
#define BACKDATE_SECS 3600 /* tolerate clients whose clock is behind */
#define CN_MAX        64   /* ub-common-name, RFC 5280 Appendix A.1 */
#define DNS_NAME_MAX  253  /* RFC 1035 §2.3.4, without the final dot */

enum pem_kind { PEM_KEY, PEM_CERT };

struct name {
    char *host;           /* owned, ASCII, lowercase */
    bool is_ip;           /* an IPv4 or IPv6 address */
    unsigned char ip[16]; /* the address when is_ip */
    size_t ip_len;        /* 4 or 16 */
};

static void ossl_error(char *err, size_t errsz, const char *what);
static int name_of(const char *domain, struct name *n, char *err, size_t errsz);
static int add_ext(X509 *x, int nid, const char *value);
static int add_san(X509 *x, const struct name *n, bool critical);
static int write_pem(const char *path, mode_t mode, enum pem_kind kind,
                     void *obj, char *err, size_t errsz);

static void ossl_error(char *err, size_t errsz, const char *what)
{
    unsigned long e = ERR_get_error();
    char reason[200];
    ERR_error_string_n(e, reason, sizeof(reason));
    snprintf(err, errsz, "%s: %s", what, e ? reason : "unknown error");
    ERR_clear_error();
}

/* Turns the configured domain into the name the certificate carries: an
 * IP address, or an ASCII host name (an IDN becomes its A-label form,
 * RFC 5890, since dNSName is an IA5String). Anything that could not be
 * a host name is refused, which also keeps separators out of the
 * certificate fields. */
static int name_of(const char *domain, struct name *n, char *err, size_t errsz)
{
    memset(n, 0, sizeof(*n));
    size_t len = strlen(domain);
    if (len == 0 || len > DNS_NAME_MAX * 4) {
        snprintf(err, errsz, "domain is empty or too long");
        return -ERR_INVAL;
    }

    /* An address, bare or as an IPv6 literal in brackets. */
    char lit[64];
    const char *a = domain;
    size_t al = len;
    if (len >= 2 && domain[0] == '[' && domain[len - 1] == ']') {
        a = domain + 1;
        al = len - 2;
    }
    if (al < sizeof(lit)) {
        memcpy(lit, a, al);
        lit[al] = '\0';
        if (inet_pton(AF_INET, lit, n->ip) == 1)
            n->ip_len = 4;
        else if (inet_pton(AF_INET6, lit, n->ip) == 1)
            n->ip_len = 16;
    }
    if (n->ip_len) {
        n->is_ip = true;
        n->host = xstrdup(lit);
        return 0;
    }

    bool ascii = true;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)domain[i] >= 0x80)
            ascii = false;
    if (ascii) {
        n->host = xstrdup(domain);
    } else {
        char *a = NULL;
        if (idna_to_ascii_8z(domain, &a, IDNA_USE_STD3_ASCII_RULES) !=
            IDNA_SUCCESS) {
            free(a);
            snprintf(err, errsz, "domain is not a valid host name");
            return -ERR_INVAL;
        }
        /* Owned by libidn's allocator, which is malloc. */
        n->host = a;
    }

    size_t hl = strlen(n->host);
    if (hl > 0 && n->host[hl - 1] == '.')
        n->host[--hl] = '\0';
    bool ok = hl > 0 && hl <= DNS_NAME_MAX;
    size_t label = 0;
    for (size_t i = 0; ok && i <= hl; i++) {
        char c = n->host[i];
        if (c == '.' || c == '\0') {
            ok = label > 0 && label <= 63 && n->host[i - 1] != '-' &&
                 n->host[i - label] != '-';
            label = 0;
            continue;
        }
        if (c >= 'A' && c <= 'Z')
            n->host[i] = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-'))
            ok = false;
        label++;
    }
    if (!ok) {
        FREE_NULL(n->host);
        snprintf(err, errsz, "domain is not a valid host name");
        return -ERR_INVAL;
    }
    return 0;
}

/* Adds an extension given in OpenSSL's configuration syntax. Only
 * constant strings are passed, never the domain. */
static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -ERR_TLS;
    int r = X509_add_ext(x, ext, -1) == 1 ? 0 : -ERR_TLS;
    X509_EXTENSION_free(ext);
    return r;
}

/* subjectAltName, built from structures rather than a configuration
 * string, so nothing in the name is interpreted. */
static int add_san(X509 *x, const struct name *n, bool critical)
{
    int r = -ERR_TLS;
    char *wild = NULL;
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    if (!names)
        return -ERR_TLS;
    size_t count = n->is_ip ? 1 : 2;
    for (size_t i = 0; i < count; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_STRING *v =
            n->is_ip ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
        if (!g || !v) {
            GENERAL_NAME_free(g);
            ASN1_STRING_free(v);
            goto done;
        }
        int ok;
        if (n->is_ip) {
            ok = ASN1_OCTET_STRING_set(v, n->ip, (int)n->ip_len);
        } else if (i == 0) {
            ok = ASN1_STRING_set(v, n->host, -1);
        } else {
            size_t hl = strlen(n->host);
            wild = xmalloc(hl + 3);
            memcpy(wild, "*.", 2);
            memcpy(wild + 2, n->host, hl + 1);
            ok = ASN1_STRING_set(v, wild, -1);
        }
        GENERAL_NAME_set0_value(g, n->is_ip ? GEN_IPADD : GEN_DNS, v);
        if (!ok || !sk_GENERAL_NAME_push(names, g)) {
            GENERAL_NAME_free(g);
            goto done;
        }
    }
    if (X509_add1_ext_i2d(x, NID_subject_alt_name, names, critical ? 1 : 0,
                          X509V3_ADD_DEFAULT) == 1)
        r = 0;
done:
    free(wild);
    GENERAL_NAMES_free(names);
    return r;
}

/* Writes obj as PEM to a temporary file beside path, with mode, then
 * renames it over path once it is complete and synced. */
static int write_pem(const char *path, mode_t mode, enum pem_kind kind,
                     void *obj, char *err, size_t errsz)
{
    size_t pl = strlen(path);
    char *tmp = xmalloc(pl + 8);
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".XXXXXX", 8);
    FILE *f = NULL;
    int r = -ERR_IO;

    /* mkstemp creates the file with mode 0600, so the key is never
     * readable by others, even for a moment. */
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        free(tmp);
        return -ERR_IO;
    }
    if (fchmod(fd, mode) != 0 || !(f = fdopen(fd, "w"))) {
        snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
        close(fd);
        goto fail;
    }
    int ok = kind == PEM_KEY
                 ? PEM_write_PrivateKey(f, obj, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_X509(f, obj);
    if (ok != 1) {
        ossl_error(err, errsz, "writing PEM");
        r = -ERR_TLS;
        goto fail;
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
        goto fail;
    }
    int c = fclose(f);
    f = NULL;
    if (c != 0 || rename(tmp, path) != 0) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        goto fail;
    }
    free(tmp);
    return 0;
fail:
    if (f)
        fclose(f);
    unlink(tmp);
    free(tmp);
    return r;
}

int tlscert_make_selfsigned(const char *domain, const char *cert_path,
                            const char *key_path, char *err, size_t errsz)
{
    struct name n;
    EVP_PKEY *key = NULL;
    X509 *x = NULL;
    BIGNUM *serial = NULL;
    int r;

    if (errsz > 0)
        err[0] = '\0';
    if ((r = name_of(domain, &n, err, errsz)) < 0)
        return r;
    r = -ERR_TLS;

    key = EVP_EC_gen("P-256");
    if (!key) {
        ossl_error(err, errsz, "generating the key");
        goto fail;
    }
    x = X509_new();
    serial = BN_new();
    if (!x || !serial) {
        ossl_error(err, errsz, "allocating the certificate");
        goto fail;
    }
    /* A positive random 127-bit serial (RFC 5280 §4.1.2.2: at most 20
     * octets, unique per issuer; random covers regenerations). */
    if (X509_set_version(x, X509_VERSION_3) != 1 ||
        BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_SECS) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), VALID_DAYS, 0, NULL) ||
        X509_set_pubkey(x, key) != 1) {
        ossl_error(err, errsz, "filling in the certificate");
        goto fail;
    }

    /* CN holds at most 64 characters; a longer name goes without CN, and
     * then RFC 5280 §4.2.1.6 wants subjectAltName critical. */
    X509_NAME *subj = X509_get_subject_name(x);
    bool has_cn = strlen(n.host) <= CN_MAX;
    if ((has_cn && X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
                                              (const unsigned char *)n.host, -1,
                                              -1, 0) != 1) ||
        X509_set_issuer_name(x, subj) != 1) {
        ossl_error(err, errsz, "setting the subject");
        goto fail;
    }
    if (add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
        add_ext(x, NID_ext_key_usage, "serverAuth,clientAuth") < 0 ||
        add_ext(x, NID_subject_key_identifier, "hash") < 0 ||
        add_san(x, &n, !has_cn) < 0) {
        ossl_error(err, errsz, "adding extensions");
        goto fail;
    }
    if (X509_sign(x, key, EVP_sha256()) <= 0) {
        ossl_error(err, errsz, "signing the certificate");
        goto fail;
    }

    /* The key first: a certificate without its key is useless, and
     * theked regenerates both when either is missing. */
    if ((r = write_pem(key_path, 0600, PEM_KEY, key, err, errsz)) < 0 ||
        (r = write_pem(cert_path, 0644, PEM_CERT, x, err, errsz)) < 0)
        goto fail;
    r = 0;
fail:
    BN_free(serial);
    X509_free(x);
    EVP_PKEY_free(key);
    free(n.host);
    return r;
}
