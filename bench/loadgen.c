/* loadgen.c -- XMPP c2s load generator for theke (and other servers).
 *
 * One thread, one epoll set. It logs N accounts in over plaintext c2s
 * (RFC 6120 §4 stream, §6 SASL, §7 bind), then lets K pairs of them
 * exchange chat messages for S seconds, each sender keeping W messages
 * in flight, and prints one JSON line with the login rate, the message
 * rate, one-way latency percentiles, errors and losses, and the share of
 * a CPU the generator itself used.
 *
 * SASL: SCRAM-SHA-256 (RFC 7677) when offered, else PLAIN (RFC 4616);
 * theked offers PLAIN only over TLS. There is no TLS here, so the server
 * must accept plaintext logins (theked: c2s_require_encryption = false).
 *
 * It does not parse XML. The server is trusted to send well-formed,
 * single-quoted stanzas; a small scanner finds the elements each step
 * waits for. Anything it does not recognise is skipped. Not here either:
 * rosters, presence fan-out, offline storage and stream resumption.
 *
 * Writes are batched: a connection's output accumulates in its buffer
 * during a loop turn and goes out in one send() at the end of the turn. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
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
#include <time.h>
#include <unistd.h>

#define NS_SASL          "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND          "urn:ietf:params:xml:ns:xmpp-bind"
#define LOGIN_TIMEOUT_NS (30ull * 1000000000ull)
#define DRAIN_NS         (2ull * 1000000000ull)
#define IN_CAP           (4u << 20) /* bytes a peer may make us buffer */
#define OUT_CAP          (4u << 20) /* bytes we queue for one connection */
#define READ_CHUNK       65536
#define MAX_EVENTS       256

enum phase {
    PH_IDLE,       /* not connected yet */
    PH_CONNECTING, /* non-blocking connect() under way */
    PH_FEATURES1,  /* waiting for the first <stream:features/> */
    PH_SASL,       /* <auth/> sent, waiting for challenge or outcome */
    PH_FEATURES2,  /* stream restarted after SASL success */
    PH_BIND,       /* bind request sent */
    PH_PRESENCE,   /* initial presence sent, waiting for its reflection */
    PH_READY,      /* logged in */
    PH_CLOSED,
};

struct buf {
    char *p;    /* owned */
    size_t off; /* bytes already consumed from the front */
    size_t len; /* bytes in use, including off */
    size_t cap;
};

struct conn {
    int fd;
    unsigned user; /* account number, 1-based */
    enum phase phase;
    struct buf in;
    struct buf out;
    bool queued;     /* on the flush list for this loop turn */
    bool pollout;    /* EPOLLOUT is armed: the socket was full */
    bool scram;      /* SCRAM-SHA-256 rather than PLAIN */
    char cnonce[33]; /* SCRAM client nonce, hex */
    char *auth_msg;  /* owned, SCRAM AuthMessage */
    unsigned char server_sig[SHA256_DIGEST_LENGTH];
    struct conn *peer; /* messaging partner, or NULL when idle */
    uint64_t next_seq; /* next sequence number to send to peer */
    uint64_t expect;   /* next sequence number expected from peer */
    unsigned inflight; /* sent to peer, not yet received there */
};

struct opts {
    const char *host, *port, *domain, *prefix, *password;
    unsigned users, pairs, window, seconds, concurrency;
};

/* Latency histogram in nanoseconds: exact below 64 ns, then 32 buckets
 * per power of two, so a percentile is off by at most about 3 %. */
#define HIST_SUB 32
#define HIST_N   (64 + 58 * HIST_SUB)

static struct opts o = {
    .host = "127.0.0.1",
    .port = "5222",
    .domain = "localhost",
    .prefix = "u",
    .password = NULL,
    .users = 2,
    .pairs = 0,
    .window = 1,
    .seconds = 5,
    .concurrency = 100,
};
static int ep = -1;
static struct conn *conns;
static struct conn **flushq; /* connections with output this turn */
static size_t nflush;
static unsigned logging_in, ready, next_to_connect;
static bool sending; /* the measured window is open */
static bool measuring;
static uint64_t sent_total, recv_total, recv_window, errors;
static uint64_t hist[HIST_N];
static struct addrinfo *addr;

