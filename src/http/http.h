/* http.h -- the HTTP/1.1 server (RFC 9110, RFC 9112) on the event loop.
 *
 * One listener in the clear (`http`) and one with the c2s certificate
 * (`https`) serve the routes that modules register: a method set and a
 * path prefix lead to a handler. The server parses requests (Debian's
 * http-parser), bounds what a peer can make it hold (the request head,
 * the body, the time a request may take) and answers every malformed or
 * refused request with a clear status: 400, 404, 405, 408, 413, 414,
 * 431, 500, 505.
 *
 * Requests on one connection are handled one at a time: the next one is
 * not parsed, and the socket not read, until the current one has been
 * answered, so pipelined requests are answered in order and a pipelining
 * peer cannot queue work without bound. A handler may answer inline or
 * later (after a store lookup or a worker thread), and may take the
 * connection over for another protocol (WebSocket).
 *
 * Not here: TLS (net/tls.c), WebSocket framing (http/ws.c), what any
 * route serves (modules). */
#ifndef THEKE_HTTP_H
#define THEKE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct conn;
struct conn_handler;

/* Methods, as bits so that a route can take several. HEAD is routed as
 * GET and answered without the body. */
#define HTTP_M_GET 0x01u
#define HTTP_M_HEAD 0x02u
#define HTTP_M_POST 0x04u
#define HTTP_M_PUT 0x08u
#define HTTP_M_DELETE 0x10u
#define HTTP_M_OPTIONS 0x20u
#define HTTP_M_PATCH 0x40u

#define HTTP_MAX_HEAD 8192   /* bytes of request line and headers */
#define HTTP_MAX_HEADERS 100 /* header fields per request */

struct http_header {
    const char *name;  /* as sent, NUL-terminated */
    const char *value; /* leading and trailing blanks removed */
};

struct http_req {
    /* read-only for handlers */
    unsigned long id;            /* the connection's id, for logs */
    unsigned method;             /* one HTTP_M_* bit, HTTP_M_GET for HEAD */
    bool head;                   /* HEAD: the answer carries no body */
    const char *path;            /* the target's path, undecoded */
    const char *query;           /* after '?', "" when none */
    struct http_header *headers; /* nheaders fields, in order */
    unsigned nheaders;
    struct buf body;             /* the whole body (at most the route's
                                    max_body bytes) */
    bool upgrade;                /* Connection: upgrade with Upgrade */
    bool secure;                 /* came over TLS (or a trusted proxy's) */
    struct conn *conn;           /* the connection, borrowed for the
                                    call (for its peer address) */
    /* private */
    struct http_conn *hc;        /* NULL once the connection is gone */
    const struct http_route *route;
    void (*abort_fn)(void *ud);
    void *abort_ud;
    struct buf mem;              /* path, query and headers' text */
};

/* Handles r. r is borrowed until the handler passes it to
 * http_respond() or http_upgrade(), now or later. */
typedef void http_handler_fn(struct http_req *r, void *ud);

/* Registers a route (modules call this from their init): requests whose
 * method is in methods and whose path is prefix or lies under it
 * ("/a" takes "/a" and "/a/b", not "/ab") go to fn with ud. The longest
 * matching prefix wins. A request body may hold max_body bytes; 0 means
 * the configured http_max_body. prefix is borrowed (a literal). */
void http_route(unsigned methods, const char *prefix, http_handler_fn *fn,
                void *ud, size_t max_body);

/* The value of header name (case-insensitive), or NULL; the first one
 * when it is repeated. Borrowed with r. */
const char *http_req_header(const struct http_req *r, const char *name);
/* True when the comma-separated header name holds token (compared
 * without case), e.g. "Connection" holding "upgrade". */
bool http_req_header_has(const struct http_req *r, const char *name,
                         const char *token);

/* Answers r and frees it. extra_headers are whole lines ending in CRLF
 * (or NULL); content_type NULL sends none; body is copied (len bytes).
 * Safe to call after the connection has gone: the answer is dropped. */
void http_respond(struct http_req *r, int status, const char *content_type,
                  const char *extra_headers, const void *body, size_t len);
/* Answers with status and a one-line text body saying why. */
void http_respond_text(struct http_req *r, int status, const char *text);

/* Produces the next piece of a streamed body: appends between 1 and max
 * bytes to out. Returns 0 while more is to come, 1 with the last piece,
 * or a negative ERR_* to give up (the connection is then cut: the
 * client sees a short body). Runs on the loop thread: it must not wait. */
typedef int http_fill_fn(void *ud, struct buf *out, size_t max);
/* The stream is over: complete (every byte queued) or not (the
 * connection went away, fill failed or miscounted). Release ud here. */
typedef void http_stream_done_fn(void *ud, bool complete);

/* Answers r with a body of length bytes produced piece by piece, each
 * piece queued only once the previous one has been sent, so a large
 * file costs one piece of memory per connection whatever the client's
 * speed. done is called exactly once (at once for HEAD); r is freed. */
void http_respond_stream(struct http_req *r, int status,
                         const char *content_type, const char *extra_headers,
                         uint64_t length, http_fill_fn *fill,
                         http_stream_done_fn *done, void *ud);

/* Called instead of a response when the connection goes away while a
 * handler still holds r; r is freed after fn returns. A handler that
 * answers later and keeps r must register this (or answer regardless). */
void http_req_on_abort(struct http_req *r, void (*fn)(void *ud), void *ud);

/* Answers r with 101 Switching Protocols (plus extra_headers) and hands
 * the connection to h with ud; bytes the peer sent behind the request
 * are delivered to h at once. Only from the handler's own call. r is
 * freed. */
void http_upgrade(struct http_req *r, const char *extra_headers,
                  const struct conn_handler *h, void *ud);

/* The base URL clients reach this server at, without a final '/':
 * http_public_url, else derived from the listeners ("https://DOMAIN:PORT"
 * when https is on). Borrowed; "" when no listener is configured. */
const char *http_public_url(void);

/* Opens the configured listeners. Returns 0, or a negative ERR_* with a
 * message in err. */
int http_start(char *err, size_t errsz);
/* Closes the listeners and forgets the routes (shutdown). */
void http_stop(void);

/* The reason phrase of a status code ("Not Found"). */
const char *http_status_text(int status);

#endif
