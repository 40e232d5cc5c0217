/* mod_pep.c -- XEP-0163: Personal Eventing Protocol, over the subset of
 * XEP-0060 (Publish-Subscribe) that PEP clients use.
 *
 * Every account is a pubsub service at its bare JID. The owner publishes
 * (the node is created on first publish, with publish-options as its
 * configuration, §7.1.5), retracts, creates, configures, purges, deletes
 * and lists members and outcasts (§8.9); others read items as the node's
 * access model allows: open (anyone), presence (the owner's contacts
 * with a subscription from or both, the default) or whitelist (the
 * owner only), members always and outcasts never. Notifications go, as
 * headline messages, to the available resources of the owner, of the
 * node's members and of those contacts whose clients announced
 * NODE+notify in their capabilities (mod_caps); a client that comes
 * online with +notify gets the last item of each such node of its own
 * account and its contacts' (§4.3.4), and so does one that first
 * receives a contact's presence (a subscription approved while online).
 * Accounts the owner blocked (XEP-0191) get nothing. Other modules
 * publish and follow publications through mod_pep.h.
 *
 * Not done: explicit subscriptions (PEP relies on presence), collection
 * nodes, access models roster and authorize, the publisher affiliation,
 * and last items at login for members who are not contacts (they get
 * new items, and the last one when they are listed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/hmap.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_blocking.h"
#include "mod/mod_caps.h"
#include "mod/mod_pep.h"
#include "mod/mod_roster.h"
#include "mod/mod_util.h"
#include "mod/pep_config.h"
#include "store/store.h"
#include "xml/xser.h"
#include "xml/xstream.h"
#include "xmpp/errors.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_EVENT NS_PUBSUB "#event"
#define NS_OWNER NS_PUBSUB "#owner"
#define NS_ERRORS NS_PUBSUB "#errors"
#define NS_PUBLISH_OPTIONS NS_PUBSUB "#publish-options"
#define NS_NODE_CONFIG NS_PUBSUB "#node_config"
#define NS_INFO "http://jabber.org/protocol/disco#info"

#define NODE_MAX 256          /* bytes of a node name */
#define ITEM_ID_MAX 256       /* bytes of an item id */
#define NODES_MAX 256         /* nodes per account */
#define IDS_MAX 64            /* items asked for by id in one request */
#define RESULT_MAX (1 << 20)  /* bytes of items in one answer */
#define BARE_MAX (2 * JID_PART_MAX + 2)
#define SERVED_MAX 1024       /* accounts a session got last items of */

/* Per session (a slot): the accounts whose last items it got, so that
 * each contact's come once, at login or when a contact's presence first
 * reaches it (a subscription approved meanwhile). */
static int slot = -1;

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static void bare_of_user(char *out, const char *username)
{
    snprintf(out, BARE_MAX, "%s@%s", username, srv.domain);
}

/* True when the requester is the account addressed. */
static bool is_owner(const struct hook_ctx *h)
{
    if (!h->user || !h->from || !jid_has_node(h->from))
        return false;
    struct str node = jid_node(h->from), dom = jid_domain(h->from);
    return node.len == strlen(h->user) &&
           memcmp(node.p, h->user, node.len) == 0 &&
           server_is_local_domain(dom.p, dom.len);
}

/* Sends an error with a pubsub-specific condition (XEP-0060 §7, §6.5.9)
 * next to the general one. */
static int error_with(struct hook_ctx *h, const struct stanza *iq,
                      enum stanza_error e, const char *cond)
{
    struct stanza *r = errors_reply(iq, e, NULL);
    struct stanza *err = stanza_child(r, NULL, "error");
    if (err)
        stanza_add_child(err, NS_ERRORS, cond);
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

/* feature-not-implemented with the pubsub feature that is missing
 * (XEP-0060 §7: <unsupported feature='...'/>). */
static int unsupported(struct hook_ctx *h, const struct stanza *iq,
                       const char *feature)
{
    struct stanza *r = errors_reply(iq, SE_FEATURE_NOT_IMPLEMENTED, NULL);
    struct stanza *err = stanza_child(r, NULL, "error");
    if (err)
        stanza_set_attr(stanza_add_child(err, NS_ERRORS, "unsupported"),
                        "feature", feature);
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

/* Sends serialised XML (one iq) as the reply to h's request. */
static void reply_raw(struct hook_ctx *h, struct buf *xml)
{
    struct stanza *r = xstream_parse_one(buf_data(xml), buf_used(xml));
    if (r) {
        iq_send_reply(h, r);
        stanza_unref(r);
    }
}

static void attr(struct buf *b, const char *name, const char *value)
{
    buf_printf(b, " %s='", name);
    xser_escape_attr(value, strlen(value), b);
    buf_append(b, "'", 1);
}

/* The start tag of the result for iq, as iq_result() makes it. */
static void result_head(struct buf *b, const struct stanza *iq)
{
    static const char *const swap[][2] = {
        { "id", "id" }, { "to", "from" }, { "from", "to" }
    };
    buf_append_str(b, "<iq type='result'");
    for (size_t i = 0; i < 3; i++) {
        const char *v = stanza_attr(iq, swap[i][1]);
        if (v)
            attr(b, swap[i][0], v);
    }
    buf_append(b, ">", 1);
}

/* ---- nodes ---- */

/* Loads a node's configuration: 0, -ERR_NOTFOUND or another error. */
static int node_load(const char *user, const char *node,
                     struct pep_config *cfg)
{
    struct buf text = BUF_INIT;
    int r = store_pep_node_get(srv.store, user, node, &text);
    if (r == 0)
        pep_config_read(cfg, buf_cstr(&text));
    buf_free(&text);
    return r;
}

static int node_save(const char *user, const char *node,
                     const struct pep_config *cfg)
{
    struct buf text = BUF_INIT;
    pep_config_write(cfg, &text);
    int r = store_pep_node_put(srv.store, user, node, buf_cstr(&text));
    buf_free(&text);
    return r;
}

static void count_node(void *ud, const char *node, const char *config)
{
    (void)node;
    (void)config;
    (*(unsigned *)ud)++;
}

static bool node_name_ok(const char *node)
{
    return node && *node && strlen(node) <= NODE_MAX;
}

/* May the JID 'who' read the items of owner's node? The owner may,
 * outcasts may not, members may whatever the access model (XEP-0060
 * §4.1); for the others the model decides. */
static bool may_read(const char *owner, const struct jid *who,
                     const struct pep_config *cfg)
{
    if (!who->s)
        return false;
    char bare[BARE_MAX], contact[BARE_MAX];
    bare_of_user(bare, owner);
    struct str b = jid_bare(who);
    if (b.len == strlen(bare) && memcmp(b.p, bare, b.len) == 0)
        return true;
    if (b.len >= sizeof(contact))
        return false;
    memcpy(contact, b.p, b.len);
    contact[b.len] = '\0';
    const char *aff = pep_config_affiliation(cfg, contact);
    if (aff)
        return is(aff, "member");
    const char *model = pep_config_get(cfg, "pubsub#access_model");
    if (is(model, "open"))
        return true;
    if (!is(model, "presence"))
        return false;
    struct roster_item it;
    bool ok = roster_load(owner, contact, &it) == 0 && (it.sub & SUB_FROM);
    roster_item_free(&it);
    return ok;
}

/* ---- notifications (XEP-0060 §7.1.2.1, XEP-0163 §4) ---- */

struct names {
    char **v;
    size_t n;
};

static void names_free(struct names *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i]);
    free(c->v);
    *c = (struct names){ NULL, 0 };
}

