/* cfg.h -- the configuration file.
 *
 * Format: one "key = value" per line, '#' starts a comment, blank lines
 * ignored, surrounding whitespace trimmed; a value may be wrapped in
 * double quotes. Every key is known and typed: an unknown key, a repeated
 * key or a bad value is an error naming the file and line. */
#ifndef THEKE_CFG_H
#define THEKE_CFG_H

#include <stdbool.h>
#include <stddef.h>

enum cfg_registration {
    REG_CLOSED = 0, /* accounts only through thekectl */
    REG_OPEN,       /* anyone may register in-band (XEP-0077) */
    REG_INVITE,     /* in-band registration with an invitation token */
};

/* An external component (XEP-0114) allowed to connect. */
struct cfg_component {
    char *domain; /* normalised, owned */
    char *secret; /* owned */
};

struct cfg {
    char *domain;              /* served XMPP domain, normalised; "localhost" */
    char *data_dir;            /* database, generated certificate; "./data" */
    char *c2s;                 /* STARTTLS listener "addr:port"; "" = off;
                                  default "127.0.0.1:5222" */
    char *c2s_tls;             /* direct TLS (XEP-0368); "127.0.0.1:5223" */
    char *http;                /* HTTP listener; "127.0.0.1:5280" */
    char *https;               /* HTTPS listener (the c2s certificate);
                                  "" = off (default) */
    size_t http_max_body;      /* bytes of a request body; 1 MiB */
    size_t upload_max_file_size; /* XEP-0363 file limit; 10 MiB, 0 = no
                                    upload service */
    size_t upload_quota;       /* bytes of uploads an account may keep;
                                  100 MiB */
    unsigned upload_expire_days; /* uploads are deleted after; 30 */
    unsigned http_timeout;     /* s to receive a request once it started,
                                  and to keep an idle connection; 30 */
    char *http_public_url;     /* base URL clients reach the HTTP server
                                  at ("https://chat.example.com"); NULL:
                                  derived from the listeners */
    char *websocket_url;       /* the XMPP WebSocket URL announced; NULL:
                                  http_public_url + "/xmpp-websocket" */
    bool http_trust_proxy;     /* a loopback peer's X-Forwarded-For and
                                  X-Forwarded-Proto are believed */
    char *tls_cert;            /* PEM chain; NULL = generated self-signed */
    char *tls_key;             /* PEM key; NULL = generated with the cert */
    enum cfg_registration registration;
    size_t max_stanza_size;    /* bytes, default 262144 (1024..16777216) */
    int log_level;             /* enum log_level, default LOG_INFO */
    bool c2s_require_encryption; /* default true; false is honoured only
                                    for loopback peers */
    unsigned scram_iterations; /* for new passwords; default 4096 */
    unsigned worker_threads;   /* password hashing threads; 0 (default):
                                  one per CPU */
    unsigned io_threads;       /* threads doing socket I/O, the event loop
                                  included; 0 (default): one per CPU */
    unsigned auth_timeout;     /* s until an unauthenticated connection is
                                  closed; default 30 */
    unsigned idle_timeout;     /* s of silence before a ping, then close;
                                  default 300 */
    unsigned max_offline;      /* offline messages kept per account; 1000 */
    unsigned fast_token_days;  /* lifetime of FAST login tokens (XEP-0484);
                                  0 = none are given out; 21 */
    unsigned sm_resume_timeout; /* s a detached session waits to be resumed
                                   (XEP-0198); 0 = no resumption; 300 */
    unsigned sm_max_unacked;   /* stanzas a session may leave unacknowledged
                                  before it is ended; 500 */
    unsigned archive_retention_days; /* archived messages older than this
                                        are purged; 0 keeps them; 365 */
    char *external_services;   /* STUN/TURN URIs (RFC 7064/7065) separated
                                  by spaces (XEP-0215); NULL = none */
    char *turn_secret;         /* shared secret for TURN credentials
                                  (coturn use-auth-secret); NULL = none */
    unsigned turn_credential_ttl; /* s a TURN credential lasts; 86400 */
    char *contact_abuse;       /* XEP-0157 addresses (URIs separated by */
    char *contact_admin;       /* spaces), NULL = none */
    char *contact_feedback;
    char *contact_sales;
    char *contact_security;
    char *contact_status;
    char *contact_support;
    char *component_listen;    /* XEP-0114 listener "addr:port"; "" (the
                                  default) = off */
    struct cfg_component *components; /* "component = DOMAIN SECRET",
                                         one line each; owned */
    unsigned ncomponents;
};

/* Fills c with the defaults above (owned strings). */
void cfg_defaults(struct cfg *c);
/* Reads path over the defaults already in c. Returns 0, or -ERR_CONFIG
 * with a one-line message "path:line: what is wrong" in err. */
int cfg_load(struct cfg *c, const char *path, char *err, size_t errsz);
void cfg_free(struct cfg *c);

#endif
