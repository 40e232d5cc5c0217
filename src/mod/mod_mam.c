/* mod_mam.c -- XEP-0313: Message Archive Management (urn:xmpp:mam:2),
 * with paging by Result Set Management (XEP-0059), stanza ids
 * (XEP-0359) and the storage hints of XEP-0334.
 *
 * Every account archives both directions of its one-to-one messages
 * that carry a body (or a <store/> hint): chat and normal, never errors,
 * headlines, group chat or chat states alone, nor anything marked
 * <no-store/> or <no-permanent-store/>. Outgoing messages are archived
 * on "pre-message", incoming ones on "message/bare" and "message/full"
 * before delivery, where the message also gets the archive id as its
 * <stanza-id by='user@domain'/>; stanza-ids that claim to be ours but
 * came with the message are removed first, so clients can trust them.
 * An outgoing message carries the sender's archive id the same way
 * while the sender's side handles it (priority PRIO_HIGH / 2 on
 * "pre-message"), so that copies to the sender's other resources
 * (XEP-0280 sent carbons, hooked in between) tell clients its archive
 * id; it is taken off again (PRIO_LOW * 10) before the message is
 * routed to its addressee.
 *
 * Queries take the form fields with, start, end, before-id, after-id and
 * ids (#extended), RSM max/after/before (an empty <before/> is the last
 * page) and <flip-page/>. A page holds at most PAGE_MAX messages and
 * about max_stanza_size * 2 bytes, so one query can neither flood the
 * client's connection past its output cap nor hold the loop long.
 * RSM <index/> is not supported (it would need counting rows to skip).
 *
 * Preferences (default always|never|roster, always and never lists) are
 * kept per account in the store's key-value table. Messages older than
 * archive_retention_days are purged in batches on a timer, one batch per
 * loop turn, so a large purge never stalls other work.
 *
 * Archive ids come from the store: unique and unguessable, they are
 * the stanza ids too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/cfg.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/hmap.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_util.h"
#include "store/store.h"
#include "xml/xser.h"
#include "xmpp/errors.h"
#include "xmpp/sasl2.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_MAM "urn:xmpp:mam:2"
#define NS_MAM_EXT "urn:xmpp:mam:2#extended"
#define NS_SID "urn:xmpp:sid:0"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_DELAY "urn:xmpp:delay"
#define NS_HINTS "urn:xmpp:hints"
#define NS_CLIENT "jabber:client"

#define PAGE_DEFAULT 50   /* messages per page when the client sets none */
#define PAGE_MAX 250      /* messages per page at most */
#define PREFS_MAX 250     /* JIDs in the always and never lists together */
#define ID_LEN STORE_ARCHIVE_ID_MAX /* ids come from the store */
#define PURGE_BATCH 500   /* rows deleted per loop turn */
#define PURGE_FIRST_MS 2000
#define PURGE_EVERY_MS (3600 * 1000)
#define BARE_MAX (2 * JID_PART_MAX + 2)

enum prefs_default { PREFS_ALWAYS, PREFS_NEVER, PREFS_ROSTER };

static const char *const default_names[] = { "always", "never", "roster" };

struct prefs {
    enum prefs_default def;
    char **always; /* owned bare or full JIDs */
    size_t nalways;
    char **never;
    size_t nnever;
};

static struct timer purge_timer;

/* The text of the message archived last. The recipient's copy of a
 * message is archived right after the sender's and is usually the same
 * message unchanged: its text is reused rather than serialised again
 * (and the store keeps one copy for both). The sender's stanza-id, added
 * and taken off again in between, is allowed for (marked). */
static struct {
    bool valid;                  /* xml is the text of the tree at v */
    struct stanza_version v;
    bool marked;                 /* v plus our one stanza-id is at marked_v */
    struct stanza_version marked_v;
    struct buf xml;
} last;

static bool same_version(struct stanza_version a, struct stanza_version b)
{
    return a.tree == b.tree && a.gen == b.gen;
}

