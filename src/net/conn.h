/* conn.h -- a client connection: non-blocking socket, optional TLS,
 * bounded output buffering, asynchronous close.
 *
 * Output written with conn_write() is buffered and sent once per loop
 * turn by conn_flush_all() (before-sleep), so a burst of stanzas to one
 * client costs one syscall. A peer that does not read while its buffer
 * grows past max_out is disconnected: the server never queues without
 * limit for a slow reader.
 *
 * A connection is never freed inside its own callbacks: conn_close_async()
 * marks it, and conn_reap() (before-sleep, after the flush) calls the
 * handler's closed() and frees it (Redis freeClientAsync). */
#ifndef THEKE_CONN_H
#define THEKE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/loop.h"

struct conn;
struct tls_ctx;

struct conn_handler {
    /* Bytes arrived (decrypted when TLS is on). data is borrowed. */
    void (*data)(struct conn *c, const char *data, size_t len);
    /* The connection is about to be freed: drop every pointer to it.
     * reason is a short static string for logs. */
    void (*closed)(struct conn *c, const char *reason);
    /* Optional: everything queued has been sent, after conn_want_drain()
     * asked to be told. Called on the loop thread, at most once per loop
     * turn, so a handler that sends a large body piece by piece (queueing
     * the next piece here) shares the loop fairly and holds one piece at
     * a time. */
    void (*drained)(struct conn *c);
};

#define CONN_F_CLOSING 0x01u    /* close requested; no more reads */
#define CONN_F_TLS 0x02u        /* TLS is active (or handshaking) */
#define CONN_F_HANDSHAKE 0x04u  /* TLS handshake in progress */
#define CONN_F_STARTTLS 0x08u   /* start TLS once the output is flushed */
#define CONN_F_PAUSED 0x10u     /* reads paused by the upper layer */
#define CONN_F_QUEUED 0x20u     /* on the flush list */
#define CONN_F_READ_AGAIN 0x40u /* TLS holds decrypted bytes unread */
#define CONN_F_READABLE 0x80u   /* collected for this turn's parallel read */
#define CONN_F_FLUSHED 0x100u   /* flushed by this round's parallel send */
#define CONN_F_WANT_DRAIN 0x200u /* call drained() once output is sent */

struct conn {
    /* read-only */
    unsigned long id;        /* unique per process, for logs */
    int fd;
    unsigned flags;          /* CONN_F_* */
    bool peer_loopback;      /* peer address is 127/8 or ::1 */
    char peer_addr[48];      /* numeric address, for logs */
    /* public */
    void *ud;                /* the upper layer's state */
    size_t max_out;          /* output buffer cap in bytes */
    /* private */
    struct loop *loop;
    const struct conn_handler *h;
    struct tls *tls;
    struct tls_ctx *tls_ctx;
    struct buf out;
    char *in;                /* read by an I/O thread, delivered this */
    size_t in_len;           /* turn; in the thread's scratch space */
    int read_status;         /* 0, or how reading ended the connection */
    int flush_status;        /* result of the parallel send */
    unsigned watching;       /* LOOP_READ/LOOP_WRITE currently asked for */
    struct conn *next_dirty; /* flush / close / read-again list */
    const char *close_reason;
};

/* Wraps an accepted socket (owned from now on). With tls_ctx non-NULL the
 * TLS handshake starts at once (direct TLS); the context is borrowed. */
struct conn *conn_new(struct loop *l, int fd, const struct sockaddr *peer,
                      struct tls_ctx *tls_ctx, const struct conn_handler *h,
                      void *ud);

/* The after-events hook: reads the sockets collected this turn, in
 * parallel when the I/O pool has threads and there are enough of them,
 * then delivers the bytes in order on the loop thread. */
void conn_read_collected(struct loop *l, void *ud);

/* Queues bytes for sending (copied). */
void conn_write(struct conn *c, const void *data, size_t len);
/* The buffer that conn_write() appends to, for serialising in place;
 * call conn_wrote() after appending. */
struct buf *conn_outbuf(struct conn *c);
void conn_wrote(struct conn *c);
/* Starts the server side of TLS after what is queued (e.g. <proceed/>)
 * has been sent in the clear. */
void conn_starttls(struct conn *c, struct tls_ctx *ctx);
/* Gives back buffer memory a quiet connection does not need. */
void conn_trim(struct conn *c);
/* Sends what is queued, then closes. reason is a static string. */
void conn_close_async(struct conn *c, const char *reason);
/* Asks for one drained() call once the queued output has been sent
 * (at the earliest in the next loop turn). */
void conn_want_drain(struct conn *c);
/* Stops or resumes reading (e.g. while a failed login is delayed). */
void conn_pause_read(struct conn *c, bool pause);
bool conn_is_tls(const struct conn *c);
/* "TLSv1.3", ...; "" without TLS. */
const char *conn_tls_version(const struct conn *c);
/* tls_channel_binding() of the connection; -ERR_NOTFOUND without TLS or
 * while its handshake runs. */
int conn_channel_binding(struct conn *c, const char *type, unsigned char *out,
                         size_t max);
/* Hands the connection to another protocol handler (an HTTP connection
 * upgraded to WebSocket): later bytes go to h with ud. Call it from the
 * current handler's data callback only; closed() goes to h from now on. */
void conn_set_handler(struct conn *c, const struct conn_handler *h, void *ud);
/* Replaces the peer's address with the one a trusted proxy reported
 * (numeric, as text); peer_loopback follows it. Returns 0, or -ERR_INVAL
 * (nothing changed) when addr is not a numeric address. */
int conn_set_peer(struct conn *c, const char *addr);

/* Before-sleep work: flush queued output of every connection that has
 * some, then free connections marked for closing. */
void conn_flush_all(struct loop *l, void *ud);
/* Closes every connection now (shutdown). */
void conn_close_all(void);
/* Number of open connections. */
size_t conn_count(void);

#endif
