/* conn.c -- see conn.h. */
#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/iopool.h"
#include "core/log.h"
#include "core/memtrim.h"
#include "net/tls.h"

/* Reads per wakeup are bounded so one busy peer cannot starve the rest
 * (libuv reads 32 times; our chunks are larger). */
#define READ_CHUNK 16384
#define MAX_READS_PER_WAKEUP 4
/* Below this many sockets in a turn, handing them to other threads
 * costs more than it saves. A plaintext read or write is a system call
 * of a microsecond or two: only a turn of hundreds is worth a helper,
 * which may moreover be preempted while it holds one, and the loop then
 * waits for it with every message of the turn (measured: the slowest
 * messages in a hundred at 100 chatting pairs were late by a third for
 * it). TLS records and handshakes cost many times more. */
#define PARALLEL_MIN_TLS   8
#define PARALLEL_MIN_PLAIN 256
/* Bytes one I/O thread may read in one turn; what does not fit waits
 * for the next turn (epoll reports the socket again). */
#define SCRATCH_SIZE (1u << 20)

enum { READ_OK, READ_EOF, READ_ERROR, READ_TLS_ERROR };

static unsigned long next_id = 1;
static struct conn *dirty_head; /* connections with output or closing */
static size_t open_count;
/* All live connections, for shutdown: a doubly-linked list would cost
 * two pointers per connection; a simple array of pointers indexed by fd
 * costs less and gives O(1) removal. */
static struct conn **by_fd;
static int by_fd_cap;
/* Readable connections collected by on_io() for conn_read_collected(),
 * and the batch of the parallel send; both reused every turn. */
static struct conn **readable;
static size_t nreadable, nreadable_tls, readable_cap;
static struct conn **flushing;
static size_t flushing_cap;
/* Per I/O thread: where its reads of this turn go. */
static struct scratch {
    char *p;
    size_t used;
} *scratch;
static unsigned nscratch;

static void on_io(struct loop *l, int fd, void *ud, unsigned events);
static void collect_readable(struct conn *c);
static void read_chunks(struct conn *c, size_t room);
static void finish_close(struct conn *c);

static void mark_dirty(struct conn *c)
{
    if (c->flags & CONN_F_QUEUED)
        return;
    c->flags |= CONN_F_QUEUED;
    c->next_dirty = dirty_head;
    dirty_head = c;
}

static void describe_peer(struct conn *c, const struct sockaddr *sa)
{
    c->peer_addr[0] = '\0';
    if (!sa)
        return;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, c->peer_addr, sizeof(c->peer_addr));
        c->peer_loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, c->peer_addr,
                  sizeof(c->peer_addr));
        c->peer_loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            c->peer_loopback = in6->sin6_addr.s6_addr[12] == 127;
    }
}

static void set_watch(struct conn *c, unsigned events)
{
    if (c->watching == events)
        return;
    c->watching = events;
    loop_mod(c->loop, c->fd, events);
}

/* What the socket should be watched for, given our state. */
static void update_watch(struct conn *c)
{
    unsigned ev = 0;
    if (c->flags & CONN_F_HANDSHAKE) {
        ev = tls_want(c->tls) ? tls_want(c->tls) : LOOP_READ;
    } else {
        if (!(c->flags & (CONN_F_PAUSED | CONN_F_CLOSING)))
            ev |= LOOP_READ;
        /* A handler waiting for the output to drain is told from a
         * write event: one piece per turn, whatever the socket takes. */
        if (buf_used(&c->out) > 0 || c->flags & CONN_F_WANT_DRAIN)
            ev |= LOOP_WRITE;
        if (c->tls && tls_want(c->tls))
            ev |= tls_want(c->tls);
    }
    set_watch(c, ev);
}

