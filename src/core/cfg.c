/* cfg.c -- reads the configuration file (see cfg.h for the format).
 *
 * Every key is declared once in the keys[] table with its type and
 * bounds, so parsing, range checks and error messages are the same for
 * all of them. A file is applied all or nothing: cfg_load() parses into
 * a copy and only replaces the caller's struct when the whole file is
 * valid, so a reload with a typo keeps the running configuration.
 *
 * What it does not do: check that paths exist or that a listener address
 * can be bound; the server reports those when it uses them. */
#include "core/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "xmpp/jid.h"

#define CFG_LINE_MAX  4096 /* bytes per line, without the newline */
#define CFG_VALUE_MAX 1024 /* bytes per value */
#define CFG_HOST_MAX  253  /* bytes of a listener's host part */

enum key_type {
    KT_DOMAIN,       /* nameprep'd, non-empty */
    KT_STRING,       /* non-empty string */
    KT_OPT_STRING,   /* string, "" = NULL */
    KT_LISTEN,       /* "host:port", "[v6]:port", "" or "off" = "" */
    KT_REGISTRATION, /* enum cfg_registration */
    KT_LOG_LEVEL,    /* enum log_level */
    KT_BOOL,
    KT_UINT, /* unsigned in [min, max] */
    KT_SIZE, /* size_t in [min, max] */
    KT_COMPONENT, /* "domain secret", may be repeated */
};

struct key {
    const char *name;
    enum key_type type;
    size_t off;        /* offset of the field in struct cfg */
    unsigned long min; /* KT_UINT, KT_SIZE */
    unsigned long max;
};

#define F(field) offsetof(struct cfg, field)

static const struct key keys[] = {
    {"domain", KT_DOMAIN, F(domain), 0, 0},
    {"data_dir", KT_STRING, F(data_dir), 0, 0},
    {"c2s", KT_LISTEN, F(c2s), 0, 0},
    {"c2s_tls", KT_LISTEN, F(c2s_tls), 0, 0},
    {"http", KT_LISTEN, F(http), 0, 0},
    {"https", KT_LISTEN, F(https), 0, 0},
    {"http_max_body", KT_SIZE, F(http_max_body), 0, 1073741824},
    {"upload_max_file_size", KT_SIZE, F(upload_max_file_size), 0,
     1073741824},
    {"upload_quota", KT_SIZE, F(upload_quota), 0, 1099511627776ul},
    {"upload_expire_days", KT_UINT, F(upload_expire_days), 1, 3650},
    {"http_timeout", KT_UINT, F(http_timeout), 1, 3600},
    {"http_public_url", KT_OPT_STRING, F(http_public_url), 0, 0},
    {"websocket_url", KT_OPT_STRING, F(websocket_url), 0, 0},
    {"http_trust_proxy", KT_BOOL, F(http_trust_proxy), 0, 0},
    {"tls_cert", KT_OPT_STRING, F(tls_cert), 0, 0},
    {"tls_key", KT_OPT_STRING, F(tls_key), 0, 0},
    {"registration", KT_REGISTRATION, F(registration), 0, 0},
    {"max_stanza_size", KT_SIZE, F(max_stanza_size), 1024, 16777216},
    {"log_level", KT_LOG_LEVEL, F(log_level), 0, 0},
    {"c2s_require_encryption", KT_BOOL, F(c2s_require_encryption), 0, 0},
    /* RFC 7677 §4: at least 4096; the ceiling bounds the CPU one login
     * may cost. */
    {"scram_iterations", KT_UINT, F(scram_iterations), 4096, 1000000},
    {"auth_timeout", KT_UINT, F(auth_timeout), 1, 3600},
    {"idle_timeout", KT_UINT, F(idle_timeout), 1, 86400},
    {"worker_threads", KT_UINT, F(worker_threads), 0, 64},
    {"io_threads", KT_UINT, F(io_threads), 0, 64},
    {"max_offline", KT_UINT, F(max_offline), 0, 1000000},
    /* XEP-0198: how long a broken session waits to be resumed (0: no
     * resumption) and how many stanzas may wait for an ack. */
    {"fast_token_days", KT_UINT, F(fast_token_days), 0, 3650},
    {"sm_resume_timeout", KT_UINT, F(sm_resume_timeout), 0, 86400},
    {"sm_max_unacked", KT_UINT, F(sm_max_unacked), 10, 100000},
    {"archive_retention_days", KT_UINT, F(archive_retention_days), 0, 36500},
    {"external_services", KT_OPT_STRING, F(external_services), 0, 0},
    {"turn_secret", KT_OPT_STRING, F(turn_secret), 0, 0},
    {"turn_credential_ttl", KT_UINT, F(turn_credential_ttl), 60, 604800},
    {"contact_abuse", KT_OPT_STRING, F(contact_abuse), 0, 0},
    {"contact_admin", KT_OPT_STRING, F(contact_admin), 0, 0},
    {"contact_feedback", KT_OPT_STRING, F(contact_feedback), 0, 0},
    {"contact_sales", KT_OPT_STRING, F(contact_sales), 0, 0},
    {"contact_security", KT_OPT_STRING, F(contact_security), 0, 0},
    {"contact_status", KT_OPT_STRING, F(contact_status), 0, 0},
    {"contact_support", KT_OPT_STRING, F(contact_support), 0, 0},
    {"component_listen", KT_LISTEN, F(component_listen), 0, 0},
    {"component", KT_COMPONENT, 0, 0, 0},
};

