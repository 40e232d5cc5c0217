/* http.c -- see http.h. The only file that includes http_parser.h.
 *
 * A connection reads into `in` and runs the parser over it. Parser
 * callbacks only collect the request (its text goes into the request's
 * own buffer, with offsets until the head is complete, because the
 * buffer moves as it grows); a complete request is dispatched after the
 * parser has returned, with the parser paused and the socket's reads
 * paused until the answer has been written. What the peer sent behind
 * the request stays in `in` for the next round.
 *
 * Every parse error closes the connection after its answer: the parser
 * cannot tell where the next request would start. A request refused
 * before its body (404, 405) keeps the connection when the body can be
 * skipped within the configured bound. */
#include "http/http.h"

#include <http_parser.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/cfg.h"
#include "core/err.h"
#include "core/log.h"
#include "core/loop.h"
#include "net/conn.h"
#include "net/listen.h"
#include "xmpp/server.h"

#define MAX_ROUTES 64
#define STREAM_PIECE 65536 /* bytes of a streamed body queued at once */
#define PUBLIC_URL_MAX 512

struct http_route {
    unsigned methods;      /* HTTP_* bits */
    const char *prefix;    /* borrowed literal */
    size_t prefix_len;
    http_handler_fn *fn;
    void *ud;
    size_t max_body;       /* bytes; 0 = http_max_body */
};

enum hc_state {
    HC_READING,  /* parsing the next request */
    HC_WAITING,  /* a request is with its handler */
    HC_STREAMING, /* sending a streamed body */
    HC_UPGRADED, /* handed over; freed once the handler returns */
    HC_CLOSING,  /* answered for the last time */
};

/* Where a header's name and value start in the request's mem buffer
 * while the head is being parsed. */
struct hdr_off {
    size_t name, value;
};

struct http_conn {
    struct conn *c;
    http_parser parser;
    enum hc_state state;
    struct buf in;            /* received, not yet parsed */
    struct http_req *req;     /* being parsed, owned; NULL between */
    struct http_req *pending; /* with its handler; owned by the handler
                                 until answered */
    struct hdr_off *offs;     /* HTTP_MAX_HEADERS, for req */
    unsigned hdr_state;       /* last text callback: 0 url, 1 name, 2 value */
    size_t head_bytes;        /* of the request being parsed */
    size_t body_seen;         /* body bytes of a refused request */
    size_t max_body;          /* for the request being parsed */
    int error;                /* status for a request that failed */
    bool complete;            /* req is complete */
    bool keep_alive;          /* the answer may keep the connection */
    bool in_process;          /* process() is on the stack */
    bool secure;              /* TLS listener */
    bool via_loopback;        /* accepted from loopback: a proxy we may
                                 trust */
    struct timer timer;       /* request deadline or keep-alive idle */
    const struct conn_handler *up_h; /* set by http_upgrade() */
    void *up_ud;
    http_fill_fn *fill;       /* the body being streamed */
    http_stream_done_fn *done;
    void *stream_ud;
    uint64_t stream_left;     /* bytes of it still to produce */
};

static struct http_route routes[MAX_ROUTES];
static unsigned nroutes;
static struct listener *plain_listener, *tls_listener;
static char public_url[PUBLIC_URL_MAX];

static void on_data(struct conn *c, const char *data, size_t len);
static void on_closed(struct conn *c, const char *reason);
static void on_drained(struct conn *c);
static const struct conn_handler http_handler = {
    .data = on_data, .closed = on_closed, .drained = on_drained
};

static int on_message_begin(http_parser *p);
static int on_url(http_parser *p, const char *at, size_t len);
static int on_header_field(http_parser *p, const char *at, size_t len);
static int on_header_value(http_parser *p, const char *at, size_t len);
static int on_headers_complete(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t len);
static int on_message_complete(http_parser *p);
static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void process(struct http_conn *hc);
static void answered(struct http_conn *hc);
static void on_timer(struct loop *l, void *ud);

/* ---- routes ---- */

void http_route(unsigned methods, const char *prefix, http_handler_fn *fn,
                void *ud, size_t max_body)
{
    if (nroutes == MAX_ROUTES) {
        log_error(0, "http: too many routes, %s not served", prefix);
        return;
    }
    routes[nroutes++] = (struct http_route){ methods, prefix, strlen(prefix),
                                             fn, ud, max_body };
}

