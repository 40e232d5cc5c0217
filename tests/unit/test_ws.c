/* test_ws.c -- the WebSocket codec (RFC 6455): the accept key of §1.3,
 * frames decoded whole and split at every byte, fragmentation with
 * control frames between fragments, the bounds, and every protocol
 * violation with its close code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "http/ws.h"

/* A client frame: masked with a fixed key unless mask is false. */
static void client_frame(struct buf *out, unsigned b0, const char *payload,
                         size_t len, bool mask)
{
    static const unsigned char key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    unsigned char h[14];
    size_t n = 2;
    h[0] = (unsigned char)b0;
    unsigned char mbit = mask ? 0x80 : 0;
    if (len < 126) {
        h[1] = mbit | (unsigned char)len;
    } else if (len <= 0xffff) {
        h[1] = mbit | 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        n = 4;
    } else {
        h[1] = mbit | 127;
        for (unsigned i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        n = 10;
    }
    if (mask) {
        memcpy(h + n, key, 4);
        n += 4;
    }
    buf_append(out, h, n);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)payload[i];
        if (mask)
            c ^= key[i & 3];
        buf_append(out, &c, 1);
    }
}

/* Decodes data in pieces of at most step bytes and records the events
 * as text: "M:<message>", "P:<ping>", "O:<pong>", "C:<code>",
 * "E:<code>", separated by '|'. */
static void decode_all(const struct buf *in, size_t step, size_t max,
                       struct buf *events)
{
    struct ws_decoder d;
    ws_decoder_init(&d, max);
    const char *p = buf_data(in);
    size_t left = buf_used(in);
    while (left > 0) {
        size_t piece = left < step ? left : step;
        while (piece > 0) {
            struct ws_event ev;
            size_t n = ws_decode(&d, p, piece, &ev);
            p += n;
            left -= n;
            piece -= n;
            switch (ev.type) {
            case WS_EV_NONE:
                break;
            case WS_EV_MESSAGE:
                buf_printf(events, "M:%.*s|", (int)ev.len, ev.data);
                break;
            case WS_EV_PING:
                buf_printf(events, "P:%.*s|", (int)ev.len, ev.data);
                break;
            case WS_EV_PONG:
                buf_printf(events, "O:%.*s|", (int)ev.len, ev.data);
                break;
            case WS_EV_CLOSE:
                buf_printf(events, "C:%u|", ev.code);
                break;
            case WS_EV_ERROR:
                buf_printf(events, "E:%u|", ev.code);
                ws_decoder_free(&d);
                return;
            }
        }
    }
    ws_decoder_free(&d);
}

/* The same events whatever the split. */
static void expect_events(const struct buf *in, size_t max, const char *want)
{
    for (size_t step = 1; step <= buf_used(in); step++) {
        struct buf ev = BUF_INIT;
        decode_all(in, step, max, &ev);
        if (strcmp(buf_cstr(&ev), want) != 0)
            fail_msg("split every %zu bytes of %zu: got \"%s\", want \"%s\"", step, buf_used(in),
                     buf_cstr(&ev), want);
        buf_free(&ev);
    }
}

static void test_accept_key(void **state)
{
    (void)state;
    char out[29];
    /* RFC 6455 §1.3. */
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ", out),
                     -ERR_INVAL);
    assert_int_equal(ws_accept_key("not base64 at all!!!!!==", out),
                     -ERR_INVAL);
    /* 24 characters, but 18 bytes rather than 16. */
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZTEy", out),
                     -ERR_INVAL);
    assert_int_equal(ws_accept_key("", out), -ERR_INVAL);
}

static void test_messages_and_control(void **state)
{
    (void)state;
    struct buf in = BUF_INIT;
    client_frame(&in, 0x81, "<open/>", 7, true);
    client_frame(&in, 0x89, "hi", 2, true);
    client_frame(&in, 0x81, "", 0, true);
    client_frame(&in, 0x8a, "", 0, true);
    /* A fragmented message with a ping between its fragments. */
    client_frame(&in, 0x01, "<mess", 5, true);
    client_frame(&in, 0x89, "x", 1, true);
    client_frame(&in, 0x00, "age/", 4, true);
    client_frame(&in, 0x80, ">", 1, true);
    client_frame(&in, 0x88, "\x03\xe8", 2, true);
    expect_events(&in, 1000, "M:<open/>|P:hi|M:|O:|P:x|M:<message/>|C:1000|");
    buf_free(&in);
}

