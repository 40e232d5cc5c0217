/* mod_fast.c -- XEP-0484: Fast Authentication Streamlining Tokens.
 *
 * A client that logs in with SASL2 (sasl2.h) and asks for it with
 * <request-token/> gets a token in the <success/>. From then on it logs
 * in with one of the HT-SHA-256 mechanisms (draft-schmaus-kitten-sasl-
 * ht): one message each way and no password hashing. The client sends
 * its account and HMAC-SHA-256(token, "Initiator" || channel binding);
 * the server answers HMAC-SHA-256(token, "Responder" || channel
 * binding), proving that it knows the token too. -EXPR binds to
 * tls-exporter, -ENDP to tls-server-end-point, -NONE to nothing (for
 * web clients, which cannot see their TLS).
 *
 * A token belongs to one client (its SASL2 user-agent id) of one
 * account and to the mechanism it was asked for. Each client has two
 * slots (XEP-0484 §6.1): a fresh token goes into "new"; a token moves
 * to "cur" when it is first used, replacing the one there. So a client
 * that never received its newest token (the connection broke) still
 * logs in with the one before, and a token stops working as soon as a
 * newer one has been used. A token expires after fast_token_days days;
 * one used in the second half of its life is replaced in the
 * <success/> (rotation); <fast invalidate='true'/> deletes the token
 * used. Tokens are kept in the store (kv, namespace urn:xmpp:fast:0),
 * survive restarts and go with the account; a new password (in-band
 * or with thekectl) revokes them (store.h).
 *
 * FAST is offered where PLAIN is (c2s offers SASL2 only there). The
 * replay counter ('count') matters only for TLS 0-RTT, which theke does
 * not accept, so it is not checked. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cfg.h"
#include "core/crypto.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_util.h"
#include "store/store.h"
#include "xmpp/jid.h"
#include "xmpp/sasl2.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_FAST STORE_NS_LOGIN_TOKENS
#define HT_HASH_LEN 32  /* SHA-256 */
#define TOKEN_LEN 43    /* [A-Za-z0-9]: 256 bits */
#define TOKEN_PREFIX "secret-token:fast-"
#define SLOT_KEY_MAX 48
/* Token slots an account may hold (two per client): any client id gets
 * a token, so without a bound one account could fill the store. The
 * slot that expires first makes room. */
#define MAX_SLOTS 64

/* Best first: bound to the channel where it can be. */
static const struct {
    const char *name;
    const char *cb; /* channel binding type, NULL for none */
} mechs[] = {
    { "HT-SHA-256-EXPR", "tls-exporter" },
    { "HT-SHA-256-ENDP", "tls-server-end-point" },
    { "HT-SHA-256-NONE", NULL },
};
#define NMECHS (sizeof(mechs) / sizeof(mechs[0]))

/* A token as stored: "MECHANISM EXPIRY TOKEN" (expiry in Unix s). */
struct token {
    unsigned mech;
    int64_t expires;
    char secret[sizeof(TOKEN_PREFIX) + TOKEN_LEN];
};

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static int mech_index(const char *name)
{
    for (unsigned i = 0; i < NMECHS; i++)
        if (is(name, mechs[i].name))
            return (int)i;
    return -1;
}

/* The channel binding data of a mechanism on this stream: NULL when
 * it has none to give (then the mechanism is not offered); "" for
 * -NONE. */
static const struct scram_cb *binding(const struct sasl2_ctx *ctx,
                                      unsigned mech)
{
    static const struct scram_cb none = { .type = "", .len = 0 };
    if (!mechs[mech].cb)
        return &none;
    for (unsigned i = 0; i < ctx->ncb; i++)
        if (is(ctx->cbs[i].type, mechs[mech].cb))
            return &ctx->cbs[i];
    return NULL;
}

/* The slot key of a client: a hash of its user-agent id, so the id
 * itself is not kept. */
static void slot_key(const char *ua_id, const char *slot, char *out)
{
    unsigned char d[HT_HASH_LEN];
    crypto_hash(CRYPTO_SHA256, ua_id, strlen(ua_id), d);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    snprintf(out + 32, SLOT_KEY_MAX - 32, ".%s", slot);
}

/* Parses "MECHANISM EXPIRY TOKEN". */
static bool token_parse(const char *v, struct token *t)
{
    const char *sp1 = strchr(v, ' ');
    const char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp2)
        return false;
    char mech[32];
    size_t ml = (size_t)(sp1 - v), tl = strlen(sp2 + 1);
    if (ml >= sizeof(mech) || tl == 0 || tl >= sizeof(t->secret))
        return false;
    memcpy(mech, v, ml);
    mech[ml] = '\0';
    char *end;
    long long expires = strtoll(sp1 + 1, &end, 10);
    if (end != sp2 || mech_index(mech) < 0)
        return false;
    t->mech = (unsigned)mech_index(mech);
    t->expires = expires;
    memcpy(t->secret, sp2 + 1, tl + 1);
    return true;
}