/* The route with the longest prefix that covers path, whatever its
 * methods; NULL when none does. */
static const struct http_route *find_route(const char *path)
{
    const struct http_route *best = NULL;
    for (unsigned i = 0; i < nroutes; i++) {
        const struct http_route *rt = &routes[i];
        if (strncmp(path, rt->prefix, rt->prefix_len) != 0)
            continue;
        char next = path[rt->prefix_len];
        if (next && next != '/' && next != '?' &&
            rt->prefix[rt->prefix_len - 1] != '/')
            continue;
        if (!best || rt->prefix_len > best->prefix_len)
            best = rt;
    }
    return best;
}

/* Methods of every route with the same prefix as rt, for Allow. */
static unsigned allowed_methods(const struct http_route *rt)
{
    unsigned m = 0;
    for (unsigned i = 0; i < nroutes; i++)
        if (strcmp(routes[i].prefix, rt->prefix) == 0)
            m |= routes[i].methods;
    if (m & HTTP_M_GET)
        m |= HTTP_M_HEAD;
    return m;
}

static const struct http_route *find_method_route(const char *path,
                                                  unsigned method)
{
    const struct http_route *rt = find_route(path);
    if (!rt || rt->methods & method)
        return rt;
    for (unsigned i = 0; i < nroutes; i++)
        if (strcmp(routes[i].prefix, rt->prefix) == 0 &&
            routes[i].methods & method)
            return &routes[i];
    return rt;
}

/* ---- requests ---- */

static void req_free(struct http_req *r)
{
    if (!r)
        return;
    free(r->headers);
    buf_free(&r->body);
    buf_free(&r->mem);
    free(r);
}

const char *http_req_header(const struct http_req *r, const char *name)
{
    for (unsigned i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

bool http_req_header_has(const struct http_req *r, const char *name,
                         const char *token)
{
    size_t tl = strlen(token);
    for (unsigned i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) != 0)
            continue;
        const char *v = r->headers[i].value;
        while (*v) {
            while (*v == ' ' || *v == '\t' || *v == ',')
                v++;
            size_t n = strcspn(v, ",");
            size_t t = n;
            while (t > 0 && (v[t - 1] == ' ' || v[t - 1] == '\t'))
                t--;
            if (t == tl && strncasecmp(v, token, tl) == 0)
                return true;
            v += n;
        }
    }
    return false;
}

void http_req_on_abort(struct http_req *r, void (*fn)(void *ud), void *ud)
{
    r->abort_fn = fn;
    r->abort_ud = ud;
}

/* ---- answers ---- */

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static void write_head(struct http_conn *hc, int status, const char *ctype,
                       const char *extra, size_t len, bool close)
{
    struct buf *out = conn_outbuf(hc->c);
    char date[64];
    time_t now = (time_t)loop_wall_s(srv.loop);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    buf_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: theke\r\n",
               status, http_status_text(status), date);
    if (ctype)
        buf_printf(out, "Content-Type: %s\r\n", ctype);
    /* RFC 9110 §8.6: none on 204 (nor 1xx, 304, which carry no body). */
    if (status != 204 && status != 304 && status >= 200)
        buf_printf(out, "Content-Length: %zu\r\n", len);
    if (close)
        buf_append_str(out, "Connection: close\r\n");
    else if (hc->parser.http_minor == 0)
        buf_append_str(out, "Connection: keep-alive\r\n");
    if (extra)
        buf_append_str(out, extra);
    buf_append_str(out, "\r\n");
}

/* Answers a request that could not be parsed, and closes. */
static void fail_conn(struct http_conn *hc, int status, const char *why)
{
    char body[160];
    int n = snprintf(body, sizeof(body), "%d %s: %s\n", status,
                     http_status_text(status), why);
    log_info(hc->c->id, "http: %d (%s)", status, why);
    write_head(hc, status, "text/plain; charset=utf-8", NULL, (size_t)n, true);
    buf_append(conn_outbuf(hc->c), body, (size_t)n);
    conn_wrote(hc->c);
    hc->state = HC_CLOSING;
    timer_stop(srv.loop, &hc->timer);
    conn_close_async(hc->c, "http error");
}