static void names_add(struct names *c, const char *s)
{
    c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
    c->v[c->n++] = xstrdup(s);
}

struct roster_pick {
    struct names *out;
    unsigned mask;
};

/* The local username of a bare JID, or false when it is not local. */
static bool local_user(const char *bare, char user[JID_PART_MAX + 1])
{
    const char *at = strchr(bare, '@');
    if (!at || strchr(bare, '/') ||
        !server_is_local_domain(at + 1, strlen(at + 1)) ||
        (size_t)(at - bare) > JID_PART_MAX)
        return false;
    memcpy(user, bare, (size_t)(at - bare));
    user[at - bare] = '\0';
    return true;
}

/* Collects the local usernames of roster contacts with a subscription
 * in mask: listed first, because sending may use the store. */
static void pick_contact(void *ud, const struct roster_item *it)
{
    struct roster_pick *p = ud;
    char user[JID_PART_MAX + 1];
    if ((it->sub & p->mask) && local_user(it->contact, user))
        names_add(p->out, user);
}

static void local_contacts(const char *user, unsigned mask,
                           struct names *out)
{
    struct roster_pick p = { out, mask };
    store_roster_list(srv.store, user, pick_contact, &p);
}

/* Sends <message><event>body</event></message> from owner to one
 * session, of the node's pubsub#notification_type. */
static void send_event(struct session *s, const char *owner,
                       const struct pep_config *cfg, const char *body,
                       size_t len)
{
    char from[BARE_MAX], id[17];
    bare_of_user(from, owner);
    crypto_random_token(id, 16);
    struct buf b = BUF_INIT;
    buf_append_str(&b, "<message");
    attr(&b, "type", pep_config_get(cfg, "pubsub#notification_type"));
    attr(&b, "from", from);
    attr(&b, "to", s->jid.s);
    attr(&b, "id", id);
    buf_printf(&b, "><event xmlns='%s'>", NS_EVENT);
    buf_append(&b, body, len);
    buf_append_str(&b, "</event></message>");
    session_send_raw(s, buf_data(&b), buf_used(&b));
    buf_free(&b);
}

static void send_to_user(const char *user, const char *owner,
                         const char *node, const struct pep_config *cfg,
                         const char *body, size_t len)
{
    bool other = strcmp(user, owner) != 0;
    for (struct session *s = sessions_of_user(user); s; s = s->next_of_user)
        if (s->available && caps_wants_notify(s, node) &&
            !(other && blocking_blocks(owner, &s->jid)))
            send_event(s, owner, cfg, body, len);
}

/* Sends an event about owner's node to everyone it concerns: the
 * owner's own resources, the node's members and, unless only the
 * owner and its members may read the node, the contacts that see the
 * owner's presence; never to outcasts. */
static void notify(const char *owner, const char *node,
                   const struct pep_config *cfg, const char *body,
                   size_t len)
{
    if (is(pep_config_get(cfg, "pubsub#deliver_notifications"), "0"))
        return;
    send_to_user(owner, owner, node, cfg, body, len);
    char user[JID_PART_MAX + 1], bare[BARE_MAX];
    for (unsigned i = 0; i < cfg->na; i++)
        if (is(cfg->a[i].aff, "member") && local_user(cfg->a[i].jid, user) &&
            strcmp(user, owner) != 0)
            send_to_user(user, owner, node, cfg, body, len);
    if (is(pep_config_get(cfg, "pubsub#access_model"), "whitelist"))
        return;
    struct names c = { NULL, 0 };
    local_contacts(owner, SUB_FROM, &c);
    for (size_t i = 0; i < c.n; i++) {
        snprintf(bare, sizeof(bare), "%s@%s", c.v[i], srv.domain);
        if (strcmp(c.v[i], owner) != 0 &&
            !pep_config_affiliation(cfg, bare))
            send_to_user(c.v[i], owner, node, cfg, body, len);
    }
    names_free(&c);
}

/* <items node=N><item id=I>payload</item></items> */
static void items_open(struct buf *b, const char *node)
{
    buf_append_str(b, "<items");
    attr(b, "node", node);
    buf_append(b, ">", 1);
}

static void item_xml(struct buf *b, const char *id, const char *xml,
                     size_t len)
{
    buf_append_str(b, "<item");
    attr(b, "id", id);
    if (xml) {
        buf_append(b, ">", 1);
        buf_append(b, xml, len);
        buf_append_str(b, "</item>");
    } else {
        buf_append_str(b, "/>");
    }
}

