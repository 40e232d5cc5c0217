/* c2s.c -- see c2s.h.
 *
 * One session per connection. The stream goes through: header ->
 * features -> [STARTTLS -> restart] -> SASL -> restart -> bind -> stanzas.
 * Limits: before authentication a stanza may be at most PREAUTH_STANZA_MAX
 * bytes and the connection must authenticate within auth_timeout; after
 * it, max_stanza_size applies (announced per XEP-0478) and a silent
 * connection is pinged after idle_timeout and closed if it stays silent. */
#include "xmpp/c2s.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/cfg.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/hmap.h"
#include "core/log.h"
#include "net/conn.h"
#include "net/listen.h"
#include "xml/xser.h"
#include "xml/xstream.h"
#include "xmpp/errors.h"
#include "xmpp/hooks.h"
#include "xmpp/router.h"
#include "xmpp/sasl.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_CLIENT "jabber:client"
#define NS_STREAMS "http://etherx.jabber.org/streams"
#define NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND "urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define NS_PING "urn:xmpp:ping"
#define NS_LIMITS "urn:xmpp:stream-limits:0"
#define NS_SASL_CB "urn:xmpp:sasl-cb:0"
#define NS_FRAMING "urn:ietf:params:xml:ns:xmpp-framing"
/* A framed message is parsed as the only child of this stream header
 * and its end tag, so that the stream parser (restricted XML, limits)
 * serves both transports. */
#define FRAMED_HEAD                                                        \
    "<stream:stream xmlns='" NS_CLIENT "' xmlns:stream='" NS_STREAMS "'>"
#define FRAMED_TAIL "</stream:stream>"

/* SASL messages and registration forms are small; a stranger gets no
 * more room than this until it has authenticated. */
#define PREAUTH_STANZA_MAX 16384
#define SASL_DATA_MAX 8192 /* base64 characters in one SASL element */
#define MAX_RESOURCES_PER_ACCOUNT 32
#define PING_GRACE_MS 30000
#define SHRINK_AFTER_MS 2000 /* quiet time before the parser is shrunk */
/* Failed logins: delays double from FAIL_BASE_MS after the first failure,
 * up to FAIL_MAX_MS; a record is forgotten after FAIL_FORGET_MS. */
#define FAIL_BASE_MS 500
#define FAIL_MAX_MS 8000
#define FAIL_FORGET_MS (15 * 60 * 1000)
#define FAIL_TABLE_MAX 100000

static struct listener *starttls_listener, *direct_tls_listener;
static struct session *all_sessions;

struct fail_record {
    unsigned count;
    uint64_t last_ms;
};
static struct hmap failures = HMAP_INIT;

static void on_data(struct conn *c, const char *data, size_t len);
static void on_closed(struct conn *c, const char *reason);
static const struct conn_handler c2s_handler = {
    .data = on_data, .closed = on_closed,
};

static void on_stream_open(void *ud, const struct stanza *hdr);
static void on_stanza(void *ud, struct stanza *st);
static void on_stream_close(void *ud);
static void on_stream_error(void *ud, enum xstream_error err);
static const struct xstream_cb stream_cb = { on_stream_open, on_stanza,
                                             on_stream_close,
                                             on_stream_error };
static void on_timer(struct loop *l, void *ud);
static void stream_opened(struct session *s, const struct stanza *hdr);

static void tcp_open(struct session *s);
static struct buf *tcp_begin(struct session *s);
static void tcp_end(struct session *s);
static void tcp_close(struct session *s, const char *reason);
const struct session_transport c2s_stream_transport = {
    .name = "tcp",
    .framed = false,
    .channel_binding = true,
    .open = tcp_open,
    .begin = tcp_begin,
    .end = tcp_end,
    .close = tcp_close,
};

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static void send_str(struct session *s, const char *xml)
{
    session_write_raw(s, xml, strlen(xml));
}

/* ---- the TCP stream transport (RFC 6120 §4) ---- */

static void tcp_open(struct session *s)
{
    buf_printf(conn_outbuf(s->conn),
               "<?xml version='1.0'?><stream:stream xmlns='" NS_CLIENT
               "' xmlns:stream='" NS_STREAMS "' id='%s' from='%s' "
               "version='1.0' xml:lang='en'>",
               s->stream_id, srv.domain);
    conn_wrote(s->conn);
}

static struct buf *tcp_begin(struct session *s) { return conn_outbuf(s->conn); }

static void tcp_end(struct session *s) { conn_wrote(s->conn); }

static void tcp_close(struct session *s, const char *reason)
{
    conn_write(s->conn, "</stream:stream>", 16);
    conn_close_async(s->conn, reason);
}