#define CFG_COMPONENTS_MAX 64
#define CFG_SECRET_MAX 256

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

/* Where the parser is, for error messages. */
struct pos {
    const char *path;
    unsigned line;
    char *err;
    size_t errsz;
};

static int perr(const struct pos *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char **str_field(struct cfg *c, const struct key *k);
static void copy_cfg(struct cfg *dst, const struct cfg *src);
static const struct key *find_key(const char *name);
static bool key_chars_ok(const char *s);
static int parse_uint(const char *s, unsigned long min, unsigned long max,
                      unsigned long *out);
static int parse_bool(const char *s, bool *out);
static int check_listen(const char *v);
static int set_domain(char **field, const char *v);
static int apply(struct cfg *c, const struct key *k, const char *v,
                 const struct pos *p);
static int read_line(FILE *f, char *line, size_t *len);
static int parse_line(struct cfg *c, char *line, unsigned *seen,
                      const struct pos *p);

void cfg_defaults(struct cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->domain = xstrdup("localhost");
    c->data_dir = xstrdup("./data");
    c->c2s = xstrdup("127.0.0.1:5222");
    c->c2s_tls = xstrdup("127.0.0.1:5223");
    c->http = xstrdup("127.0.0.1:5280");
    c->https = xstrdup("");
    c->http_max_body = 1u << 20;
    c->upload_max_file_size = 10u << 20;
    c->upload_quota = 100u << 20;
    c->upload_expire_days = 30;
    c->http_timeout = 30;
    c->tls_cert = NULL;
    c->tls_key = NULL;
    c->registration = REG_CLOSED;
    c->max_stanza_size = 262144;
    c->log_level = LOG_INFO;
    c->c2s_require_encryption = true;
    c->scram_iterations = 4096;
    c->auth_timeout = 30;
    c->idle_timeout = 300;
    c->max_offline = 1000;
    c->fast_token_days = 21;
    c->sm_resume_timeout = 300;
    c->sm_max_unacked = 500;
    c->archive_retention_days = 365;
    c->turn_credential_ttl = 86400;
    c->component_listen = xstrdup("");
}

static void free_components(struct cfg *c)
{
    for (unsigned i = 0; i < c->ncomponents; i++) {
        free(c->components[i].domain);
        free(c->components[i].secret);
    }
    FREE_NULL(c->components);
    c->ncomponents = 0;
}

void cfg_free(struct cfg *c)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        char **s = str_field(c, &keys[i]);
        if (s)
            FREE_NULL(*s);
    }
    free_components(c);
}

