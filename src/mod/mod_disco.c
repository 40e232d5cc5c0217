/* mod_disco.c -- XEP-0030: Service Discovery, for the server and for
 * accounts (bare JIDs). Features come from what modules advertise with
 * mod_add_feature() and mod_add_account_feature(); nodes are not used
 * yet, so a query for one finds nothing, except the server's own
 * capabilities node. Extension forms (XEP-0128) come from the modules
 * that handle "disco-info/host" and "disco-info/bare" (see mod.h).
 *
 * The server announces its capabilities (XEP-0115) in the stream
 * features: the SHA-1 verification string of its disco#info, which does
 * not change while it runs, so a client asks for it once per version. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "mod/mod.h"
#include "mod/mod_caps.h"
#include "mod/mod_util.h"
#include "xmpp/router.h"
#include "xmpp/errors.h"

#define NS_INFO "http://jabber.org/protocol/disco#info"
#define NS_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_CAPS "http://jabber.org/protocol/caps"
#define CAPS_NODE "https://theke.chat/caps"

static char *server_ver; /* XEP-0115 verification string, owned */

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

/* Fills q with the identities, features and forms of the server (host)
 * or of an account. */
static void fill_info(struct hook_ctx *h, struct stanza *iq, bool host,
                      struct stanza *q)
{
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
}

/* The server's verification string, computed once: its disco#info
 * depends on the modules and the configuration only. */
static const char *server_caps_ver(void)
{
    if (!server_ver) {
        struct stanza *iq = stanza_new("jabber:client", "iq");
        struct stanza *q = stanza_new(NS_INFO, "query");
        struct hook_ctx h = { 0 };
        fill_info(&h, iq, true, q);
        server_ver = caps_ver(q);
        stanza_unref(q);
        stanza_unref(iq);
    }
    return server_ver;
}

static int info(struct hook_ctx *h, struct stanza *iq, bool host)
{
    struct stanza *query = stanza_child(iq, NS_INFO, "query");
    const char *node = stanza_attr(query, "node");
    /* The server's caps node "NODE#VER" describes the server itself. */
    if (node) {
        size_t nl = strlen(CAPS_NODE);
        if (!host || strncmp(node, CAPS_NODE "#", nl + 1) != 0 ||
            strcmp(node + nl + 1, server_caps_ver()) != 0)
            return -SE_ITEM_NOT_FOUND;
    }
    struct stanza *r = iq_result(iq);
    struct stanza *q = stanza_add_child(r, NS_INFO, "query");
    if (node)
        stanza_set_attr(q, "node", node);
    fill_info(h, iq, host, q);
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

/* XEP-0115 §6.3: the server's capabilities as a stream feature. */
static int caps_feature(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct stanza *c = stanza_add_child(h->data, NS_CAPS, "c");
    stanza_set_attr(c, "hash", "sha-1");
    stanza_set_attr(c, "node", CAPS_NODE);
    stanza_set_attr(c, "ver", server_caps_ver());
    return HOOK_PASS;
}

static void shutdown_disco(void) { FREE_NULL(server_ver); }

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
    /* The server's services (upload, components) are its items; an
     * account's come from its modules (its PEP nodes). */
    if (!h->user) {
        router_each_service(add_item, q);
    } else {
        void *data = h->data;
        h->data = q;
        hooks_fire("disco-items/bare", h, iq);
        h->data = data;
    }
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

int mod_disco_init(struct mod *m)
{
    mod_on_shutdown(m, shutdown_disco);
    mod_hook(m, "stream-features", caps_feature, PRIO_LOW);
    mod_hook_iq(m, IQ_GET, TO_HOST, NS_INFO, "query", info_host, PRIO_DEFAULT);
    mod_hook_iq(m, IQ_GET, TO_BARE, NS_INFO, "query", info_bare, PRIO_DEFAULT);
    mod_hook_iq(m, IQ_GET, TO_HOST | TO_BARE, NS_ITEMS, "query", items,
                PRIO_DEFAULT);
    return 0;
}