/* ---- writing the stream ---- */

static void send_header(struct session *s)
{
    crypto_random_token(s->stream_id, 16);
    s->tr->open(s);
    s->header_sent = true;
}

/* Starts a top-level element in the streams namespace; a framed one
 * stands alone and declares the prefix itself (RFC 7395 §3.3.3). */
static struct buf *begin_stream_element(struct session *s, const char *name)
{
    struct buf *out = s->tr->begin(s);
    buf_printf(out, "<stream:%s%s>", name,
               s->tr->framed ? " xmlns:stream='" NS_STREAMS "'" : "");
    return out;
}

void c2s_stream_error(struct session *s, const char *cond, const char *text)
{
    if (!s->conn) {
        /* A detached session has no stream to end: it goes, soon rather
         * than now, because callers may still be walking the registry. */
        if (s->bound && !s->ending) {
            s->ending = true;
            timer_start(srv.loop, &s->timer, 0, on_timer, s);
        }
        return;
    }
    if (s->conn->flags & CONN_F_CLOSING)
        return;
    /* A client that stopped answering is what resumption (XEP-0198) is
     * for; every other error ends the session for good. */
    if (strcmp(cond, "connection-timeout") != 0)
        s->ending = true;
    if (!s->header_sent)
        send_header(s);
    errors_stream_element(s->tr->begin(s), cond, text, s->tr->framed);
    s->tr->end(s);
    log_info(s->id, "stream error: %s", cond);
    if (s->xs)
        xstream_stop(s->xs);
    s->tr->close(s, cond);
}

/* ---- failed-login slowdown ---- */

static struct fail_record *fail_get(const char *kind, const char *key,
                                    bool create)
{
    char k[JID_PART_MAX + 64];
    snprintf(k, sizeof(k), "%s:%s", kind, key);
    struct fail_record *r = hmap_get(&failures, k);
    uint64_t now = loop_now_ms(srv.loop);
    if (r && now - r->last_ms > FAIL_FORGET_MS) {
        free(hmap_del(&failures, k));
        r = NULL;
    }
    if (!r && create) {
        if (failures.count >= FAIL_TABLE_MAX) {
            /* Under a flood from many addresses: start over rather than
             * grow without bound. */
            struct fail_record *v;
            for (size_t i = 0; hmap_next(&failures, &i, NULL, (void **)&v);)
                free(v);
            hmap_free(&failures);
        }
        r = xcalloc(1, sizeof(*r));
        hmap_put(&failures, k, r);
    }
    return r;
}

static unsigned fail_count(struct session *s, const char *user)
{
    unsigned n = 0;
    struct fail_record *r = fail_get("a", s->conn->peer_addr, false);
    if (r)
        n = r->count;
    if (user && (r = fail_get("u", user, false)) && r->count > n)
        n = r->count;
    return n;
}

static void fail_note(struct session *s, const char *user)
{
    uint64_t now = loop_now_ms(srv.loop);
    struct fail_record *r = fail_get("a", s->conn->peer_addr, true);
    r->count++;
    r->last_ms = now;
    if (user) {
        r = fail_get("u", user, true);
        r->count++;
        r->last_ms = now;
    }
}

static void fail_clear(struct session *s, const char *user)
{
    char k[JID_PART_MAX + 64];
    snprintf(k, sizeof(k), "a:%s", s->conn->peer_addr);
    free(hmap_del(&failures, k));
    snprintf(k, sizeof(k), "u:%s", user);
    free(hmap_del(&failures, k));
}

/* ---- features ---- */

static void add_mech(void *ud, const char *mech)
{
    struct stanza *mechs = ud;
    struct stanza *m = stanza_add_child(mechs, NULL, "mechanism");
    stanza_add_text(m, mech, strlen(mech));
}

#define CB_TYPES 3

/* The channel binding types the stream's TLS connection can give, with
 * their data (at most CB_TYPES); 0 without TLS or when the transport
 * does not bind. */
static unsigned channel_bindings(struct session *s, struct scram_cb *cbs)
{
    static const char *const types[CB_TYPES] = {
        "tls-exporter", "tls-server-end-point", "tls-unique"
    };
    unsigned n = 0;
    if (!s->tr->channel_binding)
        return 0;
    for (unsigned i = 0; i < CB_TYPES && s->conn; i++) {
        int len = conn_channel_binding(s->conn, types[i], cbs[n].data,
                                       sizeof(cbs[n].data));
        if (len > 0) {
            cbs[n].type = types[i];
            cbs[n].len = (size_t)len;
            n++;
        }
    }
    return n;
}

