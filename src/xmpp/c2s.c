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
#include "xmpp/sasl2.h"
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
#define BIND2_TAG_MAX 64 /* bytes of a Bind 2 <tag/> kept in the resource */
#define PING_GRACE_MS 30000
#define TRIM_AFTER_MS 2000 /* quiet time before buffers are trimmed */
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

/* SASL2 (XEP-0388) with Bind 2 (XEP-0386) inline, and what modules
 * offer inline (sasl2.h). */
static void add_sasl2_feature(struct session *s, struct stanza *f,
                              const struct scram_cb *cbs, unsigned ncb)
{
    struct stanza *auth = stanza_add_child(f, NS_SASL2, "authentication");
    sasl_mechanisms(true, ncb, add_mech, auth);
    struct stanza *inl = stanza_add_child(auth, NS_SASL2, "inline");
    struct stanza *bind = stanza_add_child(inl, NS_BIND2, "bind");
    struct sasl2_ctx ctx = { .cbs = cbs, .ncb = ncb };
    struct hook_ctx h = { .sess = s, .data = &ctx };
    ctx.features = stanza_add_child(bind, NS_BIND2, "inline");
    hooks_fire("bind2-features", &h, NULL);
    ctx.features = inl;
    hooks_fire("sasl2-features", &h, NULL);
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
            add_sasl2_feature(s, f, cbs, ncb);
        }
    } else if (!s->bound) {
        /* Bind 2 or a resumption in SASL2 may have bound it already. */
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
    stanza_unref(s->sasl2_request);
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
    stanza_unref(s->sasl2_request);
    s->sasl2_request = NULL;
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
    /* A quiet stream gives back its buffers' memory; most connections
     * are quiet most of the time. */
    if (silent >= TRIM_AFTER_MS)
        conn_trim(s->conn);
    if (silent < idle) {
        uint64_t next = idle - silent;
        if (silent < TRIM_AFTER_MS && TRIM_AFTER_MS - silent < next)
            next = TRIM_AFTER_MS - silent;
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

/* The namespace of the exchange under way: SASL2 from <authenticate/>
 * to its outcome, the SASL of RFC 6120 otherwise. */
static const char *sasl_ns(const struct session *s)
{
    return s->sasl2_request ? NS_SASL2 : NS_SASL;
}

/* Ends the exchange with a failure; a SASL2 one carries the RFC 6120
 * condition inside its own <failure/> (XEP-0388 §2.6.2). */
static void sasl_failure(struct session *s, const char *cond)
{
    char xml[200];
    if (s->sasl2_request)
        snprintf(xml, sizeof(xml),
                 "<failure xmlns='" NS_SASL2 "'><%s xmlns='" NS_SASL
                 "'/></failure>",
                 cond);
    else
        snprintf(xml, sizeof(xml),
                 "<failure xmlns='" NS_SASL "'><%s/></failure>", cond);
    send_str(s, xml);
    stanza_unref(s->sasl2_request);
    s->sasl2_request = NULL;
}

/* The pending failure of a delayed login attempt is due. */
static void delayed_failure(struct session *s)
{
    s->auth_delayed = false;
    sasl_failure(s, "not-authorized");
    conn_pause_read(s->conn, false);
    arm_auth_timeout(s);
}

/* user: the account the client claimed, if known, so that guessing is
 * slowed down per account as well as per address. */
static void auth_failed(struct session *s, const char *cond, const char *user)
{
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

static void sasl_exchange_failed(struct session *s, const char *cond)
{
    auth_failed(s, cond, s->sasl ? sasl_username(s->sasl) : NULL);
}

/* ---- resource binding (RFC 6120 §7, and Bind 2) ---- */

/* Binds s to a resource; a session bound to the same full JID already
 * is replaced (RFC 6120 §7.7.2.2), a detached one too (it is freed once
 * this turn is over). -1 with the error to give when it cannot be. */
static int bind_resource(struct session *s, const char *resource,
                         enum stanza_error *err, const char **text)
{
    struct jid j = JID_INIT;
    if (jid_make(&j, s->username, srv.domain, resource) < 0) {
        *err = SE_BAD_REQUEST;
        *text = "invalid resource";
        return -1;
    }
    if (sessions_count_user(s->username) >= MAX_RESOURCES_PER_ACCOUNT) {
        jid_free(&j);
        *err = SE_RESOURCE_CONSTRAINT;
        *text = "too many resources";
        return -1;
    }
    s->jid = j;
    struct session *old = sessions_add(s);
    if (old) {
        c2s_stream_error(old, "conflict", "replaced by a new session");
        session_end(old);
        sessions_add(s);
    }
    return 0;
}

/* Tells the modules, once the client has been told. */
static void announce_bound(struct session *s)
{
    log_info(s->id, "bound a resource");
    struct hook_ctx h = { .sess = s, .from = &s->jid };
    hooks_fire("session-bound", &h, NULL);
}

/* A Bind 2 resource is "tag/suffix" (XEP-0386 §3.2.1). The suffix is
 * the same each time one client (its SASL2 user-agent id) of one
 * account binds, so that a client coming back replaces the session it
 * left behind; it shows a hash, never the id itself. Random without an
 * id. */
static void bind2_resource(const struct session *s, const char *ua_id,
                           const struct stanza *bind, bool with_tag,
                           struct buf *out)
{
    struct buf tag = BUF_INIT;
    stanza_child_text(bind, NS_BIND2, "tag", &tag);
    if (with_tag && buf_used(&tag) > 0 && buf_used(&tag) <= BIND2_TAG_MAX) {
        buf_append(out, buf_data(&tag), buf_used(&tag));
        buf_append_str(out, "/");
    }
    buf_free(&tag);
    char suffix[17];
    if (ua_id) {
        struct buf id = BUF_INIT;
        buf_printf(&id, "bind2:%s:%s", s->username, ua_id);
        unsigned char d[32];
        crypto_hash(CRYPTO_SHA256, buf_data(&id), buf_used(&id), d);
        buf_free(&id);
        for (int i = 0; i < 8; i++)
            snprintf(suffix + 2 * i, 3, "%02x", d[i]);
    } else {
        crypto_random_token(suffix, 16);
    }
    buf_append_str(out, suffix);
}

/* Binds the resource a SASL2 <authenticate/> asked for with Bind 2 and
 * lets modules enable the session features it asked for. false when
 * nothing was bound: the client binds from the stream features then. */
static bool bind2(struct session *s, struct sasl2_ctx *ctx,
                  const struct stanza *bind)
{
    enum stanza_error err;
    const char *text = NULL;
    int r = -1;
    for (int with_tag = 1; with_tag >= 0 && r < 0; with_tag--) {
        struct buf res = BUF_INIT;
        bind2_resource(s, ctx->user_agent_id, bind, with_tag, &res);
        r = bind_resource(s, buf_cstr(&res), &err, &text);
        buf_free(&res);
        if (r < 0 && err != SE_BAD_REQUEST)
            break; /* only a tag can make the resource invalid */
    }
    if (r < 0) {
        log_info(s->id, "Bind 2 failed: %s", text);
        return false;
    }
    ctx->bind = bind;
    ctx->bound = stanza_add_child(ctx->success, NS_BIND2, "bound");
    struct hook_ctx h = { .sess = s, .from = &s->jid, .data = ctx };
    hooks_fire("bind2-bound", &h, NULL);
    ctx->bind = NULL;
    ctx->bound = NULL;
    return true;
}

/* ---- authentication succeeded ---- */

/* SASL2: one <success/> with the outcome of everything the request
 * asked for, then the features of the authenticated stream, which is
 * not restarted (XEP-0388 §2.6.1). */
static void sasl2_succeeded(struct session *s, const char *mech,
                            const struct buf *extra)
{
    struct stanza *req = s->sasl2_request; /* our reference now */
    s->sasl2_request = NULL;
    struct stanza *success = stanza_new(NS_SASL2, "success");
    if (buf_used(extra)) {
        struct buf b64 = BUF_INIT;
        base64_encode(buf_data(extra), buf_used(extra), &b64);
        stanza_add_text(stanza_add_child(success, NS_SASL2, "additional-data"),
                        buf_data(&b64), buf_used(&b64));
        buf_free(&b64);
    }
    struct stanza *ua = stanza_child(req, NS_SASL2, "user-agent");
    struct scram_cb cbs[CB_TYPES];
    struct sasl2_ctx ctx = {
        .cbs = cbs,
        .ncb = channel_bindings(s, cbs),
        .request = req,
        .mechanism = mech,
        .user_agent_id = ua ? stanza_attr(ua, "id") : NULL,
        .success = success,
    };
    struct hook_ctx h = { .sess = s, .data = &ctx };
    hooks_fire("sasl2-success", &h, NULL); /* may resume: s is bound */
    const struct stanza *bind = stanza_child(req, NS_BIND2, "bind");
    bool bound_now = bind && !s->bound && bind2(s, &ctx, bind);
    struct buf aid = BUF_INIT;
    if (s->bound)
        buf_append_str(&aid, s->jid.s);
    else
        buf_printf(&aid, "%s@%s", s->username, srv.domain);
    stanza_add_text(
        stanza_add_child(success, NS_SASL2, "authorization-identifier"),
        buf_data(&aid), buf_used(&aid));
    buf_free(&aid);
    struct buf *out = s->tr->begin(s);
    xser_write(success, s->tr->framed ? "" : NS_CLIENT, out);
    s->tr->end(s);
    send_features(s);
    if (bound_now)
        announce_bound(s);
    h.from = s->bound ? &s->jid : NULL;
    hooks_fire("sasl2-done", &h, NULL);
    stanza_unref(success);
    stanza_unref(req);
}

static void auth_succeeded(struct session *s, const char *user,
                           const char *mech, const struct buf *extra)
{
    bool sasl2 = s->sasl2_request != NULL;
    if (!sasl2) {
        struct buf *out = s->tr->begin(s);
        buf_append_str(out, "<success xmlns='" NS_SASL "'>");
        if (buf_used(extra))
            base64_encode(buf_data(extra), buf_used(extra), out);
        buf_append_str(out, "</success>");
        s->tr->end(s);
    }
    s->username = xstrdup(user);
    s->authed = true;
    fail_clear(s, s->username);
    log_info(s->id, "authenticated with %s%s", mech, sasl2 ? " (SASL2)" : "");
    sasl_free(s->sasl); /* user and mech are not its own */
    s->sasl = NULL;
    xstream_set_max_stanza_size(s->xs, srv.cfg->max_stanza_size);
    timer_start(srv.loop, &s->timer, TRIM_AFTER_MS, on_timer, s);
    if (sasl2)
        sasl2_succeeded(s, mech, extra);
    else
        restart_stream(s);
}

/* The verdict on a password hashed off the loop. */
static void sasl_resumed(void *ud, enum sasl_result r, const char *cond)
{
    struct session *s = ud;
    conn_pause_read(s->conn, false);
    if (r == SASL_SUCCESS) {
        struct buf none = BUF_INIT;
        auth_succeeded(s, sasl_username(s->sasl), sasl_mech(s->sasl), &none);
    } else {
        sasl_exchange_failed(s, cond);
    }
}

/* The decoded SASL data of an element: "=" is an empty message. NULL,
 * or the failure condition. */
static const char *sasl_data(const struct stanza *el, struct buf *out)
{
    struct buf text = BUF_INIT;
    const char *cond = NULL;
    stanza_text(el, &text);
    if (buf_used(&text) > SASL_DATA_MAX)
        cond = "malformed-request";
    else if (!(buf_used(&text) == 1 && buf_data(&text)[0] == '=') &&
             base64_decode(buf_data(&text), buf_used(&text), out) < 0)
        cond = "incorrect-encoding";
    buf_free(&text);
    return cond;
}

static void sasl_feed(struct session *s, const struct stanza *el)
{
    struct buf in = BUF_INIT, out = BUF_INIT;
    const char *cond = sasl_data(el, &in);
    if (!cond) {
        enum sasl_result r =
            sasl_step(s->sasl, buf_data(&in), buf_used(&in), &out, &cond);
        if (r == SASL_CONTINUE) {
            struct buf *o = s->tr->begin(s);
            buf_printf(o, "<challenge xmlns='%s'>", sasl_ns(s));
            base64_encode(buf_data(&out), buf_used(&out), o);
            buf_append_str(o, "</challenge>");
            s->tr->end(s);
        } else if (r == SASL_SUCCESS) {
            auth_succeeded(s, sasl_username(s->sasl), sasl_mech(s->sasl),
                           &out);
        } else if (r == SASL_PENDING) {
            /* Nothing else from this client is read until the verdict. */
            conn_pause_read(s->conn, true);
        }
    }
    if (cond)
        sasl_exchange_failed(s, cond);
    buf_free(&in);
    buf_free(&out);
}

/* Starts one of our own mechanisms; text_el holds the initial response,
 * NULL when the client sent none. */
static void sasl_start(struct session *s, const char *mech,
                       const struct stanza *text_el)
{
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
    if (!text_el) {
        /* No initial response: ask for it with an empty challenge. */
        struct buf *o = s->tr->begin(s);
        buf_printf(o, "<challenge xmlns='%s'/>", sasl_ns(s));
        s->tr->end(s);
        return;
    }
    sasl_feed(s, text_el);
}

/* Whether a new exchange may start; answers the client when not. */
static bool may_authenticate(struct session *s)
{
    if (s->sasl || s->auth_delayed) {
        c2s_stream_error(s, "policy-violation", "authentication in progress");
        return false;
    }
    if (!s->secure && !plaintext_allowed(s)) {
        sasl_failure(s, "encryption-required");
        return false;
    }
    return true;
}

static void handle_auth(struct session *s, const struct stanza *el)
{
    if (!may_authenticate(s))
        return;
    bool empty = stanza_child(el, NULL, NULL) == NULL && el->nchildren == 0;
    sasl_start(s, stanza_attr(el, "mechanism"), empty ? NULL : el);
}

/* XEP-0388 <authenticate/>: a module that owns the mechanism (FAST
 * tokens, one round trip) decides at once; the SCRAM and PLAIN
 * exchanges run as with RFC 6120 SASL. */
static void handle_authenticate(struct session *s, struct stanza *el)
{
    if (s->sasl || s->auth_delayed) {
        c2s_stream_error(s, "policy-violation", "authentication in progress");
        return;
    }
    s->sasl2_request = stanza_ref(el);
    if (!may_authenticate(s))
        return;
    const char *mech = stanza_attr(el, "mechanism");
    struct stanza *ua = stanza_child(el, NS_SASL2, "user-agent");
    const char *ua_id = ua ? stanza_attr(ua, "id") : NULL;
    if (!mech || (ua && (!ua_id || !*ua_id ||
                         strlen(ua_id) > SASL2_USER_AGENT_ID_MAX))) {
        sasl_failure(s, "malformed-request");
        return;
    }
    struct stanza *initial = stanza_child(el, NS_SASL2, "initial-response");
    struct scram_cb cbs[CB_TYPES];
    struct buf in = BUF_INIT, extra = BUF_INIT;
    struct sasl2_ctx ctx = {
        .cbs = cbs,
        .ncb = channel_bindings(s, cbs),
        .request = el,
        .mechanism = mech,
        .user_agent_id = ua_id,
        .additional = &extra,
    };
    const char *cond = initial ? sasl_data(initial, &in) : NULL;
    ctx.response = buf_data(&in);
    ctx.response_len = buf_used(&in);
    struct hook_ctx h = { .sess = s, .data = &ctx };
    if (cond)
        sasl_failure(s, cond);
    else if (hooks_fire("sasl2-authenticate", &h, NULL) != HOOK_HANDLED)
        sasl_start(s, mech, initial);
    else if (ctx.cond)
        auth_failed(s, ctx.cond, ctx.username);
    else
        auth_succeeded(s, ctx.username, mech, &extra);
    free(ctx.username);
    buf_free(&in);
    buf_free(&extra);
}

/* <response/> or <abort/> of the exchange under way, in its namespace. */
static void sasl_continue(struct session *s, const struct stanza *el)
{
    bool same = s->sasl && is(el->ns, sasl_ns(s));
    if (is(el->name, "response")) {
        if (!same)
            c2s_stream_error(s, "policy-violation", "no authentication");
        else if (sasl_pending(s->sasl))
            c2s_stream_error(s, "policy-violation",
                             "response before the last one was answered");
        else
            sasl_feed(s, el);
        return;
    }
    if (s->sasl && sasl_pending(s->sasl))
        conn_pause_read(s->conn, false);
    sasl_free(s->sasl);
    s->sasl = NULL;
    if (!s->sasl2_request && is(el->ns, NS_SASL2))
        s->sasl2_request = stanza_ref((struct stanza *)el);
    sasl_failure(s, "aborted");
}

static void preauth_element(struct session *s, struct stanza *st)
{
    bool sasl = is(st->ns, NS_SASL), sasl2 = is(st->ns, NS_SASL2);
    if (is(st->ns, NS_TLS) && is(st->name, "starttls")) {
        do_starttls(s);
    } else if (sasl && is(st->name, "auth")) {
        handle_auth(s, st);
    } else if (sasl2 && is(st->name, "authenticate")) {
        handle_authenticate(s, st);
    } else if ((sasl || sasl2) &&
               (is(st->name, "response") || is(st->name, "abort"))) {
        sasl_continue(s, st);
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
    enum stanza_error err;
    const char *text;
    int r = bind_resource(s, resource, &err, &text);
    buf_free(&res);
    if (r < 0) {
        reply_error(s, iq, err, text);
        return;
    }
    struct stanza *result, *b;
    reply_result(s, iq, &result, NS_BIND, "bind");
    b = stanza_child(result, NS_BIND, "bind");
    struct stanza *jid_el = stanza_add_child(b, NS_BIND, "jid");
    stanza_add_text(jid_el, s->jid.s, strlen(s->jid.s));
    session_send(s, result);
    stanza_unref(result);
    announce_bound(s);
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
