/* listen.c -- see listen.h. */
#include "net/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"

/* Accepts per wakeup are bounded so a connection storm cannot starve
 * the clients already connected. */
#define MAX_ACCEPTS_PER_WAKEUP 64
#define LISTEN_BACKLOG 4096
/* Out of descriptors, the listening socket stays readable: without a
 * pause the loop would spin on accept() failing. */
#define EMFILE_PAUSE_MS 100

struct listener {
    int fd;
    struct loop *loop;
    listen_accept_fn *fn;
    void *ud;
    struct timer resume; /* armed while accepting is paused */
};

static void resume_accepting(struct loop *l, void *ud)
{
    struct listener *ls = ud;
    loop_mod(l, ls->fd, LOOP_READ);
}

int listen_parse_addr(const char *addr, struct sockaddr_storage *ss,
                      socklen_t *len)
{
    char host[128];
    const char *colon;
    const char *hs = addr;
    size_t hl;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || end[1] != ':')
            return -ERR_INVAL;
        hs = addr + 1;
        hl = (size_t)(end - hs);
        colon = end + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return -ERR_INVAL;
        hl = (size_t)(colon - addr);
    }
    if (hl == 0 || hl >= sizeof(host))
        return -ERR_INVAL;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    char *endp;
    long port = strtol(colon + 1, &endp, 10);
    if (*endp || colon[1] == '\0' || port < 0 || port > 65535)
        return -ERR_INVAL;
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *len = sizeof(*in);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*in6);
        return 0;
    }
    return -ERR_INVAL;
}

static void on_accept(struct loop *l, int fd, void *ud, unsigned events)
{
    (void)fd;
    (void)events;
    struct listener *ls = ud;
    for (int i = 0; i < MAX_ACCEPTS_PER_WAKEUP; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int c = accept4(ls->fd, (struct sockaddr *)&peer, &plen,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                log_warn(0, "out of file descriptors: not accepting "
                            "connections for %d ms",
                         EMFILE_PAUSE_MS);
                loop_mod(l, ls->fd, 0);
                timer_start(l, &ls->resume, EMFILE_PAUSE_MS, resume_accepting,
                            ls);
            }
            return;
        }
        ls->fn(ls->ud, c, (struct sockaddr *)&peer);
    }
}

int listen_open(struct loop *l, const char *addr, listen_accept_fn *fn,
                void *ud, struct listener **out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (listen_parse_addr(addr, &ss, &len) < 0)
        return -ERR_INVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -ERR_IO;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
        listen(fd, LISTEN_BACKLOG) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -ERR_IO;
    }
    struct listener *ls = xcalloc(1, sizeof(*ls));
    ls->fd = fd;
    ls->loop = l;
    ls->fn = fn;
    ls->ud = ud;
    if (loop_add(l, fd, LOOP_READ, on_accept, ls) < 0) {
        close(fd);
        free(ls);
        return -ERR_IO;
    }
    *out = ls;
    return 0;
}

void listen_close(struct listener *ls)
{
    if (!ls)
        return;
    timer_stop(ls->loop, &ls->resume);
    loop_del(ls->loop, ls->fd);
    close(ls->fd);
    free(ls);
}

int listen_port(const struct listener *ls)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(ls->fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}