static bool is(const char *a, const char *b)
{
    return a && stanza_same(a, b);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void bare_of_user(char *out, const char *username)
{
    /* Both parts are at most JID_PART_MAX bytes (nodeprep, the
     * configured domain); no snprintf for every message. */
    size_t u = strnlen(username, JID_PART_MAX);
    size_t d = strnlen(srv.domain, JID_PART_MAX);
    memcpy(out, username, u);
    out[u] = '@';
    memcpy(out + u + 1, srv.domain, d);
    out[u + 1 + d] = '\0';
}

/* ---- preferences ---- */

static void prefs_free(struct prefs *p)
{
    for (size_t i = 0; i < p->nalways; i++)
        free(p->always[i]);
    for (size_t i = 0; i < p->nnever; i++)
        free(p->never[i]);
    free(p->always);
    free(p->never);
    memset(p, 0, sizeof(*p));
}

static void list_add(char ***v, size_t *n, const char *s, size_t len)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = xstrndup(s, len);
}

/* Stored form: the default on the first line, then "+jid" (always) and
 * "-jid" (never) lines. JIDs are normalised, so they hold no newline. */
/* Accounts known to have no stored preferences (the defaults): most
 * have none, and every archived message asks. Bounded; forgotten when
 * full, and an account's entry when it sets preferences. */
#define NO_PREFS_MAX 65536
static struct hmap no_prefs = HMAP_INIT;

static void prefs_load(const char *user, struct prefs *p)
{
    memset(p, 0, sizeof(*p));
    if (hmap_get(&no_prefs, user))
        return;
    struct buf b = BUF_INIT;
    int r = store_kv_get(srv.store, user, NS_MAM, "prefs", &b);
    if (r == -ERR_NOTFOUND) {
        if (no_prefs.count >= NO_PREFS_MAX)
            hmap_free(&no_prefs);
        hmap_put(&no_prefs, user, (void *)1);
    }
    if (r == 0) {
        const char *s = buf_cstr(&b), *end = s + buf_used(&b);
        bool first = true;
        while (s < end) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
            if (first) {
                for (int i = 0; i < 3; i++)
                    if (len == strlen(default_names[i]) &&
                        memcmp(s, default_names[i], len) == 0)
                        p->def = (enum prefs_default)i;
                first = false;
            } else if (len > 1 && s[0] == '+') {
                list_add(&p->always, &p->nalways, s + 1, len - 1);
            } else if (len > 1 && s[0] == '-') {
                list_add(&p->never, &p->nnever, s + 1, len - 1);
            }
            s += len + 1;
        }
    }
    buf_free(&b);
}

static int prefs_save(const char *user, const struct prefs *p)
{
    hmap_del(&no_prefs, user);
    struct buf b = BUF_INIT;
    buf_printf(&b, "%s", default_names[p->def]);
    for (size_t i = 0; i < p->nalways; i++)
        buf_printf(&b, "\n+%s", p->always[i]);
    for (size_t i = 0; i < p->nnever; i++)
        buf_printf(&b, "\n-%s", p->never[i]);
    int r = store_kv_put(srv.store, user, NS_MAM, "prefs", buf_data(&b),
                         buf_used(&b));
    buf_free(&b);
    return r;
}

static bool listed(char *const *v, size_t n, const char *bare,
                   const char *full)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], bare) == 0 || (full && strcmp(v[i], full) == 0))
            return true;
    return false;
}

/* Whether user's preferences let a message with 'with' be archived.
 * The never list wins over the always list: keeping less is the safe
 * side of a contradiction. */
static bool prefs_allow(const char *user, const struct jid *with)
{
    struct prefs p;
    prefs_load(user, &p);
    if (p.def == PREFS_ALWAYS && p.nnever == 0) {
        prefs_free(&p);
        return true;
    }
    char *bare = jid_bare_dup(with);
    const char *full = jid_has_resource(with) ? with->s : NULL;
    bool ok;
    if (listed(p.never, p.nnever, bare, full))
        ok = false;
    else if (listed(p.always, p.nalways, bare, full))
        ok = true;
    else if (p.def == PREFS_ROSTER) {
        struct roster_item it;
        ok = store_roster_get(srv.store, user, bare, &it) == 0;
        roster_item_free(&it);
    } else {
        ok = p.def == PREFS_ALWAYS;
    }
    free(bare);
    prefs_free(&p);
    return ok;
}

/* ---- archiving live messages ---- */

/* XEP-0313 §5: one-to-one messages with a body, unless a hint says no. */
static bool archivable(const struct stanza *m)
{
    const char *type = stanza_attr(m, "type");
    if (type && !is(type, "chat") && !is(type, "normal"))
        return false;
    /* One pass over the children for the body and the three hints. */
    bool wanted = false;
    for (unsigned i = 0; i < m->nchildren; i++) {
        const struct stanza *c = m->children[i].elem;
        if (!c)
            continue;
        if (is(c->ns, NS_HINTS)) {
            if (is(c->name, "no-store") || is(c->name, "no-permanent-store"))
                return false;
            wanted = wanted || is(c->name, "store");
        } else if (is(c->ns, NS_CLIENT) && is(c->name, "body")) {
            wanted = true;
        }
    }
    return wanted;
}

