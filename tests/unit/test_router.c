/* test_router.c -- the routing rules of RFC 6121 §8.5, driven through
 * the real router, modules and SQLite store, with sessions whose
 * connections are socketpairs so every delivery is read back as bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/cfg.h"
#include "core/loop.h"
#include "mod/mod.h"
#include "net/conn.h"
#include "store/store.h"
#include "xml/stanza.h"
#include "xmpp/router.h"
#include "xmpp/scram.h"
#include "xmpp/server.h"
#include "xmpp/c2s.h"
#include "xmpp/session.h"

#define MAX_SESSIONS 8

struct peer {
    struct session *s;
    int fd; /* our end of the socketpair */
};

static struct cfg cfg;
static char tmpdir[64];
static struct peer peers[MAX_SESSIONS];
static int npeers;

static void peer_closed(struct conn *c, const char *reason)
{
    (void)reason;
    struct session *s = c->ud;
    s->conn = NULL;
}

static const struct conn_handler test_handler = {
    .data = NULL, .closed = peer_closed,
};

static void add_user(const char *name)
{
    struct scram_creds c1, c256;
    assert_int_equal(scram_creds_from_password(SCRAM_SHA1, "pw", 4096, &c1), 0);
    assert_int_equal(
        scram_creds_from_password(SCRAM_SHA256, "pw", 4096, &c256), 0);
    assert_int_equal(store_user_create(srv.store, name, &c1, &c256), 0);
}

/* A bound session user/resource; available with priority unless
 * prio is INT32_MIN. */
static struct peer *connect_as(const char *user, const char *resource,
                               int prio)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    struct session *s = xcalloc(1, sizeof(*s));
    s->conn = conn_new(srv.loop, sv[0], NULL, NULL, &test_handler, s);
    assert_non_null(s->conn);
    s->tr = &c2s_stream_transport;
    s->username = xstrdup(user);
    assert_int_equal(jid_make(&s->jid, user, srv.domain, resource), 0);
    s->authed = true;
    assert_null(sessions_add(s));
    if (prio != INT32_MIN) {
        s->available = true;
        s->priority = prio;
    }
    struct peer *p = &peers[npeers++];
    p->s = s;
    p->fd = sv[1];
    return p;
}

