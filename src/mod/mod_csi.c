/* mod_csi.c -- XEP-0352: Client State Indication (urn:xmpp:csi:0).
 *
 * A phone app in the background says <inactive/>; the radio then wakes
 * only for what the user needs to see. While a session is inactive:
 *   - presence updates (available and unavailable) from contacts are
 *     held, the latest per sender only, and sent when the client says
 *     <active/> again (or when more than MAX_HELD senders are waiting,
 *     which costs one wake-up instead of unbounded memory);
 *   - messages with nothing but chat states (XEP-0085) are dropped,
 *     and carbon copies (XEP-0280) of such messages too: "typing" is
 *     stale by the time anyone looks;
 *   - everything else (messages with a body, subscription requests,
 *     iq, errors) goes out at once.
 * A stream starts active, a resumed one too (XEP-0198): the held
 * presences are sent after what the resumption sent again.
 *
 * The filter is the "session-out" event (session.h), ahead of stream
 * management so that held stanzas are counted when they are sent. */
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_util.h"
#include "xmpp/sasl2.h"
#include "xmpp/session.h"

#define NS_CSI "urn:xmpp:csi:0"
#define NS_CARBONS "urn:xmpp:carbons:2"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_CLIENT "jabber:client"
#define MAX_HELD 256 /* senders whose presence is held per session */

struct csi {
    bool inactive;
    struct stanza **held; /* latest presence per sender, first come first */
    unsigned nheld;
};

static int slot;

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static void release_held(struct csi *c)
{
    for (unsigned i = 0; i < c->nheld; i++)
        stanza_unref(c->held[i]);
    FREE_NULL(c->held);
    c->nheld = 0;
}

static void csi_free(void *v)
{
    struct csi *c = v;
    release_held(c);
    free(c);
}

/* Sends what is held, in the order the senders first came. */
static void flush(struct session *s, struct csi *c)
{
    struct stanza **held = c->held;
    unsigned n = c->nheld;
    c->held = NULL;
    c->nheld = 0;
    bool inactive = c->inactive;
    c->inactive = false; /* let them through the filter */
    for (unsigned i = 0; i < n; i++) {
        session_send(s, held[i]);
        stanza_unref(held[i]);
    }
    free(held);
    c->inactive = inactive;
}

static void hold(struct session *s, struct csi *c, const struct stanza *p)
{
    const char *from = stanza_attr(p, "from");
    for (unsigned i = 0; i < c->nheld; i++) {
        if (is(stanza_attr(c->held[i], "from"), from)) {
            stanza_unref(c->held[i]);
            c->held[i] = stanza_copy(p);
            return;
        }
    }
    if (c->nheld == MAX_HELD)
        flush(s, c);
    c->held = xrealloc(c->held, (c->nheld + 1) * sizeof(*c->held));
    c->held[c->nheld++] = stanza_copy(p);
}

/* A chat state alone, or the carbon copy of one. */
static bool only_chat_state(const struct stanza *m)
{
    if (message_only_chat_state(m))
        return true;
    const struct stanza *copy = stanza_child(m, NS_CARBONS, "received");
    if (!copy)
        copy = stanza_child(m, NS_CARBONS, "sent");
    const struct stanza *fwd =
        copy ? stanza_child(copy, NS_FORWARD, "forwarded") : NULL;
    const struct stanza *inner =
        fwd ? stanza_child(fwd, NS_CLIENT, "message") : NULL;
    return inner && message_only_chat_state(inner);
}

static int out(struct hook_ctx *h, struct stanza *st)
{
    struct csi *c = session_slot(h->sess, slot);
    if (!c || !c->inactive || !st)
        return HOOK_PASS;
    if (is(st->name, "presence")) {
        const char *type = stanza_attr(st, "type");
        if (type && !is(type, "unavailable"))
            return HOOK_PASS;
        hold(h->sess, c, st);
        return HOOK_HANDLED;
    }
    if (is(st->name, "message") && only_chat_state(st))
        return HOOK_HANDLED;
    return HOOK_PASS;
}

static int element(struct hook_ctx *h, struct stanza *el)
{
    struct session *s = h->sess;
    bool inactive;
    if (is(el->name, "inactive"))
        inactive = true;
    else if (is(el->name, "active"))
        inactive = false;
    else
        return HOOK_PASS;
    struct csi *c = session_slot(s, slot);
    if (!c) {
        if (!inactive)
            return HOOK_HANDLED;
        c = xcalloc(1, sizeof(*c));
        session_slot_set(s, slot, c);
    }
    if (!inactive && c->inactive) {
        c->inactive = false;
        flush(s, c);
    }
    c->inactive = inactive;
    log_debug(s->id, "client %s", inactive ? "inactive" : "active");
    return HOOK_HANDLED;
}

static int resumed(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct csi *c = session_slot(h->sess, slot);
    if (c && c->inactive) {
        c->inactive = false;
        flush(h->sess, c);
    }
    return HOOK_PASS;
}

static int features(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    if (h->sess->authed)
        stanza_add_child(h->data, NS_CSI, "csi");
    return HOOK_PASS;
}

/* Bind 2 (XEP-0386): the session starts in the state the client gives. */
static int bind2_features(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sasl2_ctx *ctx = h->data;
    stanza_set_attr(stanza_add_child(ctx->features, NULL, "feature"), "var",
                    NS_CSI);
    return HOOK_PASS;
}

static int bind2_bound(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sasl2_ctx *ctx = h->data;
    struct stanza *state = stanza_child(ctx->bind, NS_CSI, NULL);
    if (state)
        element(h, state);
    return HOOK_PASS;
}

int mod_csi_init(struct mod *m)
{
    slot = session_slot_new(csi_free);
    mod_hook(m, "stream-features", features, PRIO_DEFAULT);
    mod_hook(m, "stream-element/" NS_CSI, element, PRIO_DEFAULT);
    mod_hook(m, "session-out", out, PRIO_HIGH);
    mod_hook(m, "session-resumed", resumed, PRIO_DEFAULT);
    mod_hook(m, "bind2-features", bind2_features, PRIO_DEFAULT);
    mod_hook(m, "bind2-bound", bind2_bound, PRIO_DEFAULT);
    return 0;
}
