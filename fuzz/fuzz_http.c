/* fuzz_http.c -- libFuzzer target for the HTTP server's request cycle
 * (http.c over http-parser): the input is what a client sends on one
 * connection, fed in two pieces (the first byte says where to split).
 *
 * Routes cover the ways a handler answers: at once (/a, with the body
 * echoed), later (/b: held until the input has been fed, then answered),
 * streamed (/s), and by taking the connection over (/u). Whatever the
 * input, nothing may crash or leak, and the connection must end up
 * closed or ready for the next request. Build and run: see
 * fuzz/README.md. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cfg cfg;
static struct http_req *held;

static void answer_now(struct http_req *r, void *ud)
{
    (void)ud;
    http_respond(r, 200, "text/plain", NULL, buf_data(&r->body),
                 buf_used(&r->body));
}

static void answer_later(struct http_req *r, void *ud)
{
    (void)ud;
    if (held)
        abort(); /* one request at a time per connection */
    held = r;
}

static int fill(void *ud, struct buf *out, size_t max)
{
    (void)ud;
    buf_append(out, "0123456789", max < 10 ? max : 10);
    return max <= 10 ? 1 : 0;
}

static void stream_done(void *ud, bool complete)
{
    (void)ud, (void)complete;
}

static void answer_stream(struct http_req *r, void *ud)
{
    (void)ud;
    http_respond_stream(r, 200, NULL, NULL, 25, fill, stream_done, NULL);
}

static void up_data(struct conn *c, const char *d, size_t n)
{
    (void)d, (void)n;
    conn_write(c, "x", 1);
}

static void up_closed(struct conn *c, const char *reason)
{
    (void)c, (void)reason;
}

static const struct conn_handler up = { .data = up_data, .closed = up_closed };

static void take_over(struct http_req *r, void *ud)
{
    (void)ud;
    http_upgrade(r, "Upgrade: test\r\n", &up, NULL);
}

static void init(void)
{
    cfg_defaults(&cfg);
    cfg.http_max_body = 4096;
    srv.cfg = &cfg;
    srv.domain = cfg.domain;
    srv.loop = loop_new();
    http_parser_set_max_header_size(HTTP_MAX_HEAD + 1024);
    http_route(HTTP_M_GET | HTTP_M_POST, "/a", answer_now, NULL, 0);
    http_route(HTTP_M_GET | HTTP_M_PUT, "/b", answer_later, NULL, 100);
    http_route(HTTP_M_GET, "/s", answer_stream, NULL, 0);
    http_route(HTTP_M_GET, "/u", take_over, NULL, 0);
}

/* The connection under test is the only one: it is still there (not
 * freed by a flush) while the count says so. */
static bool alive(void) { return conn_count() > 0; }

static void drain(int fd)
{
    char b[4096];
    while (read(fd, b, sizeof(b)) > 0)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        init();
        ready = true;
    }
    if (size < 1)
        return 0;
    size_t split = data[0];
    const char *p = (const char *)data + 1;
    size--;
    if (split > size)
        split = size;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 0;
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    struct http_conn *hc = http_conn_new(sv[0], NULL, false);
    struct conn *c = hc->c;
    held = NULL;
    if (split)
        c->h->data(c, p, split);
    conn_flush_all(srv.loop, NULL);
    drain(sv[1]);
    if (size > split && alive() && !(c->flags & CONN_F_CLOSING))
        c->h->data(c, p + split, size - split);
    conn_flush_all(srv.loop, NULL);
    drain(sv[1]);
    /* Answering a held request lets the next pipelined one through,
     * which may be held in turn; a streamed answer goes on from write
     * events, for which one drained() call per piece stands in. */
    for (;;) {
        if (!alive())
            break;
        if (held) {
            struct http_req *r = held;
            held = NULL;
            http_respond(r, 204, NULL, NULL, NULL, 0);
        } else if (!(c->flags & CONN_F_CLOSING) &&
                   c->flags & CONN_F_WANT_DRAIN && c->h->drained) {
            c->flags &= ~CONN_F_WANT_DRAIN;
            c->h->drained(c);
        } else {
            break;
        }
        conn_flush_all(srv.loop, NULL);
        drain(sv[1]);
    }
    if (held) {
        /* The connection went away under it: the answer only frees it. */
        http_respond(held, 204, NULL, NULL, NULL, 0);
        held = NULL;
    }
    if (alive())
        conn_close_async(c, "fuzz");
    conn_flush_all(srv.loop, NULL);
    close(sv[1]);
    return 0;
}
