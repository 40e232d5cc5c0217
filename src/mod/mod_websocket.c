/* mod_websocket.c -- RFC 7395: XMPP over WebSocket.
 *
 * Serves GET /xmpp-websocket: the upgrade must ask for the subprotocol
 * "xmpp" (§3.1); the connection then carries one c2s session, which
 * negotiates, authenticates, binds and routes exactly like one on the
 * c2s ports (xmpp/c2s.c) -- to every module it is an ordinary session.
 * This file is only the transport: each element goes out as one text
 * message, the stream opens with <open/> and ends with <close/> (§3.3),
 * and a message may be as large as a stanza may be at that point of the
 * stream (16 KiB before authentication), checked before it is buffered.
 *
 * Over ws:// the session is unencrypted, with the rules of plaintext c2s
 * (no login unless c2s_require_encryption = false and the peer is on
 * loopback); over https (wss://) or behind a trusted proxy that speaks
 * https it is secure. STARTTLS is never offered on a WebSocket.
 *
 * Not here: HTTP (http/http.c), frames (http/ws.c), discovery of the URL
 * (mod_hostmeta.c, XEP-0156). */
#include "mod/mod_websocket.h"

#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "http/http.h"
#include "http/ws.h"
#include "mod/mod.h"
#include "net/conn.h"
#include "xmpp/c2s.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_FRAMING "urn:ietf:params:xml:ns:xmpp-framing"
/* A buffer grown past this by a large stanza is given back. */
#define KEEP_SCRATCH 65536

/* The element being written. Elements are built one at a time on the
 * loop thread (begin, append, end), so one buffer serves every
 * session. */
static struct buf scratch;

static void ws_open(struct session *s);
static struct buf *ws_begin(struct session *s);
static void ws_end(struct session *s);
static void ws_close_stream(struct session *s, const char *reason);
static const struct session_transport ws_transport = {
    .name = "websocket",
    .framed = true,
    .channel_binding = false,
    .open = ws_open,
    .begin = ws_begin,
    .end = ws_end,
    .close = ws_close_stream,
};

static void on_message(struct ws *w, void *ud, const char *data, size_t len);
static void on_closed(struct ws *w, void *ud, const char *reason);
static const struct ws_handler xmpp_ws = { on_message, on_closed };

static struct buf *ws_begin(struct session *s)
{
    (void)s;
    buf_reset(&scratch);
    return &scratch;
}

static void ws_end(struct session *s)
{
    ws_send_text(s->tr_ud, buf_data(&scratch), buf_used(&scratch));
    if (scratch.cap > KEEP_SCRATCH)
        buf_free(&scratch);
    else
        buf_reset(&scratch);
}

static void ws_open(struct session *s)
{
    struct buf *b = ws_begin(s);
    buf_printf(b, "<open xmlns='" NS_FRAMING "' from='%s' id='%s' "
                  "version='1.0' xml:lang='en'/>",
               srv.domain, s->stream_id);
    ws_end(s);
}

static void ws_close_stream(struct session *s, const char *reason)
{
    static const char close_el[] = "<close xmlns='" NS_FRAMING "'/>";
    ws_send_text(s->tr_ud, close_el, sizeof(close_el) - 1);
    ws_close(s->tr_ud, WS_CLOSE_NORMAL, reason);
}

static void on_message(struct ws *w, void *ud, const char *data, size_t len)
{
    struct session *s = ud;
    c2s_input_message(s, data, len);
    /* The bound follows the stream's: higher once authenticated. */
    ws_set_max_message(w, c2s_max_stanza(s));
}

static void on_closed(struct ws *w, void *ud, const char *reason)
{
    (void)w;
    c2s_session_closed(ud, reason);
}

static void upgrade(struct http_req *r, void *ud)
{
    (void)ud;
    const char *key = http_req_header(r, "Sec-WebSocket-Key");
    const char *version = http_req_header(r, "Sec-WebSocket-Version");
    char accept[29];
    if (!r->upgrade || !http_req_header_has(r, "Upgrade", "websocket")) {
        static const char text[] = "426 Upgrade Required: XMPP over "
                                   "WebSocket (RFC 7395) is served here\n";
        http_respond(r, 426, "text/plain; charset=utf-8",
                     "Upgrade: websocket\r\n", text, sizeof(text) - 1);
        return;
    }
    if (!version || strcmp(version, "13") != 0) {
        static const char text[] = "426 Upgrade Required: WebSocket "
                                   "version 13 only\n";
        http_respond(r, 426, "text/plain; charset=utf-8",
                     "Sec-WebSocket-Version: 13\r\n", text,
                     sizeof(text) - 1);
        return;
    }
    if (!key || ws_accept_key(key, accept) < 0) {
        http_respond_text(r, 400, "bad or missing Sec-WebSocket-Key");
        return;
    }
    if (!http_req_header_has(r, "Sec-WebSocket-Protocol", "xmpp")) {
        http_respond_text(r, 400, "the WebSocket subprotocol 'xmpp' is "
                                  "required (RFC 7395 section 3.1)");
        return;
    }
    char extra[160];
    snprintf(extra, sizeof(extra),
             "Upgrade: websocket\r\nSec-WebSocket-Accept: %s\r\n"
             "Sec-WebSocket-Protocol: xmpp\r\n",
             accept);
    struct conn *c = r->conn;
    struct ws *w = ws_new(c, &xmpp_ws, NULL, 0);
    struct session *s = c2s_session_new(c, &ws_transport, w, r->secure);
    ws_set_ud(w, s);
    ws_set_max_message(w, c2s_max_stanza(s));
    http_upgrade(r, extra, ws_conn_handler(), w);
}

const char *mod_websocket_url(void)
{
    static char url[600];
    if (srv.cfg->websocket_url)
        return srv.cfg->websocket_url;
    const char *base = http_public_url();
    if (strncmp(base, "https://", 8) == 0)
        snprintf(url, sizeof(url), "wss://%s" MOD_WEBSOCKET_PATH, base + 8);
    else if (strncmp(base, "http://", 7) == 0)
        snprintf(url, sizeof(url), "ws://%s" MOD_WEBSOCKET_PATH, base + 7);
    else
        url[0] = '\0';
    return url;
}

int mod_websocket_init(struct mod *m)
{
    (void)m;
    http_route(HTTP_M_GET, MOD_WEBSOCKET_PATH, upgrade, NULL, 0);
    return 0;
}
