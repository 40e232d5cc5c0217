/* session.c -- see session.h. */
#include "xmpp/session.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hmap.h"
#include "net/conn.h"
#include "xml/stanza.h"
#include "xml/xser.h"
#include "xmpp/hooks.h"

#define NS_CLIENT "jabber:client"
/* Directed presence is remembered to send unavailable later; a session
 * that sends it to more peers than this loses the oldest entries. */
#define MAX_DIRECTED 256

static struct hmap by_user = HMAP_INIT; /* username -> first session */
static size_t bound_count;
static void (*slot_free[SESSION_SLOTS])(void *value);
static int slots_used;

struct session *sessions_add(struct session *s)
{
    struct session *head = hmap_get(&by_user, s->username);
    for (struct session *o = head; o; o = o->next_of_user)
        if (jid_equal(&o->jid, &s->jid))
            return o;
    s->next_of_user = head;
    hmap_put(&by_user, s->username, s);
    s->bound = true;
    bound_count++;
    return NULL;
}

void sessions_remove(struct session *s)
{
    if (!s->bound)
        return;
    struct session *head = hmap_get(&by_user, s->username);
    struct session **pp = &head;
    while (*pp && *pp != s)
        pp = &(*pp)->next_of_user;
    if (*pp)
        *pp = s->next_of_user;
    if (head)
        hmap_put(&by_user, s->username, head);
    else
        hmap_del(&by_user, s->username);
    s->next_of_user = NULL;
    s->bound = false;
    bound_count--;
}

struct session *sessions_find(const struct jid *full)
{
    if (!jid_has_node(full) || !jid_has_resource(full))
        return NULL;
    struct str node = jid_node(full);
    struct session *s = hmap_getn(&by_user, node.p, node.len);
    for (; s; s = s->next_of_user)
        if (jid_equal(&s->jid, full))
            return s;
    return NULL;
}

struct session *sessions_of_user(const char *username)
{
    return hmap_get(&by_user, username);
}

size_t sessions_count_user(const char *username)
{
    size_t n = 0;
    for (struct session *s = sessions_of_user(username); s; s = s->next_of_user)
        n++;
    return n;
}

size_t sessions_count(void) { return bound_count; }

/* True when a "session-out" handler took the stanza. */
static bool taken(struct session *s, const struct stanza *st, const char *xml,
                  size_t len)
{
    struct session_out o = { xml, len };
    struct hook_ctx h = { .sess = s, .data = &o };
    return hooks_fire("session-out", &h, (struct stanza *)st) != HOOK_PASS;
}

void session_send(struct session *s, const struct stanza *st)
{
    if (!taken(s, st, NULL, 0))
        session_write(s, st);
}

void session_send_raw(struct session *s, const char *xml, size_t len)
{
    if (!taken(s, NULL, xml, len))
        session_write_raw(s, xml, len);
}

/* Nothing follows the end of a stream being closed. */
static bool writable(const struct session *s)
{
    return s->conn && !(s->conn->flags & CONN_F_CLOSING);
}

void session_write(struct session *s, const struct stanza *st)
{
    if (!writable(s))
        return;
    /* A framed element stands alone: nothing is in scope, so the
     * serializer declares jabber:client on the stanza (RFC 7395
     * §3.3.3). */
    xser_write(st, s->tr->framed ? "" : NS_CLIENT, s->tr->begin(s));
    s->tr->end(s);
}

/* The end of the name of the start tag at xml, or NULL when the element
 * declares its default namespace already. Our serializer escapes '>' in
 * attribute values, so the first '>' ends the tag. */
static const char *needs_xmlns(const char *xml, size_t len)
{
    const char *gt = memchr(xml, '>', len);
    if (!gt || len < 2 || xml[0] != '<')
        return NULL;
    for (const char *p = xml; p + 6 < gt; p++)
        if (memcmp(p, " xmlns=", 7) == 0)
            return NULL;
    const char *e = xml + 1;
    while (e < gt && *e != ' ' && *e != '/')
        e++;
    return e;
}

void session_write_raw(struct session *s, const char *xml, size_t len)
{
    if (!writable(s))
        return;
    struct buf *b = s->tr->begin(s);
    const char *name_end = s->tr->framed ? needs_xmlns(xml, len) : NULL;
    if (name_end) {
        size_t head = (size_t)(name_end - xml);
        buf_append(b, xml, head);
        buf_append_str(b, " xmlns='" NS_CLIENT "'");
        buf_append(b, name_end, len - head);
    } else {
        buf_append(b, xml, len);
    }
    s->tr->end(s);
}

int session_slot_new(void (*free_fn)(void *value))
{
    if (slots_used == SESSION_SLOTS)
        abort();
    slot_free[slots_used] = free_fn;
    return slots_used++;
}

void session_slots_reset(void)
{
    slots_used = 0;
}

void session_move_state(struct session *s, struct session *old)
{
    if (old->bound) {
        struct session *head = hmap_get(&by_user, old->username);
        struct session **pp = &head;
        while (*pp && *pp != old)
            pp = &(*pp)->next_of_user;
        if (*pp) {
            s->next_of_user = old->next_of_user;
            *pp = s;
            hmap_put(&by_user, old->username, head);
        }
        old->next_of_user = NULL;
        s->bound = true;
        old->bound = false;
    }
    jid_free(&s->jid);
    s->jid = old->jid;
    old->jid = JID_INIT;
    s->available = old->available;
    s->interested = old->interested;
    s->priority = old->priority;
    if (s->presence)
        stanza_unref(s->presence);
    s->presence = old->presence;
    old->presence = NULL;
    old->available = old->interested = false;
    session_clear_directed(s);
    s->directed = old->directed;
    s->ndirected = old->ndirected;
    old->directed = NULL;
    old->ndirected = 0;
    for (int i = 0; i < slots_used; i++) {
        if (s->slots[i] && slot_free[i])
            slot_free[i](s->slots[i]);
        s->slots[i] = old->slots[i];
        old->slots[i] = NULL;
    }
}

void session_free_state(struct session *s)
{
    for (int i = 0; i < slots_used; i++) {
        if (s->slots[i] && slot_free[i])
            slot_free[i](s->slots[i]);
        s->slots[i] = NULL;
    }
    if (s->presence)
        stanza_unref(s->presence);
    s->presence = NULL;
    session_clear_directed(s);
    jid_free(&s->jid);
    jid_free(&s->last_to);
    FREE_NULL(s->username);
}

void session_add_directed(struct session *s, const char *jid)
{
    for (unsigned i = 0; i < s->ndirected; i++)
        if (strcmp(s->directed[i], jid) == 0)
            return;
    if (s->ndirected == MAX_DIRECTED) {
        free(s->directed[0]);
        memmove(s->directed, s->directed + 1,
                (MAX_DIRECTED - 1) * sizeof(*s->directed));
        s->ndirected--;
    }
    s->directed = xrealloc(s->directed,
                           (s->ndirected + 1) * sizeof(*s->directed));
    s->directed[s->ndirected++] = xstrdup(jid);
}

void session_clear_directed(struct session *s)
{
    for (unsigned i = 0; i < s->ndirected; i++)
        free(s->directed[i]);
    FREE_NULL(s->directed);
    s->ndirected = 0;
}
