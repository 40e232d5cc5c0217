/* jid.c -- see jid.h. XMPP addresses, RFC 7622.
 *
 * A JID is split as RFC 7622 §3.1 says: the resourcepart is everything
 * after the first '/', and the localpart is everything before the first
 * '@' that precedes that '/'. Each part is then prepared with the
 * stringprep profiles of RFC 3920 (libidn's Nodeprep, Nameprep and
 * Resourceprep). RFC 7622 replaced these with PRECIS; stringprep is what
 * the deployed servers and clients still compare with, and for the
 * addresses people actually use both give the same result.
 *
 * Most JIDs are plain ASCII and already lowercase, and one is parsed for
 * every stanza, so ASCII input takes a fast path that does exactly what
 * the profiles do to ASCII (fold case, refuse what they prohibit)
 * without converting to UCS-4; test_jid.c checks the two agree for every
 * ASCII character.
 *
 * The domainpart must also be a usable host name: letters, digits and
 * hyphens in dot-separated labels (RFC 5890 LDH labels, or non-ASCII
 * labels that passed Nameprep), an IPv4 address, or an IPv6 literal in
 * brackets (RFC 7622 §3.2). One trailing dot is removed (§3.2).
 *
 * Not here: deciding whether a domain is ours (xmpp/server.c) or who may
 * use which address (xmpp/router.c). */
#include "xmpp/jid.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stringprep.h>

#include "core/utf8.h"
#include "core/alloc.h"
#include "core/err.h"

/* Bytes of a part before preparation. Preparation can shrink a part
 * (characters mapped to nothing), so this is looser than JID_PART_MAX;
 * it only bounds the work done on hostile input. */
#define JID_RAW_PART_MAX (4 * JID_PART_MAX)
#define DNS_LABEL_MAX    63

enum part { PART_NODE, PART_DOMAIN, PART_RESOURCE };

static bool prep_fast(enum part k, const char *in, size_t len, struct buf *out);
static int prep_slow(enum part k, const char *in, size_t len, struct buf *out);
static int prep(enum part k, const char *in, size_t len, struct buf *out,
                bool fast_ok, size_t max);
static int domain_finish(struct buf *b, size_t start);
static int prep_domain(const char *in, size_t len, struct buf *out,
                       bool fast_ok);
static int build(struct jid *out, const char *node, size_t nlen,
                 const char *domain, size_t dlen, const char *res, size_t rlen,
                 bool fast_ok);
static int parse(struct jid *out, const char *s, size_t len, bool fast_ok);

static const char *const profile_names[] = {
    [PART_NODE] = "Nodeprep",
    [PART_DOMAIN] = "Nameprep",
    [PART_RESOURCE] = "Resourceprep",
};

/* For ASCII the three profiles reduce to: Nodeprep folds A-Z and
 * prohibits controls, space and " & ' / : < > @ (RFC 3920 App. A.5);
 * Nameprep folds A-Z and prohibits nothing ASCII (RFC 3491 §5; the host
 * name rules in domain_finish() refuse the rest); Resourceprep keeps
 * case and prohibits controls (RFC 3920 App. B.5). NFKC and the bidi
 * rules leave ASCII alone. Returns false, with out unchanged, when the
 * input is not ASCII or holds a character stringprep must refuse. */
static bool prep_fast(enum part k, const char *in, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c >= 0x80)
            return false;
        if (k == PART_DOMAIN)
            continue;
        if (c < 0x20 || c == 0x7F)
            return false;
        if (k == PART_NODE && (c == ' ' || strchr("\"&'/:<>@", c) != NULL))
            return false;
    }
    char *w = buf_reserve(out, len);
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (k != PART_RESOURCE && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        w[i] = c;
    }
    buf_commit(out, len);
    return true;
}

static int prep_slow(enum part k, const char *in, size_t len, struct buf *out)
{
    if (!utf8_valid((const unsigned char *)in, len))
        return -ERR_INVAL;
    char *z = xstrndup(in, len);
    char *p = NULL;
    int rc = stringprep_profile(z, &p, profile_names[k], 0);
    free(z);
    if (rc != STRINGPREP_OK) {
        free(p);
        return -ERR_INVAL;
    }
    buf_append_str(out, p);
    free(p);
    return 0;
}