/* Everything the session received since the last call. */
static char *received(struct peer *p)
{
    static char buf[65536];
    conn_flush_all(srv.loop, NULL);
    ssize_t n = recv(p->fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void drain_all(void)
{
    for (int i = 0; i < npeers; i++)
        received(&peers[i]);
}

static struct stanza *message(const char *to, const char *type,
                              const char *body)
{
    struct stanza *m = stanza_new("jabber:client", "message");
    if (to)
        stanza_set_attr(m, "to", to);
    if (type)
        stanza_set_attr(m, "type", type);
    stanza_set_attr(m, "id", "m1");
    struct stanza *b = stanza_add_child(m, NULL, "body");
    stanza_add_text(b, body, strlen(body));
    return m;
}

static void send_from(struct peer *p, struct stanza *st)
{
    router_from_client(p->s, st);
    stanza_unref(st);
}

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/theke-router-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    cfg_defaults(&cfg);
    free(cfg.domain);
    cfg.domain = xstrdup("example.org");
    char path[128];
    snprintf(path, sizeof(path), "%s/theke.db", tmpdir);
    srv.cfg = &cfg;
    srv.domain = cfg.domain;
    assert_int_equal(store_sqlite_open(path, &srv.store), 0);
    srv.loop = loop_new();
    assert_int_equal(modules_init(), 0);
    add_user("alice");
    add_user("bob");
    npeers = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < npeers; i++) {
        struct session *s = peers[i].s;
        sessions_remove(s);
        if (s->conn)
            conn_close_async(s->conn, "test over");
        close(peers[i].fd);
    }
    conn_flush_all(srv.loop, NULL);
    for (int i = 0; i < npeers; i++) {
        struct session *s = peers[i].s;
        if (s->presence)
            stanza_unref(s->presence);
        session_clear_directed(s);
        jid_free(&s->jid);
        jid_free(&s->last_to);
        free(s->username);
        free(s);
    }
    modules_shutdown();
    store_close(srv.store);
    loop_free(srv.loop);
    cfg_free(&cfg);
    srv = (struct server){ 0 };
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* alice/a, and bob/one (priority 5) and bob/two (priority 1), with
 * nothing waiting to be read. */
static void alice_and_two_bobs(struct peer **a, struct peer **b1,
                               struct peer **b2)
{
    *a = connect_as("alice", "a", 0);
    *b1 = connect_as("bob", "one", 5);
    *b2 = connect_as("bob", "two", 1);
    drain_all();
}

/* §8.5.2.1.1: chat to a bare JID reaches every resource of
 * non-negative priority, not the negative one. */
static void test_chat_to_bare_all_nonnegative(void **state)
{
    (void)state;
    struct peer *a = connect_as("alice", "a", 0);
    struct peer *b1 = connect_as("bob", "one", 5);
    struct peer *b2 = connect_as("bob", "two", 1);
    struct peer *b3 = connect_as("bob", "neg", -1);
    drain_all();
    send_from(a, message("bob@example.org", "chat", "hi"));
    assert_non_null(strstr(received(b1), "<body>hi</body>"));
    assert_non_null(strstr(received(b2), "<body>hi</body>"));
    assert_string_equal(received(b3), "");
    assert_string_equal(received(a), "");
}

/* §8.5.2.1.1: normal messages go to the highest priority only. */
static void test_normal_to_bare_highest(void **state)
{
    (void)state;
    struct peer *a, *b1, *b2;
    alice_and_two_bobs(&a, &b1, &b2);
    send_from(a, message("bob@example.org", NULL, "hello"));
    assert_non_null(strstr(received(b1), "hello"));
    assert_string_equal(received(b2), "");
}

/* §8.5.3.1: a full JID reaches exactly that resource; the sender is
 * stamped with its full JID. */
static void test_to_full_jid(void **state)
{
    (void)state;
    struct peer *a, *b1, *b2;
    alice_and_two_bobs(&a, &b1, &b2);
    send_from(a, message("bob@example.org/two", "chat", "x"));
    assert_string_equal(received(b1), "");
    const char *got = received(b2);
    assert_non_null(strstr(got, "from='alice@example.org/a'"));
    assert_non_null(strstr(got, "<body>x</body>"));
}

/* Each message reaches the address it names, whatever the sender
 * named before it, and leaves with 'to' normalised: addresses spelled
 * canonically and otherwise, repeated and alternating. */
static void test_to_sequence(void **state)
{
    (void)state;
    struct peer *a, *b1, *b2;
    alice_and_two_bobs(&a, &b1, &b2);
    static const struct {
        const char *to, *body;
        int at; /* 1 or 2: which of bob's sessions */
    } seq[] = {
        { "bob@example.org/one", "s1", 1 },
        { "bob@example.org/one", "s2", 1 },
        { "Bob@Example.ORG/two", "s3", 2 },
        { "bob@example.org/two", "s4", 2 },
        { "Bob@Example.ORG/two", "s5", 2 },
        { "bob@example.org/one", "s6", 1 },
        { "bob@example.org/two", "s7", 2 },
        { "bob@example.org/One", "s8", 1 }, /* no such resource: bare */
    };
    for (size_t i = 0; i < sizeof(seq) / sizeof(*seq); i++) {
        send_from(a, message(seq[i].to, "normal", seq[i].body));
        char want[64];
        snprintf(want, sizeof(want), "<body>%s</body>", seq[i].body);
        char *got1 = xstrdup(received(b1));
        char *got2 = xstrdup(received(b2));
        const char *got = seq[i].at == 1 ? got1 : got2;
        const char *other = seq[i].at == 1 ? got2 : got1;
        assert_non_null(strstr(got, want));
        assert_null(strstr(other, want));
        if (i != 7)
            assert_non_null(strstr(got, seq[i].at == 1
                                            ? "to='bob@example.org/one'"
                                            : "to='bob@example.org/two'"));
        free(got1);
        free(got2);
    }
}

/* §8.5.3.2.1: chat to an unknown resource is treated as bare. */
static void test_unknown_resource_falls_back(void **state)
{
    (void)state;
    struct peer *a = connect_as("alice", "a", 0);
    struct peer *b1 = connect_as("bob", "one", 0);
    drain_all();
    send_from(a, message("bob@example.org/gone", "chat", "fallback"));
    assert_non_null(strstr(received(b1), "fallback"));
}

/* §8.5.2.2: no available resource: the message is stored offline. */
static void test_offline_when_unavailable(void **state)
{
    (void)state;
    struct peer *a = connect_as("alice", "a", 0);
    connect_as("bob", "idle", INT32_MIN); /* bound, no presence yet */
    drain_all();
    send_from(a, message("bob@example.org", "chat", "later"));
    int64_t n = -1;
    assert_int_equal(store_offline_count(srv.store, "bob", &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(received(a), "");
}

/* Headlines are never stored; groupchat to an account is an error. */
static void test_headline_and_groupchat(void **state)
{
    (void)state;
    struct peer *a = connect_as("alice", "a", 0);
    drain_all();
    send_from(a, message("bob@example.org", "headline", "news"));
    int64_t n = -1;
    assert_int_equal(store_offline_count(srv.store, "bob", &n), 0);
    assert_int_equal(n, 0);
    assert_string_equal(received(a), "");
    send_from(a, message("bob@example.org", "groupchat", "room"));
    assert_non_null(strstr(received(a), "service-unavailable"));
}

/* §8.5.1: an account that does not exist bounces. */
static void test_no_such_account(void **state)
{
    (void)state;
    struct peer *a = connect_as("alice", "a", 0);
    drain_all();
    send_from(a, message("nobody@example.org", "chat", "?"));
    const char *got = received(a);
    assert_non_null(strstr(got, "type='error'"));
    assert_non_null(strstr(got, "<service-unavailable"));
    assert_non_null(strstr(got, "from='nobody@example.org'"));
}

/* Other domains: this server does not federate. */
static void test_remote_domain(void **state)
{
    (void)state;
    struct peer *a = connect_as("alice", "a", 0);
    drain_all();
    send_from(a, message("carol@elsewhere.net", "chat", "?"));
    assert_non_null(strstr(received(a), "remote-server-not-found"));
}

static struct stanza *iq(const char *to, const char *type, const char *ns,
                         const char *name)
{
    struct stanza *q = stanza_new("jabber:client", "iq");
    if (to)
        stanza_set_attr(q, "to", to);
    stanza_set_attr(q, "type", type);
    stanza_set_attr(q, "id", "q1");
    stanza_add_child(q, ns, name);
    return q;
}

/* §8.5.3.2.2 and RFC 6120 §8.4: iqs to unknown resources and in unknown
 * namespaces get service-unavailable; a known one is answered. */
static void test_iq_rules(void **state)
{
    (void)state;
    struct peer *a = connect_as("alice", "a", 0);
    struct peer *b1 = connect_as("bob", "one", 0);
    drain_all();
    send_from(a, iq("bob@example.org/none", "get", "urn:x", "q"));
    assert_non_null(strstr(received(a), "service-unavailable"));
    send_from(a, iq("example.org", "get", "urn:unknown:ns", "query"));
    assert_non_null(strstr(received(a), "service-unavailable"));
    send_from(a, iq("example.org", "get", "urn:xmpp:ping", "ping"));
    const char *got = received(a);
    assert_non_null(strstr(got, "type='result'"));
    assert_null(strstr(got, "error"));
    /* iq to a full JID is routed to that resource untouched. */
    send_from(a, iq("bob@example.org/one", "get", "urn:custom", "thing"));
    got = received(b1);
    assert_non_null(strstr(got, "<thing xmlns='urn:custom'/>"));
    /* An iq get with two payloads is malformed. */
    struct stanza *two = iq("example.org", "get", "urn:xmpp:ping", "ping");
    stanza_add_child(two, "urn:xmpp:ping", "ping");
    send_from(a, two);
    assert_non_null(strstr(received(a), "bad-request"));
}

/* Extension payloads (receipts, OMEMO) pass through unchanged. */
static void test_payload_untouched(void **state)
{
    (void)state;
    struct peer *a = connect_as("alice", "a", 0);
    struct peer *b = connect_as("bob", "one", 0);
    drain_all();
    struct stanza *m = message("bob@example.org/one", "chat", "e2e");
    struct stanza *enc = stanza_add_child(m, "eu.siacs.conversations.axolotl",
                                          "encrypted");
    struct stanza *hdr = stanza_add_child(enc, NULL, "header");
    stanza_set_attr(hdr, "sid", "1234");
    stanza_add_child(m, "urn:xmpp:receipts", "request");
    send_from(a, m);
    const char *got = received(b);
    assert_non_null(strstr(got, "<encrypted xmlns='eu.siacs.conversations."
                                "axolotl'><header sid='1234'/></encrypted>"));
    assert_non_null(strstr(got, "<request xmlns='urn:xmpp:receipts'/>"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chat_to_bare_all_nonnegative,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_normal_to_bare_highest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_to_full_jid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_to_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_resource_falls_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline_when_unavailable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_headline_and_groupchat, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_such_account, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_remote_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iq_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload_untouched, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