/* XEP-0359 §3.1: a stanza-id by our account that we did not add could
 * be forged; it goes, whether or not this message is archived. Returns
 * how many went. */
static int strip_stanza_ids(struct stanza *m, const char *bare)
{
    int n = 0;
    struct stanza *c = stanza_next_child(m, NULL, NS_SID, "stanza-id");
    while (c) {
        struct stanza *next = stanza_next_child(m, c, NS_SID, "stanza-id");
        const char *by = stanza_attr(c, "by");
        /* The usual case, our own mark, is equal as written; any other
         * spelling of the account (case, Unicode forms) after parsing. */
        bool ours = by && strcmp(by, bare) == 0;
        if (by && !ours) {
            struct jid j = JID_INIT;
            ours = jid_parse(&j, by, strlen(by)) == 0 && strcmp(j.s, bare) == 0;
            jid_free(&j);
        }
        if (ours) {
            stanza_remove_child(m, c);
            n++;
        }
        c = next;
    }
    return n;
}

/* Appends m to user's archive under a new id (written to id). */
static int archive(const char *user, const struct stanza *m,
                   const struct jid *with, char *id)
{
    struct stanza_version v = stanza_version(m);
    if (!last.valid || !same_version(last.v, v)) {
        /* Written as it will be inside <forwarded/>, xmlns included. */
        buf_reset(&last.xml);
        xser_write(m, NS_FORWARD, &last.xml);
        last.valid = true;
        last.v = v;
    }
    last.marked = false;
    /* The bare JID is the front of with->s, the resource its tail. */
    struct str b = jid_bare(with);
    char bare[BARE_MAX];
    if (b.len >= sizeof(bare))
        return -1;
    memcpy(bare, b.p, b.len);
    bare[b.len] = '\0';
    const char *resource = jid_has_resource(with) ? with->s + b.len + 1 : "";
    struct archive_msg am = { NULL, now_ms(), bare, resource,
                              buf_data(&last.xml), buf_used(&last.xml) };
    return store_archive_append(srv.store, user, &am, id);
}

/* Tells the serialiser what m, just archived as last.xml and then given
 * the stanza-id sid as its last child, looks like on a c2s stream: the
 * archived text without its xmlns, sid before the end tag. The
 * recipient's delivery then copies it instead of serialising again. */
static void memo_delivered(const struct stanza *m, const struct stanza *sid)
{
    static const char decl[] = " xmlns='" NS_CLIENT "'";
    const size_t decl_len = sizeof(decl) - 1;
    const char *xml = buf_data(&last.xml);
    size_t len = buf_used(&last.xml);
    size_t name_len = strlen(m->name);
    size_t head = 1 + name_len;     /* "<message" */
    size_t end_tag = name_len + 3; /* "</message>" */
    if (!is(m->ns, NS_CLIENT) || len < head + decl_len + end_tag ||
        memcmp(xml + head, decl, decl_len) != 0 ||
        memcmp(xml + len - end_tag, "</", 2) != 0 ||
        memcmp(xml + len - end_tag + 2, m->name, name_len) != 0)
        return;
    struct buf *b = xser_memo_open(stanza_version(m), NS_CLIENT);
    if (!b)
        return;
    buf_append(b, xml, head);
    buf_append(b, xml + head + decl_len, len - end_tag - head - decl_len);
    xser_write(sid, m->ns, b);
    buf_append(b, xml + len - end_tag, end_tag);
}

/* Archives m in user's archive (with: the other party) when it is
 * archivable and the preferences allow, and marks it with the archive
 * id. Stanza-ids claiming to be the account's go first either way. */
