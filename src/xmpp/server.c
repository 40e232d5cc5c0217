/* server.c -- see server.h. */
#include "xmpp/server.h"

#include <string.h>

struct server srv;

int server_is_local_domain(const char *domain, unsigned long len)
{
    return srv.domain && strlen(srv.domain) == len &&
           memcmp(srv.domain, domain, len) == 0;
}