/* ---- the last item for a client that comes online ---- */

struct last {
    struct buf *b;
    bool payloads;
    bool found;
};

static void last_item(void *ud, const char *id, const char *xml, size_t len)
{
    struct last *l = ud;
    item_xml(l->b, id, l->payloads ? xml : NULL, len);
    l->found = true;
}

/* Sends owner's last item of node to s when it may read it. */
/* Sends owner's last item of node to s when it may read it. */
static void send_last_cfg(struct session *s, const char *owner,
                          const char *node, const struct pep_config *cfg)
{
    if (is(pep_config_get(cfg, "pubsub#send_last_published_item"),
           "never") ||
        is(pep_config_get(cfg, "pubsub#deliver_notifications"), "0") ||
        !may_read(owner, &s->jid, cfg))
        return;
    struct buf b = BUF_INIT;
    items_open(&b, node);
    struct last l = {
        &b, !is(pep_config_get(cfg, "pubsub#deliver_payloads"), "0"), false
    };
    store_pep_items(srv.store, owner, node, NULL, 1, last_item, &l);
    buf_append_str(&b, "</items>");
    if (l.found)
        send_event(s, owner, cfg, buf_data(&b), buf_used(&b));
    buf_free(&b);
}

static void send_last(struct session *s, const char *owner, const char *node,
                      const char *config)
{
    struct pep_config cfg = { .n = 0 };
    pep_config_read(&cfg, config);
    send_last_cfg(s, owner, node, &cfg);
    pep_config_free(&cfg);
}

struct wanted {
    struct names nodes, configs; /* the owner's nodes s wants */
    struct session *s;
};

static void pick_wanted(void *ud, const char *node, const char *config)
{
    struct wanted *w = ud;
    if (caps_wants_notify(w->s, node)) {
        names_add(&w->nodes, node);
        names_add(&w->configs, config);
    }
}

/* Remembers that s got owner's last items; false when it had them
 * already (or remembers too many to tell). */
static bool mark_served(struct session *s, const char *owner)
{
    struct hmap *m = session_slot(s, slot);
    if (!m) {
        m = xcalloc(1, sizeof(*m));
        session_slot_set(s, slot, m);
    }
    if (hmap_get(m, owner) || m->count >= SERVED_MAX)
        return false;
    hmap_put(m, owner, m);
    return true;
}

static void served_free(void *v)
{
    if (v) {
        hmap_free(v);
        free(v);
    }
}

static void send_last_of(struct session *s, const char *owner)
{
    if (!mark_served(s, owner) ||
        (strcmp(owner, s->username) != 0 && blocking_blocks(owner, &s->jid)))
        return;
    struct wanted w = { { NULL, 0 }, { NULL, 0 }, s };
    store_pep_node_list(srv.store, owner, pick_wanted, &w);
    for (size_t i = 0; i < w.nodes.n; i++)
        send_last(s, owner, w.nodes.v[i], w.configs.v[i]);
    names_free(&w.nodes);
    names_free(&w.configs);
}

/* The client's +notify features are known: it gets the last item of the
 * nodes it wants, its own account's and its contacts' (XEP-0163 §4.3.4;
 * the owner's other devices count, §4.3.1). */
static int caps_resolved(struct hook_ctx *h, struct stanza *st)
{
    (void)st;
    struct session *s = h->sess;
    unsigned n;
    caps_notify_nodes(s, &n);
    if (!s || !s->username || n == 0)
        return HOOK_PASS;
    /* Other capabilities may want other nodes: start over. */
    served_free(session_slot(s, slot));
    session_slot_set(s, slot, NULL);
    send_last_of(s, s->username);
    struct names c = { NULL, 0 };
    local_contacts(s->username, SUB_TO, &c);
    for (size_t i = 0; i < c.n; i++)
        if (strcmp(c.v[i], s->username) != 0)
            send_last_of(s, c.v[i]);
    names_free(&c);
    return HOOK_PASS;
}

/* Available presence from another account reaches this account's
 * sessions: those that have not had its last items get them now
 * (XEP-0163 §4.3.3: a contact whose subscription was just approved, or
 * who sent directed presence). */
static int contact_presence(struct hook_ctx *h, struct stanza *p)
{
    if (stanza_attr(p, "type") || !h->user || !h->from ||
        !jid_has_node(h->from))
        return HOOK_PASS;
    struct str dom = jid_domain(h->from), node = jid_node(h->from);
    char owner[JID_PART_MAX + 1];
    if (!server_is_local_domain(dom.p, dom.len) || node.len > JID_PART_MAX)
        return HOOK_PASS;
    memcpy(owner, node.p, node.len);
    owner[node.len] = '\0';
    if (strcmp(owner, h->user) == 0)
        return HOOK_PASS;
    bool full = jid_has_resource(h->to);
    for (struct session *s = sessions_of_user(h->user); s;
         s = s->next_of_user) {
        unsigned n;
        caps_notify_nodes(s, &n);
        /* Without known capabilities, caps-resolved sends them later. */
        if (s->available && n > 0 && (!full || jid_equal(&s->jid, h->to)))
            send_last_of(s, owner);
    }
    return HOOK_PASS;
}

/* ---- publish (XEP-0060 §7.1) ---- */

static struct stanza *publish_options(const struct stanza *pubsub)
{
    struct stanza *po = stanza_child(pubsub, NS_PUBSUB, "publish-options");
    return po ? stanza_child(po, NS_DATA, "x") : NULL;
}

/* Stores an item of user's node, creating the node with the options
 * want when it does not exist, or checking them against its
 * configuration (§7.1.5), which is left in cfg. 0, or -SE_<condition>
 * with *cond the pubsub#errors condition to add (NULL for none). */