void http_respond(struct http_req *r, int status, const char *content_type,
                  const char *extra_headers, const void *body, size_t len)
{
    struct http_conn *hc = r->hc;
    if (!hc) {
        req_free(r);
        return;
    }
    write_head(hc, status, content_type, extra_headers, len, !hc->keep_alive);
    if (!r->head && len && status != 204 && status != 304)
        buf_append(conn_outbuf(hc->c), body, len);
    conn_wrote(hc->c);
    char q[LOG_QUOTE_BUFSZ];
    log_debug(hc->c->id, "http: %s %s -> %d", r->head ? "HEAD"
              : http_method_str((enum http_method)hc->parser.method),
              log_quote(q, sizeof(q), r->path, strlen(r->path)), status);
    hc->pending = NULL;
    req_free(r);
    answered(hc);
}

/* The answer has been queued in full: on to the next request. hc may be
 * freed on return (an upgrade further down the pipeline). */
static void answered(struct http_conn *hc)
{
    if (!hc->keep_alive) {
        hc->state = HC_CLOSING;
        conn_close_async(hc->c, "http request done");
        return;
    }
    hc->state = HC_READING;
    conn_pause_read(hc->c, false);
    timer_start(srv.loop, &hc->timer, (uint64_t)srv.cfg->http_timeout * 1000,
                on_timer, hc);
    process(hc);
}

/* Ends a streamed body; complete says whether every byte went out. */
static void end_stream(struct http_conn *hc, bool complete)
{
    http_stream_done_fn *done = hc->done;
    void *ud = hc->stream_ud;
    hc->fill = NULL;
    hc->done = NULL;
    hc->stream_ud = NULL;
    done(ud, complete);
}

/* Queues the next piece of the streamed body. */
static void pump(struct http_conn *hc)
{
    struct buf *out = conn_outbuf(hc->c);
    size_t max = hc->stream_left < STREAM_PIECE ? (size_t)hc->stream_left
                                                : STREAM_PIECE;
    size_t before = buf_used(out);
    int r = hc->fill(hc->stream_ud, out, max);
    size_t got = buf_used(out) - before;
    if (r < 0 || got > max || (got == 0 && r == 0) ||
        (r == 1 && got != hc->stream_left)) {
        log_info(hc->c->id, "http: streamed body cut short (%s)",
                 r < 0 ? err_str(r) : "wrong length");
        end_stream(hc, false);
        hc->state = HC_CLOSING;
        conn_close_async(hc->c, "http stream failed");
        return;
    }
    hc->stream_left -= got;
    conn_wrote(hc->c);
    if (hc->stream_left > 0) {
        conn_want_drain(hc->c);
        /* A client that stops reading must not hold the body (and its
         * producer's file) for ever. */
        timer_start(srv.loop, &hc->timer,
                    (uint64_t)srv.cfg->http_timeout * 1000, on_timer, hc);
        return;
    }
    end_stream(hc, true);
    answered(hc);
}

static void on_drained(struct conn *c)
{
    struct http_conn *hc = c->ud;
    if (hc->state == HC_STREAMING && hc->fill)
        pump(hc);
}

void http_respond_stream(struct http_req *r, int status,
                         const char *content_type, const char *extra_headers,
                         uint64_t length, http_fill_fn *fill,
                         http_stream_done_fn *done, void *ud)
{
    struct http_conn *hc = r->hc;
    if (!hc) {
        req_free(r);
        done(ud, false);
        return;
    }
    write_head(hc, status, content_type, extra_headers, length,
               !hc->keep_alive);
    conn_wrote(hc->c);
    char q[LOG_QUOTE_BUFSZ];
    log_debug(hc->c->id, "http: %s -> %d, %llu bytes streamed",
              log_quote(q, sizeof(q), r->path, strlen(r->path)), status,
              (unsigned long long)length);
    bool head = r->head;
    hc->pending = NULL;
    req_free(r);
    if (head || length == 0) {
        done(ud, true);
        answered(hc);
        return;
    }
    hc->state = HC_STREAMING;
    hc->fill = fill;
    hc->done = done;
    hc->stream_ud = ud;
    hc->stream_left = length;
    pump(hc);
}

void http_respond_text(struct http_req *r, int status, const char *text)
{
    struct buf b = BUF_INIT;
    buf_printf(&b, "%d %s: %s\n", status, http_status_text(status), text);
    http_respond(r, status, "text/plain; charset=utf-8", NULL, buf_data(&b),
                 buf_used(&b));
    buf_free(&b);
}

