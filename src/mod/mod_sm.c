/* mod_sm.c -- XEP-0198: Stream Management (urn:xmpp:sm:3).
 *
 * Acknowledgements: once a bound client sends <enable/>, both sides count
 * the stanzas they receive (mod 2^32); <r/> asks the other side for its
 * count, <a h=''/> gives it. Every stanza sent to the session is kept,
 * serialised, until the client's count covers it. The server asks for an
 * ack after REQUEST_EVERY unacknowledged stanzas, or REQUEST_AFTER_MS
 * after the first one.
 *
 * Resumption: with <enable resume='true'/>, a session whose connection
 * breaks (c2s "session-detached") stays bound, keeps its presence and
 * queues what arrives for it, for sm_resume_timeout seconds (or less if
 * the client asked for less). A new connection of the same account
 * sends <resume previd='' h=''/> instead of binding: the old session's
 * state moves into it (c2s_session_take_over(), which also closes the
 * old connection if the server had not noticed it was gone yet), the
 * stanzas the client did not confirm are sent again in their order, and
 * the session goes on.
 *
 * Nothing accepted is lost: when a session with unacknowledged stanzas
 * ends in any other way (timeout, stream error, clean close, shutdown),
 * its messages of type chat or normal go to offline storage
 * ("message/offline", with their arrival time as an XEP-0203 delay),
 * except copies that other resources of the account already got
 * (carbons, archive results, chat to the bare JID with another resource
 * online), and its iq requests are answered with
 * <service-unavailable/>. A queue longer than sm_max_unacked, or larger
 * than MAX_QUEUE_STANZAS_OF_MAX_SIZE stanzas of max_stanza_size, ends
 * the session with <policy-violation/>.
 *
 * Not here: the transport (c2s.c, any carrier) and offline storage
 * itself (mod_offline.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cfg.h"
#include "core/crypto.h"
#include "core/hmap.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_util.h"
#include "xml/xser.h"
#include "xml/xstream.h"
#include "xmpp/c2s.h"
#include "xmpp/errors.h"
#include "xmpp/router.h"
#include "xmpp/sasl2.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_SM "urn:xmpp:sm:3"
#define NS_CLIENT "jabber:client"
#define NS_CARBONS "urn:xmpp:carbons:2"
#define NS_MAM "urn:xmpp:mam:2"

#define REQUEST_EVERY 5        /* unacked stanzas before asking at once */
#define REQUEST_AFTER_MS 5000  /* ask for fewer ones after this long */
#define ID_LEN 24
/* Bytes a queue may hold, in stanzas of the largest size: with few
 * enough big stanzas the count limit alone would let one session hold
 * sm_max_unacked times max_stanza_size. */
#define MAX_QUEUE_STANZAS_OF_MAX_SIZE 16

/* One stanza sent and not yet acknowledged. */
struct entry {
    char *xml;        /* owned, serialised with jabber:client in scope */
    size_t len;
    int64_t stamp_ms; /* wall clock when it was sent, for XEP-0203 */
    char kind;        /* 'm'essage, 'p'resence, 'i'q */
    signed char keep; /* message worth storing offline: 1, 0, or -1 to be
                         decided from its XML when needed */
};

/* The unacknowledged stanzas, oldest first, in a ring. */
struct queue {
    struct entry *v;
    uint32_t cap;   /* power of two, or 0 */
    uint32_t head;  /* index of the oldest */
    uint32_t n;
    uint32_t acked; /* the client's h so far: stanzas it confirmed */
    size_t bytes;   /* XML held */
};

struct sm {
    struct session *s;      /* the owner; follows it on resumption */
    struct queue q;
    uint32_t in;            /* stanzas handled from the client (our h) */
    bool resumable;
    bool ended;             /* the session ended: nothing more is kept */
    bool requested;         /* an <r/> is outstanding */
    bool overflowed;        /* <policy-violation/> given */
    bool resend_due;        /* resumed inside SASL2: send the queue again
                               once <success/> is out */
    unsigned timeout_s;     /* granted resumption time */
    char id[ID_LEN + 1];    /* previd for <resume/>, when resumable */
    struct timer timer;     /* ack request, or the end of hibernation */
};

static int slot;
static struct hmap by_id = HMAP_INIT; /* id -> struct sm (resumable) */
static struct timer commit_nudge;

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

