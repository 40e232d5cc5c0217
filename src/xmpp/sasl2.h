/* sasl2.h -- what modules see of a login with SASL2 (XEP-0388) and
 * Bind 2 (XEP-0386), which c2s.c negotiates.
 *
 * A client that logs in with SASL2 sends one <authenticate/> holding
 * the SASL initial response and everything it wants done once it is
 * authenticated: bind a resource with Bind 2 and, inside that request,
 * enable stream management, carbons, a client state; or resume a
 * stream-management session; or get a FAST token (XEP-0484). The
 * server answers with one <success/> holding the outcome of each, then
 * the stream features of the authenticated stream; the stream is not
 * restarted. Modules take part through these events (hooks.h), each
 * with h->sess the session and h->data a struct sasl2_ctx:
 *
 *   sasl2-features      the stream offers SASL2: handlers add their
 *                       inline features to ctx->features (<sm/>, <fast/>)
 *   bind2-features      the same for the <inline/> of Bind 2's feature:
 *                       <feature var=''/> per session feature
 *   sasl2-authenticate  an <authenticate/> arrived (ctx->request,
 *                       ctx->mechanism, ctx->response): a module that
 *                       owns the mechanism decides the exchange at once
 *                       and returns HOOK_HANDLED with ctx->username set
 *                       (owned, the account) and ctx->additional filled
 *                       on success, or ctx->cond (an RFC 6120 §6.5
 *                       condition) on failure
 *   sasl2-success       authenticated (s->authed, s->username), before
 *                       resource binding: handlers act on their parts of
 *                       ctx->request and add answers to ctx->success;
 *                       resuming a session binds s here
 *   bind2-bound         Bind 2 bound a resource: handlers enable what
 *                       ctx->bind asks for and add answers to ctx->bound
 *   sasl2-done          <success/> and the stream features are written:
 *                       what must follow them (stanzas a resumed session
 *                       missed) is sent now
 *
 * Fields that do not belong to an event are NULL in it. */
#ifndef THEKE_SASL2_H
#define THEKE_SASL2_H

#include <stddef.h>

#include "core/buf.h"
#include "xml/stanza.h"
#include "xmpp/scram.h"

#define NS_SASL2 "urn:xmpp:sasl:2"
#define NS_BIND2 "urn:xmpp:bind:0"

struct sasl2_ctx {
    /* the stream's channel bindings (TLS), as SCRAM-*-PLUS gets them */
    const struct scram_cb *cbs;
    unsigned ncb;
    struct stanza *features;        /* sasl2-features, bind2-features */
    const struct stanza *request;   /* <authenticate/>, from then on */
    const char *mechanism;          /* its mechanism */
    const char *user_agent_id;      /* <user-agent id=''>, or NULL */
    const char *response;           /* sasl2-authenticate: the decoded */
    size_t response_len;            /* initial response */
    char *username;                 /* out: owned by c2s afterwards */
    struct buf *additional;         /* out: success data (may be empty) */
    const char *cond;               /* out: failure condition */
    struct stanza *success;         /* sasl2-success, bind2-bound */
    const struct stanza *bind;      /* bind2-bound: the <bind/> request */
    struct stanza *bound;           /* bind2-bound: the answer */
};

/* Longest <user-agent id=''> accepted (a UUID has 36 characters). */
#define SASL2_USER_AGENT_ID_MAX 128

#endif
