/* strophe_client.c -- a libstrophe client for tests/interop/60-strophe-chat.py.
 *
 * Logs in as JID with PASSWORD on 127.0.0.1:PORT, over STARTTLS
 * ("starttls") or direct TLS ("directtls", XEP-0368), trusting the
 * server's self-signed certificate.  Then it sends initial presence,
 * pings the server (XEP-0199), and once the ping is answered sends
 * "hello from libstrophe" to PEER.  It exits 0 after PEER answers with
 * "echo: hello from libstrophe", 1 if the connection fails or an error
 * comes back, 2 if nothing happens for 20 seconds.  It prints what it
 * saw on stdout, one event a line, for the test's failure message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <strophe.h>

#define HELLO "hello from libstrophe"
#define ECHO "echo: " HELLO

struct state {
    xmpp_ctx_t *ctx;
    const char *domain;  /* server's domain, the ping's target */
    const char *peer;    /* bare JID that echoes our message */
    int done;            /* 1 success, -1 failure, 0 still running */
};

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
{
    struct state *s = userdata;
    const char *type = xmpp_stanza_get_type(st);
    const char *from = xmpp_stanza_get_from(st);
    char *body = xmpp_message_get_body(st);

    printf("message type=%s from=%s body=%s\n", type ? type : "-",
           from ? from : "-", body ? body : "-");
    if (type && strcmp(type, "error") == 0) {
        s->done = -1;
    } else if (body && strcmp(body, ECHO) == 0 && from &&
               strncmp(from, s->peer, strlen(s->peer)) == 0) {
        s->done = 1;
        xmpp_disconnect(conn);
    }
    if (body)
        xmpp_free(s->ctx, body);
    return 1;
}

static int on_pong(xmpp_conn_t *conn, xmpp_stanza_t *st, void *userdata)
{
    struct state *s = userdata;
    const char *type = xmpp_stanza_get_type(st);
    xmpp_stanza_t *msg;

    printf("ping answer type=%s\n", type ? type : "-");
    if (!type || strcmp(type, "result") != 0) {
        s->done = -1;
        return 0;
    }
    msg = xmpp_message_new(s->ctx, "chat", s->peer, "hello1");
    xmpp_message_set_body(msg, HELLO);
    xmpp_send(conn, msg);
    xmpp_stanza_release(msg);
    return 0;
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t status, int error,
                    xmpp_stream_error_t *stream_error, void *userdata)
{
    struct state *s = userdata;
    xmpp_stanza_t *pres, *iq, *ping;

    if (status != XMPP_CONN_CONNECT) {
        printf("disconnected (error %d%s)\n", error,
               stream_error ? ", stream error" : "");
        if (s->done == 0)
            s->done = -1;
        xmpp_stop(s->ctx);
        return;
    }
    printf("connected secured=%d bound=%s\n", xmpp_conn_is_secured(conn),
           xmpp_conn_get_bound_jid(conn));
    xmpp_handler_add(conn, on_message, NULL, "message", NULL, s);

    pres = xmpp_presence_new(s->ctx);
    xmpp_send(conn, pres);
    xmpp_stanza_release(pres);

    iq = xmpp_iq_new(s->ctx, "get", "ping1");
    xmpp_stanza_set_to(iq, s->domain);
    ping = xmpp_stanza_new(s->ctx);
    xmpp_stanza_set_name(ping, "ping");
    xmpp_stanza_set_ns(ping, "urn:xmpp:ping");
    xmpp_stanza_add_child(iq, ping);
    xmpp_stanza_release(ping);
    xmpp_id_handler_add(conn, on_pong, "ping1", s);
    xmpp_send(conn, iq);
    xmpp_stanza_release(iq);
}

int main(int argc, char **argv)
{
    struct state s = {0};
    xmpp_log_t *log = NULL;
    xmpp_conn_t *conn;
    long flags = XMPP_CONN_FLAG_TRUST_TLS;
    time_t deadline;
    const char *at;

    if (argc != 6) {
        fprintf(stderr, "usage: %s JID PASSWORD PORT PEER starttls|"
                "directtls\n", argv[0]);
        return 1;
    }
    at = strchr(argv[1], '@');
    if (!at)
        return 1;
    s.domain = at + 1;
    s.peer = argv[4];
    if (strcmp(argv[5], "directtls") == 0)
        flags |= XMPP_CONN_FLAG_LEGACY_SSL;
    else
        flags |= XMPP_CONN_FLAG_MANDATORY_TLS;

    xmpp_initialize();
    if (getenv("THEKE_TEST_DEBUG"))
        log = xmpp_get_default_logger(XMPP_LEVEL_DEBUG);
    s.ctx = xmpp_ctx_new(NULL, log);
    conn = xmpp_conn_new(s.ctx);
    xmpp_conn_set_flags(conn, flags);
    xmpp_conn_set_jid(conn, argv[1]);
    xmpp_conn_set_pass(conn, argv[2]);
    if (xmpp_connect_client(conn, "127.0.0.1",
                            (unsigned short)atoi(argv[3]), on_conn,
                            &s) != XMPP_EOK) {
        printf("connect failed\n");
        return 1;
    }
    deadline = time(NULL) + 20;
    while (s.done == 0 && time(NULL) < deadline) {
        xmpp_run_once(s.ctx, 100);
    }
    if (s.done == 0)
        printf("timed out\n");
    else if (s.done == 1)
        printf("OK\n");
    xmpp_conn_release(conn);
    xmpp_ctx_free(s.ctx);
    xmpp_shutdown();
    return s.done == 1 ? 0 : s.done == 0 ? 2 : 1;
}
