/* component.c -- see component.h.
 *
 * The stream: header (to = the component's domain) -> <handshake> ->
 * stanzas. Components use jabber:component:accept as the default
 * namespace; inside theked stanzas are jabber:client, so incoming
 * stanzas are renamed and outgoing ones are written without xmlns,
 * taking the component stream's default. */
#include "xmpp/component.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/cfg.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/log.h"
#include "net/conn.h"
#include "net/listen.h"
#include "xml/xser.h"
#include "xml/xstream.h"
#include "xmpp/errors.h"
#include "xmpp/hooks.h"
#include "xmpp/jid.h"
#include "xmpp/router.h"
#include "xmpp/server.h"

#define NS_ACCEPT "jabber:component:accept"
#define NS_CLIENT "jabber:client"
#define NS_STREAMS "http://etherx.jabber.org/streams"

/* The handshake is one short element; a stranger gets no more room. */
#define PREAUTH_STANZA_MAX 4096

/* A configured component domain. */
struct service_def {
    const struct cfg_component *cfg; /* borrowed from srv.cfg */
    struct comp *active;             /* the authenticated stream, or NULL */
};

/* One component connection. */
struct comp {
    unsigned long id;
    struct conn *conn; /* NULL once closed */
    struct xstream *xs;
    struct service_def *def; /* claimed by the stream header */
    bool authed;
    bool header_sent;
    char stream_id[20];
    struct timer timer;
    struct comp *prev, *next;
};

static struct listener *listener;
static struct service_def *defs;
static unsigned ndefs;
static struct comp *all_comps;

static void on_data(struct conn *c, const char *data, size_t len);
static void on_closed(struct conn *c, const char *reason);
static const struct conn_handler comp_handler = {
    .data = on_data, .closed = on_closed,
};

static void on_stream_open(void *ud, const struct stanza *hdr);
static void on_stanza(void *ud, struct stanza *st);
static void on_stream_close(void *ud);
static void on_stream_error(void *ud, enum xstream_error err);
static const struct xstream_cb stream_cb = { on_stream_open, on_stanza,
                                             on_stream_close,
                                             on_stream_error };

static void send_header(struct comp *cp, const char *from)
{
    crypto_random_token(cp->stream_id, 16);
    struct buf *out = conn_outbuf(cp->conn);
    buf_printf(out,
               "<?xml version='1.0'?><stream:stream xmlns='" NS_ACCEPT
               "' xmlns:stream='" NS_STREAMS "' id='%s' from='",
               cp->stream_id);
    buf_append_xml_escaped(out, from, strlen(from));
    buf_append_str(out, "'>");
    conn_wrote(cp->conn);
    cp->header_sent = true;
}

static void stream_error(struct comp *cp, const char *cond, const char *text)
{
    if (!cp->conn || (cp->conn->flags & CONN_F_CLOSING))
        return;
    if (!cp->header_sent)
        send_header(cp, srv.domain);
    errors_stream_append(conn_outbuf(cp->conn), cond, text);
    conn_wrote(cp->conn);
    log_info(cp->id, "component stream error: %s", cond);
    xstream_stop(cp->xs);
    conn_close_async(cp->conn, cond);
}

static void on_auth_timeout(struct loop *l, void *ud)
{
    (void)l;
    struct comp *cp = ud;
    if (!cp->authed)
        stream_error(cp, "connection-timeout", "no handshake in time");
}

static void accept_conn(void *ud, int fd, const struct sockaddr *peer)
{
    (void)ud;
    struct comp *cp = xcalloc(1, sizeof(*cp));
    cp->conn = conn_new(srv.loop, fd, peer, NULL, &comp_handler, cp);
    if (!cp->conn) {
        free(cp);
        return;
    }
    cp->id = cp->conn->id;
    /* A component carries the traffic of many users. */
    cp->conn->max_out = srv.cfg->max_stanza_size * 16 + 65536;
    struct xstream_limits lim = {
        .max_stanza_size = PREAUTH_STANZA_MAX,
        .max_depth = 32,
        .max_attrs = 64,
    };
    cp->xs = xstream_new(&lim, &stream_cb, cp);
    cp->next = all_comps;
    if (all_comps)
        all_comps->prev = cp;
    all_comps = cp;
    timer_start(srv.loop, &cp->timer, (uint64_t)srv.cfg->auth_timeout * 1000u,
                on_auth_timeout, cp);
    log_debug(cp->id, "component connection from %s", cp->conn->peer_addr);
}