/* The stanza size limit in force on the stream. */
size_t c2s_max_stanza(const struct session *s)
{
    if (s->authed || srv.cfg->max_stanza_size < PREAUTH_STANZA_MAX)
        return srv.cfg->max_stanza_size;
    return PREAUTH_STANZA_MAX;
}

static bool plaintext_allowed(const struct session *s)
{
    return !srv.cfg->c2s_require_encryption && s->conn->peer_loopback;
}

static void send_features(struct session *s)
{
    struct stanza *f = stanza_new(NS_STREAMS, "features");
    if (!s->authed) {
        if (!s->secure && srv.tls && !s->tr->framed) {
            struct stanza *tls = stanza_add_child(f, NS_TLS, "starttls");
            if (!plaintext_allowed(s))
                stanza_add_child(tls, NS_TLS, "required");
        }
        if (s->secure || plaintext_allowed(s)) {
            /* A loopback peer the operator allowed in plaintext is as
             * private as TLS, so it gets PLAIN too (benchmarks compare
             * servers with PLAIN over plaintext c2s). */
            struct scram_cb cbs[CB_TYPES];
            unsigned ncb = channel_bindings(s, cbs);
            struct stanza *mechs = stanza_add_child(f, NS_SASL, "mechanisms");
            sasl_mechanisms(true, ncb, add_mech, mechs);
            /* XEP-0440: which bindings the -PLUS mechanisms can use.
             * tls-unique is not defined for TLS 1.3 (RFC 8446 §C.5), so
             * it is not announced there, only accepted from clients
             * that use it regardless. */
            bool tls13 = strcmp(conn_tls_version(s->conn), "TLSv1.3") == 0;
            if (ncb) {
                struct stanza *cb =
                    stanza_add_child(f, NS_SASL_CB, "sasl-channel-binding");
                for (unsigned i = 0; i < ncb; i++)
                    if (!tls13 || strcmp(cbs[i].type, "tls-unique") != 0)
                        stanza_set_attr(stanza_add_child(cb, NULL,
                                                         "channel-binding"),
                                        "type", cbs[i].type);
            }
        }
    } else {
        stanza_add_child(f, NS_BIND, "bind");
        struct stanza *sess = stanza_add_child(f, NS_SESSION, "session");
        stanza_add_child(sess, NS_SESSION, "optional");
    }
    /* XEP-0478: the limits of this stream as it is now. */
    struct stanza *lim = stanza_add_child(f, NS_LIMITS, "limits");
    char num[24];
    snprintf(num, sizeof(num), "%zu", c2s_max_stanza(s));
    stanza_add_text(stanza_add_child(lim, NS_LIMITS, "max-bytes"), num,
                    strlen(num));
    if (s->authed) {
        snprintf(num, sizeof(num), "%u", srv.cfg->idle_timeout);
        stanza_add_text(stanza_add_child(lim, NS_LIMITS, "idle-seconds"), num,
                        strlen(num));
    }
    if (s->secure || plaintext_allowed(s) || s->authed) {
        struct hook_ctx h = { .sess = s, .data = f };
        hooks_fire("stream-features", &h, NULL);
    }
    struct buf *out = begin_stream_element(s, "features");
    for (unsigned i = 0; i < f->nchildren; i++)
        if (f->children[i].elem)
            xser_write(f->children[i].elem, s->tr->framed ? "" : NS_CLIENT,
                       out);
    buf_append_str(out, "</stream:features>");
    s->tr->end(s);
    stanza_unref(f);
}

/* ---- session lifetime ---- */

static void arm_auth_timeout(struct session *s)
{
    uint64_t limit = (uint64_t)srv.cfg->auth_timeout * 1000u;
    uint64_t spent = loop_now_ms(srv.loop) - s->connected_ms;
    timer_start(srv.loop, &s->timer, spent >= limit ? 0 : limit - spent,
                on_timer, s);
}

static struct xstream *new_parser(struct session *s)
{
    struct xstream_limits lim = {
        .max_stanza_size = c2s_max_stanza(s),
        .max_depth = 32,
        .max_attrs = 64,
    };
    return xstream_new(&lim, &stream_cb, s);
}

static void session_init(struct session *s, struct conn *c,
                         const struct session_transport *tr, void *tr_ud,
                         bool secure)
{
    s->conn = c;
    s->tr = tr;
    s->tr_ud = tr_ud;
    s->id = c->id;
    s->secure = secure;
    s->connected_ms = loop_now_ms(srv.loop);
    s->last_read_ms = s->connected_ms;
    /* Output may hold a few full stanzas queued for a reader that is
     * momentarily slow; more than that is a reader that does not read. */
    s->conn->max_out = srv.cfg->max_stanza_size * 4 + 65536;
    s->xs = new_parser(s);
    s->all_next = all_sessions;
    if (all_sessions)
        all_sessions->all_prev = s;
    all_sessions = s;
    arm_auth_timeout(s);
}

