/* server.h -- the few things every part of theked shares: configuration,
 * storage, the event loop, the TLS context and the served domain.
 * Deliberately small: state that belongs to one module stays in it. */
#ifndef THEKE_SERVER_H
#define THEKE_SERVER_H

struct cfg;
struct store;
struct loop;
struct tls_ctx;

struct server {
    struct cfg *cfg;       /* borrowed from main for the process lifetime */
    struct store *store;
    struct loop *loop;
    struct tls_ctx *tls;   /* NULL when TLS could not be set up */
    const char *domain;    /* == cfg->domain, normalised */
};

extern struct server srv;

/* True when domain (len bytes) is the served domain. */
int server_is_local_domain(const char *domain, unsigned long len);

#endif
