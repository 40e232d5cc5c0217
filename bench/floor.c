/* floor.c -- the least a server can do for loadgen's message runs.
 *
 *   floor --port P [--domain D] [--prefix u] [--users N]
 *
 * It answers the login loadgen performs (stream headers, SASL PLAIN
 * without looking at the password, bind, the reflection of initial
 * presence, pings) with fixed replies, and then relays each <message/>
 * byte for byte to the connection of the account its 'to' names. One
 * thread and one epoll set; every ready connection is read once per
 * loop turn and every connection with output is written once at the
 * end of the turn, as theked does. What is left is what relaying a
 * message over loopback TCP costs any server on this machine: a recv()
 * and a send(), the kernel's delivery to the receiving socket, the
 * wake-ups of sleeping processes. bench/run.sh measures it beside the
 * servers under the same load: the floor of CPU per message and of
 * latency that no XMPP server here can go below.
 *
 * It knows loadgen's traffic and nothing else: accounts named PREFIX
 * followed by a number up to --users, stanzas without nested elements
 * of their own name, attribute values without '>', no TLS. Anything
 * else closes the connection. Not a server: do not expose it. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"

#define MAX_EVENTS 256
#define READ_SPACE (256 * 1024)
/* Bounds per connection: a partial stanza, and output the peer does not
 * read. Either one exceeded closes the connection. */
#define IN_CAP       (64 * 1024)
#define OUT_CAP      (8 * 1024 * 1024)
#define NAME_MAX_LEN 64

struct conn {
    int fd;
    unsigned user;  /* 0 until SASL names the account */
    bool authed;    /* the next stream header gets the bind features */
    bool queued;    /* on the flush list */
    bool want_out;  /* EPOLLOUT is asked for */
    struct buf in;  /* a partial stanza carried over */
    struct buf out; /* written at the end of the turn */
    struct conn *next_dead;
};

static struct {
    const char *domain, *prefix;
    unsigned users;
    struct conn **by_user; /* [1..users] */
    struct conn **flush;   /* connections with output this turn */
    size_t nflush, flush_cap;
    int ep;
    struct conn *dead; /* closed this turn */
    unsigned long long relayed, dropped;
} fl = {.domain = "localhost", .prefix = "u", .users = 20000};