static void accept_conn(void *ud, int fd, const struct sockaddr *peer)
{
    bool direct_tls = ud != NULL;
    if (direct_tls && !srv.tls) {
        close(fd);
        return;
    }
    struct session *s = xcalloc(1, sizeof(*s));
    struct conn *c = conn_new(srv.loop, fd, peer, direct_tls ? srv.tls : NULL,
                              &c2s_handler, s);
    if (!c) {
        free(s);
        return;
    }
    session_init(s, c, &c2s_stream_transport, NULL, direct_tls);
    log_debug(s->id, "connection from %s%s", s->conn->peer_addr,
              direct_tls ? " (direct TLS)" : "");
}

struct session *c2s_session_new(struct conn *c,
                                const struct session_transport *tr,
                                void *tr_ud, bool secure)
{
    struct session *s = xcalloc(1, sizeof(*s));
    session_init(s, c, tr, tr_ud, secure);
    log_debug(s->id, "%s session from %s%s", tr->name, c->peer_addr,
              secure ? " (TLS)" : "");
    return s;
}

/* Takes the session out of routing: presence modules say goodbye for
 * it. Idempotent; the session object lives on until it is freed. */
static void session_end(struct session *s)
{
    if (!s->bound)
        return;
    struct hook_ctx h = { .sess = s, .from = &s->jid };
    hooks_fire("session-closed", &h, NULL);
    sessions_remove(s);
    log_info(s->id, "session ended");
}

void c2s_session_release(struct session *s)
{
    session_end(s);
    timer_stop(srv.loop, &s->timer);
    if (s->all_prev)
        s->all_prev->all_next = s->all_next;
    else
        all_sessions = s->all_next;
    if (s->all_next)
        s->all_next->all_prev = s->all_prev;
    session_free_state(s);
    free(s);
}

void c2s_session_take_over(struct session *s, struct session *old)
{
    session_move_state(s, old);
    log_info(s->id, "continues the session of connection %lu", old->id);
    /* old is unbound now: ending it says goodbye to nobody. */
    c2s_stream_error(old, "conflict", "the session continues elsewhere");
    if (!old->conn)
        c2s_session_release(old);
}

static void on_closed(struct conn *c, const char *reason)
{
    c2s_session_closed(c->ud, reason);
}

void c2s_session_closed(struct session *s, const char *reason)
{
    log_debug(s->id, "connection closed: %s", reason);
    s->conn = NULL;
    timer_stop(srv.loop, &s->timer);
    xstream_free(s->xs);
    xstream_free(s->retired_xs);
    s->xs = s->retired_xs = NULL;
    sasl_free(s->sasl);
    s->sasl = NULL;
    if (s->bound && !s->ending) {
        struct hook_ctx h = { .sess = s, .from = &s->jid };
        if (hooks_fire("session-detached", &h, NULL) == HOOK_HANDLED) {
            log_info(s->id, "session detached (%s)", reason);
            return;
        }
    }
    c2s_session_release(s);
}

static void on_data(struct conn *c, const char *data, size_t len)
{
    c2s_input(c->ud, data, len);
}

static void heard_from(struct session *s)
{
    s->last_read_ms = loop_now_ms(srv.loop);
    s->ping_outstanding = false;
}

void c2s_input(struct session *s, const char *data, size_t len)
{
    heard_from(s);
    xstream_feed(s->xs, data, len);
    if (s->retired_xs) {
        xstream_free(s->retired_xs);
        s->retired_xs = NULL;
    }
}

void c2s_input_message(struct session *s, const char *data, size_t len)
{
    heard_from(s);
    /* Each message is a document of its own: a fresh parse, so that an
     * element cannot continue into the next message, and one it leaves
     * unfinished fails at the closing tag (not-well-formed). */
    xstream_reset(s->xs);
    if (xstream_feed(s->xs, FRAMED_HEAD, sizeof(FRAMED_HEAD) - 1) == 0 &&
        xstream_feed(s->xs, data, len) == 0)
        xstream_feed(s->xs, FRAMED_TAIL, sizeof(FRAMED_TAIL) - 1);
}

/* A stanza like any other, so stream management counts it. */
static void send_ping(struct session *s)
{
    char id[64];
    snprintf(id, sizeof(id), "c2s-ping-%s", s->stream_id);
    struct stanza *iq = stanza_new(NS_CLIENT, "iq");
    stanza_set_attr(iq, "type", "get");
    stanza_set_attr(iq, "id", id);
    stanza_set_attr(iq, "from", srv.domain);
    stanza_set_attr(iq, "to", s->jid.s);
    stanza_add_child(iq, NS_PING, "ping");
    session_send(s, iq);
    stanza_unref(iq);
}

