/* mod_invite.c -- account registration by invitation (XEP-0401 easy
 * onboarding, XEP-0445 pre-auth registration tokens).
 *
 * With registration = invite, the operator (`thekectl invite`) hands out
 * single-use tokens. A client that opens the invitation link connects,
 * sees <register xmlns='urn:xmpp:ibr-token:0'/> (and the older
 * urn:xmpp:invite) in the stream features, sends the token in
 * <preauth xmlns='urn:xmpp:pars:0' token='...'/> and then registers with
 * XEP-0077 as usual. The token is used up by the registration; one that
 * names an inviter makes the new account and the inviter each other's
 * contacts (subscription both).
 *
 * Which stream presented which token is remembered only until that
 * stream could still register: at most auth_timeout, for at most
 * MAX_PENDING streams at once. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cfg.h"
#include "core/err.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_roster.h"
#include "mod/mod_util.h"
#include "store/store.h"
#include "xmpp/errors.h"
#include "xmpp/router.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_PARS "urn:xmpp:pars:0"
#define NS_INVITE "urn:xmpp:invite"
#define NS_IBR_TOKEN "urn:xmpp:ibr-token:0"
#define TOKEN_MAX 128
#define MAX_PENDING 256

struct pending {
    unsigned long session_id; /* 0 = free slot */
    uint64_t until_ms;
    char token[TOKEN_MAX + 1];
};

static struct pending pending[MAX_PENDING];

static bool invite_mode(void) { return srv.cfg->registration == REG_INVITE; }

static struct pending *find_pending(unsigned long id)
{
    uint64_t now = loop_now_ms(srv.loop);
    for (unsigned i = 0; i < MAX_PENDING; i++)
        if (pending[i].session_id == id && pending[i].until_ms > now)
            return &pending[i];
    return NULL;
}

static struct pending *free_slot(void)
{
    uint64_t now = loop_now_ms(srv.loop);
    for (unsigned i = 0; i < MAX_PENDING; i++)
        if (pending[i].session_id == 0 || pending[i].until_ms <= now)
            return &pending[i];
    return NULL;
}

/* Loads a usable invitation; -SE_FORBIDDEN when there is none. */
static int load_invite(const char *token, struct invite *inv)
{
    int r = store_invite_get(srv.store, token, inv);
    if (r == -ERR_NOTFOUND)
        return -SE_FORBIDDEN;
    if (r < 0)
        return -SE_INTERNAL_SERVER_ERROR;
    if (inv->expires_at <= loop_wall_s(srv.loop)) {
        invite_free(inv);
        return -SE_FORBIDDEN;
    }
    return 0;
}

static int preauth(struct hook_ctx *h, struct stanza *iq)
{
    if (!invite_mode() || !h->sess || h->sess->authed)
        return -SE_SERVICE_UNAVAILABLE;
    struct stanza *p = stanza_child(iq, NS_PARS, "preauth");
    const char *token = stanza_attr(p, "token");
    if (!p || strcmp(stanza_attr(iq, "type") ? stanza_attr(iq, "type") : "",
                     "set") != 0 ||
        !token || !*token || strlen(token) > TOKEN_MAX)
        return -SE_BAD_REQUEST;
    struct invite inv;
    int r = load_invite(token, &inv);
    if (r < 0) {
        log_info(h->sess->id, "invalid or expired invitation presented");
        return r;
    }
    invite_free(&inv);
    struct pending *slot = find_pending(h->sess->id);
    if (!slot)
        slot = free_slot();
    if (!slot)
        return -SE_RESOURCE_CONSTRAINT;
    slot->session_id = h->sess->id;
    slot->until_ms =
        loop_now_ms(srv.loop) + (uint64_t)srv.cfg->auth_timeout * 1000u;
    memcpy(slot->token, token, strlen(token) + 1);
    return iq_reply_empty(h, iq);
}

static int register_check(struct hook_ctx *h, struct stanza *iq)
{
    (void)iq;
    if (!invite_mode() || !h->sess)
        return HOOK_PASS;
    struct pending *slot = find_pending(h->sess->id);
    if (!slot)
        return -SE_NOT_ALLOWED; /* no invitation: registration is closed */
    struct invite inv;
    int r = load_invite(slot->token, &inv);
    if (r < 0)
        return r;
    const char *user = h->data;
    if (inv.username && strcmp(inv.username, user) != 0)
        r = -SE_NOT_ACCEPTABLE; /* the invitation is for another name */
    invite_free(&inv);
    return r < 0 ? r : HOOK_HANDLED;
}

/* Makes user and contact (both local usernames) mutual contacts. */
static void befriend(const char *user, const char *contact)
{
    struct roster_item it;
    char bare[2 * JID_PART_MAX + 2 + 256];
    snprintf(bare, sizeof(bare), "%s@%s", contact, srv.domain);
    roster_load(user, bare, &it);
    it.sub = SUB_BOTH;
    it.ask_out = false;
    if (store_roster_put(srv.store, user, &it) == 0)
        roster_push(user, &it, false);
    roster_item_free(&it);
}

static int registered(struct hook_ctx *h, struct stanza *iq)
{
    (void)iq;
    struct pending *slot = h->sess ? find_pending(h->sess->id) : NULL;
    if (!slot)
        return HOOK_PASS;
    struct invite inv;
    if (load_invite(slot->token, &inv) == 0) {
        const char *user = h->data;
        store_invite_del(srv.store, inv.token);
        if (inv.inviter && router_user_exists(inv.inviter)) {
            befriend(inv.inviter, user);
            befriend(user, inv.inviter);
        }
        log_info(h->sess->id, "invitation used%s%s",
                 inv.inviter ? ", invited by " : "",
                 inv.inviter ? inv.inviter : "");
        invite_free(&inv);
    }
    *slot = (struct pending){ 0 };
    return HOOK_PASS;
}

static int features(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    if (invite_mode() && !h->sess->authed) {
        stanza_add_child(h->data, NS_IBR_TOKEN, "register");
        stanza_add_child(h->data, NS_INVITE, "register");
    }
    return HOOK_PASS;
}

int mod_invite_init(struct mod *m)
{
    mod_hook(m, "iq-preauth/" NS_PARS, preauth, PRIO_DEFAULT);
    mod_hook(m, "register-check", register_check, PRIO_DEFAULT);
    mod_hook(m, "user-registered", registered, PRIO_DEFAULT);
    mod_hook(m, "stream-features", features, PRIO_DEFAULT);
    return 0;
}