static int publish_store(const char *user, const char *node, const char *id,
                         const char *xml, size_t len,
                         const struct pep_config *want,
                         struct pep_config *cfg, const char **cond)
{
    const char *bad;
    *cond = NULL;
    int r = node_load(user, node, cfg);
    bool created = r == -ERR_NOTFOUND;
    if (created) {
        unsigned count = 0;
        store_pep_node_list(srv.store, user, count_node, &count);
        if (count >= NODES_MAX)
            return -SE_NOT_ALLOWED;
        for (unsigned i = 0; i < want->n; i++)
            cfg->f[i] = (struct pep_field){ xstrdup(want->f[i].var),
                                            xstrdup(want->f[i].value) };
        cfg->n = want->n;
    } else if (r < 0) {
        return -SE_INTERNAL_SERVER_ERROR;
    } else if (!pep_config_matches(cfg, want, &bad)) {
        log_debug(0, "pep: publish-options differ on %s", bad);
        *cond = "precondition-not-met";
        return -SE_CONFLICT;
    }
    /* Checked before a new node is saved: a refused first publish
     * leaves no node behind. */
    if (len > strtoul(pep_config_get(cfg, "pubsub#max_payload_size"), NULL,
                      10)) {
        *cond = "payload-too-big";
        return -SE_NOT_ACCEPTABLE;
    }
    if (created && node_save(user, node, cfg) < 0)
        return -SE_INTERNAL_SERVER_ERROR;
    if (store_pep_item_put(srv.store, user, node, id, xml, len,
                           pep_config_keep(cfg)) < 0)
        return -SE_INTERNAL_SERVER_ERROR;
    return 0;
}

/* Tells those concerned of a new item, then the modules that follow
 * publications (event "pep-published"). */
static void publish_announce(const char *user, const char *node,
                             const char *id, const char *xml, size_t len,
                             const struct pep_config *cfg)
{
    struct buf b = BUF_INIT;
    items_open(&b, node);
    bool payloads = !is(pep_config_get(cfg, "pubsub#deliver_payloads"), "0");
    item_xml(&b, id, payloads ? xml : NULL, len);
    buf_append_str(&b, "</items>");
    notify(user, node, cfg, buf_data(&b), buf_used(&b));
    buf_free(&b);
    struct pep_published ev = { user, node, id, xml, len };
    struct hook_ctx h = { .user = user, .data = &ev };
    hooks_fire("pep-published", &h, NULL);
}

int pep_publish(const char *user, const char *node, const char *id,
                const char *xml, size_t len, const struct pep_config *want)
{
    static const struct pep_config none = { .n = 0 };
    struct pep_config cfg = { .n = 0 };
    if (!want)
        want = &none;
    const char *cond;
    int r = publish_store(user, node, id, xml, len, want, &cfg, &cond);
    if (r == 0)
        publish_announce(user, node, id, xml, len, &cfg);
    pep_config_free(&cfg);
    return r;
}

struct one_item {
    struct buf *out;
    bool found;
};

static void take_item(void *ud, const char *id, const char *xml, size_t len)
{
    (void)id;
    struct one_item *o = ud;
    buf_append(o->out, xml, len);
    o->found = true;
}

int pep_item_get(const char *user, const char *node, const char *id,
                 struct buf *out)
{
    struct one_item o = { out, false };
    int r = store_pep_items(srv.store, user, node, id, 0, take_item, &o);
    if (r < 0)
        return r;
    return o.found ? 0 : -ERR_NOTFOUND;
}

static int publish(struct hook_ctx *h, struct stanza *iq,
                   const struct stanza *pubsub, const struct stanza *pub)
{
    if (!is_owner(h))
        return -SE_FORBIDDEN;
    const char *node = stanza_attr(pub, "node");
    if (!node_name_ok(node))
        return error_with(h, iq, SE_BAD_REQUEST, "nodeid-required");
    struct stanza *item = stanza_child(pub, NS_PUBSUB, "item");
    if (!item || stanza_elem_count(pub) != 1)
        return error_with(h, iq, SE_BAD_REQUEST, "item-required");
    struct stanza *payload = stanza_child(item, NULL, NULL);
    if (!payload)
        return error_with(h, iq, SE_BAD_REQUEST, "payload-required");
    if (stanza_elem_count(item) != 1 || !*payload->ns)
        return error_with(h, iq, SE_BAD_REQUEST, "invalid-payload");
    const char *id_attr = stanza_attr(item, "id");
    char gen[17];
    if (id_attr && (!*id_attr || strlen(id_attr) > ITEM_ID_MAX))
        return -SE_BAD_REQUEST;
    if (!id_attr) {
        crypto_random_token(gen, 16);
        id_attr = gen;
    }
    struct buf xml = BUF_INIT;
    xser_write(payload, "", &xml);
    struct stanza *x = publish_options(pubsub);
    struct pep_config want = { .n = 0 }, cfg = { .n = 0 };
    const char *bad, *cond = NULL;
    int ret;
    if (x) {
        /* A FORM_TYPE other than publish-options' is not ours to
         * interpret (§7.1.5). */
        char *ft = form_type_dup(x);
        bool ours = !ft || strcmp(ft, NS_PUBLISH_OPTIONS) == 0;
        free(ft);
        if (!ours) {
            ret = -SE_BAD_REQUEST;
            goto out;
        }
        /* Options the server cannot honour are a precondition it
         * cannot meet. */
        if (pep_config_merge_form(&want, x, &bad) < 0) {
            ret = error_with(h, iq, SE_CONFLICT, "precondition-not-met");
            goto out;
        }
    }
    ret = publish_store(h->user, node, id_attr, buf_data(&xml),
                        buf_used(&xml), &want, &cfg, &cond);
    if (ret < 0) {
        if (cond)
            ret = error_with(h, iq, (enum stanza_error)-ret, cond);
        goto out;
    }
    struct buf b = BUF_INIT;
    result_head(&b, iq);
    buf_printf(&b, "<pubsub xmlns='%s'><publish", NS_PUBSUB);
    attr(&b, "node", node);
    buf_append(&b, ">", 1);
    item_xml(&b, id_attr, NULL, 0);
    buf_append_str(&b, "</publish></pubsub></iq>");
    reply_raw(h, &b);
    buf_free(&b);
    publish_announce(h->user, node, id_attr, buf_data(&xml), buf_used(&xml),
                     &cfg);
    ret = HOOK_HANDLED;
out:
    buf_free(&xml);
    pep_config_free(&want);
    pep_config_free(&cfg);
    return ret;
}

