/* mod_extdisco.c -- XEP-0215: External Service Discovery
 * (urn:xmpp:extdisco:2), for the STUN and TURN servers that clients
 * use for calls (Jingle).
 *
 * The services are configured as URIs (RFC 7064, RFC 7065) separated
 * by spaces in external_services, e.g.
 *   stun:turn.example.com turn:turn.example.com?transport=udp
 *   turns:turn.example.com:5349
 * With turn_secret set, TURN services are answered with time-limited
 * credentials in the scheme coturn checks with use-auth-secret (the
 * "TURN REST API"): username "EXPIRY:user@domain" (EXPIRY in Unix
 * seconds, turn_credential_ttl from now), password
 * base64(HMAC-SHA1(secret, username)). Credentials go to the account's
 * own sessions only; they are never logged.
 *
 * What it does not do: run a STUN or TURN server, or check that the
 * configured ones answer. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/cfg.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_util.h"
#include "xmpp/errors.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_EXTDISCO "urn:xmpp:extdisco:2"
#define SERVICES_MAX 16
#define HOST_MAX 253

struct service {
    char type[6];          /* stun, stuns, turn, turns */
    char host[HOST_MAX + 1];
    unsigned port;
    const char *transport; /* "udp" or "tcp" */
    bool restricted;       /* TURN with credentials */
};

static struct service services[SERVICES_MAX];
static size_t nservices;

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