static void delayed_failure(struct session *s);

static void on_timer(struct loop *l, void *ud)
{
    (void)l;
    struct session *s = ud;
    if (!s->conn) {
        c2s_session_release(s); /* a detached session told to end */
        return;
    }
    if (s->auth_delayed) {
        delayed_failure(s);
        return;
    }
    if (!s->authed) {
        c2s_stream_error(s, "connection-timeout",
                         "authentication took too long");
        return;
    }
    uint64_t now = loop_now_ms(srv.loop);
    uint64_t idle = (uint64_t)srv.cfg->idle_timeout * 1000u;
    uint64_t silent = now - s->last_read_ms;
    /* A quiet stream gives back its parser's memory; most connections
     * are quiet most of the time. */
    if (silent >= SHRINK_AFTER_MS) {
        xstream_shrink(s->xs);
        conn_trim(s->conn);
    }
    if (silent < idle) {
        uint64_t next = idle - silent;
        if (silent < SHRINK_AFTER_MS && SHRINK_AFTER_MS - silent < next)
            next = SHRINK_AFTER_MS - silent;
        timer_start(srv.loop, &s->timer, next, on_timer, s);
        return;
    }
    if (!s->ping_outstanding && s->bound) {
        s->ping_outstanding = true;
        send_ping(s);
        timer_start(srv.loop, &s->timer, PING_GRACE_MS, on_timer, s);
        return;
    }
    c2s_stream_error(s, "connection-timeout", NULL);
}

/* ---- stream ---- */

static void on_stream_open(void *ud, const struct stanza *hdr)
{
    struct session *s = ud;
    /* A framed transport's header is our own wrapper; its stream opens
     * with <open/> (framed_element()). */
    if (!s->tr->framed)
        stream_opened(s, hdr);
}

static void stream_opened(struct session *s, const struct stanza *hdr)
{
    send_header(s);
    const char *to = stanza_attr(hdr, "to");
    if (to) {
        struct buf dom = BUF_INIT;
        bool ok = jid_nameprep(to, strlen(to), &dom) == 0 &&
                  server_is_local_domain(buf_data(&dom), buf_used(&dom));
        buf_free(&dom);
        if (!ok) {
            char q[LOG_QUOTE_BUFSZ];
            log_info(s->id, "stream for unknown host %s",
                     log_quote(q, sizeof(q), to, strlen(to)));
            c2s_stream_error(s, "host-unknown", NULL);
            return;
        }
    }
    const char *version = stanza_attr(hdr, "version");
    if (!version || version[0] < '1' || version[1] != '.') {
        c2s_stream_error(s, "unsupported-version", NULL);
        return;
    }
    send_features(s);
}

static void on_stream_close(void *ud)
{
    struct session *s = ud;
    /* A framed transport's parse of each message ends with our own
     * wrapper's end tag: its stream ends with <close/> only. */
    if (s->tr->framed)
        return;
    s->ending = true;
    s->tr->close(s, "stream closed by client");
}

/* RFC 7395 §3.3: <open/> and <close/> stand for the stream header and
 * its end tag; nothing else may come before <open/>. Returns true when
 * st was consumed here. */
static bool framed_element(struct session *s, const struct stanza *st)
{
    if (is(st->ns, NS_FRAMING) && is(st->name, "open")) {
        if (s->opened) {
            c2s_stream_error(s, "bad-format", "<open/> inside a stream");
            return true;
        }
        s->opened = true;
        stream_opened(s, st);
        return true;
    }
    if (is(st->ns, NS_FRAMING) && is(st->name, "close")) {
        s->ending = true;
        s->tr->close(s, "stream closed by client");
        return true;
    }
    if (!s->opened) {
        c2s_stream_error(s, "bad-format", "expected <open/>");
        return true;
    }
    return false;
}

static void on_stream_error(void *ud, enum xstream_error err)
{
    struct session *s = ud;
    const char *text = NULL;
    if (err == XSE_POLICY_VIOLATION)
        text = s->authed ? "stanza too large" : "stanza too large before login";
    c2s_stream_error(s, xstream_error_str(err), text);
}

static void restart_stream(struct session *s)
{
    s->header_sent = false;
    s->opened = false;
    /* A framed transport parses every message afresh anyway; resetting
     * here would feed the rest of this message to a new stream. */
    if (!s->tr->framed)
        xstream_reset(s->xs);
}