/* Prepares one part and appends it to out. Empty parts, parts with NUL
 * and parts over the limits (max bytes once prepared) are refused. */
static int prep(enum part k, const char *in, size_t len, struct buf *out,
                bool fast_ok, size_t max)
{
    if (len == 0 || len > JID_RAW_PART_MAX || memchr(in, '\0', len))
        return -ERR_INVAL;
    size_t before = buf_used(out);
    if (!(fast_ok && prep_fast(k, in, len, out))) {
        if (prep_slow(k, in, len, out) < 0)
            return -ERR_INVAL;
    }
    size_t n = buf_used(out) - before;
    if (n == 0 || n > max) {
        out->len -= n;
        return -ERR_INVAL;
    }
    return 0;
}

/* Applies the host name rules to the prepared domain at the end of b,
 * from byte start of its data: ideographic full stops become dots, one
 * trailing dot goes, labels are checked, an IPv6 literal is rewritten in
 * its canonical form (RFC 5952). */
static int domain_finish(struct buf *b, size_t start)
{
    char *s = buf_data(b) + start;
    size_t n = buf_used(b) - start;

    /* U+3002 IDEOGRAPHIC FULL STOP separates labels like '.' (RFC 3490
     * §3.1); Nameprep has already mapped U+FF0E and U+FF61 to it or '.'. */
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (n - i >= 3 && (unsigned char)s[i] == 0xE3 &&
            (unsigned char)s[i + 1] == 0x80 &&
            (unsigned char)s[i + 2] == 0x82) {
            s[w++] = '.';
            i += 2;
        } else {
            s[w++] = s[i];
        }
    }
    n = w;
    if (n > 0 && s[n - 1] == '.')
        n--;
    b->len = b->off + start + n;
    if (n == 0 || n > JID_PART_MAX)
        return -ERR_INVAL;

    if (s[0] == '[') {
        char lit[64], canon[INET6_ADDRSTRLEN];
        struct in6_addr a;
        if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof(lit))
            return -ERR_INVAL;
        memcpy(lit, s + 1, n - 2);
        lit[n - 2] = '\0';
        if (inet_pton(AF_INET6, lit, &a) != 1 ||
            !inet_ntop(AF_INET6, &a, canon, sizeof(canon)))
            return -ERR_INVAL;
        b->len = b->off + start;
        buf_printf(b, "[%s]", canon);
        return 0;
    }

    size_t label = 0;  /* bytes in the current label */
    bool ascii = true; /* the current label is ASCII so far */
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = i < n ? (unsigned char)s[i] : '.';
        if (c == '.') {
            if (label == 0 || (ascii && label > DNS_LABEL_MAX))
                return -ERR_INVAL;
            if (s[i - 1] == '-' || s[i - label] == '-')
                return -ERR_INVAL;
            label = 0;
            ascii = true;
            continue;
        }
        label++;
        if (c >= 0x80)
            ascii = false;
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-'))
            return -ERR_INVAL;
    }
    return 0;
}

static int prep_domain(const char *in, size_t len, struct buf *out,
                       bool fast_ok)
{
    size_t start = buf_used(out);
    /* The length is checked once dots are mapped and stripped. */
    int r = prep(PART_DOMAIN, in, len, out, fast_ok, JID_RAW_PART_MAX);
    if (r == 0 && (r = domain_finish(out, start)) < 0)
        out->len = out->off + start;
    return r;
}

static int build(struct jid *out, const char *node, size_t nlen,
                 const char *domain, size_t dlen, const char *res, size_t rlen,
                 bool fast_ok)
{
    struct buf b = BUF_INIT;
    size_t nl = 0, dl = 0, rl = 0;
    *out = JID_INIT;
    /* Usually the result is no longer than the input: one allocation. */
    buf_reserve(&b, nlen + dlen + rlen + 3);
    if (node) {
        if (prep(PART_NODE, node, nlen, &b, fast_ok, JID_PART_MAX) < 0)
            goto fail;
        nl = buf_used(&b);
        buf_append(&b, "@", 1);
    }
    size_t mark = buf_used(&b);
    if (prep_domain(domain, dlen, &b, fast_ok) < 0)
        goto fail;
    dl = buf_used(&b) - mark;
    if (res) {
        buf_append(&b, "/", 1);
        mark = buf_used(&b);
        if (prep(PART_RESOURCE, res, rlen, &b, fast_ok, JID_PART_MAX) < 0)
            goto fail;
        rl = buf_used(&b) - mark;
    }
    /* The JID takes over the buffer's storage (nothing was consumed
     * from its front, so it starts at b.p). */
    buf_cstr(&b);
    out->s = b.p;
    out->node_len = nl;
    out->domain_len = dl;
    out->res_len = rl;
    return 0;
fail:
    buf_free(&b);
    return -ERR_INVAL;
}

