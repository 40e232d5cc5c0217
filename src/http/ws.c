/* ws.c -- see ws.h. */
#include "http/ws.h"

#include <string.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/utf8.h"
#include "net/conn.h"
#include "xmpp/server.h"

/* §1.3: the GUID every server appends to the client's key. */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* How long we wait for the peer's close frame after sending ours. */
#define CLOSE_WAIT_MS 5000
/* A message buffer grown past this is given back after delivery, so a
 * quiet connection stays small. */
#define KEEP_MSG_BUF 16384

/* ---- the codec ---- */

void ws_decoder_init(struct ws_decoder *d, size_t max_message)
{
    memset(d, 0, sizeof(*d));
    d->max_message = max_message;
}

void ws_decoder_free(struct ws_decoder *d) { buf_free(&d->msg); }

static size_t fail(struct ws_decoder *d, struct ws_event *ev, unsigned code,
                   const char *why)
{
    d->failed = true;
    ev->type = WS_EV_ERROR;
    ev->code = code;
    ev->why = why;
    return 0;
}

/* Bytes the header needs in all, once its first two have arrived. */
static unsigned header_size(const unsigned char *h)
{
    /* An unmasked frame is refused as soon as its header is in. */
    unsigned n = 2 + (h[1] & 0x80 ? 4 : 0);
    unsigned len7 = h[1] & 0x7f;
    if (len7 == 126)
        n += 2;
    else if (len7 == 127)
        n += 8;
    return n;
}