/* ---- the queue; h arithmetic is mod 2^32 (XEP-0198 §4) ---- */

static struct entry *queue_at(const struct queue *q, uint32_t i)
{
    return &q->v[(q->head + i) & (q->cap - 1)];
}

static void queue_push(struct queue *q, struct entry e)
{
    if (q->n == q->cap) {
        uint32_t cap = q->cap ? q->cap * 2 : 8;
        struct entry *v = xmalloc(cap * sizeof(*v));
        for (uint32_t i = 0; i < q->n; i++)
            v[i] = *queue_at(q, i);
        free(q->v);
        q->v = v;
        q->cap = cap;
        q->head = 0;
    }
    *queue_at(q, q->n++) = e;
    q->bytes += e.len;
}

static void queue_pop(struct queue *q)
{
    q->bytes -= queue_at(q, 0)->len;
    free(queue_at(q, 0)->xml);
    q->head = (q->head + 1) & (q->cap - 1);
    q->n--;
}

/* The client says it has handled h stanzas in all. Drops what that
 * covers; -1 when h confirms more than was ever sent. */
static int queue_ack(struct queue *q, uint32_t h)
{
    uint32_t newly = h - q->acked; /* wraps as the counters do */
    if (newly > q->n)
        return -1;
    for (uint32_t i = 0; i < newly; i++)
        queue_pop(q);
    q->acked = h;
    return 0;
}

static void queue_free(struct queue *q)
{
    while (q->n)
        queue_pop(q);
    FREE_NULL(q->v);
    q->cap = q->head = 0;
}

/* A decimal h in [0, 2^32); -1 for anything else. */
static int parse_h(const char *v, uint32_t *out)
{
    if (!v || !*v || strlen(v) > 10)
        return -1;
    uint64_t n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (n > UINT32_MAX)
        return -1;
    *out = (uint32_t)n;
    return 0;
}

/* ---- output ---- */

static void send_nonza(struct session *s, const char *xml)
{
    session_write_raw(s, xml, strlen(xml));
}

/* Gives an answer to the client: on its own, or inside the SASL2
 * <success/> or Bind 2 <bound/> that carries it (parent). */
static void answer(struct session *s, struct stanza *parent,
                   struct stanza *reply)
{
    if (parent)
        stanza_add_copy(parent, reply);
    else
        session_write(s, reply);
    stanza_unref(reply);
}

static void send_failed(struct session *s, struct stanza *parent,
                        const char *cond, uint32_t *h)
{
    struct stanza *f = stanza_new(NS_SM, "failed");
    if (h) {
        char num[16];
        snprintf(num, sizeof(num), "%u", (unsigned)*h);
        stanza_set_attr(f, "h", num);
    }
    stanza_add_child(f, NS_STANZAS, cond);
    answer(s, parent, f);
}

static void on_timer(struct loop *l, void *ud);

static void request_ack(struct sm *sm)
{
    sm->requested = true;
    send_nonza(sm->s, "<r xmlns='" NS_SM "'/>");
}

/* ---- what happens to stanzas nobody confirmed ---- */

/* A message that only this resource got, and that is worth keeping:
 * chat or normal, not a copy of something another resource has. */
static bool worth_keeping(const struct stanza *m)
{
    const char *type = stanza_attr(m, "type");
    if (type && !is(type, "chat") && !is(type, "normal"))
        return false;
    if (stanza_child(m, NS_CARBONS, "received") ||
        stanza_child(m, NS_CARBONS, "sent") ||
        stanza_child(m, NS_MAM, "result"))
        return false;
    return true;
}

/* RFC 6121 §8.5.2.1: chat to the bare JID reached every resource of
 * non-negative priority, normal the ones of the highest priority. */
static bool also_delivered_elsewhere(struct session *s, const struct stanza *m)
{
    const char *to = stanza_attr(m, "to");
    if (!to || strchr(to, '/'))
        return false;
    bool chat = is(stanza_attr(m, "type"), "chat");
    for (struct session *o = sessions_of_user(s->username); o;
         o = o->next_of_user) {
        if (o == s || !o->available || o->priority < 0)
            continue;
        if (chat || o->priority == s->priority)
            return true;
    }
    return false;
}

static void commit_soon(struct loop *l, void *ud)
{
    (void)l;
    (void)ud;
}