struct conn *conn_new(struct loop *l, int fd, const struct sockaddr *peer,
                      struct tls_ctx *tls_ctx, const struct conn_handler *h,
                      void *ud)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->id = next_id++;
    c->fd = fd;
    c->loop = l;
    c->h = h;
    c->ud = ud;
    c->max_out = 1u << 20;
    describe_peer(c, peer);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (loop_add(l, fd, LOOP_READ, on_io, c) < 0) {
        close(fd);
        free(c);
        return NULL;
    }
    c->watching = LOOP_READ;
    if (fd >= by_fd_cap) {
        int n = by_fd_cap ? by_fd_cap : 256;
        while (n <= fd)
            n *= 2;
        by_fd = xrealloc(by_fd, (size_t)n * sizeof(*by_fd));
        memset(by_fd + by_fd_cap, 0, (size_t)(n - by_fd_cap) * sizeof(*by_fd));
        by_fd_cap = n;
    }
    by_fd[fd] = c;
    open_count++;
    if (tls_ctx) {
        c->tls = tls_new(tls_ctx, fd);
        if (!c->tls) {
            conn_close_async(c, "TLS setup failed");
            return c;
        }
        c->flags |= CONN_F_TLS | CONN_F_HANDSHAKE;
    }
    return c;
}

struct buf *conn_outbuf(struct conn *c) { return &c->out; }

void conn_wrote(struct conn *c)
{
    if (c->flags & CONN_F_CLOSING && c->close_reason)
        return;
    if (buf_used(&c->out) > c->max_out) {
        /* The peer does not read what we send: drop it rather than
         * queue without bound. */
        log_info(c->id, "output buffer over %zu bytes, disconnecting",
                 c->max_out);
        buf_reset(&c->out);
        conn_close_async(c, "slow reader");
        return;
    }
    mark_dirty(c);
}

void conn_write(struct conn *c, const void *data, size_t len)
{
    if (c->flags & CONN_F_CLOSING)
        return;
    buf_append(&c->out, data, len);
    conn_wrote(c);
}

void conn_starttls(struct conn *c, struct tls_ctx *ctx)
{
    c->flags |= CONN_F_STARTTLS;
    c->tls_ctx = ctx;
    mark_dirty(c);
}

void conn_close_async(struct conn *c, const char *reason)
{
    if (!(c->flags & CONN_F_CLOSING)) {
        c->flags |= CONN_F_CLOSING;
        c->close_reason = reason;
    }
    mark_dirty(c);
}

void conn_want_drain(struct conn *c)
{
    c->flags |= CONN_F_WANT_DRAIN;
    mark_dirty(c);
}

void conn_pause_read(struct conn *c, bool pause)
{
    if (pause)
        c->flags |= CONN_F_PAUSED;
    else
        c->flags &= ~CONN_F_PAUSED;
    if (!(c->flags & CONN_F_HANDSHAKE))
        update_watch(c);
    if (!pause && c->tls && tls_pending(c->tls) > 0) {
        c->flags |= CONN_F_READ_AGAIN;
        mark_dirty(c);
    }
}

bool conn_is_tls(const struct conn *c) { return c->tls != NULL; }

const char *conn_tls_version(const struct conn *c)
{
    return c->tls ? tls_version(c->tls) : "";
}

int conn_channel_binding(struct conn *c, const char *type, unsigned char *out,
                         size_t max)
{
    if (!c->tls || (c->flags & CONN_F_HANDSHAKE))
        return -ERR_NOTFOUND;
    return tls_channel_binding(c->tls, type, out, max);
}

void conn_set_handler(struct conn *c, const struct conn_handler *h, void *ud)
{
    c->h = h;
    c->ud = ud;
}

int conn_set_peer(struct conn *c, const char *addr)
{
    struct sockaddr_in in = { .sin_family = AF_INET };
    struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
    if (inet_pton(AF_INET, addr, &in.sin_addr) == 1)
        describe_peer(c, (struct sockaddr *)&in);
    else if (inet_pton(AF_INET6, addr, &in6.sin6_addr) == 1)
        describe_peer(c, (struct sockaddr *)&in6);
    else
        return -ERR_INVAL;
    return 0;
}

void conn_trim(struct conn *c)
{
    if (buf_used(&c->out) == 0)
        buf_free(&c->out);
}

/* Sends as much queued output as the socket takes. Returns 0, or a
 * negative ERR_* when the connection is dead. */