/* Splits as RFC 7622 §3.1; the caller's bytes are only borrowed. */
static int parse(struct jid *out, const char *s, size_t len, bool fast_ok)
{
    *out = JID_INIT;
    if (!s || len > 3 * JID_RAW_PART_MAX + 2)
        return -ERR_INVAL;
    const char *slash = memchr(s, '/', len);
    size_t head = slash ? (size_t)(slash - s) : len;
    const char *at = memchr(s, '@', head);
    const char *domain = at ? at + 1 : s;
    size_t dlen = head - (size_t)(domain - s);
    return build(out, at ? s : NULL, at ? (size_t)(at - s) : 0, domain, dlen,
                 slash ? slash + 1 : NULL, slash ? len - head - 1 : 0, fast_ok);
}

int jid_parse(struct jid *out, const char *s, size_t len)
{
    return parse(out, s, len, true);
}

int jid_make(struct jid *out, const char *node, const char *domain,
             const char *resource)
{
    if (!domain) {
        *out = JID_INIT;
        return -ERR_INVAL;
    }
    return build(out, node, node ? strlen(node) : 0, domain, strlen(domain),
                 resource, resource ? strlen(resource) : 0, true);
}

void jid_free(struct jid *j)
{
    free(j->s);
    *j = JID_INIT;
}

void jid_copy(struct jid *dst, const struct jid *src)
{
    struct jid t = *src;
    t.s = xstrdup(src->s);
    *dst = t;
}

void jid_bare_of(struct jid *dst, const struct jid *src)
{
    struct str b = jid_bare(src);
    struct jid t = {xstrndup(b.p, b.len), src->node_len, src->domain_len, 0};
    /* dst may be src itself: free the old string only after copying. */
    if (dst == src)
        free(dst->s);
    *dst = t;
}

struct str jid_node(const struct jid *j)
{
    return (struct str){j->s, j->node_len};
}

struct str jid_domain(const struct jid *j)
{
    size_t off = j->node_len ? j->node_len + 1 : 0;
    return (struct str){j->s + off, j->domain_len};
}

struct str jid_resource(const struct jid *j)
{
    size_t off = (j->node_len ? j->node_len + 1 : 0) + j->domain_len;
    if (j->res_len)
        off++;
    return (struct str){j->s + off, j->res_len};
}

struct str jid_bare(const struct jid *j)
{
    size_t n = (j->node_len ? j->node_len + 1 : 0) + j->domain_len;
    return (struct str){j->s, n};
}

char *jid_bare_dup(const struct jid *j)
{
    struct str b = jid_bare(j);
    return xstrndup(b.p, b.len);
}

bool jid_equal(const struct jid *a, const struct jid *b)
{
    if (a->node_len != b->node_len || a->domain_len != b->domain_len ||
        a->res_len != b->res_len)
        return false;
    if (!a->s || !b->s)
        return a->s == b->s;
    return strcmp(a->s, b->s) == 0;
}

bool jid_bare_equal(const struct jid *a, const struct jid *b)
{
    if (a->node_len != b->node_len || a->domain_len != b->domain_len)
        return false;
    if (!a->s || !b->s)
        return a->s == b->s;
    struct str x = jid_bare(a), y = jid_bare(b);
    return memcmp(x.p, y.p, x.len) == 0;
}

int jid_nodeprep(const char *in, size_t len, struct buf *out)
{
    return prep(PART_NODE, in, len, out, true, JID_PART_MAX);
}

/* Besides Nameprep this applies the domainpart rules above, so that a
 * stream's 'to' compares equal to the configured domain whatever its
 * case or trailing dot. */
int jid_nameprep(const char *in, size_t len, struct buf *out)
{
    return prep_domain(in, len, out, true);
}

int jid_resourceprep(const char *in, size_t len, struct buf *out)
{
    return prep(PART_RESOURCE, in, len, out, true, JID_PART_MAX);
}
