/* loadgen.c -- XMPP c2s load generator for theke, Prosody and ejabberd.
 *
 * One thread and one epoll set per generator process. It logs N accounts
 * in (RFC 6120 §4 stream, §5 STARTTLS or XEP-0368 direct TLS, §6 SASL,
 * §7 bind, RFC 6121 §4.2 initial presence) and then runs one scenario:
 *
 *   login     the login rate itself;
 *   idle      server memory per connection, then a hold with XEP-0199
 *             pings spread over the hold;
 *   pairs     K pairs exchange chat messages for S seconds, each sender
 *             keeping W in flight: rate, one-way latency, server CPU per
 *             message;
 *   pingpong  one pair, one message in flight: unloaded latency.
 *
 * It prints one JSON line. With --procs P it forks P generator processes,
 * each with a slice of the accounts (a pair never spans two processes);
 * the parent releases them through pipes at the same moments, collects
 * their reports (latency histograms included) and prints the line.
 *
 * SASL: SCRAM-SHA-256 (RFC 7677), SCRAM-SHA-1 (RFC 5802) and PLAIN
 * (RFC 4616). SCRAM's SaltedPassword is cached per (hash, salt,
 * iterations), so accounts that share a salt cost one PBKDF2 here.
 * TLS does not verify the certificate: this is meant for loopback runs
 * against self-signed certificates.
 *
 * It does not build XML trees. A small scanner splits the input into the
 * children of <stream:stream>, tracking nesting, quotes, comments and
 * CDATA, and looks at a stanza's local name, attributes (either quote
 * style, any order, any prefix) and the text of a named child. It does
 * not expand entities, so it relies on the bodies and ids it sends
 * itself. Not here: rosters, presence fan-out, offline storage, stream
 * resumption, certificate checks.
 *
 * Writes are batched: a connection's output accumulates during one loop
 * turn and goes out in one send() at the end of the turn. Reads go into
 * one process-wide buffer of READ_SPACE bytes; only a partial stanza is
 * copied into the connection's own buffer. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"

#define NS_SASL     "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND     "urn:ietf:params:xml:ns:xmpp-bind"
#define NS_TLS      "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_PING     "urn:xmpp:ping"
#define NS_STANZAS  "urn:ietf:params:xml:ns:xmpp-stanzas"
#define SEC_NS      1000000000ull
#define DRAIN_NS    (2ull * SEC_NS)  /* pairs: in-flight messages may arrive */
#define SETTLE_NS   (2ull * SEC_NS)  /* idle: server settles before RSS */
#define PING_WAIT_NS (5ull * SEC_NS) /* idle: replies after the hold */
#define IN_CAP      (4u << 20) /* bytes of one partial stanza we keep */
#define OUT_CAP     (4u << 20) /* bytes we queue for one connection */
#define READ_SPACE  (256u << 10) /* the shared read buffer */
#define TLS_READS   16           /* SSL_read calls per wakeup */
#define MAX_EVENTS  256
#define SCRAM_CACHE 16
#define MAX_MD      64 /* largest digest, SHA-512 */
/* Source ports loadgen binds, split over the processes: below Linux's
 * ephemeral range (32768-60999), where tests that ask the kernel for a
 * free port to listen on do not look. See bind_source_port(). */
#define PORT_FIRST  10000
#define PORT_LAST   32768

enum phase {
    PH_IDLE,       /* not connected yet */
    PH_CONNECTING, /* non-blocking connect() under way */
    PH_TLS,        /* TLS handshake under way */
    PH_FEATURES1,  /* waiting for the first features (or after TLS) */
    PH_STARTTLS,   /* <starttls/> sent, waiting for <proceed/> */
    PH_SASL,       /* <auth/> sent, waiting for challenge or outcome */
    PH_FEATURES2,  /* stream restarted after SASL success */
    PH_BIND,       /* bind request sent */
    PH_PRESENCE,   /* initial presence sent, waiting for its reflection */
    PH_READY,      /* logged in */
    PH_CLOSED,
};

enum mech { MECH_AUTO, MECH_PLAIN, MECH_SCRAM1, MECH_SCRAM256,
            MECH_SCRAM256_PLUS };
enum tls_mode { TLS_NONE, TLS_STARTTLS, TLS_DIRECT };
enum scenario { SC_LOGIN, SC_IDLE, SC_PAIRS, SC_PINGPONG };

static const char *const mech_names[] = {"auto", "plain", "scram-sha-1",
                                         "scram-sha-256",
                                         "scram-sha-256-plus"};
static const char *const mech_sasl[] = {"", "PLAIN", "SCRAM-SHA-1",
                                        "SCRAM-SHA-256",
                                        "SCRAM-SHA-256-PLUS"};
static const char *const tls_names[] = {"none", "starttls", "direct"};
static const char *const scenario_names[] = {"login", "idle", "pairs",
                                             "pingpong"};

struct buf {
    char *p;    /* owned */
    size_t off; /* bytes already consumed from the front */
    size_t len; /* bytes in use, including off */
    size_t cap;
};

struct conn {
    int fd;
    unsigned user; /* account number */
    enum phase phase;
    SSL *ssl;    /* owned, NULL until TLS starts */
    bool secure; /* TLS is up */
    struct buf in;  /* unconsumed input: at most one partial stanza */
    struct buf out; /* output of this loop turn, or what the socket refused */
    size_t scan;    /* scanner: bytes of the partial stanza already seen */
    unsigned depth; /* scanner: elements open in the partial stanza */
    bool queued;    /* on the flush list for this loop turn */
    bool pollout;   /* EPOLLOUT is armed */
    enum mech mech; /* mechanism in use */
    char cnonce[33];  /* SCRAM client nonce, hex */
    char *auth_msg;   /* owned, SCRAM AuthMessage */
    unsigned char server_sig[MAX_MD];
    struct conn *peer; /* messaging partner, or NULL */
    char *mto;         /* owned: "<message ... id='" for the peer */
    size_t mto_len;
    uint64_t next_seq; /* next sequence number to send to peer */
    uint64_t expect;   /* next sequence number expected from peer */
    unsigned pings_out; /* pings sent, not yet answered */
};

struct opts {
    const char *host, *port, *domain, *prefix, *password, *label;
    unsigned users, first, pairs, window, seconds, concurrency, procs;
    unsigned ping_interval; /* seconds, 0 = none */
    unsigned rate;          /* pairs: messages/s in all, 0 = closed loop */
    long server_pid;        /* 0 = unknown */
    enum mech mech;
    enum tls_mode tls;
    enum scenario scenario;
};

/* Latency histogram in nanoseconds: exact below 64 ns, then 32 buckets
 * per power of two, so a percentile is off by at most about 3 %. */
#define HIST_SUB 32
#define HIST_N   (64 + 58 * HIST_SUB)

/* What a generator process tells the parent at each sync point, and its
 * figures at the end. Sent whole through a pipe. */
struct report {
    uint32_t tag;         /* SYNC_* */
    uint32_t connections; /* logged in */
    int32_t mech;         /* enum mech actually used */
    double login_s;       /* own login wall time, s */
    double login_cpu;     /* own CPU during logins, s */
    double phase_s;       /* wall time of the measured phase, s */
    double phase_cpu;     /* own CPU during it, s */
    uint64_t sent, received, messages; /* messages; messages = in window */
    uint64_t errors;
    uint64_t pings_sent, pings_answered;
    uint64_t hist[HIST_N];
};

enum sync_tag { SYNC_READY = 1, SYNC_LOGGED_IN, SYNC_DONE };

/* What the coordinator (the parent, or the only process) measures. */
struct coord {
    uint64_t release_ns, logged_in_ns;
    double srv_cpu_login0, srv_cpu_login1; /* server CPU, s; < 0 unknown */
    double srv_cpu0, srv_cpu1;             /* around the measured phase */
    long rss_before, rss_after;            /* KiB; < 0 unknown */
};

static struct opts o = {
    .host = "127.0.0.1",
    .port = "5222",
    .domain = "localhost",
    .prefix = "u",
    .label = "",
    .users = 2,
    .first = 1,
    .window = 1,
    .seconds = 5,
    .concurrency = 100,
    .procs = 1,
    .scenario = SC_PAIRS,
};
static int ep = -1;
static SSL_CTX *tls_ctx;
static struct addrinfo *addr;
static struct conn *conns;
static unsigned nconns, npairs;
static struct conn **flushq; /* connections with output this turn */
static size_t nflush;
static unsigned logging_in, ready, next_to_connect, concurrency;
static bool sending; /* the measured window is open */
static bool measuring;
static struct report rep;
static char *rbuf; /* READ_SPACE bytes, shared by all connections */
static int go_fd = -1, report_fd = -1; /* pipes to the parent */
static unsigned go_seen;
static uint64_t pings_open; /* pings on open connections, not answered */
static unsigned port_lo, port_hi, port_next; /* source ports, see
                                                bind_source_port() */
static struct coord co;

static void die(const char *fmt, ...);
static uint64_t now_ns(void);
static double cpu_seconds(void);
static void buf_reserve(struct buf *b, size_t n);
static void buf_add(struct buf *b, const void *p, size_t n);
static void buf_printf(struct buf *b, const char *fmt, ...);
static void buf_consume(struct buf *b, size_t n);
static void buf_free(struct buf *b);
static void conn_start(struct conn *c);
static void conn_send_header(struct conn *c);
static void conn_queue(struct conn *c);
static void conn_flush(struct conn *c);
static void conn_fail(struct conn *c, const char *what);
static void conn_readable(struct conn *c);
static void conn_writable(struct conn *c);
static size_t handle_input(struct conn *c, const char *s, size_t n);
static void send_message(struct conn *c);
static void loop_once(int timeout_ms);