static void do_starttls(struct session *s)
{
    if (s->secure || !srv.tls || s->tr->framed) {
        send_str(s, "<failure xmlns='" NS_TLS "'/>");
        s->tr->close(s, "bad STARTTLS");
        return;
    }
    send_str(s, "<proceed xmlns='" NS_TLS "'/>");
    conn_starttls(s->conn, srv.tls);
    s->secure = true;
    /* Bytes sent in the clear behind <starttls/> must not be parsed as
     * the encrypted stream: stop this parser (dropping them) and start
     * a fresh one, swapped in once the current feed has returned. */
    s->header_sent = false;
    xstream_stop(s->xs);
    s->retired_xs = s->xs;
    s->xs = new_parser(s);
}

static void sasl_failure(struct session *s, const char *cond)
{
    char xml[160];
    snprintf(xml, sizeof(xml), "<failure xmlns='" NS_SASL "'><%s/></failure>",
             cond);
    send_str(s, xml);
}

/* The pending failure of a delayed login attempt is due. */
static void delayed_failure(struct session *s)
{
    s->auth_delayed = false;
    sasl_failure(s, "not-authorized");
    conn_pause_read(s->conn, false);
    arm_auth_timeout(s);
}

static void auth_failed(struct session *s, const char *cond)
{
    const char *user = s->sasl ? sasl_username(s->sasl) : NULL;
    log_info(s->id, "authentication failed (%s)", cond);
    unsigned previous = fail_count(s, user);
    fail_note(s, user);
    sasl_free(s->sasl);
    s->sasl = NULL;
    if (previous == 0 || !is(cond, "not-authorized")) {
        sasl_failure(s, cond);
        return;
    }
    /* Repeated failures: answer later and read nothing meanwhile, so a
     * guesser gets few tries per minute per account and per address. */
    uint64_t delay = FAIL_BASE_MS;
    for (unsigned i = 1; i < previous && delay < FAIL_MAX_MS; i++)
        delay *= 2;
    if (delay > FAIL_MAX_MS)
        delay = FAIL_MAX_MS;
    s->auth_delayed = true;
    conn_pause_read(s->conn, true);
    timer_start(srv.loop, &s->timer, delay, on_timer, s);
}

static void auth_succeeded(struct session *s, const struct buf *extra)
{
    struct buf *out = s->tr->begin(s);
    buf_append_str(out, "<success xmlns='" NS_SASL "'>");
    if (buf_used(extra))
        base64_encode(buf_data(extra), buf_used(extra), out);
    buf_append_str(out, "</success>");
    s->tr->end(s);
    s->username = xstrdup(sasl_username(s->sasl));
    s->authed = true;
    fail_clear(s, s->username);
    log_info(s->id, "authenticated with %s", sasl_mech(s->sasl));
    sasl_free(s->sasl);
    s->sasl = NULL;
    xstream_set_max_stanza_size(s->xs, srv.cfg->max_stanza_size);
    timer_start(srv.loop, &s->timer, SHRINK_AFTER_MS, on_timer, s);
    restart_stream(s);
}

/* The verdict on a password hashed off the loop. */
static void sasl_resumed(void *ud, enum sasl_result r, const char *cond)
{
    struct session *s = ud;
    conn_pause_read(s->conn, false);
    if (r == SASL_SUCCESS) {
        struct buf none = BUF_INIT;
        auth_succeeded(s, &none);
    } else {
        auth_failed(s, cond);
    }
}

static void sasl_feed(struct session *s, const struct stanza *el)
{
    struct buf text = BUF_INIT, in = BUF_INIT, out = BUF_INIT;
    stanza_text(el, &text);
    const char *cond = NULL;
    if (buf_used(&text) > SASL_DATA_MAX) {
        cond = "malformed-request";
    } else if (!(buf_used(&text) == 1 && buf_data(&text)[0] == '=') &&
               base64_decode(buf_data(&text), buf_used(&text), &in) < 0) {
        cond = "incorrect-encoding";
    } else {
        enum sasl_result r =
            sasl_step(s->sasl, buf_data(&in), buf_used(&in), &out, &cond);
        if (r == SASL_CONTINUE) {
            struct buf *o = s->tr->begin(s);
            buf_append_str(o, "<challenge xmlns='" NS_SASL "'>");
            base64_encode(buf_data(&out), buf_used(&out), o);
            buf_append_str(o, "</challenge>");
            s->tr->end(s);
        } else if (r == SASL_SUCCESS) {
            auth_succeeded(s, &out);
        } else if (r == SASL_PENDING) {
            /* Nothing else from this client is read until the verdict. */
            conn_pause_read(s->conn, true);
        }
    }
    if (cond)
        auth_failed(s, cond);
    buf_free(&text);
    buf_free(&in);
    buf_free(&out);
}

