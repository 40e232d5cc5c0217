/* test_http.c -- the HTTP server's request cycle through socketpairs:
 * an answer given later (asynchronously) holds back the pipelined
 * request behind it, which is then answered in order; a connection
 * that goes away while a handler holds its request tells the handler;
 * an answer given after the connection is gone is dropped; a streamed
 * body goes out piece by piece, one piece queued at a time, and its
 * producer hears when the client hangs up midway.
 *
 * http.c is included to reach its connection constructor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.c"

static struct cfg cfg;
static struct http_req *held; /* the request /later keeps */
static int aborts;

static void later(struct http_req *r, void *ud)
{
    (void)ud;
    held = r;
}

static void count_abort(void *ud)
{
    (void)ud;
    aborts++;
    held = NULL;
}

static void with_abort(struct http_req *r, void *ud)
{
    (void)ud;
    held = r;
    http_req_on_abort(r, count_abort, NULL);
}

static void no_content(struct http_req *r, void *ud)
{
    (void)ud;
    http_respond(r, 204, NULL, NULL, "ignored", 7);
}

static void now(struct http_req *r, void *ud)
{
    http_respond(r, 200, "text/plain", NULL, ud, strlen(ud));
}

/* Answers with what it read of the head, for the split test. */
static void echo_head(struct http_req *r, void *ud)
{
    (void)ud;
    struct buf b = BUF_INIT;
    const char *e = http_req_header(r, "x-empty");
    const char *bl = http_req_header(r, "X-BLANK");
    buf_printf(&b, "[%s][%s][%s][%s][%s][%d][%u]", r->path, r->query,
               e ? e : "(none)", bl ? bl : "(none)",
               http_req_header(r, "X-Spaced"),
               http_req_header_has(r, "Connection", "upgrade"), r->nheaders);
    http_respond(r, 200, "text/plain", NULL, buf_data(&b), buf_used(&b));
    buf_free(&b);
}

static struct http_conn *connect_peer(int *peer);
static void feed(struct http_conn *hc, const char *s);

/* ---- a streamed body ---- */

#define BIG (3u << 20)

struct stream_state {
    uint64_t sent;     /* bytes produced */
    size_t max_queued; /* largest output seen queued before a piece */
    int done;          /* 0 running, 1 complete, 2 incomplete */
    struct conn *c;
};
static struct stream_state st;

static int fill_big(void *ud, struct buf *out, size_t max)
{
    struct stream_state *s = ud;
    if (buf_used(out) > s->max_queued)
        s->max_queued = buf_used(out);
    char *w = buf_reserve(out, max);
    for (size_t i = 0; i < max; i++)
        w[i] = (char)('a' + (s->sent + i) % 26);
    buf_commit(out, max);
    s->sent += max;
    return s->sent == BIG ? 1 : 0;
}

static void big_done(void *ud, bool complete)
{
    struct stream_state *s = ud;
    s->done = complete ? 1 : 2;
}

static void big(struct http_req *r, void *ud)
{
    (void)ud;
    st.c = r->conn;
    http_respond_stream(r, 200, "application/octet-stream", NULL, BIG,
                        fill_big, big_done, &st);
}

struct reader {
    int fd;
    size_t stop_after; /* close after this many bytes; 0: read it all */
    struct buf got;
    _Atomic int finished;
};

static void *read_all(void *arg)
{
    struct reader *rd = arg;
    char b[16384];
    for (;;) {
        ssize_t n = read(rd->fd, b, sizeof(b));
        if (n <= 0)
            break;
        buf_append(&rd->got, b, (size_t)n);
        if (rd->stop_after && buf_used(&rd->got) >= rd->stop_after)
            break;
        /* Head (about 150 bytes) and body in full. */
        const char *h = memmem(buf_data(&rd->got), buf_used(&rd->got),
                               "\r\n\r\n", 4);
        if (h && buf_used(&rd->got) - (size_t)(h + 4 - buf_data(&rd->got)) ==
                     BIG)
            break;
    }
    close(rd->fd);
    rd->finished = 1;
    return NULL;
}

static struct timer poll_timer;
static unsigned polls;

/* Stops the loop once the reader and the stream are both done (or
 * after 20 s). */