static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("loadgen: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SEC_NS + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / SEC_NS),
                          .tv_nsec = (long)(ns % SEC_NS)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- the server process (/proc, Linux) ------------------------------- */

/* Reads /proc/<server pid>/<file> into buf[0..n), NUL-terminated;
 * false without --server-pid. */
static bool proc_read(const char *file, char *buf, size_t n)
{
    if (o.server_pid <= 0)
        return false;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/%s", o.server_pid, file);
    FILE *f = fopen(path, "r");
    if (!f)
        die("%s: %s", path, strerror(errno));
    size_t got = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[got] = '\0';
    return true;
}

/* The server's resident set in KiB, or -1 without --server-pid. */
static long server_rss_kib(void)
{
    char buf[4096];
    if (!proc_read("status", buf, sizeof(buf)))
        return -1;
    const char *p = strstr(buf, "\nVmRSS:");
    if (!p)
        die("/proc/%ld/status: no VmRSS", o.server_pid);
    return strtol(p + 7, NULL, 10);
}

/* The server's CPU time (utime + stime of all its threads) in seconds, or
 * -1 without --server-pid. */
static double server_cpu_s(void)
{
    char line[1024];
    if (!proc_read("stat", line, sizeof(line)))
        return -1;
    /* proc(5): the command name is in parentheses and may hold spaces;
     * utime and stime are fields 14 and 15, in clock ticks. */
    const char *p = strrchr(line, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                            "%llu %llu",
                     &ut, &st) != 2)
        die("/proc/%ld/stat: unreadable", o.server_pid);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- buffers --------------------------------------------------------- */

static void buf_reserve(struct buf *b, size_t n)
{
    if (b->off > 0 && b->len + n > b->cap) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        die("out of memory");
    b->p = p;
    b->cap = cap;
}

static void buf_add(struct buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("vsnprintf failed");
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void buf_consume(struct buf *b, size_t n)
{
    b->off += n;
    if (b->off == b->len)
        b->off = b->len = 0;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* Writes v in decimal at p; returns the end. */
static char *u64_put(char *p, uint64_t v)
{
    char tmp[20];
    int i = 0;
    do
        tmp[i++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (i > 0)
        *p++ = tmp[--i];
    return p;
}

/* ---- base64 (RFC 4648 §4) -------------------------------------------- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Writes the encoding of p[0..n) and a NUL to out, which holds at least
 * 4 * ((n + 2) / 3) + 1 bytes. */
static void b64_encode(const unsigned char *p, size_t n, char *out)
{
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *out++ = b64[v >> 18];
        *out++ = b64[(v >> 12) & 63];
        *out++ = b64[(v >> 6) & 63];
        *out++ = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        *out++ = b64[v >> 18];
        *out++ = b64[(v >> 12) & 63];
        *out++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

/* Decodes s[0..n) into out (at least 3 * n / 4 + 1 bytes), NUL-terminated.
 * Whitespace is skipped (some servers wrap). Returns the decoded length,
 * or -1 if s is not base64. */
static long b64_decode(const char *s, size_t n, unsigned char *out)
{
    uint32_t v = 0;
    int bits = 0;
    long len = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=')
            break;
        if (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
            continue;
        const char *q = memchr(b64, s[i], 64);
        if (!q || s[i] == '\0')
            return -1;
        v = v << 6 | (uint32_t)(q - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (unsigned char)(v >> bits);
        }
    }
    out[len] = '\0';
    return len;
}

/* ---- scanning ---------------------------------------------------------- */

enum { NX_MORE, NX_STANZA, NX_END };

static inline bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* The '>' that ends the tag starting at s[0] ('<'), outside quotes, or
 * NULL if the tag is not complete in s[0..n). */
static const char *tag_end(const char *s, size_t n)
{
    char quote = 0;
    for (size_t i = 1; i < n; i++) {
        char ch = s[i];
        if (quote) {
            if (ch == quote)
                quote = 0;
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
        } else if (ch == '>') {
            return s + i;
        }
    }
    return NULL;
}

/* The end of a comment, CDATA section or declaration starting at s[0]
 * ("<!" or "<?"), just past its terminator, or NULL if incomplete. */
static const char *special_end(const char *s, size_t n)
{
    const char *term = ">";
    if (s[1] == '?')
        term = "?>";
    else if (n >= 4 && memcmp(s, "<!--", 4) == 0)
        term = "-->";
    else if (n >= 9 && memcmp(s, "<![CDATA[", 9) == 0)
        term = "]]>";
    else if (n < 9)
        return NULL; /* cannot tell yet */
    size_t tl = strlen(term);
    const char *e = memmem(s + 2, n - 2, term, tl);
    return e ? e + tl : NULL;
}

/* The local name (without prefix) of the tag at s[0] ('<' or '</'). */
static void tag_name(const char *s, const char *end, const char **ln,
                     size_t *ll)
{
    const char *p = s + 1;
    if (p < end && *p == '/')
        p++;
    const char *start = p;
    while (p < end && !is_space(*p) && *p != '>' && *p != '/') {
        if (*p == ':')
            start = p + 1;
        p++;
    }
    *ln = start;
    *ll = (size_t)(p - start);
}

static bool name_is(const char *ln, size_t ll, const char *want)
{
    return strlen(want) == ll && memcmp(ln, want, ll) == 0;
}

/* Finds the next complete child of the stream root in s[0..n), the
 * unconsumed input of c. Material between stanzas (whitespace, the XML
 * declaration, a stream header after a restart, comments) is skipped:
 * *skip says how many bytes of it precede the stanza, and those may be
 * dropped whatever the result. Returns NX_STANZA with the stanza at
 * s[*skip .. *skip + *len), NX_MORE if it is not complete yet, NX_END at
 * the stream's end tag. Scanning resumes where the previous call stopped
 * (c->scan, c->depth), so a stanza arriving in pieces is not rescanned. */
static int next_stanza(struct conn *c, const char *s, size_t n, size_t *skip,
                       size_t *len)
{
    size_t p = 0;
    *skip = 0;
    if (n == 0)
        return NX_MORE;
    if (c->depth == 0 && c->scan == 0) {
        for (;;) {
            const char *lt = memchr(s + p, '<', n - p);
            if (!lt) {
                *skip = n;
                return NX_MORE;
            }
            p = (size_t)(lt - s);
            *skip = p;
            if (p + 1 >= n)
                return NX_MORE;
            if (s[p + 1] == '/')
                return NX_END; /* </stream:stream> */
            if (s[p + 1] == '?' || s[p + 1] == '!') {
                const char *e = special_end(s + p, n - p);
                if (!e)
                    return NX_MORE;
                p = (size_t)(e - s);
                continue;
            }
            const char *gt = tag_end(s + p, n - p);
            if (!gt)
                return NX_MORE;
            const char *ln;
            size_t ll;
            tag_name(s + p, gt, &ln, &ll);
            if (name_is(ln, ll, "stream") && gt[-1] != '/') {
                p = (size_t)(gt + 1 - s); /* a stream header */
                continue;
            }
            break;
        }
        s += p;
        n -= p;
    }
    size_t q = c->scan;
    for (;;) {
        const char *lt = memchr(s + q, '<', n - q);
        if (!lt) {
            c->scan = n;
            return NX_MORE;
        }
        q = (size_t)(lt - s);
        if (q + 1 >= n)
            break;
        const char *e;
        if (s[q + 1] == '/') {
            e = memchr(s + q, '>', n - q);
            if (!e)
                break;
            q = (size_t)(e + 1 - s);
            if (--c->depth == 0) {
                *len = q;
                c->scan = 0;
                return NX_STANZA;
            }
            continue;
        }
        if (s[q + 1] == '!' || s[q + 1] == '?') {
            e = special_end(s + q, n - q);
            if (!e)
                break;
            q = (size_t)(e - s);
            continue;
        }
        e = tag_end(s + q, n - q);
        if (!e)
            break;
        q = (size_t)(e + 1 - s);
        if (e[-1] != '/')
            c->depth++;
        else if (c->depth == 0) {
            *len = q;
            c->scan = 0;
            return NX_STANZA;
        }
    }
    c->scan = q; /* at a tag that is not complete yet */
    return NX_MORE;
}

/* The value of attribute name (a qualified name, matched exactly) in the
 * start tag of the element at s[0..n), quoted either way. */
static bool attr_get(const char *s, size_t n, const char *name,
                     const char **val, size_t *vl)
{
    const char *gt = tag_end(s, n);
    const char *e = gt ? gt : s + n;
    size_t nl = strlen(name);
    const char *p = s + 1;
    while (p < e && !is_space(*p) && *p != '/' && *p != '>')
        p++; /* the element name */
    for (;;) {
        while (p < e && (is_space(*p) || *p == '/'))
            p++;
        if (p >= e)
            return false;
        const char *an = p;
        while (p < e && !is_space(*p) && *p != '=')
            p++;
        size_t al = (size_t)(p - an);
        while (p < e && is_space(*p))
            p++;
        if (p >= e || *p != '=')
            return false;
        p++;
        while (p < e && is_space(*p))
            p++;
        if (p >= e || (*p != '\'' && *p != '"'))
            return false;
        char quote = *p++;
        const char *v = p;
        while (p < e && *p != quote)
            p++;
        if (p >= e)
            return false;
        if (al == nl && memcmp(an, name, nl) == 0) {
            *val = v;
            *vl = (size_t)(p - v);
            return true;
        }
        p++;
    }
}

static bool attr_is(const char *s, size_t n, const char *name,
                    const char *want)
{
    const char *v;
    size_t vl;
    return attr_get(s, n, name, &v, &vl) && vl == strlen(want) &&
           memcmp(v, want, vl) == 0;
}

/* Finds, after *from within s[0..n), the next descendant element with
 * local name want. Returns its start at *el and its text content (up to
 * the next tag) at *text, *tl. *from advances past its start tag, so
 * repeated calls visit every match. The element at s[0] itself does not
 * count when *from is 0. */
static bool child_find(const char *s, size_t n, size_t *from, const char *want,
                       const char **el, const char **text, size_t *tl)
{
    size_t p = *from ? *from : 1;
    while (p < n) {
        const char *lt = memchr(s + p, '<', n - p);
        if (!lt)
            break;
        p = (size_t)(lt - s) + 1;
        if (p >= n || lt[1] == '/' || lt[1] == '!' || lt[1] == '?')
            continue;
        const char *gt = tag_end(lt, (size_t)(s + n - lt));
        if (!gt)
            break;
        const char *ln;
        size_t ll;
        tag_name(lt, gt, &ln, &ll);
        p = (size_t)(gt + 1 - s);
        if (!name_is(ln, ll, want))
            continue;
        *from = p;
        *el = lt;
        if (gt[-1] == '/') {
            *text = gt;
            *tl = 0;
        } else {
            *text = gt + 1;
            const char *end = memchr(gt + 1, '<', (size_t)(s + n - gt - 1));
            *tl = end ? (size_t)(end - gt - 1) : 0;
        }
        return true;
    }
    *from = n;
    return false;
}

static bool has_child(const char *s, size_t n, const char *want)
{
    size_t from = 0, tl;
    const char *el, *t;
    return child_find(s, n, &from, want, &el, &t, &tl);
}

/* ---- SCRAM (RFC 5802 §3, RFC 7677) -------------------------------------- */

struct scram_key {
    bool used;
    enum crypto_hash hash;
    long iter;
    size_t salt_len;
    unsigned char salt[128];
    unsigned char salted[MAX_MD];
};
static struct scram_key scram_cache[SCRAM_CACHE];
static unsigned scram_next; /* round-robin replacement */

/* SaltedPassword := Hi(password, salt, i) (RFC 5802 §3), computed once per
 * (hash, salt, iterations): servers that give every account one salt then
 * cost the generator one PBKDF2 for the whole run. */
static const unsigned char *salted_password(enum crypto_hash hash,
                                            const unsigned char *salt,
                                            size_t sl, long iter)
{
    for (unsigned i = 0; i < SCRAM_CACHE; i++) {
        struct scram_key *k = &scram_cache[i];
        if (k->used && k->hash == hash && k->iter == iter &&
            k->salt_len == sl && memcmp(k->salt, salt, sl) == 0)
            return k->salted;
    }
    struct scram_key *k = &scram_cache[scram_next++ % SCRAM_CACHE];
    /* theke's PBKDF2 (core/crypto.c), about 3.5 times as fast as
     * OpenSSL's: with a salt per account, this is most of a login's
     * cost in the generator. */
    crypto_pbkdf2(hash, o.password, strlen(o.password), salt, sl,
                  (unsigned)iter, k->salted);
    k->used = true;
    k->hash = hash;
    k->iter = iter;
    k->salt_len = sl;
    memcpy(k->salt, salt, sl);
    return k->salted;
}

static enum crypto_hash mech_hash(enum mech m)
{
    return m == MECH_SCRAM1 ? CRYPTO_SHA1 : CRYPTO_SHA256;
}

static void auth_send(struct conn *c, const char *elem, const char *data,
                      size_t n)
{
    char enc[1024];
    if (4 * ((n + 2) / 3) + 1 > sizeof(enc))
        die("SASL message too long");
    b64_encode((const unsigned char *)data, n, enc);
    if (strcmp(elem, "response") == 0)
        buf_printf(&c->out, "<response xmlns='" NS_SASL "'>%s</response>",
                   enc);
    else
        buf_printf(&c->out,
                   "<auth xmlns='" NS_SASL "' mechanism='%s'>%s</auth>",
                   mech_sasl[c->mech], enc);
}

/* RFC 5802 §7: "p=tls-exporter,," binds to the TLS channel (RFC 9266). */
static const char *gs2_header(const struct conn *c)
{
    return c->mech == MECH_SCRAM256_PLUS ? "p=tls-exporter,," : "n,,";
}

/* c= of client-final: base64 of the gs2-header and, with -PLUS, the
 * channel's exporter value. */
static void channel_binding(struct conn *c, char *out)
{
    unsigned char in[64];
    const char *gs2 = gs2_header(c);
    size_t n = strlen(gs2);
    memcpy(in, gs2, n);
    if (c->mech == MECH_SCRAM256_PLUS) {
        static const char label[] = "EXPORTER-Channel-Binding";
        if (!c->ssl ||
            SSL_export_keying_material(c->ssl, in + n, 32, label,
                                       sizeof(label) - 1, NULL, 0, 0) != 1)
            die("%s%u: no tls-exporter value (is TLS on?)", o.prefix,
                c->user);
        n += 32;
    }
    b64_encode(in, n, out);
}

static void sasl_start(struct conn *c)
{
    char first[512];
    int n;
    if (c->mech != MECH_PLAIN) {
        unsigned char rnd[16];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            die("getrandom: %s", strerror(errno));
        for (int i = 0; i < 16; i++)
            snprintf(c->cnonce + 2 * i, 3, "%02x", rnd[i]);
        n = snprintf(first, sizeof(first), "%sn=%s%u,r=%s", gs2_header(c),
                     o.prefix, c->user, c->cnonce);
    } else {
        n = snprintf(first, sizeof(first), "%c%s%u%c%s", 0, o.prefix, c->user,
                     0, o.password);
    }
    auth_send(c, "auth", first, (size_t)n);
    c->phase = PH_SASL;
}

/* Answers the server-first-message; returns false if it is unusable. */
static bool scram_challenge(struct conn *c, const char *msg)
{
    const char *r = NULL, *s = NULL, *i = NULL;
    size_t rl = 0, sl = 0;
    for (const char *p = msg; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len >= 2 && p[1] == '=') {
            if (p[0] == 'r')
                r = p + 2, rl = len - 2;
            else if (p[0] == 's')
                s = p + 2, sl = len - 2;
            else if (p[0] == 'i')
                i = p + 2;
            else if (p[0] == 'm')
                return false; /* RFC 5802 §5.1: mandatory extension */
        }
        p += len + (comma ? 1 : 0);
    }
    size_t cnl = strlen(c->cnonce);
    if (!r || !s || !i || rl <= cnl || memcmp(r, c->cnonce, cnl) != 0)
        return false;
    long iter = strtol(i, NULL, 10);
    if (iter < 1 || iter > 10000000)
        return false;
    unsigned char salt[128];
    if (sl > 160)
        return false;
    long saltl = b64_decode(s, sl, salt);
    if (saltl <= 0)
        return false;

    enum crypto_hash h = mech_hash(c->mech);
    size_t dl = crypto_digest_len(h);
    const unsigned char *salted = salted_password(h, salt, (size_t)saltl,
                                                  iter);
    unsigned char ckey[MAX_MD], stored[MAX_MD], skey[MAX_MD], sig[MAX_MD];
    unsigned char proof[MAX_MD];
    crypto_hmac(h, salted, dl, "Client Key", 10, ckey);
    crypto_hash(h, ckey, dl, stored);
    crypto_hmac(h, salted, dl, "Server Key", 10, skey);

    char cbind[128];
    channel_binding(c, cbind);
    struct buf am = {0};
    buf_printf(&am, "n=%s%u,r=%s,%s,c=%s,r=%.*s", o.prefix, c->user,
               c->cnonce, msg, cbind, (int)rl, r);
    buf_add(&am, "", 1);
    c->auth_msg = am.p;
    size_t aml = strlen(am.p);
    crypto_hmac(h, stored, dl, am.p, aml, sig);
    for (size_t k = 0; k < dl; k++)
        proof[k] = ckey[k] ^ sig[k];
    crypto_hmac(h, skey, dl, am.p, aml, c->server_sig);

    char p64[4 * MAX_MD / 3 + 8], fin[600];
    b64_encode(proof, dl, p64);
    int fl = snprintf(fin, sizeof(fin), "c=%s,r=%.*s,p=%s", cbind, (int)rl, r,
                      p64);
    if (fl < 0 || (size_t)fl >= sizeof(fin))
        return false;
    auth_send(c, "response", fin, (size_t)fl);
    return true;
}

/* Checks the server-final-message "v=..." of a SCRAM <success/>. */
static bool scram_verify(struct conn *c, const char *msg)
{
    char want[4 * MAX_MD / 3 + 8];
    b64_encode(c->server_sig, crypto_digest_len(mech_hash(c->mech)), want);
    return strncmp(msg, "v=", 2) == 0 && strcmp(msg + 2, want) == 0;
}

/* ---- connections ------------------------------------------------------- */

static void conn_queue(struct conn *c)
{
    if (!c->queued) {
        c->queued = true;
        flushq[nflush++] = c;
    }
}

static void conn_send_header(struct conn *c)
{
    buf_printf(&c->out,
               "<?xml version='1.0'?><stream:stream to='%s' "
               "xmlns='jabber:client' "
               "xmlns:stream='http://etherx.jabber.org/streams' "
               "version='1.0'>",
               o.domain);
    conn_queue(c);
}

/* Binds fd to the next free source port of this process's range.
 *
 * With thousands of connections to one address and port, letting
 * connect() pick the port costs the kernel a walk over the ports already
 * taken (__inet_hash_connect), each checked against the established
 * table: at 19 000 connections that was 78 % of the generator's login
 * CPU. Binding an explicit port costs one lookup. Returns false when no
 * port of the range is free, and then connect() picks one. Ports are
 * not reused while held, and connections end with a reset (no
 * TIME_WAIT), so a later run finds them free again. */
static bool bind_source_port(int fd)
{
    if (addr->ai_family != AF_INET || port_hi <= port_lo)
        return false;
    for (unsigned tries = 0; tries < port_hi - port_lo; tries++) {
        unsigned port = port_next++;
        if (port_next >= port_hi)
            port_next = port_lo;
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port)};
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return true;
        if (errno != EADDRINUSE && errno != EACCES)
            return false;
    }
    port_hi = port_lo; /* all taken: leave it to connect() from now on */
    return false;
}

static void conn_start(struct conn *c)
{
    int r = -1;
    /* A bound port can still clash with a connection the kernel keeps
     * for the same address pair; then the next port is tried. */
    for (int attempt = 0; attempt < 8 && r < 0; attempt++) {
        c->fd = socket(addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (c->fd < 0)
            die("socket: %s", strerror(errno));
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        bool bound = bind_source_port(c->fd);
        r = connect(c->fd, addr->ai_addr, addr->ai_addrlen);
        if (r < 0 && errno == EINPROGRESS)
            r = 0;
        if (r < 0 && (!bound || errno != EADDRNOTAVAIL))
            die("connect to %s:%s: %s", o.host, o.port, strerror(errno));
        if (r < 0)
            close(c->fd);
    }
    if (r < 0)
        die("connect to %s:%s: no free source port", o.host, o.port);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->pollout = true;
    c->phase = PH_CONNECTING;
    logging_in++;
}

static void set_pollout(struct conn *c, bool on)
{
    if (c->pollout == on || c->fd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                             .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->pollout = on;
}

/* A connection that breaks after login counts as an error and leaves the
 * run; one that breaks during login ends the run, since the login figures
 * would be meaningless. Its buffers are freed by the caller of
 * handle_input(), which may still be reading them. */
static void conn_fail(struct conn *c, const char *what)
{
    if (c->phase == PH_CLOSED)
        return;
    if (c->phase != PH_READY)
        die("%s%u: %s during login", o.prefix, c->user, what);
    fprintf(stderr, "loadgen: %s%u: %s\n", o.prefix, c->user, what);
    rep.errors++;
    pings_open -= c->pings_out; /* they stay unanswered */
    c->pings_out = 0;
    if (c->ssl)
        SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->fd);
    c->fd = -1;
    c->phase = PH_CLOSED;
}

/* TLS: client side, no certificate verification (loopback benchmarks
 * against self-signed certificates), SNI set to the domain. */
static void tls_begin(struct conn *c)
{
    c->ssl = SSL_new(tls_ctx);
    if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
        die("SSL_new failed");
    SSL_set_connect_state(c->ssl);
    SSL_set_tlsext_host_name(c->ssl, o.domain);
    if (o.tls == TLS_DIRECT) {
        /* XEP-0368 §3: ALPN "xmpp-client" on direct TLS. */
        static const unsigned char alpn[] = "\x0bxmpp-client";
        SSL_set_alpn_protos(c->ssl, alpn, sizeof(alpn) - 1);
    }
    c->phase = PH_TLS;
}

static void tls_handshake(struct conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->secure = true;
        c->phase = PH_FEATURES1;
        c->scan = 0;
        c->depth = 0;
        conn_send_header(c);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        set_pollout(c, false);
    else if (e == SSL_ERROR_WANT_WRITE)
        set_pollout(c, true);
    else
        die("%s%u: TLS handshake failed: %s", o.prefix, c->user,
            ERR_reason_error_string(ERR_peek_last_error())
                ? ERR_reason_error_string(ERR_peek_last_error())
                : "connection closed");
}

/* A recv() or send() result as io_read() and io_write() return it. */
static ssize_t sock_result(ssize_t r)
{
    if (r >= 0)
        return r;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : -2;
}

/* Reads into p[0..n): bytes read, 0 at the end of the stream, -1 when
 * nothing is there yet, -2 on error. */
static ssize_t io_read(struct conn *c, char *p, size_t n)
{
    if (!c->ssl)
        return sock_result(recv(c->fd, p, n, 0));
    ERR_clear_error();
    errno = 0;
    int r = SSL_read(c->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
    if (r > 0)
        return r;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return -1;
    case SSL_ERROR_WANT_WRITE:
        set_pollout(c, true);
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        return errno == 0 ? 0 : -2;
    default:
        return -2;
    }
}

/* Writes from p[0..n): bytes written, -1 when the socket is full, -2 on
 * error. */
static ssize_t io_write(struct conn *c, const char *p, size_t n)
{
    if (!c->ssl)
        return sock_result(send(c->fd, p, n, MSG_NOSIGNAL));
    ERR_clear_error();
    int r = SSL_write(c->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
    if (r > 0)
        return r;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_WRITE:
    case SSL_ERROR_WANT_READ: /* resumed by the next readable event */
        return -1;
    default:
        return -2;
    }
}

/* Writes what c has queued, as far as the socket takes it. */
static void conn_write(struct conn *c)
{
    if (c->phase == PH_CLOSED || c->phase == PH_CONNECTING ||
        c->phase == PH_TLS)
        return;
    while (c->out.len > c->out.off) {
        ssize_t n = io_write(c, c->out.p + c->out.off, c->out.len - c->out.off);
        if (n == -1) {
            if (c->out.len - c->out.off > OUT_CAP)
                conn_fail(c, "output queue over its cap");
            else
                set_pollout(c, true);
            return;
        }
        if (n < 0) {
            conn_fail(c, "write failed");
            return;
        }
        buf_consume(&c->out, (size_t)n);
    }
    set_pollout(c, false);
}

/* The end-of-turn flush of a connection on the flush list. */
static void conn_flush(struct conn *c)
{
    c->queued = false;
    conn_write(c);
}

static void conn_writable(struct conn *c)
{
    if (c->phase == PH_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err)
            die("connect to %s:%s: %s", o.host, o.port, strerror(err));
        if (o.tls == TLS_DIRECT) {
            tls_begin(c);
            tls_handshake(c);
        } else {
            c->phase = PH_FEATURES1;
            conn_send_header(c);
        }
        return;
    }
    if (c->phase == PH_TLS) {
        tls_handshake(c);
        return;
    }
    conn_flush(c);
}

/* Reads what is there into the shared buffer and hands it to the scanner
 * in one piece; only an incomplete stanza stays with the connection. */
static void conn_readable(struct conn *c)
{
    if (c->phase == PH_CONNECTING || c->phase == PH_CLOSED)
        return;
    if (c->phase == PH_TLS) {
        tls_handshake(c);
        return;
    }
    size_t got = 0;
    bool eof = false, err = false;
    /* With TLS, each SSL_read() returns at most one record, and a record
     * that does not fit would stay inside OpenSSL where epoll cannot see
     * it: read only while a whole record (2^14 bytes) fits. */
    int reads = c->ssl ? TLS_READS : 1;
    size_t room = c->ssl ? 16384 : 1;
    for (int i = 0; i < reads && got + room <= READ_SPACE; i++) {
        ssize_t n = io_read(c, rbuf + got, READ_SPACE - got);
        if (n == -1)
            break;
        if (n == 0 || n == -2) {
            eof = n == 0;
            err = n == -2;
            break;
        }
        got += (size_t)n;
    }
    if (got > 0) {
        const char *s;
        size_t n;
        bool kept = c->in.len > c->in.off;
        if (kept) {
            buf_add(&c->in, rbuf, got);
            s = c->in.p + c->in.off;
            n = c->in.len - c->in.off;
        } else {
            s = rbuf;
            n = got;
        }
        size_t used = handle_input(c, s, n);
        if (c->phase == PH_CLOSED) {
            buf_free(&c->in);
            buf_free(&c->out);
            return;
        }
        if (kept)
            buf_consume(&c->in, used);
        else if (used < n)
            buf_add(&c->in, s + used, n - used);
        if (c->in.len - c->in.off > IN_CAP)
            conn_fail(c, "input over its cap without a complete stanza");
        if (c->out.len > c->out.off && c->phase != PH_READY)
            /* A login step: the server waits for this answer, so it
             * goes out now rather than after the rest of the turn,
             * which may be a hundred SCRAM PBKDF2s. */
            conn_write(c);
        else if (c->out.len > c->out.off)
            conn_queue(c); /* TLS may have waited for this read */
    }
    if (eof || err)
        conn_fail(c, eof ? "server closed the connection" : "read failed");
    if (c->phase == PH_CLOSED) {
        buf_free(&c->in);
        buf_free(&c->out);
    }
}

/* ---- protocol ---------------------------------------------------------- */

static void login_done(struct conn *c)
{
    c->phase = PH_READY;
    logging_in--;
    ready++;
    rep.connections++;
}

static void pick_mechanism(struct conn *c, const char *s, size_t n)
{
    bool offered[5] = {false};
    size_t from = 0, tl;
    const char *el, *t;
    while (child_find(s, n, &from, "mechanism", &el, &t, &tl))
        for (int m = MECH_PLAIN; m <= MECH_SCRAM256_PLUS; m++)
            if (tl == strlen(mech_sasl[m]) && memcmp(t, mech_sasl[m], tl) == 0)
                offered[m] = true;
    enum mech m = o.mech;
    if (m == MECH_AUTO)
        m = offered[MECH_SCRAM256] ? MECH_SCRAM256
            : offered[MECH_SCRAM1] ? MECH_SCRAM1
            : offered[MECH_PLAIN]  ? MECH_PLAIN
                                   : MECH_AUTO;
    if (m == MECH_AUTO || !offered[m])
        die("%s%u: server does not offer %s (features: %.*s)", o.prefix,
            c->user, o.mech == MECH_AUTO ? "SCRAM or PLAIN" : mech_sasl[m],
            (int)(n > 400 ? 400 : n), s);
    c->mech = m;
    rep.mech = (int32_t)m;
}

/* Answers an iq get or set from the server: XEP-0199 pings with a result
 * (theked pings quiet clients), anything else with service-unavailable
 * (RFC 6120 §8.2.3: an iq request must be answered). */
static void on_iq_request(struct conn *c, const char *s, size_t n)
{
    const char *id = "", *from = NULL;
    size_t il = 0, fl = 0;
    attr_get(s, n, "id", &id, &il);
    attr_get(s, n, "from", &from, &fl);
    char iq = memchr(id, '\'', il) ? '"' : '\'';
    char fq = from && memchr(from, '\'', fl) ? '"' : '\'';
    buf_printf(&c->out, "<iq type='%s' id=%c%.*s%c",
               has_child(s, n, "ping") ? "result" : "error", iq, (int)il, id,
               iq);
    if (from)
        buf_printf(&c->out, " to=%c%.*s%c", fq, (int)fl, from, fq);
    if (has_child(s, n, "ping"))
        buf_printf(&c->out, "/>");
    else
        buf_printf(&c->out,
                   "><error type='cancel'><service-unavailable xmlns='"
                   NS_STANZAS "'/></error></iq>");
    conn_queue(c);
}

static void on_iq(struct conn *c, const char *s, size_t n)
{
    const char *type, *id;
    size_t tl, il;
    if (!attr_get(s, n, "type", &type, &tl))
        return;
    if ((tl == 3 && memcmp(type, "get", 3) == 0) ||
        (tl == 3 && memcmp(type, "set", 3) == 0)) {
        on_iq_request(c, s, n);
        return;
    }
    if (!attr_get(s, n, "id", &id, &il) || il < 2 || id[0] != 'p' ||
        id[1] != 'g')
        return;
    if (c->pings_out > 0) {
        c->pings_out--;
        pings_open--;
    }
    /* An error reply leaves the ping unanswered, which counts later. */
    if (tl == 6 && memcmp(type, "result", 6) == 0)
        rep.pings_answered++;
}

static void send_ping(struct conn *c)
{
    char tmp[160], *p = tmp;
    memcpy(p, "<iq type='get' id='pg", 21);
    p = u64_put(p + 21, rep.pings_sent);
    p += sprintf(p, "' to='%.60s'><ping xmlns='" NS_PING "'/></iq>", o.domain);
    buf_add(&c->out, tmp, (size_t)(p - tmp));
    c->pings_out++;
    pings_open++;
    rep.pings_sent++;
    conn_queue(c);
}

static bool parse_u64(const char **p, const char *e, uint64_t *v)
{
    const char *q = *p;
    uint64_t x = 0;
    while (q < e && *q >= '0' && *q <= '9')
        x = x * 10 + (uint64_t)(*q++ - '0');
    if (q == *p)
        return false;
    *p = q;
    *v = x;
    return true;
}

/* Reads a message that arrived on c; its body is "SEQ SENT_NS". */
static void on_message(struct conn *c, const char *s, size_t n)
{
    /* The attribute is parsed only if the start tag mentions an error;
     * this runs for every message. */
    const char *gt = tag_end(s, n);
    if (gt && memmem(s, (size_t)(gt - s), "error", 5) &&
        attr_is(s, n, "type", "error")) {
        rep.errors++;
        return;
    }
    size_t from = 0, tl;
    const char *el, *t;
    if (!child_find(s, n, &from, "body", &el, &t, &tl))
        return; /* not one of ours, e.g. a chat state */
    const char *e = t + tl;
    uint64_t seq, ts;
    if (!c->peer || !parse_u64(&t, e, &seq) || t >= e || *t++ != ' ' ||
        !parse_u64(&t, e, &ts)) {
        rep.errors++;
        return;
    }
    uint64_t now = now_ns();
    /* RFC 6120 §10.1: stanzas between two entities arrive in order. */
    if (seq < c->expect)
        rep.errors++;
    else
        c->expect = seq + 1;
    rep.received++;
    if (measuring) {
        rep.messages++;
        uint64_t v = now > ts ? now - ts : 0;
        size_t idx;
        if (v < 64) {
            idx = (size_t)v;
        } else {
            int msb = 63 - __builtin_clzll(v);
            idx = 64 + (size_t)(msb - 6) * HIST_SUB +
                  (size_t)((v >> (msb - 5)) - HIST_SUB);
        }
        rep.hist[idx]++;
    }
    if (sending && !o.rate && c->peer->phase == PH_READY)
        send_message(c->peer);
}

/* Open loop: message j of this process is due at p0 + j / rate, from
 * sender j mod 2K (both sides of every pair send), so the servers are
 * compared at the same offered load. A sender whose W messages are all
 * in flight holds up the schedule: then msgs_per_s falls below the rate,
 * and the waiting shows in the latency of what follows. */
static void send_at_rate(uint64_t p0, uint64_t p_end)
{
    unsigned senders = 2 * npairs;
    if (!senders)
        return;
    /* This process's share of the rate, as its share of the pairs. */
    double per_ns = (double)o.rate * npairs / o.pairs / 1e9;
    uint64_t j = 0;
    for (;;) {
        uint64_t now = now_ns();
        if (now >= p_end)
            return;
        uint64_t due = p0;
        while ((due = p0 + (uint64_t)((double)j / per_ns)) <= now) {
            struct conn *c = &conns[j % senders];
            if (c->phase != PH_READY ||
                c->next_seq - c->peer->expect >= o.window)
                break;
            send_message(c);
            j++;
        }
        uint64_t next = due > now ? due : now + 1000000;
        if (next > p_end)
            next = p_end;
        /* Rounded up: messages due within a millisecond go together. */
        uint64_t left_ms = (next - now + 999999) / 1000000;
        loop_once(left_ms > 100 ? 100 : (int)left_ms);
    }
}

static void send_message(struct conn *c)
{
    buf_reserve(&c->out, c->mto_len + 96);
    char *p = c->out.p + c->out.len;
    memcpy(p, c->mto, c->mto_len);
    p = u64_put(p + c->mto_len, c->next_seq);
    memcpy(p, "'><body>", 8);
    p = u64_put(p + 8, c->next_seq);
    *p++ = ' ';
    p = u64_put(p, now_ns());
    memcpy(p, "</body></message>", 17);
    c->out.len = (size_t)(p + 17 - c->out.p);
    c->next_seq++;
    rep.sent++;
    conn_queue(c);
}

/* Acts on one stanza s[0..n) (a child of the stream root). */
static void on_stanza(struct conn *c, const char *s, size_t n)
{
    const char *gt = tag_end(s, n), *ln, *t, *el;
    size_t ll, tl, from = 0;
    tag_name(s, gt ? gt : s + n, &ln, &ll);
    if (name_is(ln, ll, "error")) { /* <stream:error/>, RFC 6120 §4.9 */
        char what[160];
        snprintf(what, sizeof(what), "stream error: %.*s",
                 (int)(n > 120 ? 120 : n), s);
        conn_fail(c, what);
        return;
    }
    switch (c->phase) {
    case PH_FEATURES1:
        if (!name_is(ln, ll, "features"))
            break;
        if (o.tls == TLS_STARTTLS && !c->secure) {
            if (!has_child(s, n, "starttls"))
                die("%s%u: server does not offer STARTTLS", o.prefix,
                    c->user);
            buf_printf(&c->out, "<starttls xmlns='" NS_TLS "'/>");
            c->phase = PH_STARTTLS;
        } else {
            pick_mechanism(c, s, n);
            sasl_start(c);
        }
        conn_queue(c);
        break;
    case PH_STARTTLS:
        if (name_is(ln, ll, "proceed")) {
            tls_begin(c); /* RFC 6120 §5.4.3.3: TLS starts now */
            tls_handshake(c);
        } else if (name_is(ln, ll, "failure")) {
            die("%s%u: STARTTLS refused", o.prefix, c->user);
        }
        break;
    case PH_SASL: {
        if (name_is(ln, ll, "failure"))
            die("%s%u: authentication failed: %.*s", o.prefix, c->user,
                (int)(n > 200 ? 200 : n), s);
        bool ch = name_is(ln, ll, "challenge");
        if (!ch && !name_is(ln, ll, "success"))
            break;
        const char *lt = gt ? memchr(gt, '<', (size_t)(s + n - gt)) : NULL;
        t = gt && gt[-1] != '/' ? gt + 1 : s + n;
        tl = lt && t < lt ? (size_t)(lt - t) : 0;
        unsigned char dec[1024];
        if (tl > 1300 || b64_decode(t, tl, dec) < 0)
            die("%s%u: bad base64 from the server", o.prefix, c->user);
        if (ch) {
            if (c->mech == MECH_PLAIN || c->auth_msg ||
                !scram_challenge(c, (const char *)dec))
                die("%s%u: unexpected SASL challenge", o.prefix, c->user);
        } else {
            if (c->mech != MECH_PLAIN && !scram_verify(c, (const char *)dec))
                die("%s%u: server signature does not verify", o.prefix,
                    c->user);
            free(c->auth_msg);
            c->auth_msg = NULL;
            /* RFC 6120 §6.4.6: a new stream over the same connection. */
            c->phase = PH_FEATURES2;
            conn_send_header(c);
        }
        conn_queue(c);
        break;
    }
    case PH_FEATURES2:
        if (!name_is(ln, ll, "features"))
            break;
        buf_printf(&c->out, "<iq type='set' id='b'><bind xmlns='" NS_BIND
                            "'><resource>r</resource></bind></iq>");
        c->phase = PH_BIND;
        conn_queue(c);
        break;
    case PH_BIND:
        if (!name_is(ln, ll, "iq"))
            break;
        if (!attr_is(s, n, "id", "b")) {
            on_iq(c, s, n);
            break;
        }
        if (!attr_is(s, n, "type", "result") ||
            !child_find(s, n, &from, "jid", &el, &t, &tl))
            die("%s%u: bind failed: %.*s", o.prefix, c->user,
                (int)(n > 200 ? 200 : n), s);
        buf_printf(&c->out, "<presence/>");
        conn_queue(c);
        c->phase = PH_PRESENCE;
        break;
    case PH_PRESENCE:
        /* RFC 6121 §4.2.2: the server reflects initial presence to the
         * resource that sent it; after that, it is available. */
        if (name_is(ln, ll, "presence"))
            login_done(c);
        else if (name_is(ln, ll, "iq"))
            on_iq(c, s, n);
        break;
    case PH_READY:
        if (name_is(ln, ll, "message"))
            on_message(c, s, n);
        else if (name_is(ln, ll, "iq"))
            on_iq(c, s, n);
        break;
    default:
        break;
    }
}

/* Consumes complete stanzas from s[0..n), the connection's unconsumed
 * input; returns how many bytes were consumed. */
static size_t handle_input(struct conn *c, const char *s, size_t n)
{
    size_t used = 0;
    while (c->phase != PH_CLOSED) {
        size_t skip, len;
        int r = next_stanza(c, s + used, n - used, &skip, &len);
        used += skip;
        if (r == NX_MORE)
            break;
        if (r == NX_END) {
            conn_fail(c, "the server ended the stream");
            break;
        }
        on_stanza(c, s + used, len);
        used += len;
        if (c->phase == PH_TLS) {
            /* RFC 6120 §5.4.3.3: nothing after <proceed/> in clear. */
            c->scan = 0;
            c->depth = 0;
            return n;
        }
    }
    return used;
}

/* ---- the generator loop ------------------------------------------------ */

/* One epoll turn: handle events, then flush what the turn produced. */
static void loop_once(int timeout_ms)
{
    struct epoll_event ev[MAX_EVENTS];
    for (size_t i = 0; i < nflush; i++)
        conn_flush(flushq[i]);
    nflush = 0;
    int n = epoll_wait(ep, ev, MAX_EVENTS, timeout_ms);
    if (n < 0 && errno != EINTR)
        die("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        struct conn *c = ev[i].data.ptr;
        if (!c) { /* the parent's go pipe */
            char b;
            ssize_t r = read(go_fd, &b, 1);
            if (r == 0)
                die("the parent process went away");
            if (r == 1)
                go_seen++;
            continue;
        }
        if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            conn_writable(c);
        if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            conn_readable(c);
    }
    for (size_t i = 0; i < nflush; i++)
        conn_flush(flushq[i]);
    nflush = 0;
}

/* Runs the loop until the monotonic time end_ns, or until done() says so. */
static void loop_until(uint64_t end_ns, bool (*done)(void))
{
    for (;;) {
        if (done && done())
            return;
        uint64_t now = now_ns();
        if (now >= end_ns)
            return;
        uint64_t left_ms = (end_ns - now) / 1000000 + 1;
        loop_once(left_ms > 100 ? 100 : (int)left_ms);
    }
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *q = p;
    while (n > 0) {
        ssize_t w = write(fd, q, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("pipe write: %s", strerror(errno));
        q += w;
        n -= (size_t)w;
    }
}

/* Returns false at end of file. */
static bool read_all(int fd, void *p, size_t n)
{
    char *q = p;
    while (n > 0) {
        ssize_t r = read(fd, q, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        q += r;
        n -= (size_t)r;
    }
    return true;
}

static void coord_step(enum sync_tag tag, bool solo);

static unsigned go_wanted;
static bool go_arrived(void)
{
    return go_seen >= go_wanted;
}

/* A sync point. Alone, the process does the coordinator's part itself;
 * otherwise it reports to the parent and keeps serving its connections
 * (pings from the server, for instance) until the parent says go. */
static void sync_point(enum sync_tag tag)
{
    if (report_fd < 0) {
        coord_step(tag, true);
        return;
    }
    rep.tag = tag;
    write_all(report_fd, &rep, sizeof(rep));
    if (tag == SYNC_DONE)
        return;
    go_wanted++;
    loop_until(UINT64_MAX, go_arrived);
}

static bool pings_settled(void)
{
    return pings_open == 0;
}

static bool drained(void)
{
    return rep.received >= rep.sent;
}

/* The body of one generator process: users first_pair..+2*pairs (paired
 * up in order) and extra..+extras (unpaired). */
static void generate(unsigned first_pair, unsigned pairs, unsigned extra,
                     unsigned extras, unsigned index)
{
    /* Each process takes its own slice of the source ports. */
    unsigned slice = (PORT_LAST - PORT_FIRST) / o.procs;
    port_lo = port_next = PORT_FIRST + index * slice;
    port_hi = port_lo + slice;
    nconns = 2 * pairs + extras;
    npairs = pairs;
    ep = epoll_create1(0);
    if (ep < 0)
        die("epoll_create1: %s", strerror(errno));
    conns = calloc(nconns ? nconns : 1, sizeof(*conns));
    flushq = calloc(nconns ? nconns : 1, sizeof(*flushq));
    rbuf = malloc(READ_SPACE);
    if (!conns || !flushq || !rbuf)
        die("out of memory");
    for (unsigned i = 0; i < nconns; i++) {
        conns[i].fd = -1;
        conns[i].user = i < 2 * pairs ? first_pair + i : extra + i - 2 * pairs;
    }
    for (unsigned i = 0; i < pairs; i++) {
        conns[2 * i].peer = &conns[2 * i + 1];
        conns[2 * i + 1].peer = &conns[2 * i];
    }
    for (unsigned i = 0; i < 2 * pairs; i++) {
        struct buf b = {0};
        buf_printf(&b, "<message type='chat' to='%s%u@%s/r' id='", o.prefix,
                   conns[i].peer->user, o.domain);
        conns[i].mto = b.p;
        conns[i].mto_len = b.len;
    }
    if (go_fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, go_fd, &ev) < 0)
            die("epoll_ctl: %s", strerror(errno));
    }
    rep.mech = (int32_t)o.mech;

    sync_point(SYNC_READY);

    /* Logins, at most `concurrency` under way at once. The time allowed
     * grows with N: 30 s, plus 20 ms a login (50 logins/s, which TLS
     * logins to a slow server can come down to). */
    uint64_t timeout = (30ull + o.users / 50) * SEC_NS;
    double cpu0 = cpu_seconds();
    uint64_t t0 = now_ns();
    while (ready < nconns) {
        while (next_to_connect < nconns && logging_in < concurrency)
            conn_start(&conns[next_to_connect++]);
        uint64_t now = now_ns();
        if (now - t0 > timeout)
            die("timeout: %u of %u logins done after %llu s", ready, nconns,
                (unsigned long long)(timeout / SEC_NS));
        /* One turn at a time, so a finished login frees its slot for
         * the next one at once. */
        uint64_t left_ms = (t0 + timeout - now) / 1000000 + 1;
        loop_once(left_ms > 100 ? 100 : (int)left_ms);
    }
    rep.login_s = (double)(now_ns() - t0) / 1e9;
    rep.login_cpu = cpu_seconds() - cpu0;

    sync_point(SYNC_LOGGED_IN);

    double pcpu0 = cpu_seconds();
    uint64_t p0 = now_ns(), p_end = p0 + o.seconds * SEC_NS;
    if (o.scenario == SC_IDLE) {
        /* Ping k of n goes out at p0 + I * (k / n + round), so the pings
         * of a round are spread evenly over the interval. */
        uint64_t iv = (uint64_t)o.ping_interval * SEC_NS;
        unsigned cursor = 0;
        uint64_t round = 0;
        for (;;) {
            uint64_t now = now_ns(), next = p_end;
            if (now >= p_end)
                break;
            while (iv && nconns) {
                uint64_t due = p0 + round * iv + iv * cursor / nconns;
                if (due > now) {
                    next = due < p_end ? due : p_end;
                    break;
                }
                if (conns[cursor].phase == PH_READY)
                    send_ping(&conns[cursor]);
                if (++cursor == nconns) {
                    cursor = 0;
                    round++;
                }
            }
            /* Rounded up: pings due within a millisecond go together,
             * rather than the loop spinning between them. */
            uint64_t left_ms = (next - now + 999999) / 1000000;
            loop_once(left_ms > 100 ? 100 : (int)left_ms);
        }
        rep.phase_s = (double)(now_ns() - p0) / 1e9;
        rep.phase_cpu = cpu_seconds() - pcpu0;
        loop_until(now_ns() + PING_WAIT_NS, pings_settled);
        rep.errors += rep.pings_sent - rep.pings_answered;
    } else if (o.scenario == SC_PAIRS || o.scenario == SC_PINGPONG) {
        sending = measuring = true;
        if (o.rate)
            send_at_rate(p0, p_end);
        else /* each side of each pair starts with a full window */
            for (unsigned i = 0; i < 2 * npairs; i++)
                for (unsigned w = 0; w < o.window; w++)
                    send_message(&conns[i]);
        loop_until(p_end, NULL);
        rep.phase_s = (double)(now_ns() - p0) / 1e9;
        rep.phase_cpu = cpu_seconds() - pcpu0;
        sending = measuring = false;
        if (report_fd < 0)
            co.srv_cpu1 = server_cpu_s();
        /* Drain: whatever is still in flight gets 2 s to arrive. */
        loop_until(now_ns() + DRAIN_NS, drained);
    } else {
        rep.phase_s = rep.login_s;
        rep.phase_cpu = rep.login_cpu;
    }

    /* Reset rather than close: a normal close leaves each port in
     * TIME_WAIT here for a minute, and back-to-back runs of many
     * thousand connections would run out of ephemeral ports. */
    struct linger abort_close = {.l_onoff = 1, .l_linger = 0};
    for (unsigned i = 0; i < nconns; i++) {
        if (conns[i].ssl)
            SSL_free(conns[i].ssl);
        if (conns[i].fd >= 0) {
            setsockopt(conns[i].fd, SOL_SOCKET, SO_LINGER, &abort_close,
                       sizeof(abort_close));
            close(conns[i].fd);
        }
        buf_free(&conns[i].in);
        buf_free(&conns[i].out);
        free(conns[i].auth_msg);
        free(conns[i].mto);
    }
    free(conns);
    free(flushq);
    free(rbuf);
    close(ep);
}

/* ---- coordination and output -------------------------------------------- */

/* The coordinator's part of a sync point: after it, everyone goes on. */
static void coord_step(enum sync_tag tag, bool solo)
{
    switch (tag) {
    case SYNC_READY:
        co.srv_cpu_login0 = server_cpu_s();
        co.release_ns = now_ns();
        break;
    case SYNC_LOGGED_IN:
        co.logged_in_ns = now_ns();
        co.srv_cpu_login1 = server_cpu_s();
        if (o.scenario == SC_IDLE) {
            uint64_t end = now_ns() + SETTLE_NS;
            if (solo)
                loop_until(end, NULL); /* keep answering server pings */
            else
                sleep_ns(SETTLE_NS);
            co.rss_after = server_rss_kib();
        }
        co.srv_cpu0 = server_cpu_s();
        break;
    case SYNC_DONE:
        break;
    }
}

static double hist_pct(const uint64_t *hist, double p, uint64_t count)
{
    if (count == 0)
        return 0;
    uint64_t target = (uint64_t)(p * (double)count + 0.999999), acc = 0;
    if (target == 0)
        target = 1;
    for (size_t i = 0; i < HIST_N; i++) {
        acc += hist[i];
        if (acc < target)
            continue;
        if (i < 64)
            return (double)i;
        size_t k = i - 64;
        int msb = (int)(k / HIST_SUB) + 6;
        uint64_t width = 1ull << (msb - 5);
        uint64_t lo = (uint64_t)(HIST_SUB + k % HIST_SUB) << (msb - 5);
        return (double)lo + (double)width / 2;
    }
    return 0;
}

static void json_num(const char *name, double v, int prec, bool known)
{
    if (known)
        printf(", \"%s\": %.*f", name, prec, v);
    else
        printf(", \"%s\": null", name);
}

/* Prints the JSON line from the reports of all generator processes and
 * returns the exit status. */
static int print_result(const struct report *r, unsigned n)
{
    struct report *t = calloc(1, sizeof(*t));
    if (!t)
        die("out of memory");
    double share = 0, login_share = 0, phase_s = 0;
    for (unsigned i = 0; i < n; i++) {
        t->connections += r[i].connections;
        t->login_cpu += r[i].login_cpu;
        t->phase_cpu += r[i].phase_cpu;
        t->sent += r[i].sent;
        t->received += r[i].received;
        t->messages += r[i].messages;
        t->errors += r[i].errors;
        t->pings_sent += r[i].pings_sent;
        t->pings_answered += r[i].pings_answered;
        for (size_t k = 0; k < HIST_N; k++)
            t->hist[k] += r[i].hist[k];
        if (r[i].phase_s > 0 && r[i].phase_cpu / r[i].phase_s > share)
            share = r[i].phase_cpu / r[i].phase_s;
        if (r[i].login_s > 0 && r[i].login_cpu / r[i].login_s > login_share)
            login_share = r[i].login_cpu / r[i].login_s;
        if (r[i].phase_s > phase_s)
            phase_s = r[i].phase_s;
    }
    /* A process may have had no account (more processes than pairs). */
    int32_t mech = r[0].mech;
    for (unsigned i = n; i-- > 0;)
        if (r[i].connections > 0)
            mech = r[i].mech;
    uint64_t lost = t->sent > t->received ? t->sent - t->received : 0;
    double login_s = (double)(co.logged_in_ns - co.release_ns) / 1e9;
    bool srv = o.server_pid > 0;

    printf("{\"scenario\": \"%s\", \"server\": \"%s\", \"tls\": \"%s\", "
           "\"mech\": \"%s\", \"procs\": %u, \"users\": %u",
           scenario_names[o.scenario], o.label, tls_names[o.tls],
           mech_names[mech], o.procs, o.users);
    printf(", \"connections\": %u", t->connections);
    json_num("login_seconds", login_s, 3, true);
    json_num("logins_per_s", login_s > 0 ? t->connections / login_s : 0, 1,
             true);
    json_num("login_gen_cpu_s", t->login_cpu, 3, true);
    json_num("login_server_cpu_s", co.srv_cpu_login1 - co.srv_cpu_login0, 3,
             srv);
    if (o.scenario == SC_IDLE) {
        json_num("rss_before_kib", (double)co.rss_before, 0, srv);
        json_num("rss_after_kib", (double)co.rss_after, 0, srv);
        json_num("rss_per_conn_kib",
                 t->connections
                     ? (double)(co.rss_after - co.rss_before) / t->connections
                     : 0,
                 2, srv);
        printf(", \"seconds\": %u, \"ping_interval\": %u", o.seconds,
               o.ping_interval);
        printf(", \"pings_sent\": %llu, \"pings_answered\": %llu",
               (unsigned long long)t->pings_sent,
               (unsigned long long)t->pings_answered);
    }
    if (o.scenario == SC_PAIRS || o.scenario == SC_PINGPONG) {
        double srv_cpu = co.srv_cpu1 - co.srv_cpu0;
        printf(", \"pairs\": %u, \"window\": %u, \"rate\": %u", o.pairs,
               o.window, o.rate);
        json_num("seconds", phase_s, 3, true);
        printf(", \"messages\": %llu", (unsigned long long)t->messages);
        json_num("msgs_per_s", phase_s > 0 ? t->messages / phase_s : 0, 1,
                 true);
        json_num("p50_ms", hist_pct(t->hist, 0.50, t->messages) / 1e6, 3,
                 true);
        json_num("p99_ms", hist_pct(t->hist, 0.99, t->messages) / 1e6, 3,
                 true);
        json_num("server_cpu_s", srv_cpu, 3, srv);
        json_num("server_cpu_us_per_msg",
                 t->messages ? srv_cpu * 1e6 / (double)t->messages : 0, 2,
                 srv);
    }
    if (o.scenario == SC_LOGIN)
        share = login_share;
    printf(", \"errors\": %llu, \"lost\": %llu",
           (unsigned long long)t->errors, (unsigned long long)lost);
    json_num("gen_cpu_s", o.scenario == SC_LOGIN ? t->login_cpu : t->phase_cpu,
             3, true);
    json_num("gen_cpu_share", share, 3, true);
    printf(", \"gen_limited\": %s}\n", share >= 0.9 ? "true" : "false");
    fflush(stdout);
    int rc = t->errors > 0 || lost > 0 || t->connections < o.users ? 1 : 0;
    if (t->errors > 0 || lost > 0)
        fprintf(stderr, "loadgen: %llu errors, %llu lost\n",
                (unsigned long long)t->errors, (unsigned long long)lost);
    free(t);
    return rc;
}

struct child {
    pid_t pid;
    int go;     /* write end: one byte per release */
    int report; /* read end: struct report per sync point */
};

static void kill_children(struct child *ch, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (ch[i].pid > 0)
            kill(ch[i].pid, SIGTERM);
    for (unsigned i = 0; i < n; i++)
        if (ch[i].pid > 0)
            waitpid(ch[i].pid, NULL, 0);
}

/* Waits until every child has reported tag; their reports go to r. */
static void gather(struct child *ch, unsigned n, enum sync_tag tag,
                   struct report *r)
{
    for (unsigned i = 0; i < n; i++) {
        if (!read_all(ch[i].report, &r[i], sizeof(r[i])) || r[i].tag != tag) {
            fprintf(stderr, "loadgen: generator process %u failed\n", i + 1);
            kill_children(ch, n);
            exit(1);
        }
    }
}

static void release(struct child *ch, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (write(ch[i].go, "g", 1) != 1) {
            fprintf(stderr, "loadgen: generator process %u failed\n", i + 1);
            kill_children(ch, n);
            exit(1);
        }
}

/* Forks o.procs generators, each with an even share of the pairs and of
 * the unpaired accounts, drives them through the sync points and prints
 * the aggregate. */
static int run_procs(void)
{
    unsigned P = o.procs, K = o.pairs, E = o.users - 2 * o.pairs;
    struct child *ch = calloc(P, sizeof(*ch));
    struct report *r = calloc(P, sizeof(*r));
    if (!ch || !r)
        die("out of memory");
    signal(SIGPIPE, SIG_IGN);
    fflush(stdout);
    for (unsigned i = 0; i < P; i++) {
        int gp[2], rp[2];
        if (pipe(gp) < 0 || pipe(rp) < 0)
            die("pipe: %s", strerror(errno));
        pid_t pid = fork();
        if (pid < 0) {
            kill_children(ch, i);
            die("fork: %s", strerror(errno));
        }
        if (pid == 0) {
            for (unsigned j = 0; j < i; j++) {
                close(ch[j].go);
                close(ch[j].report);
            }
            close(gp[1]);
            close(rp[0]);
            go_fd = gp[0];
            report_fd = rp[1];
            free(ch);
            free(r);
            unsigned k0 = (unsigned)((uint64_t)K * i / P);
            unsigned k1 = (unsigned)((uint64_t)K * (i + 1) / P);
            unsigned e0 = (unsigned)((uint64_t)E * i / P);
            unsigned e1 = (unsigned)((uint64_t)E * (i + 1) / P);
            generate(o.first + 2 * k0, k1 - k0, o.first + 2 * K + e0,
                     e1 - e0, i);
            sync_point(SYNC_DONE);
            _exit(0);
        }
        close(gp[0]);
        close(rp[1]);
        ch[i] = (struct child){.pid = pid, .go = gp[1], .report = rp[0]};
    }

    gather(ch, P, SYNC_READY, r);
    coord_step(SYNC_READY, false);
    release(ch, P);
    gather(ch, P, SYNC_LOGGED_IN, r);
    coord_step(SYNC_LOGGED_IN, false);
    release(ch, P);
    if (o.scenario == SC_PAIRS || o.scenario == SC_PINGPONG) {
        sleep_ns(o.seconds * SEC_NS);
        co.srv_cpu1 = server_cpu_s();
    }
    gather(ch, P, SYNC_DONE, r);
    int rc = print_result(r, P);
    for (unsigned i = 0; i < P; i++) {
        int st;
        if (waitpid(ch[i].pid, &st, 0) == ch[i].pid &&
            (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
            rc = 1;
        close(ch[i].go);
        close(ch[i].report);
    }
    free(ch);
    free(r);
    return rc;
}

/* ---- main -------------------------------------------------------------- */

static void usage(int code)
{
    fprintf(code ? stderr : stdout,
            "usage: loadgen --password PW [--host H] [--port P] [--domain D]\n"
            "         [--prefix u] [--users N] [--first F]\n"
            "         [--mech auto|plain|scram-sha-1|scram-sha-256|\n"
            "                scram-sha-256-plus]\n"
            "         [--tls none|starttls|direct]\n"
            "         [--scenario login|idle|pairs|pingpong]\n"
            "         [--pairs K] [--window W] [--seconds S]\n"
            "         [--concurrency C] [--procs P] [--server-pid PID]\n"
            "         [--ping-interval SECS] [--rate MSGS_PER_S]\n"
            "         [--label NAME]\n"
            "Logs in accounts PREFIX<F>..PREFIX<F+N-1>, runs the scenario\n"
            "and prints one JSON line; see bench/README.md. Exits 1 on\n"
            "errors, lost messages or failed logins.\n");
    exit(code);
}

static unsigned num_arg(const char *name, const char *v, unsigned min,
                        unsigned max)
{
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || *end || end == v || x < min || x > max)
        die("--%s: expected an integer in [%u, %u], got '%s'", name, min, max,
            v);
    return (unsigned)x;
}

static int choice_arg(const char *name, const char *v,
                      const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    die("--%s: unknown value '%s'", name, v);
    return -1;
}

static void parse_args(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", required_argument, 0, 'h'},
        {"port", required_argument, 0, 'p'},
        {"domain", required_argument, 0, 'd'},
        {"users", required_argument, 0, 'n'},
        {"first", required_argument, 0, 'f'},
        {"prefix", required_argument, 0, 'x'},
        {"password", required_argument, 0, 'w'},
        {"mech", required_argument, 0, 'm'},
        {"tls", required_argument, 0, 't'},
        {"scenario", required_argument, 0, 'S'},
        {"pairs", required_argument, 0, 'k'},
        {"window", required_argument, 0, 'W'},
        {"seconds", required_argument, 0, 's'},
        {"concurrency", required_argument, 0, 'c'},
        {"procs", required_argument, 0, 'P'},
        {"server-pid", required_argument, 0, 'i'},
        {"ping-interval", required_argument, 0, 'I'},
        {"rate", required_argument, 0, 'R'},
        {"label", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'H'},
        {0, 0, 0, 0},
    };
    bool pairs_set = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'h':
            o.host = optarg;
            break;
        case 'p':
            o.port = optarg;
            break;
        case 'd':
            o.domain = optarg;
            break;
        case 'x':
            o.prefix = optarg;
            break;
        case 'w':
            o.password = optarg;
            break;
        case 'l':
            o.label = optarg;
            break;
        case 'n':
            o.users = num_arg("users", optarg, 1, 1000000);
            break;
        case 'f':
            o.first = num_arg("first", optarg, 0, 1000000000);
            break;
        case 'm':
            o.mech = (enum mech)choice_arg("mech", optarg, mech_names, 5);
            break;
        case 't':
            o.tls = (enum tls_mode)choice_arg("tls", optarg, tls_names, 3);
            break;
        case 'S':
            o.scenario =
                (enum scenario)choice_arg("scenario", optarg, scenario_names, 4);
            break;
        case 'k':
            o.pairs = num_arg("pairs", optarg, 0, 500000);
            pairs_set = true;
            break;
        case 'W':
            o.window = num_arg("window", optarg, 1, 100000);
            break;
        case 's':
            o.seconds = num_arg("seconds", optarg, 0, 86400);
            break;
        case 'c':
            o.concurrency = num_arg("concurrency", optarg, 1, 100000);
            break;
        case 'P':
            o.procs = num_arg("procs", optarg, 1, 256);
            break;
        case 'i':
            o.server_pid = num_arg("server-pid", optarg, 1, 1u << 30);
            break;
        case 'I':
            o.ping_interval = num_arg("ping-interval", optarg, 0, 86400);
            break;
        case 'R':
            o.rate = num_arg("rate", optarg, 0, 100000000);
            break;
        case 'H':
            usage(0);
            break;
        default:
            usage(2);
        }
    }
    if (optind != argc || !o.password)
        usage(2);
    if (o.scenario == SC_PINGPONG) {
        o.pairs = 1;
        o.window = 1;
    } else if (o.scenario != SC_PAIRS) {
        o.pairs = 0;
    } else if (!pairs_set) {
        o.pairs = o.users / 2;
    }
    if (o.pairs * 2ull > o.users)
        die("--pairs %u needs at least %u users", o.pairs, o.pairs * 2);
    if (o.procs > o.users)
        die("--procs %u is more than --users %u", o.procs, o.users);
    /* They go into XML attributes and SCRAM fields unescaped. */
    const char *plain[] = {o.domain, o.prefix, o.label};
    for (int i = 0; i < 3; i++)
        if (strpbrk(plain[i], "'\"<>&,=\\ ") || (i < 2 && !*plain[i]))
            die("domain, prefix and label must be plain, got '%s'", plain[i]);
    if (strpbrk(o.password, "<>&") || !*o.password)
        die("the password must be non-empty, without <, > or &");
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);

    /* Each connection is a descriptor; 19 000 idle connections need far
     * more than the usual soft limit of 1024. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
        rl.rlim_cur < (o.users + o.procs - 1) / o.procs + 64)
        die("%u connections per process need more descriptors than the "
            "limit of %llu; use more --procs",
            (o.users + o.procs - 1) / o.procs, (unsigned long long)rl.rlim_cur);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    int gai = getaddrinfo(o.host, o.port, &hints, &addr);
    if (gai)
        die("%s:%s: %s", o.host, o.port, gai_strerror(gai));
    if (o.tls != TLS_NONE) {
        tls_ctx = SSL_CTX_new(TLS_client_method());
        if (!tls_ctx)
            die("SSL_CTX_new failed");
        SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                      SSL_MODE_RELEASE_BUFFERS);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
        SSL_CTX_set_options(tls_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
        /* Every login is a full handshake, as for separate clients. */
        SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF);
    }
    concurrency = (o.concurrency + o.procs - 1) / o.procs;
    co.rss_before = server_rss_kib();
    co.srv_cpu0 = co.srv_cpu1 = -1;

    int rc;
    if (o.procs == 1) {
        generate(o.first, o.pairs, o.first + 2 * o.pairs,
                 o.users - 2 * o.pairs, 0);
        rc = print_result(&rep, 1);
    } else {
        rc = run_procs();
    }
    freeaddrinfo(addr);
    if (tls_ctx)
        SSL_CTX_free(tls_ctx);
    return rc;
}
