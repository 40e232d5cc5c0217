/* mod_register.c -- XEP-0077: In-Band Registration.
 *
 * With registration = open, a client may create an account before it
 * authenticates (over an encrypted stream; c2s enforces that). Once
 * logged in, an account may change its password or remove itself,
 * whatever the registration setting. With registration = invite, the
 * "register-check" event decides (mod_invite: the stream presented a
 * valid invitation), and "user-registered" follows every new account.
 * Both carry the new username in h->data. */
#include <string.h>

#include <stdlib.h>

#include "core/alloc.h"
#include "core/cfg.h"
#include "core/err.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_util.h"
#include "store/store.h"
#include "xmpp/c2s.h"
#include "xmpp/errors.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_REGISTER "jabber:iq:register"
#define NS_REGISTER_FEATURE "http://jabber.org/features/iq-register"
#define PASSWORD_MAX 1023

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static bool registration_possible(void)
{
    return srv.cfg->registration != REG_CLOSED;
}

/* Whether this stream may create the account user: always with open
 * registration, with a module's consent otherwise. */
static int may_register(struct hook_ctx *h, struct stanza *iq, char *user)
{
    if (srv.cfg->registration == REG_OPEN)
        return 0;
    h->data = user;
    int r = hooks_fire("register-check", h, iq);
    h->data = NULL;
    if (r == HOOK_PASS)
        return -SE_NOT_ALLOWED;
    return r < 0 ? r : 0;
}

/* Makes SCRAM credentials for both hashes; 0 or -ERR_INVAL. */
static int make_creds(const char *password, struct scram_creds *sha1,
                      struct scram_creds *sha256)
{
    size_t len = strlen(password);
    if (len == 0 || len > PASSWORD_MAX)
        return -ERR_INVAL;
    unsigned it = srv.cfg->scram_iterations;
    if (scram_creds_from_password(SCRAM_SHA1, password, it, sha1) < 0 ||
        scram_creds_from_password(SCRAM_SHA256, password, it, sha256) < 0)
        return -ERR_INVAL;
    return 0;
}