static void archive_and_mark(const char *user, struct stanza *m,
                             const struct jid *with, unsigned long conn,
                             bool to_user)
{
    char bare[BARE_MAX];
    bare_of_user(bare, user);
    strip_stanza_ids(m, bare);
    if (!archivable(m) || !with->s || !prefs_allow(user, with))
        return;
    char id[ID_LEN + 1];
    if (archive(user, m, with, id) < 0) {
        log_warn(conn, "mam: could not archive");
        return;
    }
    bool fresh = last.valid && same_version(last.v, stanza_version(m));
    struct stanza *sid = stanza_add_child(m, NS_SID, "stanza-id");
    stanza_append_attr(sid, NULL, 0, "by", 2, bare, strlen(bare), 1);
    stanza_append_attr(sid, NULL, 0, "id", 2, id, strlen(id), 0);
    last.marked = fresh;
    last.marked_v = stanza_version(m);
    if (fresh && to_user)
        memo_delivered(m, sid);
}

static int incoming(struct hook_ctx *h, struct stanza *m)
{
    if (h->from)
        archive_and_mark(h->user, m, h->from, h->sess ? h->sess->id : 0,
                         true);
    return HOOK_PASS;
}

static int outgoing(struct hook_ctx *h, struct stanza *m)
{
    struct session *s = h->sess;
    /* Messages to the account itself are archived once, on arrival;
     * messages to the server are no conversation. */
    if (s && jid_has_node(h->to) && !jid_bare_equal(h->from, h->to))
        archive_and_mark(s->username, m, h->to, s->id, false);
    return HOOK_PASS;
}

/* The sender's archive id is for the sender's own resources only. */
static int outgoing_done(struct hook_ctx *h, struct stanza *m)
{
    if (h->sess) {
        char bare[BARE_MAX];
        bare_of_user(bare, h->sess->username);
        /* Taking off just the stanza-id archive_and_mark() added gives
         * back the message whose text is kept. */
        bool marked =
            last.marked && same_version(last.marked_v, stanza_version(m));
        if (strip_stanza_ids(m, bare) == 1 && marked)
            last.v = stanza_version(m);
        last.marked = false;
    }
    return HOOK_PASS;
}

/* ---- queries ---- */

struct row {
    char *id;     /* owned */
    int64_t ts_ms;
    char *xml;    /* owned */
    size_t len;
};

struct page {
    struct row *v;
    size_t n, cap;
    size_t bytes;  /* XML held */
    size_t budget; /* stop holding rows past this many bytes */
    bool cut;      /* rows were left out for the budget */
};

static void page_add(void *ud, const struct archive_msg *m)
{
    struct page *p = ud;
    if (p->n > 0 && p->bytes + m->len > p->budget) {
        p->cut = true;
        return;
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
    }
    p->v[p->n++] = (struct row){ xstrdup(m->id), m->ts_ms,
                                 xstrndup(m->xml, m->len), m->len };
    p->bytes += m->len;
}

static void page_free(struct page *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].id);
        free(p->v[i].xml);
    }
    free(p->v);
    memset(p, 0, sizeof(*p));
}

static void page_reverse(struct page *p)
{
    for (size_t i = 0, j = p->n; i + 1 < j; i++, j--) {
        struct row t = p->v[i];
        p->v[i] = p->v[j - 1];
        p->v[j - 1] = t;
    }
}

static void attr(struct buf *b, const char *name, const char *value)
{
    buf_printf(b, " %s='", name);
    xser_escape_attr(value, strlen(value), b);
    buf_append(b, "'", 1);
}

/* XEP-0313 §4.2: each result is a message to the querying resource
 * around the archived one, which goes out as stored. */
static void send_result(struct session *s, const char *queryid,
                        const struct row *r)
{
    struct buf b = BUF_INIT;
    char stamp[DATETIME_MAX];
    datetime_format(r->ts_ms, true, stamp);
    buf_append(&b, "<message", 8);
    attr(&b, "to", s->jid.s);
    buf_printf(&b, "><result xmlns='%s'", NS_MAM);
    if (queryid)
        attr(&b, "queryid", queryid);
    attr(&b, "id", r->id);
    buf_printf(&b, "><forwarded xmlns='%s'><delay xmlns='%s' stamp='%s'/>",
               NS_FORWARD, NS_DELAY, stamp);
    buf_append(&b, r->xml, r->len);
    buf_printf(&b, "</forwarded></result></message>");
    session_send_raw(s, buf_data(&b), buf_used(&b));
    buf_free(&b);
}

struct query {
    struct archive_filter f;
    char *ids[PAGE_MAX]; /* owned */
    size_t nids;
    bool has_ids;
    unsigned max;
    bool backward;  /* RSM <before/>: the page ends at the cursor */
    bool flip;      /* <flip-page/> */
    char *strings[16]; /* owned copies the filter points into: enough for
                          every field and RSM element once; a query that
                          repeats them runs out and is refused */
    size_t nstrings;
};