static int try_flush(struct conn *c)
{
    while (buf_used(&c->out) > 0) {
        ssize_t n;
        if (c->tls) {
            n = tls_write(c->tls, buf_data(&c->out), buf_used(&c->out));
            if (n == -ERR_AGAIN)
                return 0;
            if (n < 0)
                return (int)n;
        } else {
            n = send(c->fd, buf_data(&c->out), buf_used(&c->out),
                     MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return 0;
                if (errno == EINTR)
                    continue;
                return -ERR_CLOSED;
            }
        }
        buf_consume(&c->out, (size_t)n);
    }
    if (c->out.cap > 65536) {
        /* A burst is over: give the memory back, idle connections must
         * stay small. */
        buf_free(&c->out);
    }
    return 0;
}

static void do_handshake(struct conn *c)
{
    int r = tls_handshake(c->tls);
    if (r == 0) {
        c->flags &= ~CONN_F_HANDSHAKE;
        memtrim_note();
        log_debug(c->id, "TLS established (%s)", tls_version(c->tls));
        update_watch(c);
        /* Data may have arrived together with the last handshake flight. */
        if (tls_pending(c->tls) > 0) {
            c->flags |= CONN_F_READ_AGAIN;
            mark_dirty(c);
        }
        return;
    }
    if (r == -ERR_AGAIN) {
        update_watch(c);
        return;
    }
    conn_close_async(c, "TLS handshake failed");
}

static void do_read(struct conn *c)
{
    static char chunk[READ_CHUNK];
    for (int i = 0; i < MAX_READS_PER_WAKEUP; i++) {
        if (c->flags & (CONN_F_CLOSING | CONN_F_PAUSED | CONN_F_STARTTLS))
            return;
        ssize_t n;
        if (c->tls) {
            n = tls_read(c->tls, chunk, sizeof(chunk));
            if (n == -ERR_AGAIN) {
                update_watch(c);
                return;
            }
            if (n < 0) {
                conn_close_async(c, "TLS error");
                return;
            }
        } else {
            n = recv(c->fd, chunk, sizeof(chunk), 0);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return;
                if (errno == EINTR)
                    continue;
                conn_close_async(c, "read error");
                return;
            }
        }
        if (n == 0) {
            conn_close_async(c, "closed by peer");
            return;
        }
        c->h->data(c, chunk, (size_t)n);
        if ((size_t)n < sizeof(chunk) && !(c->tls && tls_pending(c->tls)))
            return;
    }
    /* The bound was reached with data left inside TLS, where epoll cannot
     * see it: come back next turn. */
    if (c->tls && tls_pending(c->tls) > 0) {
        c->flags |= CONN_F_READ_AGAIN;
        mark_dirty(c);
    }
}

static void on_io(struct loop *l, int fd, void *ud, unsigned events)
{
    (void)l;
    (void)fd;
    struct conn *c = ud;
    if (c->flags & CONN_F_HANDSHAKE) {
        do_handshake(c);
        return;
    }
    if (events & LOOP_WRITE) {
        if (try_flush(c) < 0) {
            buf_reset(&c->out);
            conn_close_async(c, "write error");
            return;
        }
        if (c->flags & CONN_F_STARTTLS && buf_used(&c->out) == 0)
            mark_dirty(c);
        if (c->flags & CONN_F_WANT_DRAIN && buf_used(&c->out) == 0 &&
            !(c->flags & CONN_F_CLOSING)) {
            c->flags &= ~CONN_F_WANT_DRAIN;
            if (c->h->drained)
                c->h->drained(c);
        }
        update_watch(c);
    }
    if (events & LOOP_READ) {
        if (c->flags & CONN_F_CLOSING) {
            /* Only a hang-up is expected now; do not spin on it. */
            set_watch(c, buf_used(&c->out) ? LOOP_WRITE : 0);
            return;
        }
        if (iopool_threads() > 1)
            collect_readable(c);
        else
            do_read(c);
    }
}

static bool worth_parallel(size_t n, size_t ntls)
{
    return ntls >= PARALLEL_MIN_TLS || n >= PARALLEL_MIN_PLAIN;
}

