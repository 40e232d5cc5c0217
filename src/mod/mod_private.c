/* mod_private.c -- Private XML Storage (XEP-0049, jabber:iq:private).
 *
 * An account stores XML fragments for itself, one per namespace (older
 * clients keep their bookmarks, storage:bookmarks, and roster notes
 * here): a set stores the query's child element under its namespace, a
 * get with an empty child returns what is stored or the empty element.
 * Only the account itself may use it. Namespaces of the protocol itself
 * (jabber:*) are refused (§3.1). Bounded: an element's size and the
 * number of namespaces per account. */
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "mod/mod.h"
#include "mod/mod_util.h"
#include "store/store.h"
#include "xml/xser.h"
#include "xmpp/errors.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_PRIVATE "jabber:iq:private"
#define ITEM_MAX (64u << 10) /* bytes of one stored element */
#define NAMESPACES_MAX 64    /* per account */

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static void count_ns(void *ud, const char *key, const char *value,
                     size_t len)
{
    (void)key;
    (void)value;
    (void)len;
    (*(unsigned *)ud)++;
}

/* The query's one child, in a namespace one may store; NULL otherwise. */
static struct stanza *payload(struct stanza *iq)
{
    struct stanza *q = stanza_child(iq, NS_PRIVATE, "query");
    struct stanza *el = q ? stanza_child(q, NULL, NULL) : NULL;
    if (!el || stanza_elem_count(q) != 1 || !el->ns[0] ||
        strncmp(el->ns, "jabber:", 7) == 0)
        return NULL;
    return el;
}

static int private_iq(struct hook_ctx *h, struct stanza *iq)
{
    if (!h->sess || !h->user || !is(h->user, h->sess->username))
        return -SE_FORBIDDEN;
    struct stanza *el = payload(iq);
    if (!el)
        return -SE_NOT_ACCEPTABLE;
    bool set = is(stanza_attr(iq, "type"), "set");
    struct buf xml = BUF_INIT;
    int r;
    if (set) {
        xser_write(el, NULL, &xml);
        struct buf old = BUF_INIT;
        unsigned n = 0;
        if (store_kv_get(srv.store, h->user, NS_PRIVATE, el->ns, &old) ==
            -ERR_NOTFOUND)
            store_kv_list(srv.store, h->user, NS_PRIVATE, count_ns, &n);
        buf_free(&old);
        if (buf_used(&xml) > ITEM_MAX || n >= NAMESPACES_MAX)
            r = -SE_NOT_ACCEPTABLE;
        else if (store_kv_put(srv.store, h->user, NS_PRIVATE, el->ns,
                              buf_data(&xml), buf_used(&xml)) < 0)
            r = -SE_INTERNAL_SERVER_ERROR;
        else
            r = iq_reply_empty(h, iq);
        buf_free(&xml);
        return r;
    }
    r = store_kv_get(srv.store, h->user, NS_PRIVATE, el->ns, &xml);
    if (r < 0 && r != -ERR_NOTFOUND) {
        buf_free(&xml);
        return -SE_INTERNAL_SERVER_ERROR;
    }
    struct buf out = BUF_INIT;
    buf_append_str(&out, "<query xmlns='" NS_PRIVATE "'>");
    if (r == 0)
        buf_append(&out, buf_data(&xml), buf_used(&xml));
    else
        xser_write(el, NULL, &out);
    buf_append_str(&out, "</query>");
    iq_reply_raw(h, iq, buf_data(&out), buf_used(&out));
    buf_free(&out);
    buf_free(&xml);
    return HOOK_HANDLED;
}

int mod_private_init(struct mod *m)
{
    mod_add_feature(m, NS_PRIVATE);
    mod_hook_iq(m, IQ_GET | IQ_SET, TO_BARE, NS_PRIVATE, "query", private_iq,
                PRIO_DEFAULT);
    return 0;
}