/* Checks a complete header; returns 0, or a close code. */
static unsigned take_header(struct ws_decoder *d, const char **why)
{
    const unsigned char *h = d->hdr;
    d->fin = h[0] & 0x80;
    d->opcode = h[0] & 0x0f;
    uint64_t len = h[1] & 0x7f;
    unsigned at = 2;
    if (len == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        at = 4;
    } else if (len == 127) {
        len = 0;
        for (unsigned i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        at = 10;
        if (len >> 63) {
            *why = "frame length with the top bit set";
            return WS_CLOSE_PROTOCOL;
        }
    }
    if (h[0] & 0x70) {
        *why = "reserved bits set";
        return WS_CLOSE_PROTOCOL;
    }
    if (!(h[1] & 0x80)) {
        *why = "unmasked frame from the client";
        return WS_CLOSE_PROTOCOL;
    }
    memcpy(d->mask, h + at, 4);
    d->mask_pos = 0;
    d->remaining = len;
    switch (d->opcode) {
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        if (!d->fin || len > WS_CONTROL_MAX) {
            *why = "fragmented or long control frame";
            return WS_CLOSE_PROTOCOL;
        }
        d->ctl_len = 0;
        return 0;
    case WS_OP_BINARY:
        *why = "binary message";
        return WS_CLOSE_UNSUPPORTED;
    case WS_OP_TEXT:
        if (d->in_message) {
            *why = "new message inside a fragmented one";
            return WS_CLOSE_PROTOCOL;
        }
        break;
    case WS_OP_CONT:
        if (!d->in_message) {
            *why = "continuation without a message";
            return WS_CLOSE_PROTOCOL;
        }
        break;
    default:
        *why = "unknown opcode";
        return WS_CLOSE_PROTOCOL;
    }
    /* The bound holds before anything of the payload is kept. */
    if (len > d->max_message || buf_used(&d->msg) > d->max_message - len) {
        *why = "message too big";
        return WS_CLOSE_TOO_BIG;
    }
    d->in_message = true;
    return 0;
}

/* The frame's payload is complete: what it means. */
static void frame_done(struct ws_decoder *d, struct ws_event *ev)
{
    d->in_payload = false;
    d->hdr_len = 0;
    switch (d->opcode) {
    case WS_OP_PING:
    case WS_OP_PONG:
        ev->type = d->opcode == WS_OP_PING ? WS_EV_PING : WS_EV_PONG;
        ev->data = (const char *)d->ctl;
        ev->len = d->ctl_len;
        return;
    case WS_OP_CLOSE:
        ev->type = WS_EV_CLOSE;
        ev->code = WS_CLOSE_NO_STATUS;
        ev->data = "";
        ev->len = 0;
        if (d->ctl_len == 1) {
            fail(d, ev, WS_CLOSE_PROTOCOL, "one-byte close payload");
        } else if (d->ctl_len >= 2) {
            ev->code = (unsigned)d->ctl[0] << 8 | d->ctl[1];
            ev->data = (const char *)d->ctl + 2;
            ev->len = d->ctl_len - 2;
        }
        return;
    default:
        break;
    }
    if (!d->fin) {
        ev->type = WS_EV_NONE;
        return;
    }
    d->in_message = false;
    if (!utf8_valid((const unsigned char *)buf_data(&d->msg),
                    buf_used(&d->msg))) {
        fail(d, ev, WS_CLOSE_INVALID_DATA, "text message is not UTF-8");
        return;
    }
    ev->type = WS_EV_MESSAGE;
    ev->data = buf_data(&d->msg);
    ev->len = buf_used(&d->msg);
}

size_t ws_decode(struct ws_decoder *d, const char *data, size_t len,
                 struct ws_event *ev)
{
    *ev = (struct ws_event){ .type = WS_EV_NONE };
    if (d->failed)
        return fail(d, ev, WS_CLOSE_PROTOCOL, "after an error");
    /* The previous message was handed out: start the next one. */
    if (!d->in_message && buf_used(&d->msg) + d->msg.off > 0) {
        if (d->msg.cap > KEEP_MSG_BUF)
            buf_free(&d->msg);
        else
            buf_reset(&d->msg);
    }
    const unsigned char *p = (const unsigned char *)data;
    size_t used = 0;
    while (used < len) {
        if (!d->in_payload) {
            d->hdr[d->hdr_len++] = p[used++];
            if (d->hdr_len < 2 || d->hdr_len < header_size(d->hdr))
                continue;
            const char *why = NULL;
            unsigned code = take_header(d, &why);
            if (code)
                return fail(d, ev, code, why), used;
            d->in_payload = true;
            if (d->remaining == 0) {
                frame_done(d, ev);
                if (ev->type != WS_EV_NONE)
                    return used;
                continue;
            }
        }
        size_t n = len - used;
        if (n > d->remaining)
            n = (size_t)d->remaining;
        unsigned char *dst;
        if (d->opcode >= WS_OP_CLOSE) {
            dst = d->ctl + d->ctl_len;
            d->ctl_len += n;
        } else {
            dst = (unsigned char *)buf_reserve(&d->msg, n);
            buf_commit(&d->msg, n);
        }
        for (size_t i = 0; i < n; i++)
            dst[i] = p[used + i] ^ d->mask[(d->mask_pos + i) & 3];
        d->mask_pos = (unsigned)((d->mask_pos + n) & 3);
        d->remaining -= n;
        used += n;
        if (d->remaining == 0) {
            frame_done(d, ev);
            if (ev->type != WS_EV_NONE)
                return used;
        }
    }
    return used;
}

void ws_frame(struct buf *out, enum ws_opcode op, const void *data,
              size_t len)
{
    unsigned char h[10];
    size_t n = 2;
    h[0] = 0x80 | (unsigned char)op;
    if (len < 126) {
        h[1] = (unsigned char)len;
    } else if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        n = 4;
    } else {
        h[1] = 127;
        for (unsigned i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        n = 10;
    }
    buf_append(out, h, n);
    buf_append(out, data, len);
}

int ws_accept_key(const char *key, char out[29])
{
    struct buf raw = BUF_INIT, enc = BUF_INIT;
    size_t kl = strlen(key);
    int r = -ERR_INVAL;
    if (kl != 24 || base64_decode(key, kl, &raw) < 0 || buf_used(&raw) != 16)
        goto out;
    char in[24 + sizeof(WS_GUID)];
    memcpy(in, key, 24);
    memcpy(in + 24, WS_GUID, sizeof(WS_GUID) - 1);
    unsigned char digest[CRYPTO_MAX_DIGEST];
    crypto_hash(CRYPTO_SHA1, in, 24 + sizeof(WS_GUID) - 1, digest);
    base64_encode(digest, crypto_digest_len(CRYPTO_SHA1), &enc);
    if (buf_used(&enc) != 28)
        goto out;
    memcpy(out, buf_data(&enc), 28);
    out[28] = '\0';
    r = 0;
out:
    buf_free(&raw);
    buf_free(&enc);
    return r;
}

/* ---- a connection ---- */

enum ws_state { WS_OPEN, WS_CLOSE_SENT, WS_DONE };

struct ws {
    struct conn *c;
    const struct ws_handler *h;
    void *ud;
    struct ws_decoder dec;
    enum ws_state state;
    struct timer close_wait;
};

static void on_data(struct conn *c, const char *data, size_t len);
static void on_closed(struct conn *c, const char *reason);
static const struct conn_handler ws_handler_conn = {
    .data = on_data, .closed = on_closed,
};

const struct conn_handler *ws_conn_handler(void) { return &ws_handler_conn; }

struct ws *ws_new(struct conn *c, const struct ws_handler *h, void *ud,
                  size_t max_message)
{
    struct ws *w = xcalloc(1, sizeof(*w));
    w->c = c;
    w->h = h;
    w->ud = ud;
    ws_decoder_init(&w->dec, max_message);
    return w;
}

void ws_set_ud(struct ws *w, void *ud) { w->ud = ud; }

void ws_set_max_message(struct ws *w, size_t max) { w->dec.max_message = max; }

struct conn *ws_conn(const struct ws *w) { return w->c; }

void ws_send_text(struct ws *w, const char *data, size_t len)
{
    if (w->state != WS_OPEN)
        return;
    ws_frame(conn_outbuf(w->c), WS_OP_TEXT, data, len);
    conn_wrote(w->c);
}

static void send_close(struct ws *w, unsigned code, const char *reason)
{
    unsigned char p[WS_CONTROL_MAX];
    size_t n = 0;
    if (code != WS_CLOSE_NO_STATUS) {
        p[0] = (unsigned char)(code >> 8);
        p[1] = (unsigned char)code;
        n = strlen(reason);
        if (n > WS_CONTROL_MAX - 2)
            n = WS_CONTROL_MAX - 2;
        memcpy(p + 2, reason, n);
        n += 2;
    }
    ws_frame(conn_outbuf(w->c), WS_OP_CLOSE, p, n);
    conn_wrote(w->c);
}

static void close_waited(struct loop *l, void *ud)
{
    (void)l;
    struct ws *w = ud;
    w->state = WS_DONE;
    conn_close_async(w->c, "no close frame from the peer");
}

void ws_close(struct ws *w, unsigned code, const char *reason)
{
    if (w->state != WS_OPEN)
        return;
    log_debug(w->c->id, "websocket: closing with %u (%s)", code, reason);
    send_close(w, code, reason);
    w->state = WS_CLOSE_SENT;
    timer_start(srv.loop, &w->close_wait, CLOSE_WAIT_MS, close_waited, w);
}

static void on_data(struct conn *c, const char *data, size_t len)
{
    struct ws *w = c->ud;
    while (len > 0 && w->state != WS_DONE && !(c->flags & CONN_F_CLOSING)) {
        struct ws_event ev;
        size_t n = ws_decode(&w->dec, data, len, &ev);
        data += n;
        len -= n;
        switch (ev.type) {
        case WS_EV_NONE:
            break;
        case WS_EV_MESSAGE:
            /* After our close frame, data is read and dropped (§7.1.2). */
            if (w->state == WS_OPEN)
                w->h->message(w, w->ud, ev.data, ev.len);
            break;
        case WS_EV_PING:
            if (w->state == WS_OPEN) {
                ws_frame(conn_outbuf(c), WS_OP_PONG, ev.data, ev.len);
                conn_wrote(c);
            }
            break;
        case WS_EV_PONG:
            break;
        case WS_EV_CLOSE:
            /* §5.5.1: answer with the same code, then the server closes
             * the TCP connection first. */
            if (w->state == WS_OPEN)
                send_close(w, ev.code, "");
            w->state = WS_DONE;
            conn_close_async(c, "websocket closed by peer");
            return;
        case WS_EV_ERROR:
            log_info(c->id, "websocket: %s, closing with %u", ev.why,
                     ev.code);
            if (w->state == WS_OPEN)
                send_close(w, ev.code, ev.why);
            w->state = WS_DONE;
            conn_close_async(c, "websocket protocol error");
            return;
        }
    }
}

static void on_closed(struct conn *c, const char *reason)
{
    struct ws *w = c->ud;
    timer_stop(srv.loop, &w->close_wait);
    w->h->closed(w, w->ud, reason);
    ws_decoder_free(&w->dec);
    free(w);
}