static void handle_auth(struct session *s, const struct stanza *el)
{
    if (!s->secure && !plaintext_allowed(s)) {
        sasl_failure(s, "encryption-required");
        return;
    }
    if (s->sasl || s->auth_delayed) {
        c2s_stream_error(s, "policy-violation", "authentication in progress");
        return;
    }
    const char *mech = stanza_attr(el, "mechanism");
    struct scram_cb cbs[CB_TYPES];
    unsigned ncb = channel_bindings(s, cbs);
    s->sasl = mech ? sasl_new(mech, true, cbs, ncb, sasl_resumed, s) : NULL;
    if (!s->sasl) {
        char q[LOG_QUOTE_BUFSZ];
        log_info(s->id, "unknown SASL mechanism %s",
                 log_quote(q, sizeof(q), mech ? mech : "", mech ? strlen(mech) : 0));
        sasl_failure(s, "invalid-mechanism");
        return;
    }
    if (stanza_child(el, NULL, NULL) == NULL && el->nchildren == 0) {
        /* No initial response: ask for it with an empty challenge. */
        send_str(s, "<challenge xmlns='" NS_SASL "'/>");
        return;
    }
    sasl_feed(s, el);
}

static void preauth_element(struct session *s, struct stanza *st)
{
    if (is(st->ns, NS_TLS) && is(st->name, "starttls")) {
        do_starttls(s);
    } else if (is(st->ns, NS_SASL) && is(st->name, "auth")) {
        handle_auth(s, st);
    } else if (is(st->ns, NS_SASL) && is(st->name, "response")) {
        if (!s->sasl)
            c2s_stream_error(s, "policy-violation", "no authentication");
        else if (sasl_pending(s->sasl))
            c2s_stream_error(s, "policy-violation",
                             "response before the last one was answered");
        else
            sasl_feed(s, st);
    } else if (is(st->ns, NS_SASL) && is(st->name, "abort")) {
        if (s->sasl && sasl_pending(s->sasl))
            conn_pause_read(s->conn, false);
        sasl_free(s->sasl);
        s->sasl = NULL;
        sasl_failure(s, "aborted");
    } else if (is(st->ns, NS_CLIENT) && is(st->name, "iq") &&
               (s->secure || plaintext_allowed(s))) {
        /* In-band registration is the one thing a stranger may ask. */
        struct stanza *payload = stanza_child(st, NULL, NULL);
        char event[300];
        snprintf(event, sizeof(event), "iq-preauth/%s",
                 payload ? payload->ns : "");
        struct hook_ctx h = { .sess = s };
        int r = hooks_fire(event, &h, st);
        if (r == HOOK_PASS)
            c2s_stream_error(s, "not-authorized", NULL);
        else if (r < 0 && !errors_no_reply(st)) {
            struct stanza *e = errors_reply(st, (enum stanza_error)-r, NULL);
            session_send(s, e);
            stanza_unref(e);
        }
    } else {
        c2s_stream_error(s, "not-authorized", NULL);
    }
}

static void reply_result(struct session *s, const struct stanza *iq,
                         struct stanza **payload_out, const char *ns,
                         const char *name)
{
    struct stanza *r = stanza_new(NS_CLIENT, "iq");
    stanza_set_attr(r, "type", "result");
    const char *id = stanza_attr(iq, "id");
    if (id)
        stanza_set_attr(r, "id", id);
    if (s->bound)
        stanza_set_attr(r, "to", s->jid.s);
    if (ns)
        stanza_add_child(r, ns, name);
    if (payload_out)
        *payload_out = r;
    else {
        session_send(s, r);
        stanza_unref(r);
    }
}

static void reply_error(struct session *s, const struct stanza *iq,
                        enum stanza_error e, const char *text)
{
    struct stanza *r = errors_reply(iq, e, text);
    stanza_set_attr(r, "from", NULL);
    session_send(s, r);
    stanza_unref(r);
}