/* Parses one URI of external_services into s. */
static int parse_uri(const char *u, size_t n, struct service *s)
{
    char buf[HOST_MAX + 64];
    if (n >= sizeof(buf))
        return -ERR_INVAL;
    memcpy(buf, u, n);
    buf[n] = '\0';
    memset(s, 0, sizeof(*s));
    char *p = strchr(buf, ':');
    if (!p)
        return -ERR_INVAL;
    *p++ = '\0';
    if (!is(buf, "stun") && !is(buf, "stuns") && !is(buf, "turn") &&
        !is(buf, "turns"))
        return -ERR_INVAL;
    strcpy(s->type, buf);
    bool secure = buf[4] == 's';
    bool turn = buf[0] == 't';
    char *query = strchr(p, '?');
    if (query)
        *query++ = '\0';
    /* RFC 7064 §3.1: host is a name, an IPv4 address or [IPv6]. */
    char *port = NULL;
    if (*p == '[') {
        char *end = strchr(p, ']');
        if (!end)
            return -ERR_INVAL;
        *end = '\0';
        p++;
        if (end[1] == ':')
            port = end + 2;
        else if (end[1])
            return -ERR_INVAL;
    } else {
        port = strchr(p, ':');
        if (port)
            *port++ = '\0';
        for (char *c = p; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-')
                return -ERR_INVAL;
    }
    if (!*p || strlen(p) > HOST_MAX)
        return -ERR_INVAL;
    strcpy(s->host, p);
    s->port = secure ? 5349 : 3478;
    if (port) {
        char *end;
        long v = strtol(port, &end, 10);
        if (!*port || *end || v < 1 || v > 65535)
            return -ERR_INVAL;
        s->port = (unsigned)v;
    }
    s->transport = secure ? "tcp" : "udp";
    if (query) {
        /* RFC 7065 §3.1: only turn URIs take a transport. */
        if (!turn)
            return -ERR_INVAL;
        if (is(query, "transport=udp") && !secure)
            s->transport = "udp";
        else if (is(query, "transport=tcp"))
            s->transport = "tcp";
        else
            return -ERR_INVAL;
    }
    s->restricted = turn && srv.cfg->turn_secret != NULL;
    return 0;
}

/* Adds username, password and expires for the account user to el. */
static void add_credentials(struct stanza *el, const char *user)
{
    int64_t expiry = (int64_t)time(NULL) + srv.cfg->turn_credential_ttl;
    char username[2 * JID_PART_MAX + 32];
    snprintf(username, sizeof(username), "%lld:%s@%s", (long long)expiry,
             user, srv.domain);
    unsigned char mac[CRYPTO_MAX_DIGEST];
    const char *secret = srv.cfg->turn_secret;
    crypto_hmac(CRYPTO_SHA1, secret, strlen(secret), username,
                strlen(username), mac);
    struct buf pw = BUF_INIT;
    base64_encode(mac, crypto_digest_len(CRYPTO_SHA1), &pw);
    char expires[DATETIME_MAX];
    datetime_format(expiry * 1000, false, expires);
    stanza_set_attr(el, "username", username);
    stanza_set_attr(el, "password", buf_cstr(&pw));
    stanza_set_attr(el, "expires", expires);
    buf_free(&pw);
}

static struct stanza *add_service(struct stanza *parent,
                                  const struct service *s, const char *user)
{
    struct stanza *el = stanza_add_child(parent, NS_EXTDISCO, "service");
    char port[8];
    snprintf(port, sizeof(port), "%u", s->port);
    stanza_set_attr(el, "type", s->type);
    stanza_set_attr(el, "host", s->host);
    stanza_set_attr(el, "port", port);
    stanza_set_attr(el, "transport", s->transport);
    if (s->restricted) {
        stanza_set_attr(el, "restricted", "1");
        add_credentials(el, user);
    }
    return el;
}

/* §3.1 (all services) and §3.2 (of one type). */
static int get_services(struct hook_ctx *h, struct stanza *iq)
{
    if (!h->sess)
        return -SE_FORBIDDEN;
    const char *type = stanza_attr(stanza_child(iq, NS_EXTDISCO, "services"),
                                   "type");
    struct stanza *r = iq_result(iq);
    struct stanza *q = stanza_add_child(r, NS_EXTDISCO, "services");
    if (type)
        stanza_set_attr(q, "type", type);
    for (size_t i = 0; i < nservices; i++)
        if (!type || is(type, services[i].type))
            add_service(q, &services[i], h->sess->username);
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

/* §3.3: fresh credentials for one service, named by host and type (and
 * port, when given). */
static int get_credentials(struct hook_ctx *h, struct stanza *iq)
{
    if (!h->sess)
        return -SE_FORBIDDEN;
    struct stanza *want = stanza_child(
        stanza_child(iq, NS_EXTDISCO, "credentials"), NS_EXTDISCO, "service");
    const char *host = stanza_attr(want, "host");
    const char *type = stanza_attr(want, "type");
    const char *port = stanza_attr(want, "port");
    if (!host)
        return -SE_BAD_REQUEST;
    struct stanza *r = iq_result(iq);
    struct stanza *q = stanza_add_child(r, NS_EXTDISCO, "credentials");
    bool found = false;
    for (size_t i = 0; i < nservices; i++) {
        const struct service *s = &services[i];
        if (!is(host, s->host) || (type && !is(type, s->type)) ||
            (port && strtoul(port, NULL, 10) != s->port))
            continue;
        add_service(q, s, h->sess->username);
        found = true;
    }
    if (found)
        iq_send_reply(h, r);
    stanza_unref(r);
    return found ? HOOK_HANDLED : -SE_ITEM_NOT_FOUND;
}

int mod_extdisco_init(struct mod *m)
{
    nservices = 0;
    const char *v = srv.cfg ? srv.cfg->external_services : NULL;
    while (v && *v) {
        while (isspace((unsigned char)*v))
            v++;
        size_t n = 0;
        while (v[n] && !isspace((unsigned char)v[n]))
            n++;
        if (n == 0)
            break;
        if (nservices == SERVICES_MAX ||
            parse_uri(v, n, &services[nservices]) < 0) {
            log_error(0, "external_services: '%.*s' is not a stun:, stuns:, "
                         "turn: or turns: URI (at most %d)",
                      (int)(n > 64 ? 64 : n), v, SERVICES_MAX);
            return -ERR_CONFIG;
        }
        nservices++;
        v += n;
    }
    if (nservices == 0)
        return 0;
    mod_add_feature(m, NS_EXTDISCO);
    mod_hook_iq(m, IQ_GET, TO_HOST, NS_EXTDISCO, "services", get_services,
                PRIO_DEFAULT);
    mod_hook_iq(m, IQ_GET, TO_HOST, NS_EXTDISCO, "credentials",
                get_credentials, PRIO_DEFAULT);
    return 0;
}