/* Gives the connection to the protocol it was upgraded to; hc is
 * freed. */
static void finish_upgrade(struct http_conn *hc)
{
    struct conn *c = hc->c;
    const struct conn_handler *h = hc->up_h;
    void *ud = hc->up_ud;
    struct buf rest = hc->in;
    hc->in = BUF_INIT;
    timer_stop(srv.loop, &hc->timer);
    req_free(hc->req);
    free(hc->offs);
    free(hc);
    conn_set_handler(c, h, ud);
    conn_pause_read(c, false);
    if (buf_used(&rest) && !(c->flags & CONN_F_CLOSING))
        h->data(c, buf_data(&rest), buf_used(&rest));
    buf_free(&rest);
}

void http_upgrade(struct http_req *r, const char *extra_headers,
                  const struct conn_handler *h, void *ud)
{
    struct http_conn *hc = r->hc;
    if (!hc) {
        req_free(r);
        return;
    }
    struct buf *out = conn_outbuf(hc->c);
    buf_append_str(out, "HTTP/1.1 101 Switching Protocols\r\n"
                        "Connection: Upgrade\r\n");
    if (extra_headers)
        buf_append_str(out, extra_headers);
    buf_append_str(out, "\r\n");
    conn_wrote(hc->c);
    log_debug(hc->c->id, "http: upgraded");
    hc->pending = NULL;
    req_free(r);
    hc->state = HC_UPGRADED;
    hc->up_h = h;
    hc->up_ud = ud;
    if (!hc->in_process)
        finish_upgrade(hc);
}

/* ---- parser callbacks ---- */

static int on_message_begin(http_parser *p)
{
    struct http_conn *hc = p->data;
    hc->req = xcalloc(1, sizeof(*hc->req));
    hc->req->id = hc->c->id;
    hc->hdr_state = 0;
    hc->head_bytes = 0;
    hc->body_seen = 0;
    hc->complete = false;
    hc->error = 0;
    /* The whole request must arrive within http_timeout of its first
     * byte (slow-loris). */
    timer_start(srv.loop, &hc->timer, (uint64_t)srv.cfg->http_timeout * 1000,
                on_timer, hc);
    return 0;
}

static int count_head(struct http_conn *hc, size_t len, int status)
{
    hc->head_bytes += len;
    if (hc->head_bytes <= HTTP_MAX_HEAD)
        return 0;
    hc->error = status;
    return -1;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct http_conn *hc = p->data;
    if (count_head(hc, len, 414) < 0)
        return -1;
    buf_append(&hc->req->mem, at, len);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct http_conn *hc = p->data;
    struct http_req *r = hc->req;
    /* ": " and CRLF count too. */
    if (count_head(hc, len + (hc->hdr_state != 1 ? 4 : 0), 431) < 0)
        return -1;
    if (hc->hdr_state != 1) {
        if (r->nheaders == HTTP_MAX_HEADERS) {
            hc->error = 431;
            return -1;
        }
        buf_append(&r->mem, "", 1);
        hc->offs[r->nheaders].name = r->mem.len - r->mem.off;
        hc->offs[r->nheaders].value = 0;
        r->nheaders++;
        hc->hdr_state = 1;
    }
    buf_append(&r->mem, at, len);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct http_conn *hc = p->data;
    struct http_req *r = hc->req;
    if (count_head(hc, len, 431) < 0)
        return -1;
    if (hc->hdr_state != 2) {
        buf_append(&r->mem, "", 1);
        hc->offs[r->nheaders - 1].value = r->mem.len - r->mem.off;
        hc->hdr_state = 2;
    }
    buf_append(&r->mem, at, len);
    return 0;
}

/* Resolves the offsets of the head into pointers, splits the target into
 * path and query. Returns 0, or -1 for a target we cannot take. */