/* ---- retract (§7.2) ---- */

/* Tells those concerned that item id is gone, when the request or the
 * node's configuration asks for it (§7.2.2.1). */
static void retract_announce(const char *user, const char *node,
                             const char *id, const struct pep_config *cfg,
                             bool asked)
{
    if (!asked && !is(pep_config_get(cfg, "pubsub#notify_retract"), "1"))
        return;
    struct buf b = BUF_INIT;
    items_open(&b, node);
    buf_append_str(&b, "<retract");
    attr(&b, "id", id);
    buf_append_str(&b, "/></items>");
    notify(user, node, cfg, buf_data(&b), buf_used(&b));
    buf_free(&b);
}

int pep_retract(const char *user, const char *node, const char *id)
{
    struct pep_config cfg = { .n = 0 };
    int r = node_load(user, node, &cfg);
    if (r == 0)
        r = store_pep_item_del(srv.store, user, node, id);
    if (r == 0)
        retract_announce(user, node, id, &cfg, false);
    pep_config_free(&cfg);
    return r;
}

int pep_items_each(const char *user, const char *node, store_pep_item_fn *fn,
                   void *ud)
{
    struct pep_config cfg = { .n = 0 };
    int r = node_load(user, node, &cfg);
    pep_config_free(&cfg);
    return r < 0 ? r : store_pep_items(srv.store, user, node, NULL, 0, fn, ud);
}

static int retract(struct hook_ctx *h, struct stanza *iq,
                   const struct stanza *ret)
{
    if (!is_owner(h))
        return -SE_FORBIDDEN;
    const char *node = stanza_attr(ret, "node");
    if (!node_name_ok(node))
        return error_with(h, iq, SE_BAD_REQUEST, "nodeid-required");
    struct stanza *item = stanza_child(ret, NS_PUBSUB, "item");
    const char *id = item ? stanza_attr(item, "id") : NULL;
    if (!id || stanza_elem_count(ret) != 1)
        return error_with(h, iq, SE_BAD_REQUEST, "item-required");
    struct pep_config cfg = { .n = 0 };
    int r = node_load(h->user, node, &cfg);
    if (r == 0)
        r = store_pep_item_del(srv.store, h->user, node, id);
    if (r == 0) {
        iq_reply_empty(h, iq);
        const char *want = stanza_attr(ret, "notify");
        retract_announce(h->user, node, id, &cfg,
                         is(want, "true") || is(want, "1"));
    }
    pep_config_free(&cfg);
    if (r == -ERR_NOTFOUND)
        return -SE_ITEM_NOT_FOUND;
    return r < 0 ? -SE_INTERNAL_SERVER_ERROR : HOOK_HANDLED;
}

/* ---- create (§8.1), for clients that create before publishing ---- */

static int create(struct hook_ctx *h, struct stanza *iq,
                  const struct stanza *pubsub, const struct stanza *cr)
{
    if (!is_owner(h))
        return -SE_FORBIDDEN;
    const char *node = stanza_attr(cr, "node");
    if (!node_name_ok(node))
        return error_with(h, iq, SE_NOT_ACCEPTABLE, "nodeid-required");
    struct pep_config cfg = { .n = 0 };
    if (node_load(h->user, node, &cfg) == 0) {
        pep_config_free(&cfg);
        return -SE_CONFLICT;
    }
    unsigned count = 0;
    store_pep_node_list(srv.store, h->user, count_node, &count);
    if (count >= NODES_MAX)
        return -SE_NOT_ALLOWED;
    struct stanza *conf = stanza_child(pubsub, NS_PUBSUB, "configure");
    struct stanza *x = conf ? stanza_child(conf, NS_DATA, "x") : NULL;
    const char *bad;
    int r = x ? pep_config_merge_form(&cfg, x, &bad) : 0;
    if (r < 0) {
        pep_config_free(&cfg);
        return -SE_NOT_ACCEPTABLE;
    }
    r = node_save(h->user, node, &cfg);
    pep_config_free(&cfg);
    if (r < 0)
        return -SE_INTERNAL_SERVER_ERROR;
    return iq_reply_empty(h, iq);
}

static int pubsub_set(struct hook_ctx *h, struct stanza *iq)
{
    struct stanza *ps = stanza_child(iq, NS_PUBSUB, "pubsub");
    struct stanza *op;
    if ((op = stanza_child(ps, NS_PUBSUB, "publish")))
        return publish(h, iq, ps, op);
    if ((op = stanza_child(ps, NS_PUBSUB, "retract")))
        return retract(h, iq, op);
    if ((op = stanza_child(ps, NS_PUBSUB, "create")))
        return create(h, iq, ps, op);
    /* PEP subscriptions follow presence (XEP-0163 §4.3). */
    if (stanza_child(ps, NS_PUBSUB, "subscribe") ||
        stanza_child(ps, NS_PUBSUB, "unsubscribe"))
        return unsupported(h, iq, "subscribe");
    if (stanza_child(ps, NS_PUBSUB, "options"))
        return unsupported(h, iq, "subscription-options");
    return -SE_FEATURE_NOT_IMPLEMENTED;
}

/* ---- items (§6.5) ---- */

struct got {
    struct names ids, xml;
    size_t bytes;
};

static void got_item(void *ud, const char *id, const char *xml, size_t len)
{
    struct got *g = ud;
    names_add(&g->ids, id);
    g->xml.v = xrealloc(g->xml.v, (g->xml.n + 1) * sizeof(*g->xml.v));
    g->xml.v[g->xml.n++] = xstrndup(xml, len);
}

