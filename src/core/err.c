/* err.c -- see err.h. */
#include "err.h"

const char *err_str(int err)
{
    if (err < 0)
        err = -err;
    switch ((enum err_code)err) {
    case ERR_OK: return "success";
    case ERR_NOMEM: return "out of memory";
    case ERR_INVAL: return "invalid argument";
    case ERR_NOTFOUND: return "not found";
    case ERR_EXISTS: return "already exists";
    case ERR_IO: return "input/output error";
    case ERR_STORE: return "storage error";
    case ERR_LIMIT: return "limit exceeded";
    case ERR_AUTH: return "authentication failed";
    case ERR_AGAIN: return "try again";
    case ERR_CLOSED: return "connection closed";
    case ERR_TLS: return "TLS error";
    case ERR_PROTO: return "protocol error";
    case ERR_CONFIG: return "configuration error";
    }
    return "unknown error";
}