static void collect_readable(struct conn *c)
{
    if (c->flags & CONN_F_READABLE)
        return;
    if (nreadable == readable_cap) {
        readable_cap = readable_cap ? readable_cap * 2 : 256;
        readable = xrealloc(readable, readable_cap * sizeof(*readable));
    }
    c->flags |= CONN_F_READABLE;
    readable[nreadable++] = c;
    if (c->tls)
        nreadable_tls++;
}

/* On an I/O thread: what do_read() does, into c->in instead of to the
 * upper layer. Touches nothing but c's socket, TLS state and buffer. */
static void read_into_buffer(void *item, unsigned worker)
{
    struct conn *c = item;
    struct scratch *sc = &scratch[worker];
    c->read_status = READ_OK;
    c->in_len = 0;
    if (c->flags & (CONN_F_CLOSING | CONN_F_PAUSED | CONN_F_STARTTLS))
        return;
    if (!sc->p)
        sc->p = xmalloc(SCRATCH_SIZE);
    c->in = sc->p + sc->used;
    read_chunks(c, SCRATCH_SIZE - sc->used);
    sc->used += c->in_len;
}

static void read_chunks(struct conn *c, size_t room)
{
    for (int i = 0; i < MAX_READS_PER_WAKEUP; i++) {
        if (room - c->in_len < READ_CHUNK)
            return;
        char *w = c->in + c->in_len;
        ssize_t n;
        if (c->tls) {
            n = tls_read(c->tls, w, READ_CHUNK);
            if (n == -ERR_AGAIN)
                return;
            if (n < 0) {
                c->read_status = READ_TLS_ERROR;
                return;
            }
        } else {
            n = recv(c->fd, w, READ_CHUNK, 0);
            if (n < 0) {
                if (errno == EINTR) {
                    i--;
                    continue;
                }
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                    c->read_status = READ_ERROR;
                return;
            }
        }
        if (n == 0) {
            c->read_status = READ_EOF;
            return;
        }
        c->in_len += (size_t)n;
        if ((size_t)n < READ_CHUNK && !(c->tls && tls_pending(c->tls)))
            return;
    }
}

/* Back on the loop thread: hands what was read to the upper layer. */
static void deliver_buffer(struct conn *c)
{
    if (c->in_len > 0 && !(c->flags & CONN_F_CLOSING))
        c->h->data(c, c->in, c->in_len);
    c->in = NULL;
    c->in_len = 0;
    switch (c->read_status) {
    case READ_EOF:
        conn_close_async(c, "closed by peer");
        return;
    case READ_ERROR:
        conn_close_async(c, "read error");
        return;
    case READ_TLS_ERROR:
        conn_close_async(c, "TLS error");
        return;
    }
    if (c->tls && !(c->flags & CONN_F_CLOSING)) {
        if (tls_pending(c->tls) > 0) {
            c->flags |= CONN_F_READ_AGAIN;
            mark_dirty(c);
        }
        update_watch(c);
    }
}

void conn_read_collected(struct loop *l, void *ud)
{
    (void)l;
    (void)ud;
    size_t n = nreadable;
    bool parallel = worth_parallel(n, nreadable_tls);
    if (parallel) {
        if (nscratch < iopool_threads()) {
            scratch = xrealloc(scratch, iopool_threads() * sizeof(*scratch));
            memset(scratch + nscratch, 0,
                   (iopool_threads() - nscratch) * sizeof(*scratch));
            nscratch = iopool_threads();
        }
        iopool_run((void **)readable, n, read_into_buffer);
    }
    for (size_t i = 0; i < n; i++) {
        struct conn *c = readable[i];
        c->flags &= ~CONN_F_READABLE;
        if (parallel)
            deliver_buffer(c);
        else
            do_read(c);
    }
    nreadable = nreadable_tls = 0;
    for (unsigned i = 0; i < nscratch; i++)
        scratch[i].used = 0;
}