static const char *keep(struct query *q, char *s)
{
    if (q->nstrings == sizeof(q->strings) / sizeof(q->strings[0])) {
        free(s);
        return NULL;
    }
    q->strings[q->nstrings++] = s;
    return s;
}

static void query_free(struct query *q)
{
    for (size_t i = 0; i < q->nstrings; i++)
        free(q->strings[i]);
    for (size_t i = 0; i < q->nids; i++)
        free(q->ids[i]);
}

/* Text of the field's first <value/>: owned, "" when empty. */
static char *text_of(const struct stanza *el);

static char *value_of(const struct stanza *field)
{
    struct stanza *v = stanza_child(field, NS_DATA, "value");
    return v ? text_of(v) : xstrdup("");
}

static int parse_time(struct query *q, const struct stanza *field,
                      int64_t *out)
{
    const char *t = keep(q, value_of(field));
    return t && datetime_parse(t, out) == 0 ? 0 : -SE_BAD_REQUEST;
}

/* The form of XEP-0313 §4.1.1, with the #extended fields. */
static int parse_form(struct query *q, const struct stanza *x)
{
    for (struct stanza *f = stanza_next_child(x, NULL, NS_DATA, "field"); f;
         f = stanza_next_child(x, f, NS_DATA, "field")) {
        const char *var = stanza_attr(f, "var");
        if (!var)
            return -SE_BAD_REQUEST;
        if (is(var, "FORM_TYPE")) {
            const char *t = keep(q, value_of(f));
            if (!is(t, NS_MAM))
                return -SE_BAD_REQUEST;
        } else if (is(var, "with")) {
            const char *t = keep(q, value_of(f));
            struct jid j = JID_INIT;
            if (!t || jid_parse(&j, t, strlen(t)) < 0)
                return -SE_JID_MALFORMED;
            q->f.with = keep(q, jid_bare_dup(&j));
            if (jid_has_resource(&j)) {
                struct str r = jid_resource(&j);
                q->f.with_res = keep(q, xstrndup(r.p, r.len));
            }
            jid_free(&j);
        } else if (is(var, "start")) {
            if (parse_time(q, f, &q->f.start_ms) < 0)
                return -SE_BAD_REQUEST;
        } else if (is(var, "end")) {
            if (parse_time(q, f, &q->f.end_ms) < 0)
                return -SE_BAD_REQUEST;
        } else if (is(var, "after-id")) {
            q->f.after_id[0] = keep(q, value_of(f));
        } else if (is(var, "before-id")) {
            q->f.before_id[0] = keep(q, value_of(f));
        } else if (is(var, "ids")) {
            q->has_ids = true;
            for (struct stanza *v = stanza_next_child(f, NULL, NS_DATA,
                                                      "value");
                 v; v = stanza_next_child(f, v, NS_DATA, "value")) {
                if (q->nids == PAGE_MAX)
                    return -SE_POLICY_VIOLATION;
                char *t = stanza_text_dup(v);
                if (t)
                    q->ids[q->nids++] = t;
            }
        } else {
            /* §4.1.1: a field the server does not know is an error. */
            return -SE_BAD_REQUEST;
        }
    }
    return 0;
}

static int parse_uint(const char *s, unsigned *out)
{
    if (!s || !*s)
        return -1;
    unsigned long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 1000000)
            return -1;
        v = v * 10 + (unsigned)(*s - '0');
    }
    *out = (unsigned)v;
    return 0;
}

/* Text of an element: owned, "" when empty. */
static char *text_of(const struct stanza *el)
{
    char *t = stanza_text_dup(el);
    return t ? t : xstrdup("");
}

static int parse_rsm(struct query *q, const struct stanza *set)
{
    struct stanza *c;
    if ((c = stanza_child(set, NS_RSM, "max"))) {
        const char *t = keep(q, text_of(c));
        if (parse_uint(t, &q->max) < 0)
            return -SE_BAD_REQUEST;
        if (q->max > PAGE_MAX)
            q->max = PAGE_MAX;
    }
    if (stanza_child(set, NS_RSM, "index"))
        return -SE_FEATURE_NOT_IMPLEMENTED;
    if ((c = stanza_child(set, NS_RSM, "after"))) {
        const char *t = keep(q, text_of(c));
        if (!t || !*t)
            return -SE_BAD_REQUEST;
        q->f.after_id[1] = t;
    }
    if ((c = stanza_child(set, NS_RSM, "before"))) {
        const char *t = keep(q, text_of(c));
        q->backward = true;
        if (t && *t)
            q->f.before_id[1] = t;
    }
    return 0;
}

