/* listen.h -- listening sockets that hand accepted connections on. */
#ifndef THEKE_LISTEN_H
#define THEKE_LISTEN_H

#include <sys/socket.h>

#include "core/loop.h"

struct listener;
struct conn;
struct tls_ctx;

/* Called for each accepted socket; takes ownership of fd. peer is
 * borrowed for the call. */
typedef void listen_accept_fn(void *ud, int fd, const struct sockaddr *peer);

/* Listens on "host:port" or "[v6addr]:port". Returns 0 and an owned
 * listener, or -ERR_INVAL (bad address) / -ERR_IO (with errno set). */
int listen_open(struct loop *l, const char *addr, listen_accept_fn *fn,
                void *ud, struct listener **out);
void listen_close(struct listener *ls);
/* The port actually bound (useful with port 0). */
int listen_port(const struct listener *ls);

/* Splits "host:port" / "[v6]:port" into a socket address. */
int listen_parse_addr(const char *addr, struct sockaddr_storage *ss,
                      socklen_t *len);

#endif