static void finish_close(struct conn *c)
{
    if (c->h && c->h->closed)
        c->h->closed(c, c->close_reason ? c->close_reason : "closed");
    loop_del(c->loop, c->fd);
    if (c->tls) {
        tls_shutdown(c->tls);
        tls_free(c->tls);
    }
    shutdown(c->fd, SHUT_RDWR);
    close(c->fd);
    if (c->fd < by_fd_cap)
        by_fd[c->fd] = NULL;
    open_count--;
    buf_free(&c->out);
    free(c);
    memtrim_note();
}

/* On an I/O thread. */
static void flush_one(void *item, unsigned worker)
{
    (void)worker;
    struct conn *c = item;
    c->flush_status = try_flush(c);
}

/* Sends the output of the connections on the dirty list on all I/O
 * threads; conn_flush_all() then handles the results in order. */
static void flush_parallel(void)
{
    size_t n = 0, ntls = 0;
    for (struct conn *c = dirty_head; c; c = c->next_dirty) {
        if (c->flags & (CONN_F_HANDSHAKE | CONN_F_READ_AGAIN) ||
            buf_used(&c->out) == 0)
            continue;
        if (n == flushing_cap) {
            flushing_cap = flushing_cap ? flushing_cap * 2 : 256;
            flushing = xrealloc(flushing, flushing_cap * sizeof(*flushing));
        }
        flushing[n++] = c;
        if (c->tls)
            ntls++;
    }
    if (!worth_parallel(n, ntls))
        return;
    for (size_t i = 0; i < n; i++)
        flushing[i]->flags |= CONN_F_FLUSHED;
    iopool_run((void **)flushing, n, flush_one);
}

void conn_flush_all(struct loop *l, void *ud)
{
    (void)l;
    (void)ud;
    if (iopool_threads() > 1)
        flush_parallel();
    /* Callbacks below may queue more connections (a read can deliver to
     * others): keep taking the list until it is empty. Each connection is
     * processed once per round. */
    while (dirty_head) {
        struct conn *list = dirty_head;
        dirty_head = NULL;
        while (list) {
            struct conn *c = list;
            list = c->next_dirty;
            c->next_dirty = NULL;
            c->flags &= ~CONN_F_QUEUED;
            if (c->flags & CONN_F_READ_AGAIN) {
                c->flags &= ~CONN_F_READ_AGAIN;
                do_read(c);
            }
            int r = 0;
            if (c->flags & CONN_F_FLUSHED) {
                c->flags &= ~CONN_F_FLUSHED;
                r = c->flush_status;
            }
            if (!(c->flags & CONN_F_HANDSHAKE) && (r < 0 || try_flush(c) < 0)) {
                buf_reset(&c->out);
                if (!(c->flags & CONN_F_CLOSING)) {
                    c->flags |= CONN_F_CLOSING;
                    c->close_reason = "write error";
                }
            }
            if (c->flags & CONN_F_CLOSING) {
                if (!(c->flags & CONN_F_QUEUED))
                    finish_close(c);
                continue;
            }
            if (c->flags & CONN_F_STARTTLS && buf_used(&c->out) == 0) {
                c->flags &= ~CONN_F_STARTTLS;
                c->tls = tls_new(c->tls_ctx, c->fd);
                if (!c->tls) {
                    conn_close_async(c, "TLS setup failed");
                    continue;
                }
                c->flags |= CONN_F_TLS | CONN_F_HANDSHAKE;
                do_handshake(c);
                continue;
            }
            if (!(c->flags & CONN_F_HANDSHAKE))
                update_watch(c);
        }
    }
}

void conn_close_all(void)
{
    for (int fd = 0; fd < by_fd_cap; fd++) {
        if (by_fd[fd]) {
            conn_close_async(by_fd[fd], "server shutting down");
        }
    }
    conn_flush_all(NULL, NULL);
    FREE_NULL(by_fd);
    FREE_NULL(readable);
    FREE_NULL(flushing);
    nreadable = nreadable_tls = readable_cap = flushing_cap = 0;
    for (unsigned i = 0; i < nscratch; i++)
        free(scratch[i].p);
    FREE_NULL(scratch);
    nscratch = 0;
    by_fd_cap = 0;
}

size_t conn_count(void) { return open_count; }