static void on_closed(struct conn *c, const char *reason)
{
    struct comp *cp = c->ud;
    if (cp->def && cp->def->active == cp) {
        cp->def->active = NULL;
        log_info(cp->id, "component %s disconnected: %s",
                 cp->def->cfg->domain, reason);
    }
    timer_stop(srv.loop, &cp->timer);
    if (cp->prev)
        cp->prev->next = cp->next;
    else
        all_comps = cp->next;
    if (cp->next)
        cp->next->prev = cp->prev;
    xstream_free(cp->xs);
    free(cp);
}

static void on_data(struct conn *c, const char *data, size_t len)
{
    struct comp *cp = c->ud;
    xstream_feed(cp->xs, data, len);
}

static struct service_def *find_def(const char *domain)
{
    for (unsigned i = 0; i < ndefs; i++)
        if (strcmp(defs[i].cfg->domain, domain) == 0)
            return &defs[i];
    return NULL;
}

static void on_stream_open(void *ud, const struct stanza *hdr)
{
    struct comp *cp = ud;
    const char *to = stanza_attr(hdr, "to");
    struct buf dom = BUF_INIT;
    if (to && jid_nameprep(to, strlen(to), &dom) == 0)
        cp->def = find_def(buf_cstr(&dom));
    buf_free(&dom);
    if (!cp->def) {
        char q[LOG_QUOTE_BUFSZ];
        log_info(cp->id, "component stream for unknown domain %s",
                 to ? log_quote(q, sizeof(q), to, strlen(to)) : "(none)");
        stream_error(cp, "host-unknown", "no component with that domain");
        return;
    }
    send_header(cp, cp->def->cfg->domain);
}

static void on_stream_close(void *ud)
{
    struct comp *cp = ud;
    conn_write(cp->conn, "</stream:stream>", 16);
    conn_close_async(cp->conn, "stream closed by component");
}

static void on_stream_error(void *ud, enum xstream_error err)
{
    struct comp *cp = ud;
    stream_error(cp, xstream_error_str(err),
                 err == XSE_POLICY_VIOLATION ? "stanza too large" : NULL);
}

/* XEP-0114 §3: hex(SHA-1(stream id + secret)), compared without regard
 * to the case of the hex digits and in constant time. */
static bool handshake_ok(const struct comp *cp, const struct stanza *el)
{
    char *given = stanza_text_dup(el);
    const char *secret = cp->def->cfg->secret;
    size_t idlen = strlen(cp->stream_id), slen = strlen(secret);
    char *input = xmalloc(idlen + slen);
    memcpy(input, cp->stream_id, idlen);
    memcpy(input + idlen, secret, slen);
    unsigned char digest[20];
    crypto_hash(CRYPTO_SHA1, input, idlen + slen, digest);
    free(input);
    char want[41];
    for (int i = 0; i < 20; i++)
        snprintf(want + 2 * i, 3, "%02x", digest[i]);
    bool ok = given && strlen(given) == 40;
    if (ok) {
        for (int i = 0; i < 40; i++)
            given[i] = (char)tolower((unsigned char)given[i]);
        ok = crypto_equal(given, want, 40);
    }
    free(given);
    return ok;
}

static void handshake(struct comp *cp, const struct stanza *el)
{
    if (!handshake_ok(cp, el)) {
        log_info(cp->id, "component %s: wrong secret", cp->def->cfg->domain);
        stream_error(cp, "not-authorized", "wrong handshake");
        return;
    }
    struct comp *old = cp->def->active;
    if (old) {
        old->def = NULL; /* no longer the domain's stream */
        stream_error(old, "conflict", "replaced by a new connection");
    }
    cp->def->active = cp;
    cp->authed = true;
    timer_stop(srv.loop, &cp->timer);
    xstream_set_max_stanza_size(cp->xs, srv.cfg->max_stanza_size);
    conn_write(cp->conn, "<handshake/>", 12);
    log_info(cp->id, "component %s connected from %s", cp->def->cfg->domain,
             cp->conn->peer_addr);
}