static int finish_head(struct http_conn *hc)
{
    struct http_req *r = hc->req;
    buf_append(&r->mem, "", 1);
    size_t url_len = strlen(buf_data(&r->mem));
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (url_len == 0 ||
        http_parser_parse_url(buf_data(&r->mem), url_len, 0, &u) != 0 ||
        !(u.field_set & (1 << UF_PATH)))
        return -1;
    /* The pieces are copied from the same buffer: make room first, so
     * that it does not move under the copy. */
    buf_reserve(&r->mem, url_len + 2);
    size_t path_at = r->mem.len - r->mem.off;
    buf_append(&r->mem, buf_data(&r->mem) + u.field_data[UF_PATH].off,
               u.field_data[UF_PATH].len);
    buf_append(&r->mem, "", 1);
    size_t query_at = r->mem.len - r->mem.off;
    if (u.field_set & (1 << UF_QUERY))
        buf_append(&r->mem, buf_data(&r->mem) + u.field_data[UF_QUERY].off,
                   u.field_data[UF_QUERY].len);
    buf_append(&r->mem, "", 1);
    char *base = buf_data(&r->mem);
    r->path = base + path_at;
    r->query = base + query_at;
    r->headers = xcalloc(r->nheaders ? r->nheaders : 1, sizeof(*r->headers));
    for (unsigned i = 0; i < r->nheaders; i++) {
        r->headers[i].name = base + hc->offs[i].name;
        /* A value offset of 0 means no value callback came: empty. */
        static char empty[1];
        char *v = hc->offs[i].value ? base + hc->offs[i].value : empty;
        size_t n = strlen(v);
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            v[--n] = '\0';
        while (*v == ' ' || *v == '\t')
            v++;
        r->headers[i].value = v;
    }
    return 0;
}

static unsigned our_method(const http_parser *p)
{
    switch ((enum http_method)p->method) {
    case HTTP_GET: return HTTP_M_GET;
    case HTTP_HEAD: return HTTP_M_GET;
    case HTTP_POST: return HTTP_M_POST;
    case HTTP_PUT: return HTTP_M_PUT;
    case HTTP_DELETE: return HTTP_M_DELETE;
    case HTTP_OPTIONS: return HTTP_M_OPTIONS;
    case HTTP_PATCH: return HTTP_M_PATCH;
    default: return 0; /* no route takes it: 405 or 404 */
    }
}

/* Believes a trusted proxy about the client's address and whether it
 * spoke TLS to the proxy. */
static void apply_proxy_headers(struct http_conn *hc, struct http_req *r)
{
    if (!srv.cfg->http_trust_proxy || !hc->via_loopback)
        return;
    const char *proto = http_req_header(r, "X-Forwarded-Proto");
    if (proto)
        r->secure = strcasecmp(proto, "https") == 0;
    const char *xff = http_req_header(r, "X-Forwarded-For");
    if (xff) {
        /* The last address is the one our proxy saw. */
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        while (*last == ' ')
            last++;
        char addr[64];
        snprintf(addr, sizeof(addr), "%s", last);
        addr[strcspn(addr, " ")] = '\0';
        if (conn_set_peer(hc->c, addr) < 0) {
            char q[LOG_QUOTE_BUFSZ];
            log_info(hc->c->id, "http: bad X-Forwarded-For %s",
                     log_quote(q, sizeof(q), xff, strlen(xff)));
        }
    }
}