static int parse_max(const char *s, unsigned *out)
{
    if (!s)
        return 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || *s == '-' || v == 0)
        return -1;
    *out = v > PEP_ITEMS_CAP ? PEP_ITEMS_CAP : (unsigned)v;
    return 0;
}

static int items(struct hook_ctx *h, struct stanza *iq,
                 const struct stanza *req)
{
    const char *node = stanza_attr(req, "node");
    if (!node_name_ok(node))
        return error_with(h, iq, SE_BAD_REQUEST, "nodeid-required");
    unsigned max = 0;
    if (parse_max(stanza_attr(req, "max_items"), &max) < 0)
        return -SE_BAD_REQUEST;
    struct pep_config cfg = { .n = 0 };
    int r = node_load(h->user, node, &cfg);
    if (r < 0) {
        pep_config_free(&cfg);
        /* COMPAT(Conversations): any error but a bare item-not-found for
         * a missing node turns OMEMO off for the contact. */
        return r == -ERR_NOTFOUND ? -SE_ITEM_NOT_FOUND
                                  : -SE_INTERNAL_SERVER_ERROR;
    }
    bool ok = may_read(h->user, h->from, &cfg);
    const char *model = pep_config_get(&cfg, "pubsub#access_model");
    bool presence_model = is(model, "presence");
    pep_config_free(&cfg);
    if (!ok)
        return presence_model
                   ? error_with(h, iq, SE_NOT_AUTHORIZED,
                                "presence-subscription-required")
                   : error_with(h, iq, SE_NOT_ALLOWED, "closed-node");
    struct got g = { { NULL, 0 }, { NULL, 0 }, 0 };
    unsigned nids = 0;
    for (struct stanza *it = stanza_next_child(req, NULL, NS_PUBSUB, "item");
         it; it = stanza_next_child(req, it, NS_PUBSUB, "item")) {
        const char *id = stanza_attr(it, "id");
        if (!id || ++nids > IDS_MAX) {
            names_free(&g.ids);
            names_free(&g.xml);
            return -SE_BAD_REQUEST;
        }
        store_pep_items(srv.store, h->user, node, id, 0, got_item, &g);
    }
    if (nids == 0)
        store_pep_items(srv.store, h->user, node, NULL, max, got_item, &g);
    /* Keep the newest items that fit in one answer. */
    size_t first = g.ids.n, bytes = 0;
    while (first > 0 && bytes + strlen(g.xml.v[first - 1]) <= RESULT_MAX)
        bytes += strlen(g.xml.v[--first]);
    struct buf b = BUF_INIT;
    result_head(&b, iq);
    buf_printf(&b, "<pubsub xmlns='%s'>", NS_PUBSUB);
    items_open(&b, node);
    for (size_t i = first; i < g.ids.n; i++)
        item_xml(&b, g.ids.v[i], g.xml.v[i], strlen(g.xml.v[i]));
    buf_append_str(&b, "</items></pubsub></iq>");
    reply_raw(h, &b);
    buf_free(&b);
    names_free(&g.ids);
    names_free(&g.xml);
    return HOOK_HANDLED;
}

struct aff_listing {
    struct stanza *list; /* <affiliations/> being filled */
    const char *owner;
    const char *who;     /* the requester's bare JID */
    const char *only;    /* a node, or NULL for all */
};

static void list_aff(void *ud, const char *node, const char *config)
{
    struct aff_listing *l = ud;
    if (l->only && strcmp(l->only, node) != 0)
        return;
    char bare[BARE_MAX];
    bare_of_user(bare, l->owner);
    struct pep_config cfg = { .n = 0 };
    pep_config_read(&cfg, config);
    const char *aff = strcmp(bare, l->who) == 0
                          ? "owner"
                          : pep_config_affiliation(&cfg, l->who);
    if (aff) {
        struct stanza *a = stanza_add_child(l->list, NULL, "affiliation");
        stanza_set_attr(a, "node", node);
        stanza_set_attr(a, "affiliation", aff);
    }
    pep_config_free(&cfg);
}

/* §5.7: the requester's own affiliations with the account's nodes. */
static int affiliations(struct hook_ctx *h, struct stanza *iq,
                        const struct stanza *req)
{
    if (!h->from || !h->from->s)
        return -SE_BAD_REQUEST;
    char *who = jid_bare_dup(h->from);
    struct stanza *r = iq_result(iq);
    struct stanza *ps = stanza_add_child(r, NS_PUBSUB, "pubsub");
    struct aff_listing l = { stanza_add_child(ps, NS_PUBSUB, "affiliations"),
                             h->user, who, stanza_attr(req, "node") };
    store_pep_node_list(srv.store, h->user, list_aff, &l);
    iq_send_reply(h, r);
    stanza_unref(r);
    free(who);
    return HOOK_HANDLED;
}

static int pubsub_get(struct hook_ctx *h, struct stanza *iq)
{
    struct stanza *ps = stanza_child(iq, NS_PUBSUB, "pubsub");
    struct stanza *op;
    if ((op = stanza_child(ps, NS_PUBSUB, "items")))
        return items(h, iq, op);
    if ((op = stanza_child(ps, NS_PUBSUB, "affiliations")))
        return affiliations(h, iq, op);
    if (stanza_child(ps, NS_PUBSUB, "subscriptions"))
        return unsupported(h, iq, "retrieve-subscriptions");
    if (stanza_child(ps, NS_PUBSUB, "options"))
        return unsupported(h, iq, "subscription-options");
    return -SE_FEATURE_NOT_IMPLEMENTED;
}

/* ---- owner use cases (§8): configure, delete, purge ---- */