static bool token_load(const char *user, const char *ua_id, const char *slot,
                       struct token *t)
{
    char key[SLOT_KEY_MAX];
    slot_key(ua_id, slot, key);
    struct buf v = BUF_INIT;
    bool ok = store_kv_get(srv.store, user, STORE_NS_LOGIN_TOKENS, key,
                           &v) == 0 &&
              token_parse(buf_cstr(&v), t);
    explicit_bzero(buf_data(&v), buf_used(&v));
    buf_free(&v);
    return ok;
}

static void token_save(const char *user, const char *ua_id, const char *slot,
                       const struct token *t)
{
    char key[SLOT_KEY_MAX], value[128];
    slot_key(ua_id, slot, key);
    int n = snprintf(value, sizeof(value), "%s %" PRId64 " %s",
                     mechs[t->mech].name, t->expires, t->secret);
    store_kv_put(srv.store, user, STORE_NS_LOGIN_TOKENS, key, value, (size_t)n);
    explicit_bzero(value, sizeof(value));
}

static void token_delete(const char *user, const char *ua_id,
                         const char *slot)
{
    char key[SLOT_KEY_MAX];
    slot_key(ua_id, slot, key);
    store_kv_del(srv.store, user, STORE_NS_LOGIN_TOKENS, key);
}

/* HMAC-SHA-256(token, label || channel binding). */
static void ht_hash(const struct token *t, const char *label,
                    const struct scram_cb *cb, unsigned char *out)
{
    size_t ll = strlen(label);
    unsigned char msg[16 + sizeof(cb->data)];
    memcpy(msg, label, ll);
    memcpy(msg + ll, cb->data, cb->len);
    crypto_hmac(CRYPTO_SHA256, t->secret, strlen(t->secret), msg,
                ll + cb->len, out);
}

/* ---- advertising ---- */

static int features(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sasl2_ctx *ctx = h->data;
    if (srv.cfg->fast_token_days == 0)
        return HOOK_PASS;
    struct stanza *fast = stanza_add_child(ctx->features, NS_FAST, "fast");
    for (unsigned i = 0; i < NMECHS; i++)
        if (binding(ctx, i))
            stanza_add_text(stanza_add_child(fast, NS_FAST, "mechanism"),
                            mechs[i].name, strlen(mechs[i].name));
    return HOOK_PASS;
}

/* ---- logging in with a token ---- */

/* <fast invalidate='true'/>: the token used is to be deleted. */
static bool invalidates(const struct sasl2_ctx *ctx)
{
    const struct stanza *fast = stanza_child(ctx->request, NS_FAST, "fast");
    const char *inv = fast ? stanza_attr(fast, "invalidate") : NULL;
    return is(inv, "true") || is(inv, "1");
}

/* Checks the client's proof against one slot; on success answers with
 * the server's proof and moves the token to "cur". */
static const char *try_slot(struct sasl2_ctx *ctx, unsigned mech,
                            const struct scram_cb *cb,
                            const unsigned char *proof, const char *slot,
                            bool *matched)
{
    struct token t;
    *matched = false;
    if (!token_load(ctx->username, ctx->user_agent_id, slot, &t))
        return NULL;
    unsigned char expect[HT_HASH_LEN];
    ht_hash(&t, "Initiator", cb, expect);
    /* A token is bound to the mechanism it was issued for. */
    *matched = t.mech == mech && crypto_equal(expect, proof, HT_HASH_LEN);
    const char *cond = NULL;
    if (*matched && t.expires <= (int64_t)loop_wall_s(srv.loop)) {
        token_delete(ctx->username, ctx->user_agent_id, slot);
        cond = "credentials-expired";
    } else if (*matched) {
        if (invalidates(ctx)) {
            token_delete(ctx->username, ctx->user_agent_id, slot);
        } else if (is(slot, "new")) {
            token_save(ctx->username, ctx->user_agent_id, "cur", &t);
            token_delete(ctx->username, ctx->user_agent_id, "new");
        }
        unsigned char answer[HT_HASH_LEN];
        ht_hash(&t, "Responder", cb, answer);
        buf_append(ctx->additional, (const char *)answer, HT_HASH_LEN);
    }
    explicit_bzero(&t, sizeof(t));
    return cond;
}