static void handle_bind(struct session *s, struct stanza *iq,
                        struct stanza *bind)
{
    struct buf res = BUF_INIT;
    stanza_child_text(bind, NS_BIND, "resource", &res);
    char generated[17];
    const char *resource;
    if (buf_used(&res) == 0) {
        crypto_random_token(generated, 16);
        resource = generated;
    } else {
        resource = buf_cstr(&res);
    }
    struct jid j = JID_INIT;
    int r = jid_make(&j, s->username, srv.domain, resource);
    buf_free(&res);
    if (r < 0) {
        reply_error(s, iq, SE_BAD_REQUEST, "invalid resource");
        return;
    }
    if (sessions_count_user(s->username) >= MAX_RESOURCES_PER_ACCOUNT) {
        jid_free(&j);
        reply_error(s, iq, SE_RESOURCE_CONSTRAINT, "too many resources");
        return;
    }
    s->jid = j;
    struct session *old = sessions_add(s);
    if (old) {
        /* RFC 6120 §7.7.2.2: the newer session wins (a detached one
         * too: it is freed once this turn is over). */
        c2s_stream_error(old, "conflict", "replaced by a new session");
        session_end(old);
        sessions_add(s);
    }
    struct stanza *result, *b;
    reply_result(s, iq, &result, NS_BIND, "bind");
    b = stanza_child(result, NS_BIND, "bind");
    struct stanza *jid_el = stanza_add_child(b, NS_BIND, "jid");
    stanza_add_text(jid_el, s->jid.s, strlen(s->jid.s));
    session_send(s, result);
    stanza_unref(result);
    log_info(s->id, "bound a resource");
    struct hook_ctx h = { .sess = s, .from = &s->jid };
    hooks_fire("session-bound", &h, NULL);
}

static void authed_element(struct session *s, struct stanza *st)
{
    if (!is(st->ns, NS_CLIENT)) {
        /* Stream-level elements of extensions (stream management...). */
        char event[300];
        snprintf(event, sizeof(event), "stream-element/%s", st->ns);
        struct hook_ctx h = { .sess = s, .from = s->bound ? &s->jid : NULL };
        if (hooks_fire(event, &h, st) == HOOK_PASS)
            c2s_stream_error(s, "unsupported-stanza-type", NULL);
        return;
    }
    bool iq = is(st->name, "iq");
    if (!iq && !is(st->name, "message") && !is(st->name, "presence")) {
        c2s_stream_error(s, "unsupported-stanza-type", NULL);
        return;
    }
    if (s->bound) {
        struct hook_ctx h = { .sess = s, .from = &s->jid };
        hooks_fire("session-in", &h, st);
    }
    const char *type = stanza_attr(st, "type");
    struct stanza *payload = iq ? stanza_child(st, NULL, NULL) : NULL;
    if (iq && payload && is(type, "set") && is(payload->ns, NS_BIND) &&
        is(payload->name, "bind")) {
        if (s->bound)
            reply_error(s, st, SE_NOT_ALLOWED, "already bound");
        else
            handle_bind(s, st, payload);
        return;
    }
    if (iq && payload && is(type, "set") && is(payload->ns, NS_SESSION)) {
        /* RFC 3921 session establishment: a no-op kept for old clients. */
        reply_result(s, st, NULL, NULL, NULL);
        return;
    }
    if (!s->bound) {
        if (iq && !errors_no_reply(st))
            reply_error(s, st, SE_NOT_AUTHORIZED, "bind a resource first");
        return;
    }
    router_from_client(s, st);
}

static void on_stanza(void *ud, struct stanza *st)
{
    struct session *s = ud;
    if (log_min_level <= LOG_DEBUG) {
        struct buf tag = BUF_INIT;
        xser_top_tag(st, &tag);
        log_debug(s->id, "in: %s", buf_cstr(&tag));
        buf_free(&tag);
    }
    if (s->conn && !(s->conn->flags & CONN_F_CLOSING) &&
        !(s->tr->framed && framed_element(s, st))) {
        if (s->authed)
            authed_element(s, st);
        else
            preauth_element(s, st);
    }
    stanza_unref(st);
}

/* ---- listeners ---- */

int c2s_start(char *err, unsigned long errsz)
{
    int r;
    if (srv.cfg->c2s[0]) {
        r = listen_open(srv.loop, srv.cfg->c2s, accept_conn, NULL,
                        &starttls_listener);
        if (r < 0) {
            snprintf(err, errsz, "cannot listen on %s: %m", srv.cfg->c2s);
            return r;
        }
    }
    if (srv.cfg->c2s_tls[0] && srv.tls) {
        r = listen_open(srv.loop, srv.cfg->c2s_tls, accept_conn, (void *)1,
                        &direct_tls_listener);
        if (r < 0) {
            snprintf(err, errsz, "cannot listen on %s: %m", srv.cfg->c2s_tls);
            return r;
        }
    }
    return 0;
}

void c2s_stop(void)
{
    listen_close(starttls_listener);
    listen_close(direct_tls_listener);
    starttls_listener = direct_tls_listener = NULL;
    for (struct session *s = all_sessions, *next; s; s = next) {
        next = s->all_next;
        if (s->conn)
            c2s_stream_error(s, "system-shutdown", NULL);
        else
            c2s_session_release(s);
    }
    struct fail_record *v;
    for (size_t i = 0; hmap_next(&failures, &i, NULL, (void **)&v);)
        free(v);
    hmap_free(&failures);
}