static int perr(const struct pos *p, const char *fmt, ...)
{
    if (p->errsz == 0)
        return -ERR_CONFIG;
    int n = p->line ? snprintf(p->err, p->errsz, "%s:%u: ", p->path, p->line)
                    : snprintf(p->err, p->errsz, "%s: ", p->path);
    if (n >= 0 && (size_t)n < p->errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errsz - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -ERR_CONFIG;
}

/* The char * field a string-typed key fills, NULL for other types. */
static char **str_field(struct cfg *c, const struct key *k)
{
    switch (k->type) {
    case KT_DOMAIN:
    case KT_STRING:
    case KT_OPT_STRING:
    case KT_LISTEN:
        return (char **)((char *)c + k->off);
    default:
        return NULL;
    }
}

/* Owned deep copy. */
static void copy_cfg(struct cfg *dst, const struct cfg *src)
{
    *dst = *src;
    for (size_t i = 0; i < N_KEYS; i++) {
        char **s = str_field(dst, &keys[i]);
        if (s)
            *s = xstrdup(*s);
    }
    if (src->ncomponents) {
        dst->components =
            xcalloc(src->ncomponents, sizeof(*dst->components));
        for (unsigned i = 0; i < src->ncomponents; i++) {
            dst->components[i].domain = xstrdup(src->components[i].domain);
            dst->components[i].secret = xstrdup(src->components[i].secret);
        }
    }
}

/* "domain secret": a component's domain and the secret of its handshake. */
static int add_component(struct cfg *c, const struct key *k, const char *v,
                         const struct pos *p)
{
    const char *sp = strpbrk(v, " \t");
    if (!sp)
        return perr(p, "%s: expected 'DOMAIN SECRET'", k->name);
    const char *secret = sp;
    while (*secret == ' ' || *secret == '\t')
        secret++;
    if (!*secret || strpbrk(secret, " \t"))
        return perr(p, "%s: expected 'DOMAIN SECRET' (the secret without "
                       "spaces)", k->name);
    if (strlen(secret) > CFG_SECRET_MAX)
        return perr(p, "%s: secret longer than %d bytes", k->name,
                    CFG_SECRET_MAX);
    if (c->ncomponents == CFG_COMPONENTS_MAX)
        return perr(p, "%s: more than %d components", k->name,
                    CFG_COMPONENTS_MAX);
    char *domain = NULL, *raw = xstrndup(v, (size_t)(sp - v));
    int r = set_domain(&domain, raw);
    free(raw);
    if (r < 0)
        return perr(p, "%s: not a valid domain name", k->name);
    for (unsigned i = 0; i < c->ncomponents; i++) {
        if (strcmp(c->components[i].domain, domain) == 0) {
            free(domain);
            return perr(p, "%s: %s is listed twice", k->name,
                        c->components[i].domain);
        }
    }
    c->components = xrealloc(c->components, (c->ncomponents + 1) *
                                                sizeof(*c->components));
    c->components[c->ncomponents].domain = domain;
    c->components[c->ncomponents].secret = xstrdup(secret);
    c->ncomponents++;
    return 0;
}

static const struct key *find_key(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    }
    return NULL;
}

/* Keys are echoed in messages only when they look like keys, so a
 * binary line cannot garble the terminal. */
static bool key_chars_ok(const char *s)
{
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return false;
    }
    return true;
}

/* Decimal digits only: no sign, no spaces, no hex. */
static int parse_uint(const char *s, unsigned long min, unsigned long max,
                      unsigned long *out)
{
    unsigned long v = 0;
    if (!*s)
        return -ERR_INVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -ERR_INVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (ULONG_MAX - d) / 10)
            return -ERR_INVAL;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -ERR_INVAL;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -ERR_INVAL;
}

/* Syntax only: "host:port" with a name or IPv4 address, or "[v6]:port"
 * with an IPv6 address; the port in 1..65535. Returns 0, -ERR_INVAL for
 * a bad form, -ERR_LIMIT for a bad port. */
static int check_listen(const char *v)
{
    const char *colon;
    if (v[0] == '[') {
        const char *end = strchr(v, ']');
        if (!end || end[1] != ':')
            return -ERR_INVAL;
        size_t hl = (size_t)(end - v - 1);
        char host[INET6_ADDRSTRLEN + 1];
        struct in6_addr a;
        if (hl == 0 || hl >= sizeof(host))
            return -ERR_INVAL;
        memcpy(host, v + 1, hl);
        host[hl] = '\0';
        if (inet_pton(AF_INET6, host, &a) != 1)
            return -ERR_INVAL;
        colon = end + 1;
    } else {
        colon = strchr(v, ':');
        /* An IPv6 address without brackets has more than one colon. */
        if (!colon || colon == v || strchr(colon + 1, ':') ||
            (size_t)(colon - v) > CFG_HOST_MAX)
            return -ERR_INVAL;
        for (const char *h = v; h < colon; h++) {
            if (!isalnum((unsigned char)*h) && *h != '.' && *h != '-' &&
                *h != '_')
                return -ERR_INVAL;
        }
    }
    unsigned long port;
    if (!colon[1])
        return -ERR_INVAL;
    for (const char *d = colon + 1; *d; d++) {
        if (*d < '0' || *d > '9')
            return -ERR_INVAL;
    }
    if (parse_uint(colon + 1, 1, 65535, &port) < 0)
        return -ERR_LIMIT;
    return 0;
}

