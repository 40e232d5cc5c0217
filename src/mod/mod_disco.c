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
#include "core/base64.h"
#include "core/crypto.h"
#include "mod/mod.h"
#include "mod/mod_util.h"
#include "xmpp/router.h"
#include "xmpp/errors.h"

#define NS_INFO "http://jabber.org/protocol/disco#info"
#define NS_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_CAPS "http://jabber.org/protocol/caps"
#define NS_DATA "jabber:x:data"
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

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts n owned strings and appends each with '<' (XEP-0115 §5.1). */
static void append_sorted(char **v, size_t n, struct buf *s)
{
    qsort(v, n, sizeof(*v), cmp_str);
    for (size_t i = 0; i < n; i++) {
        buf_append_str(s, v[i]);
        buf_append(s, "<", 1);
        free(v[i]);
    }
}

static char *attr_dup(const struct stanza *el, const char *name)
{
    const char *v = stanza_attr(el, name);
    return xstrdup(v ? v : "");
}

/* Orders "VAR<VALUES..." strings by VAR alone. */
static int cmp_var(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t xl = strcspn(x, "<"), yl = strcspn(y, "<");
    int c = memcmp(x, y, xl < yl ? xl : yl);
    return c ? c : (xl > yl) - (xl < yl);
}

/* One extension form: FORM_TYPE, then its other fields by var, each
 * with its values sorted (XEP-0115 §5.1 step 8). */
static char *form_string(const struct stanza *x)
{
    struct buf s = BUF_INIT, type = BUF_INIT;
    unsigned nf = stanza_elem_count(x), k = 0;
    char **fields = xcalloc(nf ? nf : 1, sizeof(*fields));
    for (struct stanza *f = stanza_next_child(x, NULL, NS_DATA, "field"); f;
         f = stanza_next_child(x, f, NS_DATA, "field")) {
        const char *var = stanza_attr(f, "var");
        if (var && strcmp(var, "FORM_TYPE") == 0) {
            stanza_child_text(f, NS_DATA, "value", &type);
            continue;
        }
        unsigned nv = stanza_elem_count(f), j = 0;
        char **vals = xcalloc(nv ? nv : 1, sizeof(*vals));
        for (struct stanza *v = stanza_next_child(f, NULL, NS_DATA, "value");
             v; v = stanza_next_child(f, v, NS_DATA, "value"))
            vals[j++] = stanza_text_dup(v);
        struct buf one = BUF_INIT;
        buf_append_str(&one, var ? var : "");
        buf_append(&one, "<", 1);
        append_sorted(vals, j, &one);
        free(vals);
        fields[k++] = xstrdup(buf_cstr(&one));
        buf_free(&one);
    }
    buf_append_str(&s, buf_cstr(&type));
    buf_append(&s, "<", 1);
    qsort(fields, k, sizeof(*fields), cmp_var);
    for (unsigned i = 0; i < k; i++) {
        buf_append_str(&s, fields[i]);
        free(fields[i]);
    }
    free(fields);
    buf_free(&type);
    char *out = xstrdup(buf_cstr(&s));
    buf_free(&s);
    return out;
}

/* The verification string of a disco#info query (XEP-0115 §5.1). */
static char *caps_ver(const struct stanza *q)
{
    unsigned n = stanza_elem_count(q), ni = 0, nf = 0, nx = 0;
    char **ids = xcalloc(n + 1, sizeof(*ids));
    char **feats = xcalloc(n + 1, sizeof(*feats));
    char **forms = xcalloc(n + 1, sizeof(*forms));
    for (struct stanza *c = stanza_next_child(q, NULL, NULL, NULL); c;
         c = stanza_next_child(q, c, NULL, NULL)) {
        if (strcmp(c->ns, NS_INFO) == 0 && strcmp(c->name, "identity") == 0) {
            char *cat = attr_dup(c, "category"), *type = attr_dup(c, "type");
            char *lang = xstrdup(stanza_attr_ns(c, NS_XML, "lang")
                                     ? stanza_attr_ns(c, NS_XML, "lang")
                                     : "");
            char *name = attr_dup(c, "name");
            struct buf b = BUF_INIT;
            buf_printf(&b, "%s/%s/%s/%s", cat, type, lang, name);
            ids[ni++] = xstrdup(buf_cstr(&b));
            buf_free(&b);
            free(cat);
            free(type);
            free(lang);
            free(name);
        } else if (strcmp(c->ns, NS_INFO) == 0 &&
                   strcmp(c->name, "feature") == 0) {
            feats[nf++] = attr_dup(c, "var");
        } else if (strcmp(c->ns, NS_DATA) == 0 && strcmp(c->name, "x") == 0) {
            forms[nx++] = form_string(c);
        }
    }
    struct buf s = BUF_INIT;
    append_sorted(ids, ni, &s);
    append_sorted(feats, nf, &s);
    /* Forms sort by FORM_TYPE, which starts each string. */
    qsort(forms, nx, sizeof(*forms), cmp_str);
    for (unsigned i = 0; i < nx; i++) {
        buf_append_str(&s, forms[i]);
        free(forms[i]);
    }
    free(ids);
    free(feats);
    free(forms);
    unsigned char digest[20];
    crypto_hash(CRYPTO_SHA1, buf_data(&s), buf_used(&s), digest);
    buf_free(&s);
    struct buf b64 = BUF_INIT;
    base64_encode(digest, sizeof(digest), &b64);
    char *ver = xstrdup(buf_cstr(&b64));
    buf_free(&b64);
    return ver;
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
    /* The server's services (upload, components) are its items. */
    if (!h->user)
        router_each_service(add_item, q);
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