static void poll_done(struct loop *l, void *ud)
{
    struct reader *rd = ud;
    if ((rd->finished && st.done) || ++polls > 2000) {
        loop_stop(l);
        return;
    }
    timer_start(l, &poll_timer, 10, poll_done, rd);
}

/* Runs the loop until the stream is over (or 20 s). */
static void run_stream(int fd, size_t stop_after, struct reader *rd)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    *rd = (struct reader){ fd, stop_after, BUF_INIT, 0 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_all, rd), 0);
    polls = 0;
    timer_start(srv.loop, &poll_timer, 10, poll_done, rd);
    loop_run(srv.loop);
    timer_stop(srv.loop, &poll_timer);
    if (!rd->finished)
        shutdown(fd, SHUT_RDWR);
    pthread_join(t, NULL);
}

static void test_streamed_body(void **state)
{
    (void)state;
    int fd;
    struct http_conn *hc = connect_peer(&fd);
    st = (struct stream_state){ 0 };
    feed(hc, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    struct reader rd;
    run_stream(fd, 0, &rd);
    assert_int_equal(st.done, 1);
    const char *s = buf_cstr(&rd.got);
    assert_non_null(strstr(s, "Content-Length: 3145728\r\n"));
    const char *body = strstr(s, "\r\n\r\n") + 4;
    size_t blen = buf_used(&rd.got) - (size_t)(body - s);
    assert_int_equal(blen, BIG);
    for (size_t i = 0; i < blen; i += 4099)
        assert_int_equal(body[i], 'a' + i % 26);
    /* One piece queued at a time: before each piece only the head (or
     * nothing) was waiting. */
    assert_true(st.max_queued < 512);
    buf_free(&rd.got);
    /* The reader hung up: the server closes its end on its own. */
}

static void test_stream_cut(void **state)
{
    (void)state;
    int fd;
    struct http_conn *hc = connect_peer(&fd);
    st = (struct stream_state){ 0 };
    feed(hc, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    struct reader rd;
    run_stream(fd, 100000, &rd);
    /* The reader hung up mid-body: the producer hears of it. */
    assert_int_equal(st.done, 2);
    assert_true(st.sent < BIG);
    buf_free(&rd.got);
}

/* The client never reads: the body stalls and is given up after
 * http_timeout. */
static void test_stream_stalled(void **state)
{
    (void)state;
    int fd;
    struct http_conn *hc = connect_peer(&fd);
    unsigned saved = cfg.http_timeout;
    cfg.http_timeout = 1;
    st = (struct stream_state){ 0 };
    feed(hc, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    struct reader rd = { .fd = fd, .finished = 1 };
    polls = 0;
    timer_start(srv.loop, &poll_timer, 10, poll_done, &rd);
    loop_run(srv.loop);
    timer_stop(srv.loop, &poll_timer);
    cfg.http_timeout = saved;
    assert_int_equal(st.done, 2);
    assert_true(st.sent < BIG);
    /* About one second, not the 20 s the poll gives up after. */
    assert_true(polls < 500);
    close(fd);
}

static int setup(void **state)
{
    (void)state;
    cfg_defaults(&cfg);
    srv.cfg = &cfg;
    srv.domain = cfg.domain;
    srv.loop = loop_new();
    http_route(HTTP_M_GET, "/later", later, NULL, 0);
    http_route(HTTP_M_GET, "/abort", with_abort, NULL, 0);
    http_route(HTTP_M_GET, "/now", now, "now-body", 0);
    http_route(HTTP_M_GET, "/echo", echo_head, NULL, 0);
    http_route(HTTP_M_GET, "/none", no_content, NULL, 0);
    http_route(HTTP_M_GET, "/big", big, NULL, 0);
    loop_on_before_sleep(srv.loop, conn_flush_all, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    conn_close_all();
    http_stop();
    loop_free(srv.loop);
    cfg_free(&cfg);
    srv = (struct server){ 0 };
    return 0;
}

/* A server connection on one end of a socketpair; *peer gets the other. */
static struct http_conn *connect_peer(int *peer)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    struct http_conn *hc = http_conn_new(sv[0], NULL, false);
    assert_non_null(hc);
    *peer = sv[1];
    return hc;
}

/* What the server sent since the last call. */
static void read_back(int fd, struct buf *out)
{
    conn_flush_all(srv.loop, NULL);
    char b[8192];
    ssize_t n;
    while ((n = read(fd, b, sizeof(b))) > 0)
        buf_append(out, b, (size_t)n);
}

static void feed(struct http_conn *hc, const char *s)
{
    on_data(hc->c, s, strlen(s));
}

static void test_async_in_order(void **state)
{
    (void)state;
    int fd;
    struct http_conn *hc = connect_peer(&fd);
    held = NULL;
    feed(hc, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_non_null(held);
    assert_string_equal(held->path, "/later");
    struct buf got = BUF_INIT;
    read_back(fd, &got);
    /* Nothing, not even the second answer, before the first. */
    assert_int_equal(buf_used(&got), 0);
    http_respond(held, 200, "text/plain", NULL, "later-body", 10);
    held = NULL;
    read_back(fd, &got);
    const char *s = buf_cstr(&got);
    const char *a = strstr(s, "later-body");
    const char *b = strstr(s, "now-body");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a < b);
    assert_int_equal(strncmp(s, "HTTP/1.1 200 OK\r\n", 17), 0);
    buf_free(&got);
    close(fd);
}

/* RFC 9110 §8.6: a 204 has neither a body nor a Content-Length. */
static void test_no_content(void **state)
{
    (void)state;
    int fd;
    struct http_conn *hc = connect_peer(&fd);
    feed(hc, "GET /none HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /now HTTP/1.1\r\nHost: x\r\n\r\n");
    struct buf got = BUF_INIT;
    read_back(fd, &got);
    const char *s = buf_cstr(&got);
    assert_int_equal(strncmp(s, "HTTP/1.1 204 No Content\r\n", 25), 0);
    const char *end = strstr(s, "\r\n\r\n");
    assert_non_null(end);
    assert_null(memmem(s, (size_t)(end - s), "Content-Length", 14));
    /* The next answer follows the 204's head at once. */
    assert_int_equal(strncmp(end + 4, "HTTP/1.1 200 OK\r\n", 17), 0);
    buf_free(&got);
    conn_close_async(hc->c, "test");
    conn_flush_all(srv.loop, NULL);
    close(fd);
}

static void test_abort_and_late_answer(void **state)
{
    (void)state;
    int fd;
    struct http_conn *hc = connect_peer(&fd);
    aborts = 0;
    feed(hc, "GET /abort HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_non_null(held);
    conn_close_async(hc->c, "test");
    conn_flush_all(srv.loop, NULL);
    assert_int_equal(aborts, 1);
    assert_null(held);
    close(fd);

    /* Without an abort callback the handler still owns the request:
     * answering after the connection went away only frees it. */
    hc = connect_peer(&fd);
    feed(hc, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_non_null(held);
    conn_close_async(hc->c, "test");
    conn_flush_all(srv.loop, NULL);
    http_respond(held, 200, NULL, NULL, "x", 1);
    held = NULL;
    close(fd);
}

static void test_head_split_everywhere(void **state)
{
    (void)state;
    const char *req = "GET /echo/sub?a=b HTTP/1.1\r\nHost: x\r\n"
                      "X-Empty:\r\nX-Blank:   \r\nX-Spaced:  v w  \r\n"
                      "Connection: keep-alive, Upgrade\r\n\r\n";
    size_t len = strlen(req);
    for (size_t step = 1; step <= len; step++) {
        int fd;
        struct http_conn *hc = connect_peer(&fd);
        for (size_t at = 0; at < len; at += step)
            on_data(hc->c, req + at, len - at < step ? len - at : step);
        struct buf got = BUF_INIT;
        read_back(fd, &got);
        if (!strstr(buf_cstr(&got), "[/echo/sub][a=b][][][v w][1][5]"))
            fail_msg("split every %zu bytes: %s", step, buf_cstr(&got));
        buf_free(&got);
        conn_close_async(hc->c, "test");
        conn_flush_all(srv.loop, NULL);
        close(fd);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_in_order),
        cmocka_unit_test(test_abort_and_late_answer),
        cmocka_unit_test(test_no_content),
        cmocka_unit_test(test_head_split_everywhere),
        cmocka_unit_test(test_streamed_body),
        cmocka_unit_test(test_stream_cut),
        cmocka_unit_test(test_stream_stalled),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
