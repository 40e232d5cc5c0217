/* ws.h -- WebSocket (RFC 6455), server side: the opening handshake's
 * accept key, the frame decoder and encoder, and a connection that hands
 * whole text messages to the layer above and answers pings and the
 * closing handshake itself.
 *
 * Bounds: a message (all its fragments) may hold max_message bytes,
 * checked from each frame's header before its payload is kept; control
 * frames at most 125 (§5.5). Frames from the client must be masked
 * (§5.1); extensions are never negotiated, so the RSV bits must be 0.
 * A violation closes with 1002, an over-size message with 1009, a binary
 * message with 1003 (this server speaks text protocols only), invalid
 * UTF-8 with 1007.
 *
 * Not here: the HTTP upgrade (http/http.c and the route's handler), what
 * messages mean (mod_websocket for XMPP, RFC 7395). */
#ifndef THEKE_WS_H
#define THEKE_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct conn;
struct conn_handler;

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xa,
};

/* Close codes (§7.4.1). */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_UNSUPPORTED 1003
#define WS_CLOSE_NO_STATUS 1005 /* never sent: no code in the frame */
#define WS_CLOSE_INVALID_DATA 1007
#define WS_CLOSE_POLICY 1008
#define WS_CLOSE_TOO_BIG 1009

#define WS_CONTROL_MAX 125

/* ---- the codec ---- */

enum ws_event_type {
    WS_EV_NONE,    /* more input needed */
    WS_EV_MESSAGE, /* a complete text message */
    WS_EV_PING,
    WS_EV_PONG,
    WS_EV_CLOSE,   /* the peer's close frame; code (1005 when none) */
    WS_EV_ERROR,   /* the peer broke the protocol; close with code */
};

struct ws_event {
    enum ws_event_type type;
    const char *data;  /* payload, borrowed until the next decode */
    size_t len;
    unsigned code;     /* WS_EV_CLOSE, WS_EV_ERROR */
    const char *why;   /* WS_EV_ERROR: a static reason for logs */
};

struct ws_decoder {
    /* private */
    size_t max_message;       /* bytes of one message, fragments summed */
    unsigned char hdr[14];    /* the frame header being collected */
    unsigned hdr_len;
    bool in_payload;
    unsigned opcode;          /* of the current frame */
    bool fin;
    uint64_t remaining;       /* payload bytes still to come */
    unsigned char mask[4];
    unsigned mask_pos;
    bool in_message;          /* a fragmented message is open */
    struct buf msg;           /* the message being assembled */
    unsigned char ctl[WS_CONTROL_MAX];
    size_t ctl_len;
    bool failed;
};

void ws_decoder_init(struct ws_decoder *d, size_t max_message);
void ws_decoder_free(struct ws_decoder *d);
/* Decodes from data; stops after one event. Returns the bytes used
 * (all of them when ev->type is WS_EV_NONE). After WS_EV_ERROR every
 * call returns an error again. */
size_t ws_decode(struct ws_decoder *d, const char *data, size_t len,
                 struct ws_event *ev);

/* Appends an unmasked frame (the server's) with FIN set. */
void ws_frame(struct buf *out, enum ws_opcode op, const void *data,
              size_t len);

/* Sec-WebSocket-Accept (§4.2.2) for the client's Sec-WebSocket-Key, a
 * base64 nonce of 16 bytes; out gets 28 characters and a NUL. Returns 0
 * or -ERR_INVAL for a malformed key. */
int ws_accept_key(const char *key, char out[29]);

/* ---- a connection ---- */

struct ws;

struct ws_handler {
    /* A complete text message, borrowed for the call. */
    void (*message)(struct ws *w, void *ud, const char *data, size_t len);
    /* The connection is about to be freed; reason is static. */
    void (*closed)(struct ws *w, void *ud, const char *reason);
};

/* A WebSocket on c, which the caller is about to hand over with
 * http_upgrade(r, ..., ws_conn_handler(), w). h and ud are borrowed until
 * h->closed. The ws is freed with the connection. */
struct ws *ws_new(struct conn *c, const struct ws_handler *h, void *ud,
                  size_t max_message);
const struct conn_handler *ws_conn_handler(void);
void ws_set_ud(struct ws *w, void *ud);
/* Changes the message bound (e.g. after the peer authenticated). */
void ws_set_max_message(struct ws *w, size_t max);
/* Sends one text message. */
void ws_send_text(struct ws *w, const char *data, size_t len);
/* Starts the closing handshake (§7.1.2): sends a close frame, waits a
 * little for the peer's, then closes the connection. reason is a short
 * static string, also sent in the frame. */
void ws_close(struct ws *w, unsigned code, const char *reason);
struct conn *ws_conn(const struct ws *w);

#endif