static int configure_get(struct hook_ctx *h, struct stanza *iq,
                         const char *node, const struct pep_config *cfg)
{
    struct stanza *r = iq_result(iq);
    struct stanza *ps = stanza_add_child(r, NS_OWNER, "pubsub");
    struct stanza *c = stanza_add_child(ps, NS_OWNER, "configure");
    stanza_set_attr(c, "node", node);
    pep_config_form(cfg, c);
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

static int configure_set(struct hook_ctx *h, struct stanza *iq,
                         const char *node, struct pep_config *cfg,
                         const struct stanza *conf)
{
    struct stanza *x = stanza_child(conf, NS_DATA, "x");
    const char *type = x ? stanza_attr(x, "type") : NULL;
    if (is(type, "cancel"))
        return iq_reply_empty(h, iq);
    if (!x || !is(type, "submit"))
        return -SE_BAD_REQUEST;
    const char *bad;
    if (pep_config_merge_form(cfg, x, &bad) < 0)
        return -SE_NOT_ACCEPTABLE;
    if (node_save(h->user, node, cfg) < 0)
        return -SE_INTERNAL_SERVER_ERROR;
    /* A smaller max_items takes effect now, not at the next publish. */
    struct got g = { { NULL, 0 }, { NULL, 0 }, 0 };
    store_pep_items(srv.store, h->user, node, NULL, 1, got_item, &g);
    if (g.ids.n)
        store_pep_item_put(srv.store, h->user, node, g.ids.v[0], g.xml.v[0],
                           strlen(g.xml.v[0]), pep_config_keep(cfg));
    names_free(&g.ids);
    names_free(&g.xml);
    return iq_reply_empty(h, iq);
}

static int node_delete(struct hook_ctx *h, struct stanza *iq,
                       const char *node, const struct pep_config *cfg)
{
    if (store_pep_node_del(srv.store, h->user, node) < 0)
        return -SE_INTERNAL_SERVER_ERROR;
    iq_reply_empty(h, iq);
    if (is(pep_config_get(cfg, "pubsub#notify_delete"), "1")) {
        struct buf b = BUF_INIT;
        buf_append_str(&b, "<delete");
        attr(&b, "node", node);
        buf_append_str(&b, "/>");
        notify(h->user, node, cfg, buf_data(&b), buf_used(&b));
        buf_free(&b);
    }
    return HOOK_HANDLED;
}

/* §8.5: all items go, the node and its configuration stay; those who
 * were told of items are told they are gone. */
static int node_purge(struct hook_ctx *h, struct stanza *iq,
                      const char *node, const struct pep_config *cfg)
{
    if (store_pep_node_del(srv.store, h->user, node) < 0 ||
        node_save(h->user, node, cfg) < 0)
        return -SE_INTERNAL_SERVER_ERROR;
    iq_reply_empty(h, iq);
    struct buf b = BUF_INIT;
    buf_append_str(&b, "<purge");
    attr(&b, "node", node);
    buf_append_str(&b, "/>");
    notify(h->user, node, cfg, buf_data(&b), buf_used(&b));
    buf_free(&b);
    return HOOK_HANDLED;
}

/* §8.9.1: the node's affiliations, the owner's first. */
static int affiliations_get(struct hook_ctx *h, struct stanza *iq,
                            const char *node, const struct pep_config *cfg)
{
    char bare[BARE_MAX];
    bare_of_user(bare, h->user);
    struct stanza *r = iq_result(iq);
    struct stanza *ps = stanza_add_child(r, NS_OWNER, "pubsub");
    struct stanza *list = stanza_add_child(ps, NS_OWNER, "affiliations");
    stanza_set_attr(list, "node", node);
    struct stanza *a = stanza_add_child(list, NS_OWNER, "affiliation");
    stanza_set_attr(a, "jid", bare);
    stanza_set_attr(a, "affiliation", "owner");
    for (unsigned i = 0; i < cfg->na; i++) {
        a = stanza_add_child(list, NS_OWNER, "affiliation");
        stanza_set_attr(a, "jid", cfg->a[i].jid);
        stanza_set_attr(a, "affiliation", cfg->a[i].aff);
    }
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

/* §8.9.2: sets members (who may read a whitelist node, XEP-0223's
 * "unless listed") and outcasts; all or nothing. The owner's own
 * affiliation cannot change. New members online with +notify get the
 * last item at once: they may not be contacts, whose devices get it at
 * login. */
static int affiliations_set(struct hook_ctx *h, struct stanza *iq,
                            const char *node, struct pep_config *cfg,
                            const struct stanza *list)
{
    char owner_bare[BARE_MAX], user[JID_PART_MAX + 1];
    bare_of_user(owner_bare, h->user);
    struct names members = { NULL, 0 };
    int r = 0;
    for (struct stanza *a = stanza_next_child(list, NULL, NS_OWNER,
                                              "affiliation");
         a && r == 0; a = stanza_next_child(list, a, NS_OWNER,
                                            "affiliation")) {
        const char *jid = stanza_attr(a, "jid");
        const char *aff = stanza_attr(a, "affiliation");
        struct jid j = JID_INIT;
        if (!jid || !aff || jid_parse(&j, jid, strlen(jid)) < 0) {
            r = -SE_BAD_REQUEST;
        } else {
            char *bare = jid_bare_dup(&j);
            bool was = is(pep_config_affiliation(cfg, bare), "member");
            if (strcmp(bare, owner_bare) == 0)
                r = -SE_NOT_ACCEPTABLE;
            else if (pep_config_set_affiliation(cfg, bare, aff) < 0)
                r = is(aff, "owner") || is(aff, "publisher") ||
                            is(aff, "publish-only")
                        ? -SE_FEATURE_NOT_IMPLEMENTED
                        : -SE_NOT_ACCEPTABLE;
            else if (!was && is(aff, "member") && local_user(bare, user))
                names_add(&members, user);
            free(bare);
        }
        jid_free(&j);
    }
    if (r == 0 && node_save(h->user, node, cfg) < 0)
        r = -SE_INTERNAL_SERVER_ERROR;
    if (r == 0) {
        iq_reply_empty(h, iq);
        for (size_t i = 0; i < members.n; i++)
            for (struct session *s = sessions_of_user(members.v[i]); s;
                 s = s->next_of_user)
                if (s->available && caps_wants_notify(s, node) &&
                    !blocking_blocks(h->user, &s->jid))
                    send_last_cfg(s, h->user, node, cfg);
    }
    names_free(&members);
    return r < 0 ? r : HOOK_HANDLED;
}

static int owner(struct hook_ctx *h, struct stanza *iq)
{
    if (!is_owner(h))
        return -SE_FORBIDDEN;
    struct stanza *ps = stanza_child(iq, NS_OWNER, "pubsub");
    struct stanza *op = stanza_child(ps, NS_OWNER, NULL);
    const char *node = op ? stanza_attr(op, "node") : NULL;
    bool set = is(stanza_attr(iq, "type"), "set");
    if (op && is(op->name, "subscriptions"))
        return unsupported(h, iq, "manage-subscriptions");
    if (!op || (!is(op->name, "configure") && !is(op->name, "affiliations") &&
                !(set && (is(op->name, "delete") || is(op->name, "purge")))))
        return -SE_FEATURE_NOT_IMPLEMENTED;
    if (!node_name_ok(node))
        return error_with(h, iq, SE_BAD_REQUEST, "nodeid-required");
    struct pep_config cfg = { .n = 0 };
    int r = node_load(h->user, node, &cfg);
    if (r == 0) {
        if (is(op->name, "configure"))
            r = set ? configure_set(h, iq, node, &cfg, op)
                    : configure_get(h, iq, node, &cfg);
        else if (is(op->name, "affiliations"))
            r = set ? affiliations_set(h, iq, node, &cfg, op)
                    : affiliations_get(h, iq, node, &cfg);
        else if (is(op->name, "delete"))
            r = node_delete(h, iq, node, &cfg);
        else
            r = node_purge(h, iq, node, &cfg);
    } else {
        r = r == -ERR_NOTFOUND ? -SE_ITEM_NOT_FOUND
                               : -SE_INTERNAL_SERVER_ERROR;
    }
    pep_config_free(&cfg);
    return r;
}

/* ---- discovery ---- */

/* XEP-0163 §6.1: the account is a PEP service. The server's domain says
 * so too, for clients that look there (libpurple, older Psi). */
static int disco_identity(struct hook_ctx *h, struct stanza *iq)
{
    (void)iq;
    struct stanza *id = stanza_add_child(h->data, NS_INFO, "identity");
    stanza_set_attr(id, "category", "pubsub");
    stanza_set_attr(id, "type", "pep");
    return HOOK_PASS;
}

static void shutdown_pep(void) { slot = -1; }

struct listing {
    struct stanza *q;
    const char *owner;
    const struct jid *who;
};

static void list_node(void *ud, const char *node, const char *config)
{
    struct listing *l = ud;
    struct pep_config cfg = { .n = 0 };
    pep_config_read(&cfg, config);
    if (may_read(l->owner, l->who, &cfg)) {
        char bare[BARE_MAX];
        bare_of_user(bare, l->owner);
        struct stanza *it = stanza_add_child(l->q, NULL, "item");
        stanza_set_attr(it, "jid", bare);
        stanza_set_attr(it, "node", node);
    }
    pep_config_free(&cfg);
}

/* XEP-0060 §5.2: the account's nodes the requester may read. */
static int disco_items(struct hook_ctx *h, struct stanza *iq)
{
    (void)iq;
    if (h->user && h->from) {
        struct listing l = { h->data, h->user, h->from };
        store_pep_node_list(srv.store, h->user, list_node, &l);
    }
    return HOOK_PASS;
}

int mod_pep_init(struct mod *m)
{
    static const char *const features[] = {
        NS_PUBSUB,
        NS_PUBSUB "#access-open",
        NS_PUBSUB "#access-presence",
        NS_PUBSUB "#access-whitelist",
        NS_PUBSUB "#auto-create",
        NS_PUBSUB "#config-node",
        NS_PUBSUB "#create-and-configure",
        NS_PUBSUB "#create-nodes",
        NS_PUBSUB "#delete-items",
        NS_PUBSUB "#delete-nodes",
        NS_PUBSUB "#filtered-notifications",
        NS_PUBSUB "#item-ids",
        NS_PUBSUB "#last-published",
        NS_PUBSUB "#persistent-items",
        NS_PUBSUB "#presence-notifications",
        NS_PUBSUB "#publish",
        NS_PUBSUB "#publish-options",
        NS_PUBSUB "#retract-items",
        NS_PUBSUB "#retrieve-affiliations",
        NS_PUBSUB "#retrieve-items",
        NS_PUBSUB "#modify-affiliations",
        NS_PUBSUB "#member-affiliation",
        NS_PUBSUB "#outcast-affiliation",
        NS_PUBSUB "#purge-nodes",
    };
    for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
        mod_add_account_feature(m, features[i]);
    mod_hook(m, "disco-info/bare", disco_identity, PRIO_DEFAULT);
    mod_hook(m, "disco-info/host", disco_identity, PRIO_DEFAULT);
    mod_add_feature(m, NS_PUBSUB "#publish");
    mod_add_feature(m, NS_PUBSUB "#publish-options");
    mod_hook(m, "disco-items/bare", disco_items, PRIO_DEFAULT);
    slot = session_slot_new(served_free);
    mod_on_shutdown(m, shutdown_pep);
    mod_hook(m, "caps-resolved", caps_resolved, PRIO_DEFAULT);
    /* After blocking (which drops presence from blocked JIDs), before
     * presence handling (which ends dispatch). */
    mod_hook(m, "presence/bare", contact_presence, PRIO_DEFAULT + 1);
    mod_hook(m, "presence/full", contact_presence, PRIO_DEFAULT + 1);
    mod_hook_iq(m, IQ_SET, TO_BARE, NS_PUBSUB, "pubsub", pubsub_set,
                PRIO_DEFAULT);
    mod_hook_iq(m, IQ_GET, TO_BARE, NS_PUBSUB, "pubsub", pubsub_get,
                PRIO_DEFAULT);
    mod_hook_iq(m, IQ_GET | IQ_SET, TO_BARE, NS_OWNER, "pubsub", owner,
                PRIO_DEFAULT);
    return 0;
}