static int cmp_row_ts(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    return x->ts_ms < y->ts_ms ? -1 : x->ts_ms > y->ts_ms;
}

/* The ids field (#extended): those messages, in archive order. */
static int fetch_ids(const char *user, const struct query *q, struct page *p)
{
    for (size_t i = 0; i < q->nids; i++) {
        size_t before = p->n;
        int r = store_archive_get(srv.store, user, q->ids[i], page_add, p);
        if (r == -ERR_NOTFOUND)
            return -SE_ITEM_NOT_FOUND;
        if (r < 0)
            return -SE_INTERNAL_SERVER_ERROR;
        if (p->n == before && p->cut)
            break;
    }
    qsort(p->v, p->n, sizeof(*p->v), cmp_row_ts);
    return 0;
}

static void add_text_child(struct stanza *parent, const char *ns,
                           const char *name, const char *text)
{
    struct stanza *c = stanza_add_child(parent, ns, name);
    stanza_add_text(c, text, strlen(text));
}

static int run_query(struct hook_ctx *h, struct stanza *iq, struct query *q,
                     const char *queryid)
{
    const char *user = h->sess->username;
    struct page p = { 0 };
    p.budget = srv.cfg->max_stanza_size * 2;
    bool complete;
    int r;
    if (q->has_ids) {
        r = fetch_ids(user, q, &p);
        complete = !p.cut;
    } else {
        struct archive_filter f = q->f;
        f.newest_first = q->backward;
        f.limit = q->max + 1;
        r = q->max == 0 ? 0 : store_archive_query(srv.store, user, &f,
                                                  page_add, &p);
        r = r == -ERR_NOTFOUND ? -SE_ITEM_NOT_FOUND
            : r < 0            ? -SE_INTERNAL_SERVER_ERROR
                               : 0;
        complete = p.n <= q->max && !p.cut;
        while (p.n > q->max) {
            p.n--;
            free(p.v[p.n].id);
            free(p.v[p.n].xml);
        }
        if (q->backward)
            page_reverse(&p);
    }
    if (r < 0) {
        page_free(&p);
        return r;
    }
    if (q->flip)
        page_reverse(&p);

    int64_t count = (int64_t)p.n;
    if (!q->has_ids) {
        struct archive_filter cf = q->f;
        cf.after_id[1] = cf.before_id[1] = NULL;
        store_archive_count(srv.store, user, &cf, &count);
        /* max=0 asks for the count only: the result set is not done. */
        if (q->max == 0)
            complete = count == 0;
    }
    for (size_t i = 0; i < p.n; i++)
        send_result(h->sess, queryid, &p.v[i]);

    struct stanza *res = iq_result(iq);
    struct stanza *fin = stanza_add_child(res, NS_MAM, "fin");
    if (complete)
        stanza_set_attr(fin, "complete", "true");
    struct stanza *set = stanza_add_child(fin, NS_RSM, "set");
    char num[24];
    if (p.n > 0) {
        /* COMPAT(slixmpp 1.8): no index on <first/> (it is optional):
         * slixmpp ends paging backwards when index + items == count,
         * which is already so on the last page, the first one it
         * asks for. */
        add_text_child(set, NS_RSM, "first", p.v[0].id);
        add_text_child(set, NS_RSM, "last", p.v[p.n - 1].id);
    }
    snprintf(num, sizeof(num), "%lld", (long long)count);
    add_text_child(set, NS_RSM, "count", num);
    iq_send_reply(h, res);
    stanza_unref(res);
    page_free(&p);
    return HOOK_HANDLED;
}

/* Only the account itself reads its archive. */
static bool own_account(const struct hook_ctx *h)
{
    return h->sess && h->user && is(h->sess->username, h->user);
}