static int on_headers_complete(http_parser *p)
{
    struct http_conn *hc = p->data;
    struct http_req *r = hc->req;
    if (p->http_major != 1) {
        hc->error = 505;
        return -1;
    }
    if (finish_head(hc) < 0) {
        hc->error = 400;
        return -1;
    }
    r->method = our_method(p);
    r->head = p->method == HTTP_HEAD;
    r->upgrade = p->upgrade;
    r->secure = hc->secure;
    r->conn = hc->c;
    apply_proxy_headers(hc, r);
    r->route = find_method_route(r->path, r->method);
    hc->max_body = srv.cfg->http_max_body;
    if (r->route && r->route->methods & r->method && r->route->max_body)
        hc->max_body = r->route->max_body;
    bool has_length = p->flags & F_CONTENTLENGTH;
    if (has_length && p->content_length > hc->max_body) {
        hc->error = 413;
        return -1;
    }
    const char *expect = http_req_header(r, "Expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0) {
            hc->error = 417;
            return -1;
        }
        /* RFC 9110 §10.1.1: the client waits for this before the body. */
        if (r->route && r->route->methods & r->method)
            conn_write(hc->c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct http_conn *hc = p->data;
    struct http_req *r = hc->req;
    hc->body_seen += len;
    if (hc->body_seen > hc->max_body) {
        hc->error = 413;
        return -1;
    }
    if (r->route && r->route->methods & r->method)
        buf_append(&r->body, at, len);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct http_conn *hc = p->data;
    hc->complete = true;
    hc->keep_alive = http_should_keep_alive(p) && !p->upgrade;
    /* Stop here: the next request waits until this one is answered. */
    http_parser_pause(p, 1);
    return 0;
}

/* ---- the connection ---- */

static void dispatch(struct http_conn *hc)
{
    struct http_req *r = hc->req;
    hc->req = NULL;
    hc->complete = false;
    hc->state = HC_WAITING;
    hc->pending = r;
    r->hc = hc;
    conn_pause_read(hc->c, true);
    timer_stop(srv.loop, &hc->timer);
    const struct http_route *rt = r->route;
    if (!rt) {
        http_respond_text(r, 404, "nothing is served at this path");
        return;
    }
    if (!(rt->methods & r->method)) {
        struct buf allow = BUF_INIT;
        unsigned m = allowed_methods(rt);
        static const struct {
            unsigned bit;
            const char *name;
        } names[] = { { HTTP_M_GET, "GET" },       { HTTP_M_HEAD, "HEAD" },
                      { HTTP_M_POST, "POST" },     { HTTP_M_PUT, "PUT" },
                      { HTTP_M_DELETE, "DELETE" }, { HTTP_M_OPTIONS, "OPTIONS" },
                      { HTTP_M_PATCH, "PATCH" } };
        buf_append_str(&allow, "Allow: ");
        bool first = true;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (!(m & names[i].bit))
                continue;
            buf_printf(&allow, "%s%s", first ? "" : ", ", names[i].name);
            first = false;
        }
        buf_append_str(&allow, "\r\n");
        const char *text = "405 Method Not Allowed: not with this method\n";
        http_respond(r, 405, "text/plain; charset=utf-8", buf_cstr(&allow),
                     text, strlen(text));
        buf_free(&allow);
        return;
    }
    rt->fn(r, rt->ud);
}

static int parse_error_status(struct http_conn *hc)
{
    if (hc->error)
        return hc->error;
    switch (HTTP_PARSER_ERRNO(&hc->parser)) {
    case HPE_HEADER_OVERFLOW:
        return 431;
    case HPE_INVALID_VERSION:
        return 505;
    default:
        return 400;
    }
}

/* Parses what has arrived and dispatches complete requests, one at a
 * time. hc may be freed on return (upgrade). */
static void process(struct http_conn *hc)
{
    if (hc->in_process)
        return;
    hc->in_process = true;
    while (hc->state == HC_READING && buf_used(&hc->in) > 0) {
        size_t n = http_parser_execute(&hc->parser, &settings,
                                       buf_data(&hc->in), buf_used(&hc->in));
        enum http_errno e = HTTP_PARSER_ERRNO(&hc->parser);
        buf_consume(&hc->in, n);
        if (e == HPE_PAUSED) {
            http_parser_pause(&hc->parser, 0);
        } else if (e != HPE_OK) {
            int status = parse_error_status(hc);
            fail_conn(hc, status, status == 400
                                      ? http_errno_description(e)
                                      : http_status_text(status));
            break;
        }
        if (!hc->complete)
            break;
        dispatch(hc);
    }
    hc->in_process = false;
    if (hc->state == HC_UPGRADED)
        finish_upgrade(hc);
}

static void on_data(struct conn *c, const char *data, size_t len)
{
    struct http_conn *hc = c->ud;
    if (hc->state == HC_CLOSING)
        return;
    buf_append(&hc->in, data, len);
    process(hc);
}

static void on_timer(struct loop *l, void *ud)
{
    (void)l;
    struct http_conn *hc = ud;
    if (hc->state == HC_STREAMING && hc->fill) {
        log_info(hc->c->id, "http: client stopped reading a streamed body");
        end_stream(hc, false);
        hc->state = HC_CLOSING;
        conn_close_async(hc->c, "http stream stalled");
        return;
    }
    if (hc->state != HC_READING)
        return;
    if (hc->req || buf_used(&hc->in) > 0) {
        fail_conn(hc, 408, "the request took too long");
        return;
    }
    hc->state = HC_CLOSING;
    conn_close_async(hc->c, "http idle");
}