static char rbuf[READ_SPACE];
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void die(const char *what)
{
    fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void set_out_interest(struct conn *c, bool on)
{
    if (c->want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                             .data.ptr = c};
    epoll_ctl(fl.ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = on;
}

/* Closes c now; it is freed at the end of the turn, when no event of
 * this turn can name it any more. */
static void conn_close(struct conn *c)
{
    if (c->fd < 0)
        return;
    if (c->user && fl.by_user[c->user] == c)
        fl.by_user[c->user] = NULL;
    close(c->fd);
    c->fd = -1;
    c->next_dead = fl.dead;
    fl.dead = c;
}

static void free_dead(void)
{
    while (fl.dead) {
        struct conn *c = fl.dead;
        fl.dead = c->next_dead;
        buf_free(&c->in);
        buf_free(&c->out);
        free(c);
    }
}

static bool queue_out(struct conn *c)
{
    if (buf_used(&c->out) > OUT_CAP)
        return false;
    if (!c->queued) {
        if (fl.nflush == fl.flush_cap) {
            fl.flush_cap = fl.flush_cap ? fl.flush_cap * 2 : 256;
            fl.flush = xrealloc(fl.flush, fl.flush_cap * sizeof(*fl.flush));
        }
        fl.flush[fl.nflush++] = c;
        c->queued = true;
    }
    return true;
}

/* Sends what c has queued; false when the connection is gone. */
static bool conn_write(struct conn *c)
{
    while (buf_used(&c->out) > 0) {
        ssize_t n =
            send(c->fd, buf_data(&c->out), buf_used(&c->out), MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            set_out_interest(c, true);
            return true;
        }
        if (n <= 0)
            return false;
        buf_consume(&c->out, (size_t)n);
    }
    set_out_interest(c, false);
    return true;
}

/* The account number in name[0..len) ("u17" -> 17), 0 if it is not one
 * of ours. */
static unsigned user_number(const char *name, size_t len)
{
    size_t pl = strlen(fl.prefix);
    if (len <= pl || len > pl + 9 || memcmp(name, fl.prefix, pl) != 0)
        return 0;
    unsigned v = 0;
    for (size_t i = pl; i < len; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        v = v * 10 + (unsigned)(name[i] - '0');
    }
    return v <= fl.users ? v : 0;
}

static const char *find(const char *s, size_t n, const char *what)
{
    return memmem(s, n, what, strlen(what));
}

/* The value of attribute name in the start tag tag[0..n), quoted either
 * way; NULL if absent. */
static const char *attr(const char *tag, size_t n, const char *name,
                        size_t *len)
{
    size_t nl = strlen(name);
    for (const char *p = tag; (p = memmem(p, n - (size_t)(p - tag), name, nl));
         p += nl) {
        const char *v = p + nl;
        if (p == tag || p[-1] != ' ' || v + 2 > tag + n || v[0] != '=' ||
            (v[1] != '\'' && v[1] != '"'))
            continue;
        const char *end = memchr(v + 2, v[1], (size_t)(tag + n - v - 2));
        if (!end)
            return NULL;
        *len = (size_t)(end - v - 2);
        return v + 2;
    }
    return NULL;
}

static void stream_header(struct conn *c)
{
    buf_printf(&c->out,
               "<?xml version='1.0'?><stream:stream xmlns='jabber:client'"
               " xmlns:stream='http://etherx.jabber.org/streams' id='f'"
               " from='%s' version='1.0'><stream:features>",
               fl.domain);
    if (c->authed)
        buf_printf(&c->out, "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>");
    else
        buf_printf(&c->out,
                   "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                   "<mechanism>PLAIN</mechanism></mechanisms>");
    buf_printf(&c->out, "</stream:features>");
}

/* SASL PLAIN (RFC 4616): [authzid] NUL authcid NUL password. */
static bool on_auth(struct conn *c, const char *s, size_t n)
{
    const char *gt = memchr(s, '>', n),
               *lt = gt ? find(gt, n - (size_t)(gt - s), "</") : NULL;
    if (!lt)
        return false;
    struct buf dec = BUF_INIT;
    bool ok = base64_decode(gt + 1, (size_t)(lt - gt - 1), &dec) == 0;
    const char *p = buf_data(&dec), *e = p + buf_used(&dec);
    const char *nul = ok ? memchr(p, '\0', (size_t)(e - p)) : NULL;
    const char *name = nul ? nul + 1 : NULL;
    const char *end = name ? memchr(name, '\0', (size_t)(e - name)) : NULL;
    unsigned u = end ? user_number(name, (size_t)(end - name)) : 0;
    buf_free(&dec);
    if (u == 0) {
        buf_printf(&c->out, "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                            "<not-authorized/></failure>");
        return true;
    }
    if (fl.by_user[u] && fl.by_user[u] != c)
        fl.by_user[u]->user = 0; /* the newer login takes the name */
    fl.by_user[u] = c;
    c->user = u;
    c->authed = true;
    buf_printf(&c->out, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    return true;
}

static void on_iq(struct conn *c, const char *s, size_t n, size_t tag_len)
{
    size_t il = 0;
    const char *id = attr(s, tag_len, "id", &il);
    if (!id)
        return;
    if (find(s, n, "<bind"))
        buf_printf(&c->out,
                   "<iq type='result' id='%.*s'><bind xmlns='urn:ietf:params:"
                   "xml:ns:xmpp-bind'><jid>%s%u@%s/r</jid></bind></iq>",
                   (int)il, id, fl.prefix, c->user, fl.domain);
    else
        buf_printf(&c->out, "<iq type='result' id='%.*s'/>", (int)il, id);
}

/* Relays the message s[0..n) to the account its 'to' names. A
 * recipient that does not read what it is sent is closed, not the
 * sender. */
static void on_message(const char *s, size_t tag_len, size_t n)
{
    size_t tl = 0;
    const char *to = attr(s, tag_len, "to", &tl);
    const char *at = to ? memchr(to, '@', tl) : NULL;
    unsigned u = at ? user_number(to, (size_t)(at - to)) : 0;
    struct conn *dst = u ? fl.by_user[u] : NULL;
    if (!dst) {
        fl.dropped++;
        return;
    }
    buf_append(&dst->out, s, n);
    fl.relayed++;
    if (!queue_out(dst))
        conn_close(dst);
}

/* Acts on the complete stanzas of s[0..n); returns the bytes used, or
 * (size_t)-1 when the connection must close. */
static size_t handle(struct conn *c, const char *s, size_t n)
{
    size_t pos = 0;
    for (;;) {
        while (pos < n && (s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\r' ||
                           s[pos] == '\t'))
            pos++;
        if (pos == n)
            return pos;
        const char *p = s + pos;
        size_t left = n - pos;
        if (*p != '<')
            return (size_t)-1;
        const char *gt = memchr(p, '>', left);
        if (!gt)
            return pos;
        size_t tag_len = (size_t)(gt - p) + 1, len;
        if (left >= 5 && memcmp(p, "<?xml", 5) == 0) {
            pos += tag_len;
            continue;
        }
        if (left >= 14 && memcmp(p, "<stream:stream", 14) == 0) {
            stream_header(c);
            pos += tag_len;
            continue;
        }
        if (left >= 2 && p[1] == '/')
            return (size_t)-1; /* </stream:stream> */
        size_t nl = strcspn(p + 1, " />");
        if (nl == 0 || nl >= NAME_MAX_LEN || nl + 1 >= tag_len)
            return (size_t)-1;
        if (gt[-1] == '/') {
            len = tag_len;
        } else {
            char close[NAME_MAX_LEN + 4];
            snprintf(close, sizeof(close), "</%.*s>", (int)nl, p + 1);
            const char *e = find(p + tag_len, left - tag_len, close);
            if (!e)
                return pos;
            len = (size_t)(e - p) + strlen(close);
        }
        bool ok = true;
        if (nl == 7 && memcmp(p + 1, "message", 7) == 0) {
            ok = c->user != 0;
            if (ok)
                on_message(p, tag_len, len);
        } else if (nl == 4 && memcmp(p + 1, "auth", 4) == 0)
            ok = on_auth(c, p, len);
        else if (nl == 2 && memcmp(p + 1, "iq", 2) == 0)
            on_iq(c, p, len, tag_len);
        else if (nl == 8 && memcmp(p + 1, "presence", 8) == 0 && c->user)
            buf_printf(&c->out, "<presence from='%s%u@%s/r' to='%s%u@%s/r'/>",
                       fl.prefix, c->user, fl.domain, fl.prefix, c->user,
                       fl.domain);
        if (!ok)
            return (size_t)-1;
        pos += len;
    }
}

/* Reads once (the kernel hands over what is there) and handles it;
 * false when the connection is gone. */
static bool conn_read(struct conn *c)
{
    ssize_t got = recv(c->fd, rbuf, sizeof(rbuf), 0);
    if (got < 0)
        return errno == EAGAIN || errno == EINTR;
    if (got == 0)
        return false;
    const char *s = rbuf;
    size_t n = (size_t)got;
    bool kept = buf_used(&c->in) > 0;
    if (kept) {
        buf_append(&c->in, rbuf, n);
        s = buf_data(&c->in);
        n = buf_used(&c->in);
    }
    size_t used = handle(c, s, n);
    if (used == (size_t)-1)
        return false;
    if (kept)
        buf_consume(&c->in, used);
    else if (used < n)
        buf_append(&c->in, s + used, n - used);
    if (buf_used(&c->in) > IN_CAP)
        return false;
    return buf_used(&c->out) == 0 || queue_out(c);
}

static void accept_all(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = xcalloc(1, sizeof(*c));
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(fl.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
        }
    }
}

static int listen_on(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((unsigned short)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("bind");
    if (listen(fd, 1024) < 0)
        die("listen");
    return fd;
}

static void usage(void)
{
    fprintf(stderr, "usage: floor --port P [--domain D] [--prefix u]"
                    " [--users N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"domain", required_argument, NULL, 'd'},
        {"prefix", required_argument, NULL, 'x'},
        {"users", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    unsigned port = 0;
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        char *end = NULL;
        switch (o) {
        case 'p':
            port = (unsigned)strtoul(optarg, &end, 10);
            if (*end || port == 0 || port > 65535)
                usage();
            break;
        case 'd':
            fl.domain = optarg;
            break;
        case 'x':
            fl.prefix = optarg;
            break;
        case 'n':
            fl.users = (unsigned)strtoul(optarg, &end, 10);
            if (*end || fl.users == 0 || fl.users > 1000000)
                usage();
            break;
        default:
            usage();
        }
    }
    if (!port || optind != argc)
        usage();
    fl.by_user = xcalloc(fl.users + 1, sizeof(*fl.by_user));
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    int lfd = listen_on(port);
    fl.ep = epoll_create1(EPOLL_CLOEXEC);
    if (fl.ep < 0)
        die("epoll_create1");
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(fl.ep, EPOLL_CTL_ADD, lfd, &lev);
    struct epoll_event evs[MAX_EVENTS];
    while (!stopping) {
        int n = epoll_wait(fl.ep, evs, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                accept_all(lfd);
                continue;
            }
            if (c->fd < 0)
                continue;
            bool alive = true;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                alive = conn_read(c);
            if (alive && (evs[i].events & EPOLLOUT))
                alive = conn_write(c);
            if (!alive)
                conn_close(c);
        }
        for (size_t i = 0; i < fl.nflush; i++) {
            struct conn *c = fl.flush[i];
            c->queued = false;
            if (c->fd >= 0 && !conn_write(c))
                conn_close(c);
        }
        fl.nflush = 0;
        free_dead();
    }
    fprintf(stderr, "floor: %llu messages relayed, %llu dropped\n", fl.relayed,
            fl.dropped);
    return 0;
}