/* RFC 7622 §3.2: the domainpart is nameprep'd; a final dot is not part
 * of the name. */
static int set_domain(char **field, const char *v)
{
    size_t len = strlen(v);
    if (len > 1 && v[len - 1] == '.')
        len--;
    struct buf b = BUF_INIT;
    int r = len ? jid_nameprep(v, len, &b) : -ERR_INVAL;
    if (r == 0 && (buf_used(&b) == 0 || buf_used(&b) > JID_PART_MAX))
        r = -ERR_INVAL;
    for (size_t i = 0; r == 0 && i < buf_used(&b); i++) {
        unsigned char ch = (unsigned char)buf_data(&b)[i];
        if (ch <= ' ' || ch == 0x7f || ch == '@' || ch == '/' || ch == '"' ||
            ch == '<' || ch == '>' || ch == '\'' || ch == '&')
            r = -ERR_INVAL;
    }
    if (r == 0) {
        free(*field);
        *field = xstrdup(buf_cstr(&b));
    }
    buf_free(&b);
    return r < 0 ? -ERR_INVAL : 0;
}

/* Checks v for key k and stores it in c. */
static int apply(struct cfg *c, const struct key *k, const char *v,
                 const struct pos *p)
{
    char **s = str_field(c, k);
    unsigned long n;
    bool b;
    enum log_level lvl;
    int r;

    switch (k->type) {
    case KT_DOMAIN:
        if (!*v)
            return perr(p, "%s: must not be empty", k->name);
        if (set_domain(s, v) < 0)
            return perr(p, "%s: not a valid domain name", k->name);
        return 0;
    case KT_STRING:
        if (!*v)
            return perr(p, "%s: must not be empty", k->name);
        free(*s);
        *s = xstrdup(v);
        return 0;
    case KT_OPT_STRING:
        free(*s);
        *s = *v ? xstrdup(v) : NULL;
        return 0;
    case KT_LISTEN:
        if (*v && strcasecmp(v, "off") != 0) {
            r = check_listen(v);
            if (r == -ERR_LIMIT)
                return perr(p, "%s: port must be between 1 and 65535", k->name);
            if (r < 0)
                return perr(p, "%s: expected host:port, [ipv6]:port or off",
                            k->name);
        } else {
            v = "";
        }
        free(*s);
        *s = xstrdup(v);
        return 0;
    case KT_REGISTRATION:
        if (strcasecmp(v, "closed") == 0)
            c->registration = REG_CLOSED;
        else if (strcasecmp(v, "open") == 0)
            c->registration = REG_OPEN;
        else if (strcasecmp(v, "invite") == 0)
            c->registration = REG_INVITE;
        else
            return perr(p, "%s: expected closed, open or invite", k->name);
        return 0;
    case KT_LOG_LEVEL: {
        char low[8];
        size_t i;
        for (i = 0; v[i] && i + 1 < sizeof(low); i++)
            low[i] = (char)tolower((unsigned char)v[i]);
        low[i] = '\0';
        if (v[i] || log_level_parse(low, &lvl) < 0)
            return perr(p, "%s: expected debug, info, warn or error", k->name);
        c->log_level = (int)lvl;
        return 0;
    }
    case KT_BOOL:
        if (parse_bool(v, &b) < 0)
            return perr(p,
                        "%s: expected true or false (or yes/no, on/off, "
                        "1/0)",
                        k->name);
        *(bool *)((char *)c + k->off) = b;
        return 0;
    case KT_UINT:
    case KT_SIZE:
        if (parse_uint(v, k->min, k->max, &n) < 0)
            return perr(p, "%s: expected an integer between %lu and %lu",
                        k->name, k->min, k->max);
        if (k->type == KT_UINT)
            *(unsigned *)((char *)c + k->off) = (unsigned)n;
        else
            *(size_t *)((char *)c + k->off) = (size_t)n;
        return 0;
    case KT_COMPONENT:
        return add_component(c, k, v, p);
    }
    return perr(p, "%s: unsupported key type", k->name);
}

/* Reads one line without its newline into line (CFG_LINE_MAX + 1
 * bytes). Returns 1 for a line, 0 at end of file, -ERR_LIMIT when the
 * line is too long, -ERR_INVAL when it holds a NUL byte, -ERR_IO on a
 * read error. */