static void on_closed(struct conn *c, const char *reason)
{
    struct http_conn *hc = c->ud;
    log_debug(c->id, "http: connection closed: %s", reason);
    if (hc->pending) {
        struct http_req *r = hc->pending;
        r->hc = NULL;
        r->conn = NULL;
        /* Without an abort callback the handler still holds r and frees
         * it through http_respond(). */
        if (r->abort_fn) {
            r->abort_fn(r->abort_ud);
            req_free(r);
        }
    }
    if (hc->fill)
        end_stream(hc, false);
    timer_stop(srv.loop, &hc->timer);
    req_free(hc->req);
    buf_free(&hc->in);
    free(hc->offs);
    free(hc);
}

/* A connection on the accepted socket fd (owned from now on); NULL
 * when the loop refuses it. */
static struct http_conn *http_conn_new(int fd, const struct sockaddr *peer,
                                       bool tls)
{
    struct http_conn *hc = xcalloc(1, sizeof(*hc));
    hc->c = conn_new(srv.loop, fd, peer, tls ? srv.tls : NULL, &http_handler,
                     hc);
    if (!hc->c) {
        free(hc);
        return NULL;
    }
    hc->secure = tls;
    hc->via_loopback = hc->c->peer_loopback;
    size_t out = srv.cfg->http_max_body + 65536;
    hc->c->max_out = out > (1u << 20) ? out : (1u << 20);
    hc->offs = xcalloc(HTTP_MAX_HEADERS, sizeof(*hc->offs));
    http_parser_init(&hc->parser, HTTP_REQUEST);
    hc->parser.data = hc;
    timer_start(srv.loop, &hc->timer, (uint64_t)srv.cfg->http_timeout * 1000,
                on_timer, hc);
    log_debug(hc->c->id, "http: connection from %s%s", hc->c->peer_addr,
              tls ? " (TLS)" : "");
    return hc;
}

static void accept_conn(void *ud, int fd, const struct sockaddr *peer)
{
    http_conn_new(fd, peer, ud != NULL);
}

/* ---- listeners ---- */

const char *http_public_url(void) { return public_url; }

static void derive_public_url(void)
{
    const char *url = srv.cfg->http_public_url;
    if (url) {
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
            n--;
        snprintf(public_url, sizeof(public_url), "%.*s", (int)n, url);
        return;
    }
    struct listener *ls = tls_listener ? tls_listener : plain_listener;
    if (!ls) {
        public_url[0] = '\0';
        return;
    }
    snprintf(public_url, sizeof(public_url), "%s://%s:%d",
             tls_listener ? "https" : "http", srv.domain, listen_port(ls));
}

int http_start(char *err, size_t errsz)
{
    int r;
    const char *u = srv.cfg->http_public_url;
    if (u && strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
        snprintf(err, errsz, "http_public_url must start with http:// or "
                             "https://");
        return -ERR_CONFIG;
    }
    u = srv.cfg->websocket_url;
    if (u && strncmp(u, "ws://", 5) != 0 && strncmp(u, "wss://", 6) != 0) {
        snprintf(err, errsz, "websocket_url must start with ws:// or wss://");
        return -ERR_CONFIG;
    }
    /* Our own bound on the head; the parser's (80 KiB by default) would
     * let a peer make us hold ten times more. */
    http_parser_set_max_header_size(HTTP_MAX_HEAD + 1024);
    if (srv.cfg->http[0]) {
        r = listen_open(srv.loop, srv.cfg->http, accept_conn, NULL,
                        &plain_listener);
        if (r < 0) {
            snprintf(err, errsz, "cannot listen on %s: %m", srv.cfg->http);
            return r;
        }
    }
    if (srv.cfg->https[0] && srv.tls) {
        r = listen_open(srv.loop, srv.cfg->https, accept_conn, (void *)1,
                        &tls_listener);
        if (r < 0) {
            snprintf(err, errsz, "cannot listen on %s: %m", srv.cfg->https);
            return r;
        }
    }
    derive_public_url();
    return 0;
}

void http_stop(void)
{
    listen_close(plain_listener);
    listen_close(tls_listener);
    plain_listener = tls_listener = NULL;
    nroutes = 0;
}