static void keep_offline(struct sm *sm, struct entry *e)
{
    struct stanza *st = xstream_parse_one(e->xml, e->len);
    if (!st)
        return;
    if (e->kind == 'i') {
        const char *type = stanza_attr(st, "type");
        if (is(type, "get") || is(type, "set"))
            router_bounce(st, SE_SERVICE_UNAVAILABLE, NULL);
    } else if (e->keep == 1 || (e->keep < 0 && worth_keeping(st))) {
        delay_add(st, e->stamp_ms);
        struct jid to = JID_INIT, from = JID_INIT;
        jid_copy(&to, &sm->s->jid);
        const char *f = stanza_attr(st, "from");
        if (f)
            jid_parse(&from, f, strlen(f));
        struct hook_ctx h = { .from = &from, .to = &to,
                              .user = sm->s->username };
        int r = hooks_fire("message/offline", &h, st);
        if (r < 0)
            router_bounce(st, (enum stanza_error)-r, NULL);
        jid_free(&to);
        jid_free(&from);
    }
    stanza_unref(st);
}

/* The session ends for good: what it did not confirm goes where it is
 * not lost. */
static void end_queue(struct sm *sm)
{
    if (sm->ended)
        return;
    sm->ended = true;
    timer_stop(srv.loop, &sm->timer);
    if (sm->resumable && hmap_get(&by_id, sm->id) == sm)
        hmap_del(&by_id, sm->id);
    if (sm->q.n)
        log_info(sm->s->id, "%u unacknowledged stanzas handed on",
                 (unsigned)sm->q.n);
    for (uint32_t i = 0; i < sm->q.n; i++) {
        struct entry *e = queue_at(&sm->q, i);
        if (e->kind == 'i' || (e->kind == 'm' && e->keep != 0))
            keep_offline(sm, e);
    }
    queue_free(&sm->q);
    /* This may run in the before-sleep step after the turn's commit;
     * a turn of its own commits the stored messages now. */
    timer_start(srv.loop, &commit_nudge, 0, commit_soon, NULL);
}

static void sm_free(void *v)
{
    struct sm *sm = v;
    timer_stop(srv.loop, &sm->timer);
    if (sm->resumable && hmap_get(&by_id, sm->id) == sm)
        hmap_del(&by_id, sm->id);
    queue_free(&sm->q);
    free(sm);
}

static void on_timer(struct loop *l, void *ud)
{
    (void)l;
    struct sm *sm = ud;
    if (!sm->s->conn) {
        log_info(sm->s->id, "not resumed within %u s", sm->timeout_s);
        c2s_session_release(sm->s);
        return;
    }
    if (sm->q.n && !sm->requested)
        request_ack(sm);
}

/* ---- hooks ---- */

static int features(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    /* Not again once it is on (enabled or resumed inside SASL2). */
    if (h->sess->authed && !session_slot(h->sess, slot))
        stanza_add_child(h->data, NS_SM, "sm");
    return HOOK_PASS;
}

static int out(struct hook_ctx *h, struct stanza *st)
{
    struct session *s = h->sess;
    struct sm *sm = session_slot(s, slot);
    if (!sm || sm->ended)
        return HOOK_PASS;
    struct session_out *o = h->data;
    struct entry e = { .stamp_ms = loop_wall_s(srv.loop) * 1000 };
    if (st) {
        struct buf b = BUF_INIT;
        xser_write(st, NS_CLIENT, &b);
        e.len = buf_used(&b);
        e.xml = xmalloc(e.len);
        memcpy(e.xml, buf_data(&b), e.len);
        buf_free(&b);
        e.kind = st->name[0];
        e.keep = e.kind == 'm' && worth_keeping(st) &&
                 !also_delivered_elsewhere(s, st);
    } else {
        e.len = o->len;
        e.xml = xmalloc(e.len);
        memcpy(e.xml, o->xml, e.len);
        e.kind = e.len > 1 ? e.xml[1] : 'i';
        e.keep = -1;
    }
    queue_push(&sm->q, e);
    if (s->conn) {
        session_write_raw(s, e.xml, e.len);
        if (!sm->requested) {
            if (sm->q.n >= REQUEST_EVERY)
                request_ack(sm);
            else if (!timer_armed(&sm->timer))
                timer_start(srv.loop, &sm->timer, REQUEST_AFTER_MS, on_timer,
                            sm);
        }
    }
    size_t max_bytes =
        srv.cfg->max_stanza_size * MAX_QUEUE_STANZAS_OF_MAX_SIZE;
    if ((sm->q.n > srv.cfg->sm_max_unacked || sm->q.bytes > max_bytes) &&
        !sm->overflowed) {
        sm->overflowed = true;
        log_info(s->id, "%u stanzas (%zu bytes) unacknowledged",
                 (unsigned)sm->q.n, sm->q.bytes);
        c2s_stream_error(s, "policy-violation",
                         "too many unacknowledged stanzas");
    }
    return HOOK_HANDLED;
}

