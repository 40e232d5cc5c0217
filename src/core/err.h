/* err.h -- error codes shared by every module.
 *
 * Functions return 0 on success or a negative ERR_* value. Peer errors
 * (stanza and stream conditions) are not program errors and live in
 * xmpp/errors.h instead. */
#ifndef THEKE_ERR_H
#define THEKE_ERR_H

enum err_code {
    ERR_OK = 0,
    ERR_NOMEM = 1,     /* allocation failed where we could not abort */
    ERR_INVAL = 2,     /* malformed argument or input */
    ERR_NOTFOUND = 3,  /* no such user, item or key */
    ERR_EXISTS = 4,    /* already exists */
    ERR_IO = 5,        /* system call failed; see errno */
    ERR_STORE = 6,     /* storage backend failure */
    ERR_LIMIT = 7,     /* a configured bound was exceeded */
    ERR_AUTH = 8,      /* authentication failed */
    ERR_AGAIN = 9,     /* would block; try again later */
    ERR_CLOSED = 10,   /* peer closed the connection */
    ERR_TLS = 11,      /* TLS failure */
    ERR_PROTO = 12,    /* protocol violation by the peer */
    ERR_CONFIG = 13,   /* bad configuration */
};

/* Static, human-readable text for an error code (positive or negative). */
const char *err_str(int err);

#endif