static int query_set(struct hook_ctx *h, struct stanza *iq)
{
    if (!own_account(h))
        return -SE_FORBIDDEN;
    struct stanza *qe = stanza_child(iq, NS_MAM, "query");
    if (stanza_attr(qe, "node"))
        return -SE_ITEM_NOT_FOUND;
    struct query q;
    memset(&q, 0, sizeof(q));
    q.f = ARCHIVE_FILTER_ALL;
    q.max = PAGE_DEFAULT;
    int r = 0;
    struct stanza *x = stanza_child(qe, NS_DATA, "x");
    if (x)
        r = parse_form(&q, x);
    struct stanza *set = stanza_child(qe, NS_RSM, "set");
    if (r == 0 && set)
        r = parse_rsm(&q, set);
    q.flip = stanza_child(qe, NS_MAM, "flip-page") != NULL;
    if (r == 0)
        r = run_query(h, iq, &q, stanza_attr(qe, "queryid"));
    query_free(&q);
    return r;
}

/* §4.1.1: the fields a client may fill in. */
static int query_get(struct hook_ctx *h, struct stanza *iq)
{
    if (!own_account(h))
        return -SE_FORBIDDEN;
    struct stanza *r = iq_result(iq);
    struct stanza *qe = stanza_add_child(r, NS_MAM, "query");
    struct stanza *x = form_add(qe, "form", NS_MAM);
    form_add_field(x, "with", "jid-single", NULL);
    form_add_field(x, "start", "text-single", NULL);
    form_add_field(x, "end", "text-single", NULL);
    form_add_field(x, "before-id", "text-single", NULL);
    form_add_field(x, "after-id", "text-single", NULL);
    form_add_field(x, "ids", "text-multi", NULL);
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

static void keep_one(void *ud, const struct archive_msg *m)
{
    struct row *r = ud;
    free(r->id);
    r->id = xstrdup(m->id);
    r->ts_ms = m->ts_ms;
}

/* §5 (archive metadata): the first and last message of user's archive,
 * added to parent. */
static void add_metadata(const char *user, struct stanza *parent)
{
    struct stanza *meta = stanza_add_child(parent, NS_MAM, "metadata");
    static const char *const names[] = { "start", "end" };
    for (int i = 0; i < 2; i++) {
        struct archive_filter f = ARCHIVE_FILTER_ALL;
        f.newest_first = i == 1;
        f.limit = 1;
        struct row r = { 0 };
        if (store_archive_query(srv.store, user, &f, keep_one, &r) == 0 &&
            r.id) {
            char stamp[DATETIME_MAX];
            datetime_format(r.ts_ms, true, stamp);
            struct stanza *b = stanza_add_child(meta, NS_MAM, names[i]);
            stanza_set_attr(b, "id", r.id);
            stanza_set_attr(b, "timestamp", stamp);
        }
        free(r.id);
    }
}

static int metadata_get(struct hook_ctx *h, struct stanza *iq)
{
    if (!own_account(h))
        return -SE_FORBIDDEN;
    struct stanza *res = iq_result(iq);
    add_metadata(h->user, res);
    iq_send_reply(h, res);
    stanza_unref(res);
    return HOOK_HANDLED;
}

/* Bind 2 (XEP-0386 §3.2): the state of the archive as the session
 * begins, so that the client knows what to fetch. */
static int bind2_bound(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct sasl2_ctx *ctx = h->data;
    add_metadata(h->sess->username, ctx->bound);
    return HOOK_PASS;
}

/* ---- preferences over XMPP (§6) ---- */

static void add_list(struct stanza *prefs, const char *name, char *const *v,
                     size_t n)
{
    struct stanza *l = stanza_add_child(prefs, NS_MAM, name);
    for (size_t i = 0; i < n; i++)
        add_text_child(l, NS_MAM, "jid", v[i]);
}

static int prefs_reply(struct hook_ctx *h, struct stanza *iq,
                       const struct prefs *p)
{
    struct stanza *r = iq_result(iq);
    struct stanza *pe = stanza_add_child(r, NS_MAM, "prefs");
    stanza_set_attr(pe, "default", default_names[p->def]);
    add_list(pe, "always", p->always, p->nalways);
    add_list(pe, "never", p->never, p->nnever);
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

static int prefs_get(struct hook_ctx *h, struct stanza *iq)
{
    if (!own_account(h))
        return -SE_FORBIDDEN;
    struct prefs p;
    prefs_load(h->user, &p);
    int r = prefs_reply(h, iq, &p);
    prefs_free(&p);
    return r;
}

/* Reads the <jid/> children of list into v, normalised. */
static int parse_list(const struct stanza *list, char ***v, size_t *n,
                      size_t *total)
{
    if (!list)
        return 0;
    for (struct stanza *j = stanza_next_child(list, NULL, NS_MAM, "jid"); j;
         j = stanza_next_child(list, j, NS_MAM, "jid")) {
        char *t = stanza_text_dup(j);
        struct jid parsed = JID_INIT;
        int r = t && jid_parse(&parsed, t, strlen(t)) == 0 ? 0
                                                           : -SE_JID_MALFORMED;
        free(t);
        if (r == 0 && ++*total > PREFS_MAX)
            r = -SE_POLICY_VIOLATION;
        if (r == 0 && !listed(*v, *n, parsed.s, NULL))
            list_add(v, n, parsed.s, strlen(parsed.s));
        jid_free(&parsed);
        if (r < 0)
            return r;
    }
    return 0;
}

static int prefs_set(struct hook_ctx *h, struct stanza *iq)
{
    if (!own_account(h))
        return -SE_FORBIDDEN;
    struct stanza *pe = stanza_child(iq, NS_MAM, "prefs");
    const char *def = stanza_attr(pe, "default");
    struct prefs p;
    memset(&p, 0, sizeof(p));
    int r = -SE_BAD_REQUEST;
    for (int i = 0; i < 3; i++)
        if (is(def, default_names[i])) {
            p.def = (enum prefs_default)i;
            r = 0;
        }
    size_t total = 0;
    if (r == 0)
        r = parse_list(stanza_child(pe, NS_MAM, "always"), &p.always,
                       &p.nalways, &total);
    if (r == 0)
        r = parse_list(stanza_child(pe, NS_MAM, "never"), &p.never,
                       &p.nnever, &total);
    if (r == 0)
        r = prefs_save(h->user, &p) < 0 ? -SE_INTERNAL_SERVER_ERROR : 0;
    if (r == 0)
        r = prefs_reply(h, iq, &p);
    prefs_free(&p);
    return r;
}

/* ---- retention ---- */

static void purge_tick(struct loop *l, void *ud)
{
    (void)ud;
    int64_t cutoff =
        now_ms() - (int64_t)srv.cfg->archive_retention_days * 86400 * 1000;
    int n = store_archive_purge(srv.store, cutoff, PURGE_BATCH);
    if (n > 0)
        log_info(0, "mam: purged %d archived messages past retention", n);
    /* A full batch means there is more: go on next turn, after this
     * turn's commit, so other work runs in between. */
    timer_start(l, &purge_timer, n == PURGE_BATCH ? 0 : PURGE_EVERY_MS,
                purge_tick, NULL);
}

static void shutdown_mam(void)
{
    hmap_free(&no_prefs);
    buf_free(&last.xml);
    xser_memo_clear();
    last.valid = last.marked = false;
    if (srv.loop)
        timer_stop(srv.loop, &purge_timer);
}

int mod_mam_init(struct mod *m)
{
    mod_on_shutdown(m, shutdown_mam);
    mod_add_account_feature(m, NS_MAM);
    mod_add_account_feature(m, NS_MAM_EXT);
    mod_add_account_feature(m, NS_SID);
    /* After blocking (which refuses first), before carbons and delivery
     * (which must see the stanza-id). */
    mod_hook(m, "pre-message", outgoing, PRIO_HIGH / 2);
    mod_hook(m, "pre-message", outgoing_done, PRIO_LOW * 10);
    mod_hook(m, "message/bare", incoming, PRIO_HIGH / 2);
    mod_hook(m, "message/full", incoming, PRIO_HIGH / 2);
    mod_hook_iq(m, IQ_SET, TO_BARE, NS_MAM, "query", query_set, PRIO_DEFAULT);
    mod_hook_iq(m, IQ_GET, TO_BARE, NS_MAM, "query", query_get, PRIO_DEFAULT);
    mod_hook_iq(m, IQ_GET, TO_BARE, NS_MAM, "metadata", metadata_get,
                PRIO_DEFAULT);
    mod_hook(m, "bind2-bound", bind2_bound, PRIO_DEFAULT);
    mod_hook_iq(m, IQ_GET, TO_BARE, NS_MAM, "prefs", prefs_get, PRIO_DEFAULT);
    mod_hook_iq(m, IQ_SET, TO_BARE, NS_MAM, "prefs", prefs_set, PRIO_DEFAULT);
    if (srv.cfg && srv.cfg->archive_retention_days > 0 && srv.loop)
        timer_start(srv.loop, &purge_timer, PURGE_FIRST_MS, purge_tick, NULL);
    return 0;
}