static void die(const char *fmt, ...);
static uint64_t now_ns(void);
static double cpu_seconds(void);
static void buf_add(struct buf *b, const void *p, size_t n);
static void buf_printf(struct buf *b, const char *fmt, ...);
static void buf_consume(struct buf *b, size_t n);
static void conn_start(struct conn *c);
static void conn_send_header(struct conn *c);
static void conn_queue(struct conn *c);
static void conn_flush(struct conn *c);
static void conn_fail(struct conn *c, const char *what);
static void conn_readable(struct conn *c);
static void handle_input(struct conn *c);
static void send_message(struct conn *c);

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
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
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
    size_t cap = b->cap ? b->cap : 4096;
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
 * Returns the decoded length, or -1 if s is not base64. */
static long b64_decode(const char *s, size_t n, unsigned char *out)
{
    uint32_t v = 0;
    int bits = 0;
    long len = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=')
            break;
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

/* Finds the next complete element <name ...>...</name> or <name .../> in
 * s[0..n). Returns 1 and sets [*start, *end) when one is complete, 0 when
 * one has begun but not ended (*start is set), -1 when there is none. */
static int elem_find(const char *s, size_t n, const char *name, size_t *start,
                     size_t *end)
{
    size_t nl = strlen(name);
    const char *p = s, *e = s + n;
    for (;;) {
        p = memmem(p, (size_t)(e - p), name, nl);
        if (!p)
            return -1;
        if (p > s && p[-1] == '<' && p + nl < e &&
            (p[nl] == ' ' || p[nl] == '>' || p[nl] == '/'))
            break;
        if (p + nl >= e && p > s && p[-1] == '<') {
            *start = (size_t)(p - 1 - s);
            return 0;
        }
        p += nl;
    }
    *start = (size_t)(p - 1 - s);
    /* End of the start tag; a quoted '>' does not count. */
    char quote = 0;
    const char *q = p + nl;
    for (; q < e; q++) {
        if (quote) {
            if (*q == quote)
                quote = 0;
        } else if (*q == '\'' || *q == '"') {
            quote = *q;
        } else if (*q == '>') {
            break;
        }
    }
    if (q >= e)
        return 0;
    if (q[-1] == '/') {
        *end = (size_t)(q + 1 - s);
        return 1;
    }
    char close[64];
    int cl = snprintf(close, sizeof(close), "</%s>", name);
    const char *c = memmem(q, (size_t)(e - q), close, (size_t)cl);
    if (!c)
        return 0;
    *end = (size_t)(c + cl - s);
    return 1;
}

/* The text content of a simple element s[0..n), <x ...>text</x>. */
static const char *elem_text(const char *s, size_t n, size_t *len)
{
    const char *gt = memchr(s, '>', n);
    const char *lt = gt ? memchr(gt, '<', (size_t)(s + n - gt)) : NULL;
    if (!gt || !lt || gt[-1] == '/') {
        *len = 0;
        return s + n;
    }
    *len = (size_t)(lt - gt - 1);
    return gt + 1;
}

/* Whether the start tag of the element at s[0..n) carries attr='val'. */
static bool has_attr(const char *s, size_t n, const char *attr)
{
    const char *gt = memchr(s, '>', n);
    size_t tl = gt ? (size_t)(gt - s) : n;
    return memmem(s, tl, attr, strlen(attr)) != NULL;
}

/* ---- SCRAM-SHA-256 client (RFC 5802 §3, RFC 7677) ----------------------- */

static void hmac256(const unsigned char *key, size_t kl, const void *d,
                    size_t dl, unsigned char out[SHA256_DIGEST_LENGTH])
{
    unsigned int ol = SHA256_DIGEST_LENGTH;
    if (!HMAC(EVP_sha256(), key, (int)kl, d, dl, out, &ol))
        die("HMAC-SHA-256 failed");
}

static void auth_send(struct conn *c, const char *mech, const char *data,
                      size_t n)
{
    char *enc = malloc(4 * ((n + 2) / 3) + 1);
    if (!enc)
        die("out of memory");
    b64_encode((const unsigned char *)data, n, enc);
    buf_printf(&c->out, "<auth xmlns='" NS_SASL "' mechanism='%s'>%s</auth>",
               mech, enc);
    free(enc);
}

static void sasl_start(struct conn *c)
{
    char first[256];
    int n;
    if (c->scram) {
        unsigned char rnd[16];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            die("getrandom: %s", strerror(errno));
        for (int i = 0; i < 16; i++)
            snprintf(c->cnonce + 2 * i, 3, "%02x", rnd[i]);
        n = snprintf(first, sizeof(first), "n,,n=%s%u,r=%s", o.prefix, c->user,
                     c->cnonce);
        auth_send(c, "SCRAM-SHA-256", first, (size_t)n);
    } else {
        n = snprintf(first, sizeof(first), "%c%s%u%c%s", 0, o.prefix, c->user,
                     0, o.password);
        auth_send(c, "PLAIN", first, (size_t)n);
    }
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
    unsigned char salt[256];
    if (sl > 300)
        return false;
    long saltl = b64_decode(s, sl, salt);
    if (saltl <= 0)
        return false;

    unsigned char salted[SHA256_DIGEST_LENGTH], ckey[SHA256_DIGEST_LENGTH];
    unsigned char stored[SHA256_DIGEST_LENGTH], skey[SHA256_DIGEST_LENGTH];
    unsigned char sig[SHA256_DIGEST_LENGTH], proof[SHA256_DIGEST_LENGTH];
    if (!PKCS5_PBKDF2_HMAC(o.password, (int)strlen(o.password), salt,
                           (int)saltl, (int)iter, EVP_sha256(), sizeof(salted),
                           salted))
        die("PBKDF2 failed");
    hmac256(salted, sizeof(salted), "Client Key", 10, ckey);
    SHA256(ckey, sizeof(ckey), stored);
    hmac256(salted, sizeof(salted), "Server Key", 10, skey);

    /* "biws" is base64("n,,"), the gs2-header without channel binding. */
    struct buf am = {0};
    buf_printf(&am, "n=%s%u,r=%s,%s,c=biws,r=%.*s", o.prefix, c->user,
               c->cnonce, msg, (int)rl, r);
    buf_add(&am, "", 1);
    c->auth_msg = am.p;
    size_t aml = strlen(am.p);
    hmac256(stored, sizeof(stored), am.p, aml, sig);
    for (size_t k = 0; k < sizeof(proof); k++)
        proof[k] = ckey[k] ^ sig[k];
    hmac256(skey, sizeof(skey), am.p, aml, c->server_sig);

    char p64[64];
    b64_encode(proof, sizeof(proof), p64);
    struct buf fin = {0};
    buf_printf(&fin, "c=biws,r=%.*s,p=%s", (int)rl, r, p64);
    char *enc = malloc(4 * ((fin.len + 2) / 3) + 1);
    if (!enc)
        die("out of memory");
    b64_encode((const unsigned char *)fin.p, fin.len, enc);
    buf_printf(&c->out, "<response xmlns='" NS_SASL "'>%s</response>", enc);
    free(enc);
    buf_free(&fin);
    return true;
}

/* Checks the server-final-message "v=..." of a SCRAM <success/>. */
static bool scram_verify(struct conn *c, const char *msg)
{
    char want[64];
    b64_encode(c->server_sig, sizeof(c->server_sig), want);
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

static void conn_start(struct conn *c)
{
    c->fd = socket(addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int r = connect(c->fd, addr->ai_addr, addr->ai_addrlen);
    if (r < 0 && errno != EINPROGRESS)
        die("connect to %s:%s: %s", o.host, o.port, strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->pollout = true;
    c->phase = PH_CONNECTING;
    logging_in++;
}

static void set_pollout(struct conn *c, bool on)
{
    if (c->pollout == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                             .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->pollout = on;
}

/* A connection that breaks after login counts as an error and leaves the
 * run; one that breaks during login ends the run, since the login figures
 * would be meaningless. */
static void conn_fail(struct conn *c, const char *what)
{
    if (c->phase == PH_CLOSED)
        return;
    if (c->phase != PH_READY)
        die("%s%u: %s during login", o.prefix, c->user, what);
    fprintf(stderr, "loadgen: %s%u: %s\n", o.prefix, c->user, what);
    errors++;
    close(c->fd);
    c->fd = -1;
    c->phase = PH_CLOSED;
    buf_free(&c->in);
    buf_free(&c->out);
}

static void conn_flush(struct conn *c)
{
    c->queued = false;
    if (c->phase == PH_CLOSED || c->phase == PH_CONNECTING)
        return;
    while (c->out.len > c->out.off) {
        ssize_t n = send(c->fd, c->out.p + c->out.off, c->out.len - c->out.off,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->out.len - c->out.off > OUT_CAP)
                conn_fail(c, "output queue over its cap");
            else
                set_pollout(c, true);
            return;
        }
        if (n < 0) {
            conn_fail(c, strerror(errno));
            return;
        }
        buf_consume(&c->out, (size_t)n);
    }
    set_pollout(c, false);
}

static void conn_writable(struct conn *c)
{
    if (c->phase == PH_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err)
            die("connect to %s:%s: %s", o.host, o.port, strerror(err));
        c->phase = PH_FEATURES1;
        conn_send_header(c);
        return;
    }
    conn_flush(c);
}

static void conn_readable(struct conn *c)
{
    if (c->phase == PH_CONNECTING || c->phase == PH_CLOSED)
        return;
    buf_reserve(&c->in, READ_CHUNK);
    ssize_t n = recv(c->fd, c->in.p + c->in.len, READ_CHUNK, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) {
        conn_fail(c, strerror(errno));
        return;
    }
    if (n == 0) {
        conn_fail(c, "server closed the connection");
        return;
    }
    c->in.len += (size_t)n;
    handle_input(c);
    if (c->phase != PH_CLOSED && c->in.len - c->in.off > IN_CAP)
        conn_fail(c, "input over its cap without a complete stanza");
}

/* ---- protocol ---------------------------------------------------------- */

static void login_done(struct conn *c)
{
    c->phase = PH_READY;
    logging_in--;
    ready++;
}

static void pick_mechanism(struct conn *c, const char *s, size_t n)
{
    bool scram = memmem(s, n, ">SCRAM-SHA-256<", 15) != NULL;
    bool plain = memmem(s, n, ">PLAIN<", 7) != NULL;
    if (!scram && !plain)
        die("%s%u: server offers neither SCRAM-SHA-256 nor PLAIN; "
            "is c2s_require_encryption = false?",
            o.prefix, c->user);
    c->scram = scram;
}

/* Reads a message that arrived on c; its body is "SEQ SENT_NS". */
static void on_message(struct conn *c, const char *s, size_t n)
{
    if (has_attr(s, n, "type='error'")) {
        errors++;
        return;
    }
    size_t bs, be;
    if (elem_find(s, n, "body", &bs, &be) != 1)
        return; /* not one of ours, e.g. a chat state */
    size_t tl;
    const char *t = elem_text(s + bs, be - bs, &tl);
    char tmp[64];
    if (tl == 0 || tl >= sizeof(tmp) || !c->peer) {
        errors++;
        return;
    }
    memcpy(tmp, t, tl);
    tmp[tl] = '\0';
    unsigned long long seq, ts;
    if (sscanf(tmp, "%llu %llu", &seq, &ts) != 2) {
        errors++;
        return;
    }
    uint64_t now = now_ns();
    /* RFC 6120 §10.1: stanzas between two entities arrive in order. */
    if (seq < c->expect)
        errors++;
    else
        c->expect = seq + 1;
    recv_total++;
    struct conn *from = c->peer;
    if (from->inflight > 0)
        from->inflight--;
    if (measuring) {
        recv_window++;
        uint64_t v = now > ts ? now - ts : 0;
        size_t idx;
        if (v < 64) {
            idx = (size_t)v;
        } else {
            int msb = 63 - __builtin_clzll(v);
            idx = 64 + (size_t)(msb - 6) * HIST_SUB +
                  (size_t)((v >> (msb - 5)) - HIST_SUB);
        }
        hist[idx]++;
    }
    if (sending && from->phase == PH_READY)
        send_message(from);
}

static void send_message(struct conn *c)
{
    buf_printf(&c->out,
               "<message to='%s%u@%s/r' type='chat' id='%llu'>"
               "<body>%llu %llu</body></message>",
               o.prefix, c->peer->user, o.domain,
               (unsigned long long)c->next_seq, (unsigned long long)c->next_seq,
               (unsigned long long)now_ns());
    c->next_seq++;
    c->inflight++;
    sent_total++;
    conn_queue(c);
}

/* Consumes what the current phase waits for from c->in, as often as it
 * can. A stream error or stream end is fatal for the connection. */
static void handle_input(struct conn *c)
{
    for (;;) {
        const char *s = c->in.p + c->in.off;
        size_t n = c->in.len - c->in.off, st, en;
        if (n == 0)
            return;
        if (memmem(s, n, "<stream:error", 13) ||
            memmem(s, n, "</stream:stream>", 16)) {
            conn_fail(c, "stream error or end from the server");
            return;
        }
        switch (c->phase) {
        case PH_FEATURES1:
        case PH_FEATURES2: {
            const char *f = memmem(s, n, "</stream:features>", 18);
            if (!f)
                return;
            size_t fl = (size_t)(f - s) + 18;
            if (c->phase == PH_FEATURES1) {
                pick_mechanism(c, s, fl);
                sasl_start(c);
            } else {
                buf_printf(&c->out,
                           "<iq type='set' id='b'><bind xmlns='" NS_BIND
                           "'><resource>r</resource></bind></iq>");
                c->phase = PH_BIND;
            }
            conn_queue(c);
            buf_consume(&c->in, fl);
            break;
        }
        case PH_SASL: {
            if (elem_find(s, n, "failure", &st, &en) == 1)
                die("%s%u: authentication failed: %.*s", o.prefix, c->user,
                    (int)(en - st > 200 ? 200 : en - st), s + st);
            int ch = elem_find(s, n, "challenge", &st, &en);
            int ok = ch == 1 ? -1 : elem_find(s, n, "success", &st, &en);
            if (ch != 1 && ok != 1)
                return;
            size_t tl;
            const char *t = elem_text(s + st, en - st, &tl);
            unsigned char *dec = malloc(tl + 1);
            if (!dec)
                die("out of memory");
            if (b64_decode(t, tl, dec) < 0)
                die("%s%u: bad base64 from the server", o.prefix, c->user);
            if (ch == 1) {
                if (!c->scram || c->auth_msg ||
                    !scram_challenge(c, (const char *)dec))
                    die("%s%u: unexpected SASL challenge", o.prefix, c->user);
            } else {
                if (c->scram && !scram_verify(c, (const char *)dec))
                    die("%s%u: server signature does not verify", o.prefix,
                        c->user);
                free(c->auth_msg);
                c->auth_msg = NULL;
                /* RFC 6120 §6.4.6: a new stream over the same socket. */
                c->phase = PH_FEATURES2;
                conn_send_header(c);
            }
            free(dec);
            conn_queue(c);
            buf_consume(&c->in, en);
            break;
        }
        case PH_BIND: {
            if (elem_find(s, n, "iq", &st, &en) != 1)
                return;
            if (has_attr(s + st, en - st, "id='b'")) {
                if (!has_attr(s + st, en - st, "type='result'"))
                    die("%s%u: bind failed: %.*s", o.prefix, c->user,
                        (int)(en - st > 200 ? 200 : en - st), s + st);
                buf_printf(&c->out, "<presence/>");
                conn_queue(c);
                c->phase = PH_PRESENCE;
            }
            buf_consume(&c->in, en);
            break;
        }
        case PH_PRESENCE:
            /* RFC 6121 §4.2.2: the server reflects initial presence to
             * the resource that sent it; after that, it is available. */
            if (elem_find(s, n, "presence", &st, &en) != 1)
                return;
            login_done(c);
            buf_consume(&c->in, en);
            break;
        case PH_READY: {
            int r = elem_find(s, n, "message", &st, &en);
            if (r == 1) {
                on_message(c, s + st, en - st);
                buf_consume(&c->in, en);
                break;
            }
            if (r == 0) {
                buf_consume(&c->in, st);
                return;
            }
            /* Nothing of interest: keep only a possibly partial tag. */
            const char *lt = memrchr(s, '<', n);
            buf_consume(&c->in, lt ? (size_t)(lt - s) : n);
            return;
        }
        default:
            return;
        }
        if (c->phase == PH_CLOSED)
            return;
    }
}

/* ---- main -------------------------------------------------------------- */

static void usage(int code)
{
    fprintf(code ? stderr : stdout,
            "usage: loadgen [--host H] [--port P] [--domain D] --users N\n"
            "               [--prefix u] --password PW [--pairs K]\n"
            "               [--window W] [--seconds S] [--concurrency C]\n"
            "Logs in accounts PREFIX1..PREFIXN, then K pairs (PREFIX2i-1,\n"
            "PREFIX2i) exchange messages for S seconds, each sender with W\n"
            "in flight. C bounds the logins under way at once. Prints one\n"
            "JSON line; exits 1 if logins do not complete within 30 s.\n");
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

static void parse_args(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", required_argument, 0, 'h'},
        {"port", required_argument, 0, 'p'},
        {"domain", required_argument, 0, 'd'},
        {"users", required_argument, 0, 'n'},
        {"prefix", required_argument, 0, 'x'},
        {"password", required_argument, 0, 'w'},
        {"pairs", required_argument, 0, 'k'},
        {"window", required_argument, 0, 'W'},
        {"seconds", required_argument, 0, 's'},
        {"concurrency", required_argument, 0, 'c'},
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
        case 'n':
            o.users = num_arg("users", optarg, 1, 1000000);
            break;
        case 'k':
            o.pairs = num_arg("pairs", optarg, 0, 500000);
            pairs_set = true;
            break;
        case 'W':
            o.window = num_arg("window", optarg, 1, 100000);
            break;
        case 's':
            o.seconds = num_arg("seconds", optarg, 1, 3600);
            break;
        case 'c':
            o.concurrency = num_arg("concurrency", optarg, 1, 100000);
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
    if (!pairs_set)
        o.pairs = o.users / 2;
    if (o.pairs * 2ull > o.users)
        die("--pairs %u needs at least %u users", o.pairs, o.pairs * 2);
    /* They go into XML attributes and SCRAM fields unescaped. */
    const char *plain[] = {o.domain, o.prefix};
    for (int i = 0; i < 2; i++)
        if (strpbrk(plain[i], "'\"<>&,= ") || !*plain[i])
            die("domain and prefix must be plain, got '%s'", plain[i]);
    if (strpbrk(o.password, "<>&") || !*o.password)
        die("the password must be non-empty, without <, > or &");
}

static double hist_pct(double p, uint64_t count)
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

/* One epoll turn: handle events, then flush what the turn produced. */
static void loop_once(int timeout_ms)
{
    struct epoll_event ev[MAX_EVENTS];
    int n = epoll_wait(ep, ev, MAX_EVENTS, timeout_ms);
    if (n < 0 && errno != EINTR)
        die("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        struct conn *c = ev[i].data.ptr;
        if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            conn_writable(c);
        if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            conn_readable(c);
    }
    for (size_t i = 0; i < nflush; i++)
        conn_flush(flushq[i]);
    nflush = 0;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    int gai = getaddrinfo(o.host, o.port, &hints, &addr);
    if (gai)
        die("%s:%s: %s", o.host, o.port, gai_strerror(gai));
    ep = epoll_create1(0);
    if (ep < 0)
        die("epoll_create1: %s", strerror(errno));
    conns = calloc(o.users, sizeof(*conns));
    flushq = calloc(o.users, sizeof(*flushq));
    if (!conns || !flushq)
        die("out of memory");
    for (unsigned i = 0; i < o.users; i++) {
        conns[i].fd = -1;
        conns[i].user = i + 1;
    }
    for (unsigned i = 0; i < o.pairs; i++) {
        conns[2 * i].peer = &conns[2 * i + 1];
        conns[2 * i + 1].peer = &conns[2 * i];
    }

    /* Logins, at most o.concurrency under way at once. */
    double cpu0 = cpu_seconds();
    uint64_t t0 = now_ns();
    while (ready < o.users) {
        while (next_to_connect < o.users && logging_in < o.concurrency)
            conn_start(&conns[next_to_connect++]);
        for (size_t i = 0; i < nflush; i++)
            conn_flush(flushq[i]);
        nflush = 0;
        uint64_t now = now_ns();
        if (now - t0 > LOGIN_TIMEOUT_NS)
            die("timeout: %u of %u logins done after 30 s", ready, o.users);
        uint64_t left_ms = (LOGIN_TIMEOUT_NS - (now - t0)) / 1000000 + 1;
        loop_once(left_ms > 100 ? 100 : (int)left_ms);
    }
    uint64_t t1 = now_ns();
    double login_cpu = cpu_seconds() - cpu0;
    double login_s = (double)(t1 - t0) / 1e9;

    /* Messages: each side of each pair starts with a full window. */
    double cpu1 = cpu_seconds();
    uint64_t m0 = now_ns(), m_end = m0 + o.seconds * 1000000000ull;
    sending = measuring = true;
    for (unsigned i = 0; i < 2 * o.pairs; i++)
        for (unsigned w = 0; w < o.window; w++)
            send_message(&conns[i]);
    for (;;) {
        uint64_t now = now_ns();
        if (now >= m_end)
            break;
        uint64_t left_ms = (m_end - now) / 1000000 + 1;
        loop_once(left_ms > 100 ? 100 : (int)left_ms);
    }
    uint64_t m1 = now_ns();
    double cpu_msg = cpu_seconds() - cpu1;
    double wall_msg = (double)(m1 - m0) / 1e9;
    sending = measuring = false;

    /* Drain: whatever is still in flight gets 2 s to arrive. */
    uint64_t d_end = now_ns() + DRAIN_NS;
    while (recv_total < sent_total) {
        uint64_t now = now_ns();
        if (now >= d_end)
            break;
        uint64_t left_ms = (d_end - now) / 1000000 + 1;
        loop_once(left_ms > 100 ? 100 : (int)left_ms);
    }

    printf("{\"connections\": %u, \"login_seconds\": %.3f, "
           "\"logins_per_s\": %.1f, \"login_gen_cpu_s\": %.3f, "
           "\"pairs\": %u, \"window\": %u, \"seconds\": %.3f, "
           "\"messages\": %llu, \"msgs_per_s\": %.1f, "
           "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"errors\": %llu, "
           "\"lost\": %llu, \"gen_cpu_s\": %.3f, \"gen_cpu_share\": %.3f}\n",
           o.users, login_s, login_s > 0 ? o.users / login_s : 0.0, login_cpu,
           o.pairs, o.window, wall_msg, (unsigned long long)recv_window,
           wall_msg > 0 ? (double)recv_window / wall_msg : 0.0,
           hist_pct(0.50, recv_window) / 1e6, hist_pct(0.99, recv_window) / 1e6,
           (unsigned long long)errors,
           (unsigned long long)(sent_total - recv_total), cpu_msg,
           wall_msg > 0 ? cpu_msg / wall_msg : 0.0);
    fflush(stdout);

    for (unsigned i = 0; i < o.users; i++) {
        if (conns[i].fd >= 0)
            close(conns[i].fd);
        buf_free(&conns[i].in);
        buf_free(&conns[i].out);
        free(conns[i].auth_msg);
    }
    free(conns);
    free(flushq);
    freeaddrinfo(addr);
    close(ep);
    return 0;
}