static void test_lengths(void **state)
{
    (void)state;
    /* 16-bit and 64-bit length forms, exactly at the bound. */
    size_t sizes[] = { 125, 126, 65535, 65536, 70000 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *p = malloc(sizes[i]);
        memset(p, 'a', sizes[i]);
        struct buf in = BUF_INIT, ev = BUF_INIT;
        client_frame(&in, 0x81, p, sizes[i], true);
        decode_all(&in, 4096, sizes[i], &ev);
        assert_int_equal(buf_used(&ev), sizes[i] + 3);
        buf_reset(&ev);
        decode_all(&in, 4096, sizes[i] - 1, &ev);
        assert_string_equal(buf_cstr(&ev), "E:1009|");
        buf_free(&in);
        buf_free(&ev);
        free(p);
    }
    /* Fragments count together. */
    struct buf in = BUF_INIT;
    client_frame(&in, 0x01, "12345", 5, true);
    client_frame(&in, 0x80, "678", 3, true);
    expect_events(&in, 8, "M:12345678|");
    expect_events(&in, 7, "E:1009|");
    buf_free(&in);
}

static void test_violations(void **state)
{
    (void)state;
    static const struct {
        unsigned b0;
        const char *payload;
        size_t len;
        bool mask;
        const char *want;
    } cases[] = {
        { 0x81, "x", 1, false, "E:1002|" },      /* unmasked */
        { 0xc1, "x", 1, true, "E:1002|" },       /* RSV1 */
        { 0x82, "x", 1, true, "E:1003|" },       /* binary */
        { 0x83, "x", 1, true, "E:1002|" },       /* reserved opcode */
        { 0x80, "x", 1, true, "E:1002|" },       /* continuation first */
        { 0x09, "x", 1, true, "E:1002|" },       /* fragmented ping */
        { 0x81, "\xff", 1, true, "E:1007|" },    /* not UTF-8 */
        { 0x81, "\xc3", 1, true, "E:1007|" },    /* cut UTF-8 */
        { 0x88, "\x03", 1, true, "E:1002|" },    /* one-byte close */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf in = BUF_INIT;
        client_frame(&in, cases[i].b0, cases[i].payload, cases[i].len,
                     cases[i].mask);
        expect_events(&in, 1000, cases[i].want);
        buf_free(&in);
    }
    /* A control frame longer than 125 bytes. */
    char big[126];
    memset(big, 'p', sizeof(big));
    struct buf in = BUF_INIT;
    client_frame(&in, 0x89, big, sizeof(big), true);
    expect_events(&in, 1000, "E:1002|");
    buf_reset(&in);
    /* A new text message inside a fragmented one. */
    client_frame(&in, 0x01, "a", 1, true);
    client_frame(&in, 0x81, "b", 1, true);
    expect_events(&in, 1000, "E:1002|");
    buf_reset(&in);
    /* A 64-bit length with the top bit set, judged from the header. */
    static const unsigned char huge[] = { 0x81, 0xff, 0x80, 0, 0, 0, 0, 0,
                                          0,    0,    1,    2, 3, 4 };
    buf_append(&in, huge, sizeof(huge));
    expect_events(&in, 1000, "E:1002|");
    buf_free(&in);
}

static void test_frame_encoding(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    ws_frame(&out, WS_OP_TEXT, "abc", 3);
    assert_int_equal(buf_used(&out), 5);
    assert_memory_equal(buf_data(&out), "\x81\x03" "abc", 5);
    buf_reset(&out);
    char *p = calloc(1, 70000);
    ws_frame(&out, WS_OP_TEXT, p, 300);
    assert_int_equal(buf_used(&out), 304);
    assert_memory_equal(buf_data(&out), "\x81\x7e\x01\x2c", 4);
    buf_reset(&out);
    ws_frame(&out, WS_OP_CLOSE, p, 70000);
    assert_int_equal(buf_used(&out), 70010);
    assert_memory_equal(buf_data(&out),
                        "\x88\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10);
    free(p);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key),
        cmocka_unit_test(test_messages_and_control),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_violations),
        cmocka_unit_test(test_frame_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