static int in(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sm *sm = session_slot(h->sess, slot);
    if (sm)
        sm->in++;
    return HOOK_PASS;
}

static void enable(struct session *s, const struct stanza *el,
                   struct stanza *parent)
{
    if (!s->bound || session_slot(s, slot)) {
        send_failed(s, parent, "unexpected-request", NULL);
        return;
    }
    struct sm *sm = xcalloc(1, sizeof(*sm));
    sm->s = s;
    const char *resume = stanza_attr(el, "resume");
    sm->resumable = srv.cfg->sm_resume_timeout > 0 &&
                    (is(resume, "true") || is(resume, "1"));
    sm->timeout_s = srv.cfg->sm_resume_timeout;
    uint32_t max;
    if (parse_h(stanza_attr(el, "max"), &max) == 0 && max > 0 &&
        max < sm->timeout_s)
        sm->timeout_s = max;
    session_slot_set(s, slot, sm);
    struct stanza *r = stanza_new(NS_SM, "enabled");
    if (sm->resumable) {
        do
            crypto_random_token(sm->id, ID_LEN);
        while (hmap_get(&by_id, sm->id));
        hmap_put(&by_id, sm->id, sm);
        char num[16];
        snprintf(num, sizeof(num), "%u", sm->timeout_s);
        stanza_set_attr(r, "id", sm->id);
        stanza_set_attr(r, "resume", "true");
        stanza_set_attr(r, "max", num);
    }
    answer(s, parent, r);
    log_debug(s->id, "stream management on%s",
              sm->resumable ? ", resumable" : "");
}

/* Sends what the old connection left unconfirmed, in its order. */
static void resend(struct sm *sm)
{
    struct session *s = sm->s;
    sm->resend_due = false;
    for (uint32_t i = 0; i < sm->q.n; i++) {
        struct entry *e = queue_at(&sm->q, i);
        session_write_raw(s, e->xml, e->len);
    }
    log_info(s->id, "resumed, %u stanzas sent again", (unsigned)sm->q.n);
    if (sm->q.n)
        request_ack(sm);
    struct hook_ctx hc = { .sess = s, .from = &s->jid };
    hooks_fire("session-resumed", &hc, NULL);
}

/* parent: the SASL2 <success/> when resuming inside SASL2; the stanzas
 * are sent again after it then (sasl2_done()). */
static void resume(struct session *s, const struct stanza *el,
                   struct stanza *parent)
{
    if (!s->authed || s->bound || session_slot(s, slot)) {
        send_failed(s, parent, "unexpected-request", NULL);
        return;
    }
    const char *previd = stanza_attr(el, "previd");
    struct sm *sm = previd ? hmap_get(&by_id, previd) : NULL;
    uint32_t h;
    if (!sm || sm->ended || !is(sm->s->username, s->username)) {
        log_info(s->id, "nothing to resume");
        send_failed(s, parent, "item-not-found", NULL);
        return;
    }
    if (parse_h(stanza_attr(el, "h"), &h) < 0 || queue_ack(&sm->q, h) < 0) {
        send_failed(s, parent, "unexpected-request", &sm->in);
        return;
    }
    struct session *old = sm->s;
    timer_stop(srv.loop, &sm->timer);
    c2s_session_take_over(s, old); /* sm moved into s's slot */
    sm->s = s;
    sm->requested = false;
    struct stanza *r = stanza_new(NS_SM, "resumed");
    char num[16];
    snprintf(num, sizeof(num), "%u", (unsigned)sm->in);
    stanza_set_attr(r, "h", num);
    stanza_set_attr(r, "previd", sm->id);
    answer(s, parent, r);
    if (parent)
        sm->resend_due = true;
    else
        resend(sm);
}