static int form(struct hook_ctx *h, struct stanza *iq)
{
    struct stanza *r = iq_result(iq);
    struct stanza *q = stanza_add_child(r, NS_REGISTER, "query");
    if (h->sess->authed) {
        stanza_add_child(q, NS_REGISTER, "registered");
        struct stanza *u = stanza_add_child(q, NS_REGISTER, "username");
        stanza_add_text(u, h->sess->username, strlen(h->sess->username));
        stanza_add_child(q, NS_REGISTER, "password");
    } else {
        struct stanza *ins = stanza_add_child(q, NS_REGISTER, "instructions");
        const char *text = "Choose a username and password.";
        stanza_add_text(ins, text, strlen(text));
        stanza_add_child(q, NS_REGISTER, "username");
        stanza_add_child(q, NS_REGISTER, "password");
    }
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

static int create_account(struct hook_ctx *h, struct stanza *iq,
                          struct stanza *q)
{
    struct buf user_in = BUF_INIT, user = BUF_INIT, pass = BUF_INIT;
    int r;
    stanza_child_text(q, NS_REGISTER, "username", &user_in);
    stanza_child_text(q, NS_REGISTER, "password", &pass);
    if (buf_used(&user_in) == 0 || buf_used(&pass) == 0 ||
        jid_nodeprep(buf_data(&user_in), buf_used(&user_in), &user) < 0 ||
        buf_used(&user) == 0 || buf_used(&user) > JID_PART_MAX) {
        r = -SE_NOT_ACCEPTABLE;
        goto done;
    }
    if ((r = may_register(h, iq, (char *)buf_cstr(&user))) < 0)
        goto done;
    struct scram_creds c1, c256;
    if (make_creds(buf_cstr(&pass), &c1, &c256) < 0) {
        r = -SE_NOT_ACCEPTABLE;
        goto done;
    }
    int s = store_user_create(srv.store, buf_cstr(&user), &c1, &c256);
    if (s == -ERR_EXISTS) {
        r = -SE_CONFLICT;
        goto done;
    }
    if (s < 0) {
        r = -SE_INTERNAL_SERVER_ERROR;
        goto done;
    }
    log_info(h->sess->id, "account registered in-band");
    h->data = (char *)buf_cstr(&user);
    hooks_fire("user-registered", h, iq);
    h->data = NULL;
    r = iq_reply_empty(h, iq);
done:
    if (pass.p)
        memset(pass.p, 0, pass.cap);
    buf_free(&user_in);
    buf_free(&user);
    buf_free(&pass);
    return r;
}

static int change_password(struct hook_ctx *h, struct stanza *iq,
                           struct stanza *q)
{
    struct buf user = BUF_INIT, pass = BUF_INIT;
    int r;
    stanza_child_text(q, NS_REGISTER, "username", &user);
    stanza_child_text(q, NS_REGISTER, "password", &pass);
    if (buf_used(&user) && !is(buf_cstr(&user), h->sess->username)) {
        r = -SE_NOT_ALLOWED;
        goto done;
    }
    struct scram_creds c1, c256;
    if (make_creds(buf_cstr(&pass), &c1, &c256) < 0) {
        r = -SE_NOT_ACCEPTABLE;
        goto done;
    }
    if (store_user_set_creds(srv.store, h->sess->username, &c1, &c256) < 0) {
        r = -SE_INTERNAL_SERVER_ERROR;
        goto done;
    }
    log_info(h->sess->id, "password changed in-band");
    r = iq_reply_empty(h, iq);
done:
    if (pass.p)
        memset(pass.p, 0, pass.cap);
    buf_free(&user);
    buf_free(&pass);
    return r;
}

static int remove_account(struct hook_ctx *h, struct stanza *iq)
{
    char bare[2 * JID_PART_MAX + 2];
    struct str b = jid_bare(&h->sess->jid);
    memcpy(bare, b.p, b.len);
    bare[b.len] = '\0';
    char *user = xstrdup(h->sess->username);
    if (store_user_delete(srv.store, user, bare) < 0) {
        free(user);
        return -SE_INTERNAL_SERVER_ERROR;
    }
    iq_reply_empty(h, iq);
    log_info(h->sess->id, "account removed in-band");
    /* XEP-0077 §3.2: every session of the account ends. */
    struct session *s = sessions_of_user(user);
    while (s) {
        struct session *next = s->next_of_user;
        c2s_stream_error(s, "not-authorized", "account removed");
        s = next;
    }
    free(user);
    return HOOK_HANDLED;
}

static int handle(struct hook_ctx *h, struct stanza *iq)
{
    if (!h->sess)
        return -SE_SERVICE_UNAVAILABLE;
    const char *type = stanza_attr(iq, "type");
    struct stanza *q = stanza_child(iq, NS_REGISTER, "query");
    if (!q)
        return -SE_BAD_REQUEST;
    if (h->sess->authed) {
        if (h->user && !is(h->user, h->sess->username))
            return -SE_FORBIDDEN;
        if (is(type, "get"))
            return form(h, iq);
        if (stanza_child(q, NS_REGISTER, "remove"))
            return remove_account(h, iq);
        return change_password(h, iq, q);
    }
    if (!registration_possible())
        return -SE_NOT_ALLOWED;
    if (is(type, "get"))
        return form(h, iq);
    if (is(type, "set"))
        return create_account(h, iq, q);
    return -SE_BAD_REQUEST;
}

static int features(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    if (!h->sess->authed && registration_possible())
        stanza_add_child(h->data, NS_REGISTER_FEATURE, "register");
    return HOOK_PASS;
}

int mod_register_init(struct mod *m)
{
    mod_hook(m, "iq-preauth/" NS_REGISTER, handle, PRIO_DEFAULT);
    mod_hook_iq(m, IQ_GET | IQ_SET, TO_HOST | TO_BARE, NS_REGISTER, "query",
                handle, PRIO_DEFAULT);
    mod_hook(m, "stream-features", features, PRIO_DEFAULT);
    mod_add_feature(m, NS_REGISTER);
    return 0;
}