static int authenticate(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sasl2_ctx *ctx = h->data;
    int mech = mech_index(ctx->mechanism);
    if (mech < 0) {
        if (!stanza_child(ctx->request, NS_FAST, "fast"))
            return HOOK_PASS; /* not ours */
        ctx->cond = "invalid-mechanism";
        return HOOK_HANDLED;
    }
    const struct scram_cb *cb = binding(ctx, (unsigned)mech);
    /* message = authcid NUL HMAC (32 bytes) */
    const char *nul = ctx->response_len > HT_HASH_LEN
                          ? memchr(ctx->response, '\0', ctx->response_len)
                          : NULL;
    if (!cb || srv.cfg->fast_token_days == 0) {
        ctx->cond = "invalid-mechanism";
        return HOOK_HANDLED;
    }
    if (!nul || nul == ctx->response ||
        ctx->response_len - (size_t)(nul - ctx->response) - 1 !=
            HT_HASH_LEN) {
        ctx->cond = "malformed-request";
        return HOOK_HANDLED;
    }
    struct buf user = BUF_INIT;
    if (jid_nodeprep(ctx->response, (size_t)(nul - ctx->response), &user) <
            0 ||
        buf_used(&user) == 0) {
        buf_free(&user);
        ctx->cond = "not-authorized";
        return HOOK_HANDLED;
    }
    ctx->username = xstrndup(buf_data(&user), buf_used(&user));
    buf_free(&user);
    if (!ctx->user_agent_id) {
        /* Tokens are per client: without its id there is none. */
        ctx->cond = "not-authorized";
        return HOOK_HANDLED;
    }
    const unsigned char *proof = (const unsigned char *)nul + 1;
    bool matched;
    const char *cond = try_slot(ctx, (unsigned)mech, cb, proof, "new",
                                &matched);
    if (!matched)
        cond = try_slot(ctx, (unsigned)mech, cb, proof, "cur", &matched);
    ctx->cond = matched ? cond : "not-authorized";
    return HOOK_HANDLED;
}

/* ---- handing out tokens ---- */

/* How many slots an account holds, and which expires first. */
struct census {
    size_t slots;
    int64_t first_expiry;
    char first_key[SLOT_KEY_MAX];
};

static void count_slot(void *ud, const char *key, const char *value,
                       size_t len)
{
    struct census *c = ud;
    char v[128];
    struct token t;
    c->slots++;
    if (len >= sizeof(v) || strlen(key) >= SLOT_KEY_MAX)
        return;
    memcpy(v, value, len);
    v[len] = '\0';
    if (token_parse(v, &t) && (!c->first_key[0] ||
                               t.expires < c->first_expiry)) {
        c->first_expiry = t.expires;
        memcpy(c->first_key, key, strlen(key) + 1);
    }
    explicit_bzero(v, sizeof(v));
    explicit_bzero(&t, sizeof(t));
}

static void make_room(const char *user)
{
    struct census c = { 0 };
    if (store_kv_list(srv.store, user, STORE_NS_LOGIN_TOKENS, count_slot,
                      &c) == 0 &&
        c.slots >= MAX_SLOTS && c.first_key[0])
        store_kv_del(srv.store, user, STORE_NS_LOGIN_TOKENS, c.first_key);
}

static void issue(struct sasl2_ctx *ctx, const char *user, unsigned mech)
{
    struct token t = { .mech = mech };
    t.expires = (int64_t)loop_wall_s(srv.loop) +
                (int64_t)srv.cfg->fast_token_days * 86400;
    memcpy(t.secret, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
    crypto_random_token(t.secret + sizeof(TOKEN_PREFIX) - 1, TOKEN_LEN);
    make_room(user);
    token_save(user, ctx->user_agent_id, "new", &t);
    char expiry[DATETIME_MAX];
    datetime_format(t.expires * 1000, false, expiry);
    struct stanza *tok = stanza_add_child(ctx->success, NS_FAST, "token");
    stanza_set_attr(tok, "expiry", expiry);
    stanza_set_attr(tok, "token", t.secret);
    explicit_bzero(&t, sizeof(t));
}

/* A token used in the second half of its life is replaced. */
static bool due_for_rotation(const struct sasl2_ctx *ctx, const char *user)
{
    struct token t;
    if (invalidates(ctx) || !token_load(user, ctx->user_agent_id, "cur", &t))
        return false;
    int64_t left = t.expires - (int64_t)loop_wall_s(srv.loop);
    explicit_bzero(&t, sizeof(t));
    return left < (int64_t)srv.cfg->fast_token_days * 86400 / 2;
}

static int success(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sasl2_ctx *ctx = h->data;
    const char *user = h->sess->username;
    if (!ctx->user_agent_id || srv.cfg->fast_token_days == 0)
        return HOOK_PASS;
    const struct stanza *req = stanza_child(ctx->request, NS_FAST,
                                            "request-token");
    int used = mech_index(ctx->mechanism);
    int mech = req ? mech_index(stanza_attr(req, "mechanism")) : used;
    if (mech < 0 || !binding(ctx, (unsigned)mech)) {
        if (req)
            log_info(h->sess->id, "no FAST token for an unknown mechanism");
        return HOOK_PASS;
    }
    if (req || (used >= 0 && due_for_rotation(ctx, user)))
        issue(ctx, user, (unsigned)mech);
    return HOOK_PASS;
}

int mod_fast_init(struct mod *m)
{
    mod_hook(m, "sasl2-features", features, PRIO_DEFAULT);
    mod_hook(m, "sasl2-authenticate", authenticate, PRIO_DEFAULT);
    mod_hook(m, "sasl2-success", success, PRIO_DEFAULT);
    return 0;
}