static int element(struct hook_ctx *h, struct stanza *el)
{
    struct session *s = h->sess;
    struct sm *sm = session_slot(s, slot);
    if (is(el->name, "enable")) {
        enable(s, el, NULL);
    } else if (is(el->name, "resume")) {
        resume(s, el, NULL);
    } else if (is(el->name, "r")) {
        if (!sm) {
            send_failed(s, NULL, "unexpected-request", NULL);
        } else {
            char xml[64];
            snprintf(xml, sizeof(xml), "<a xmlns='" NS_SM "' h='%u'/>",
                     (unsigned)sm->in);
            send_nonza(s, xml);
        }
    } else if (is(el->name, "a")) {
        uint32_t n;
        if (!sm) {
            send_failed(s, NULL, "unexpected-request", NULL);
        } else if (parse_h(stanza_attr(el, "h"), &n) < 0 ||
                   queue_ack(&sm->q, n) < 0) {
            c2s_stream_error(s, "undefined-condition",
                             "acknowledged stanzas that were never sent");
        } else {
            sm->requested = false;
            if (!sm->q.n)
                timer_stop(srv.loop, &sm->timer);
        }
    } else {
        return HOOK_PASS;
    }
    return HOOK_HANDLED;
}

static int detached(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sm *sm = session_slot(h->sess, slot);
    if (!sm || !sm->resumable || sm->ended || sm->overflowed)
        return HOOK_PASS;
    sm->requested = false;
    timer_start(srv.loop, &sm->timer, (uint64_t)sm->timeout_s * 1000,
                on_timer, sm);
    return HOOK_HANDLED;
}

static int closed(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sm *sm = session_slot(h->sess, slot);
    if (sm)
        end_queue(sm);
    return HOOK_PASS;
}

/* ---- inline in SASL2 and Bind 2 (XEP-0198 §4, XEP-0386) ---- */

static int sasl2_features(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sasl2_ctx *ctx = h->data;
    stanza_add_child(ctx->features, NS_SM, "sm");
    return HOOK_PASS;
}

static int bind2_features(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sasl2_ctx *ctx = h->data;
    stanza_set_attr(stanza_add_child(ctx->features, NULL, "feature"), "var",
                    NS_SM);
    return HOOK_PASS;
}

static int sasl2_success(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sasl2_ctx *ctx = h->data;
    const struct stanza *el = stanza_child(ctx->request, NS_SM, "resume");
    if (el)
        resume(h->sess, el, ctx->success);
    return HOOK_PASS;
}

static int bind2_bound(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sasl2_ctx *ctx = h->data;
    const struct stanza *el = stanza_child(ctx->bind, NS_SM, "enable");
    if (el)
        enable(h->sess, el, ctx->bound);
    return HOOK_PASS;
}

static int sasl2_done(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sm *sm = session_slot(h->sess, slot);
    if (sm && sm->resend_due)
        resend(sm);
    return HOOK_PASS;
}

static void shutdown_sm(void)
{
    timer_stop(srv.loop, &commit_nudge);
    hmap_free(&by_id);
}

int mod_sm_init(struct mod *m)
{
    slot = session_slot_new(sm_free);
    mod_hook(m, "stream-features", features, PRIO_DEFAULT);
    mod_hook(m, "stream-element/" NS_SM, element, PRIO_DEFAULT);
    mod_hook(m, "session-out", out, PRIO_DEFAULT);
    mod_hook(m, "session-in", in, PRIO_DEFAULT);
    mod_hook(m, "session-detached", detached, PRIO_DEFAULT);
    mod_hook(m, "sasl2-features", sasl2_features, PRIO_DEFAULT);
    mod_hook(m, "bind2-features", bind2_features, PRIO_DEFAULT);
    mod_hook(m, "sasl2-success", sasl2_success, PRIO_DEFAULT);
    mod_hook(m, "bind2-bound", bind2_bound, PRIO_DEFAULT);
    mod_hook(m, "sasl2-done", sasl2_done, PRIO_DEFAULT);
    /* Before presence says goodbye, so the queue holds only what the
     * client really missed. */
    mod_hook(m, "session-closed", closed, PRIO_HIGH);
    mod_on_shutdown(m, shutdown_sm);
    return 0;
}
