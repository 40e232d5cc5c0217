/* mod_disco.c -- XEP-0030: Service Discovery, for the server and for
 * accounts (bare JIDs). Features come from what modules advertise with
 * mod_add_feature() and mod_add_account_feature(); nodes are not used
 * yet, so a query for one finds nothing. Extension forms (XEP-0128)
 * come from the modules that handle "disco-info/host" and
 * "disco-info/bare" (see mod.h). */
#include <string.h>

#include "mod/mod.h"
#include "mod/mod_util.h"
#include "xmpp/router.h"
#include "xmpp/errors.h"

#define NS_INFO "http://jabber.org/protocol/disco#info"
#define NS_ITEMS "http://jabber.org/protocol/disco#items"

static void add_identity(struct stanza *q, const char *category,
                         const char *type, const char *name)
{
    struct stanza *id = stanza_add_child(q, NS_INFO, "identity");
    stanza_set_attr(id, "category", category);
    stanza_set_attr(id, "type", type);
    if (name)
        stanza_set_attr(id, "name", name);
}

static void add_feature(struct stanza *q, const char *var)
{
    stanza_set_attr(stanza_add_child(q, NS_INFO, "feature"), "var", var);
}

static int info(struct hook_ctx *h, struct stanza *iq, bool host)
{
    struct stanza *query = stanza_child(iq, NS_INFO, "query");
    if (stanza_attr(query, "node"))
        return -SE_ITEM_NOT_FOUND;
    struct stanza *r = iq_result(iq);
    struct stanza *q = stanza_add_child(r, NS_INFO, "query");
    unsigned n;
    const char *const *features;
    if (host) {
        add_identity(q, "server", "im", "theke");
        features = mod_features(&n);
    } else {
        add_identity(q, "account", "registered", NULL);
        features = mod_account_features(&n);
    }
    add_feature(q, NS_INFO);
    add_feature(q, NS_ITEMS);
    for (unsigned i = 0; i < n; i++)
        if (strcmp(features[i], NS_INFO) && strcmp(features[i], NS_ITEMS))
            add_feature(q, features[i]);
    void *data = h->data;
    h->data = q;
    hooks_fire(host ? "disco-info/host" : "disco-info/bare", h, iq);
    h->data = data;
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

static int info_host(struct hook_ctx *h, struct stanza *iq)
{
    return info(h, iq, true);
}

static int info_bare(struct hook_ctx *h, struct stanza *iq)
{
    return info(h, iq, false);
}

static void add_item(void *ud, const char *domain)
{
    stanza_set_attr(stanza_add_child(ud, NULL, "item"), "jid", domain);
}

static int items(struct hook_ctx *h, struct stanza *iq)
{
    struct stanza *query = stanza_child(iq, NS_ITEMS, "query");
    if (stanza_attr(query, "node"))
        return -SE_ITEM_NOT_FOUND;
    struct stanza *r = iq_result(iq);
    struct stanza *q = stanza_add_child(r, NS_ITEMS, "query");
    /* The server's services (upload, components) are its items. */
    if (!h->user)
        router_each_service(add_item, q);
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

int mod_disco_init(struct mod *m)
{
    mod_hook_iq(m, IQ_GET, TO_HOST, NS_INFO, "query", info_host, PRIO_DEFAULT);
    mod_hook_iq(m, IQ_GET, TO_BARE, NS_INFO, "query", info_bare, PRIO_DEFAULT);
    mod_hook_iq(m, IQ_GET, TO_HOST | TO_BARE, NS_ITEMS, "query", items,
                PRIO_DEFAULT);
    return 0;
}