/* A 'from' the component may use: its domain or a JID under it. */
static bool from_ok(const struct comp *cp, const struct jid *from)
{
    struct str d = jid_domain(from);
    const char *mine = cp->def->cfg->domain;
    return d.len == strlen(mine) && memcmp(d.p, mine, d.len) == 0;
}

static void component_stanza(struct comp *cp, struct stanza *st)
{
    stanza_rename_ns(st, NS_ACCEPT, NS_CLIENT);
    if (strcmp(st->ns, NS_CLIENT) != 0 ||
        (strcmp(st->name, "message") != 0 &&
         strcmp(st->name, "presence") != 0 && strcmp(st->name, "iq") != 0)) {
        stream_error(cp, "unsupported-stanza-type", NULL);
        return;
    }
    const char *from_attr = stanza_attr(st, "from");
    struct jid from = JID_INIT;
    if (!from_attr || jid_parse(&from, from_attr, strlen(from_attr)) < 0 ||
        !from_ok(cp, &from)) {
        jid_free(&from);
        stream_error(cp, "invalid-from",
                     "'from' must be the component's domain or under it");
        return;
    }
    stanza_set_attr(st, "from", from.s);
    jid_free(&from);
    const char *to = stanza_attr(st, "to");
    struct jid to_jid = JID_INIT;
    if (!to || jid_parse(&to_jid, to, strlen(to)) < 0) {
        router_bounce(st, to ? SE_JID_MALFORMED : SE_BAD_REQUEST,
                      to ? NULL : "a stanza from a component needs 'to'");
        return;
    }
    jid_free(&to_jid);
    router_route(st);
}

static void on_stanza(void *ud, struct stanza *st)
{
    struct comp *cp = ud;
    if (!cp->def) {
        stanza_unref(st);
        return;
    }
    if (!cp->authed) {
        if (strcmp(st->name, "handshake") == 0)
            handshake(cp, st);
        else
            stream_error(cp, "not-authorized", "handshake first");
    } else {
        component_stanza(cp, st);
    }
    stanza_unref(st);
}

/* The router's handler for a component's domain. */
static void to_component(void *ud, struct hook_ctx *h, struct stanza *st)
{
    (void)h;
    struct service_def *def = ud;
    struct comp *cp = def->active;
    if (cp && cp->conn && !(cp->conn->flags & CONN_F_CLOSING)) {
        xser_write(st, NS_CLIENT, conn_outbuf(cp->conn));
        conn_wrote(cp->conn);
        return;
    }
    if (strcmp(st->name, "presence") != 0)
        router_bounce(st, SE_SERVICE_UNAVAILABLE, "the component is offline");
}

int component_start(char *err, size_t errsz)
{
    const struct cfg *cfg = srv.cfg;
    if (cfg->ncomponents)
        defs = xcalloc(cfg->ncomponents, sizeof(*defs));
    for (unsigned i = 0; i < cfg->ncomponents; i++) {
        defs[i].cfg = &cfg->components[i];
        if (router_add_service(cfg->components[i].domain, to_component,
                               &defs[i]) < 0) {
            snprintf(err, errsz, "component %s: the domain is taken",
                     cfg->components[i].domain);
            component_stop();
            return -ERR_CONFIG;
        }
        ndefs = i + 1;
    }
    if (!cfg->component_listen[0])
        return 0;
    int r = listen_open(srv.loop, cfg->component_listen, accept_conn, NULL,
                        &listener);
    if (r < 0) {
        snprintf(err, errsz, "cannot listen on %s for components: %m",
                 cfg->component_listen);
        component_stop();
        return r;
    }
    log_info(0, "components on %s (%u configured)", cfg->component_listen,
             ndefs);
    return 0;
}

void component_stop(void)
{
    for (struct comp *cp = all_comps; cp; cp = cp->next) {
        stream_error(cp, "system-shutdown", NULL);
        cp->def = NULL; /* the definitions go away below */
    }
    if (listener)
        listen_close(listener);
    listener = NULL;
    for (unsigned i = 0; i < ndefs; i++)
        router_remove_service(defs[i].cfg->domain);
    FREE_NULL(defs);
    ndefs = 0;
}

int component_port(void) { return listener ? listen_port(listener) : 0; }