static int read_line(FILE *f, char *line, size_t *len)
{
    size_t n = 0;
    int ch;
    bool nul = false;
    while ((ch = getc(f)) != EOF && ch != '\n') {
        if (n == CFG_LINE_MAX)
            return -ERR_LIMIT;
        if (ch == '\0')
            nul = true;
        line[n++] = (char)ch;
    }
    if (ch == EOF && ferror(f))
        return -ERR_IO;
    if (ch == EOF && n == 0)
        return 0;
    line[n] = '\0';
    *len = n;
    return nul ? -ERR_INVAL : 1;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Parses one line (modified in place) into c. seen[i] is the line that
 * set keys[i], 0 when none did yet. */
static int parse_line(struct cfg *c, char *line, unsigned *seen,
                      const struct pos *p)
{
    char *s = line;
    while (is_blank(*s))
        s++;
    if (!*s || *s == '#')
        return 0;

    char *key = s;
    while (*s && *s != '=' && *s != '#' && !is_blank(*s))
        s++;
    char *key_end = s;
    while (is_blank(*s))
        s++;
    if (key_end == key)
        return perr(p, "missing key before '='");
    if (*s != '=') {
        *key_end = '\0';
        if (!key_chars_ok(key))
            return perr(p, "expected 'key = value'");
        return perr(p, "missing '=' after '%.64s'", key);
    }
    *key_end = '\0';
    s++;
    while (is_blank(*s))
        s++;

    char *val = s;
    if (*s == '"') {
        val = ++s;
        char *q = strchr(s, '"');
        if (!q)
            return perr(p, "missing closing '\"'");
        *q = '\0';
        s = q + 1;
        while (is_blank(*s))
            s++;
        if (*s && *s != '#')
            return perr(p, "unexpected text after the closing '\"'");
    } else {
        char *hash = strchr(s, '#');
        if (hash)
            *hash = '\0';
        char *end = val + strlen(val);
        while (end > val && is_blank(end[-1]))
            end--;
        *end = '\0';
    }

    if (!key_chars_ok(key))
        return perr(p, "invalid key");
    const struct key *k = find_key(key);
    if (!k)
        return perr(p, "unknown key '%.64s'", key);
    size_t idx = (size_t)(k - keys);
    if (seen[idx] && k->type != KT_COMPONENT)
        return perr(p, "duplicate key '%s' (first set on line %u)", k->name,
                    seen[idx]);
    seen[idx] = p->line;
    size_t vlen = strlen(val);
    if (vlen > CFG_VALUE_MAX)
        return perr(p, "%s: value longer than %d bytes", k->name,
                    CFG_VALUE_MAX);
    for (size_t i = 0; i < vlen; i++) {
        unsigned char ch = (unsigned char)val[i];
        if ((ch < ' ' && ch != '\t') || ch == 0x7f)
            return perr(p, "%s: control character in value", k->name);
    }
    return apply(c, k, val, p);
}

int cfg_load(struct cfg *c, const char *path, char *err, size_t errsz)
{
    struct pos p = {path, 0, err, errsz};
    if (errsz)
        err[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return perr(&p, "cannot open: %s", strerror(errno));

    struct cfg tmp;
    copy_cfg(&tmp, c);
    unsigned seen[N_KEYS] = {0};
    char *line = xmalloc(CFG_LINE_MAX + 1);
    size_t len;
    int r;
    while ((r = read_line(f, line, &len)) > 0) {
        p.line++;
        char *s = line;
        /* Editors on some systems add a byte order mark and CRs. */
        if (p.line == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
            s += 3;
            len -= 3;
        }
        if (len && s[len - 1] == '\r')
            s[--len] = '\0';
        r = parse_line(&tmp, s, seen, &p);
        if (r < 0)
            goto fail;
    }
    if (r < 0) {
        p.line++;
        if (r == -ERR_LIMIT)
            r = perr(&p, "line longer than %d bytes", CFG_LINE_MAX);
        else if (r == -ERR_INVAL)
            r = perr(&p, "NUL byte in line");
        else
            r = perr(&p, "read error: %s", strerror(errno));
        goto fail;
    }
    free(line);
    fclose(f);
    cfg_free(c);
    *c = tmp;
    return 0;
fail:
    free(line);
    fclose(f);
    cfg_free(&tmp);
    return -ERR_CONFIG;
}
