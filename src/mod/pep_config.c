/* pep_config.c -- see pep_config.h. */
#include "mod/pep_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "mod/mod_util.h"

#define VALUE_MAX 1024 /* bytes of one field value */
#define VALUES_MAX 16  /* values of one field */
#define VAR_MAX 128    /* bytes of a field name */

/* Value types: how a field's values are checked and normalised. */
enum ftype {
    F_TEXT,      /* one value, kept as given */
    F_MULTI,     /* several values (jid-multi, list-multi, text-multi),
                    sorted: their order means nothing */
    F_BOOL,      /* "1"/"true", "0"/"false" -> "1", "0" */
    F_INT,       /* a non-negative number, without leading zeros */
    F_MAX_ITEMS, /* a number from 1, or "max" (the item cap) */
    F_LIST,      /* one of the field's options */
};

static const char *const access_models[] = { "open", "presence",
                                             "whitelist", NULL };
static const char *const node_types[] = { "leaf", NULL };
static const char *const notification_types[] = { "headline", "normal",
                                                   NULL };
static const char *const publish_models[] = { "publishers", NULL };
static const char *const send_last[] = { "never", "on_sub",
                                         "on_sub_and_presence", NULL };
static const char *const itemreplies[] = { "owner", "publisher", "none",
                                           NULL };
static const char *const child_policies[] = { "all", "owners", "whitelist",
                                              NULL };

/* The pubsub#node_config registry (XEP-0060 §16.4.3), so that any of its
 * fields, given as a publish-option, compares by meaning. Fields with a
 * label are the ones the server acts on; they are always in the
 * configuration form. The others are kept and shown once set. A list
 * field takes only the values the server can honour, so that asking for
 * another is refused instead of silently ignored. */
static const struct known {
    const char *var;
    enum ftype type;
    const char *def;                  /* NULL: none */
    const char *label;                /* NULL: not acted on */
    const char *const *options;       /* F_LIST */
} known[] = {
    { "pubsub#access_model", F_LIST, "presence", "Who may read items",
      access_models },
    { "pubsub#body_xslt", F_TEXT, NULL, NULL, NULL },
    { "pubsub#children", F_MULTI, NULL, NULL, NULL },
    { "pubsub#children_association_policy", F_LIST, NULL, NULL,
      child_policies },
    { "pubsub#children_association_whitelist", F_MULTI, NULL, NULL, NULL },
    { "pubsub#children_max", F_INT, NULL, NULL, NULL },
    { "pubsub#collection", F_MULTI, NULL, NULL, NULL },
    { "pubsub#contact", F_MULTI, NULL, NULL, NULL },
    { "pubsub#dataform_xslt", F_TEXT, NULL, NULL, NULL },
    { "pubsub#deliver_notifications", F_BOOL, "1", "Deliver notifications",
      NULL },
    { "pubsub#deliver_payloads", F_BOOL, "1", "Deliver payloads", NULL },
    { "pubsub#description", F_TEXT, NULL, NULL, NULL },
    { "pubsub#item_expire", F_INT, NULL, NULL, NULL },
    { "pubsub#itemreply", F_LIST, "owner", NULL, itemreplies },
    { "pubsub#language", F_TEXT, NULL, NULL, NULL },
    { "pubsub#max_items", F_MAX_ITEMS, "1", "Items to keep", NULL },
    { "pubsub#max_payload_size", F_INT, PEP_PAYLOAD_MAX_STR,
      "Largest item payload (bytes)", NULL },
    { "pubsub#node_type", F_LIST, "leaf", NULL, node_types },
    { "pubsub#notification_type", F_LIST, "headline",
      "Message type of notifications", notification_types },
    { "pubsub#notify_config", F_BOOL, "0", NULL, NULL },
    { "pubsub#notify_delete", F_BOOL, "1", "Notify when deleted", NULL },
    { "pubsub#notify_retract", F_BOOL, "1", "Notify on retraction", NULL },
    { "pubsub#notify_sub", F_BOOL, "0", NULL, NULL },
    { "pubsub#persist_items", F_BOOL, "1", "Keep items", NULL },
    { "pubsub#presence_based_delivery", F_BOOL, "1", NULL, NULL },
    { "pubsub#publish_model", F_LIST, "publishers", "Who may publish",
      publish_models },
    { "pubsub#purge_offline", F_BOOL, "0", NULL, NULL },
    { "pubsub#roster_groups_allowed", F_MULTI, NULL, NULL, NULL },
    { "pubsub#send_last_published_item", F_LIST, "on_sub_and_presence",
      "When to send the last item", send_last },
    { "pubsub#subscribe", F_BOOL, "1", NULL, NULL },
    { "pubsub#tempsub", F_BOOL, "0", NULL, NULL },
    { "pubsub#title", F_TEXT, "", "Title", NULL },
    { "pubsub#type", F_TEXT, NULL, NULL, NULL },
};

#define N_KNOWN (sizeof(known) / sizeof(known[0]))

static const struct known *find_known(const char *var)
{
    for (size_t i = 0; i < N_KNOWN; i++)
        if (strcmp(known[i].var, var) == 0)
            return &known[i];
    return NULL;
}

void pep_config_free(struct pep_config *c)
{
    for (unsigned i = 0; i < c->n; i++) {
        free(c->f[i].var);
        free(c->f[i].value);
    }
    c->n = 0;
    for (unsigned i = 0; i < c->na; i++) {
        free(c->a[i].jid);
        free(c->a[i].aff);
    }
    c->na = 0;
}

const char *pep_config_affiliation(const struct pep_config *c,
                                   const char *jid)
{
    for (unsigned i = 0; i < c->na; i++)
        if (strcmp(c->a[i].jid, jid) == 0)
            return c->a[i].aff;
    return NULL;
}

int pep_config_set_affiliation(struct pep_config *c, const char *jid,
                               const char *aff)
{
    bool none = strcmp(aff, "none") == 0;
    if (!none && strcmp(aff, "member") != 0 && strcmp(aff, "outcast") != 0)
        return -1;
    if (!*jid || strpbrk(jid, "\t\n"))
        return -1;
    for (unsigned i = 0; i < c->na; i++) {
        if (strcmp(c->a[i].jid, jid) != 0)
            continue;
        free(c->a[i].aff);
        if (none) {
            free(c->a[i].jid);
            c->a[i] = c->a[--c->na];
        } else {
            c->a[i].aff = xstrdup(aff);
        }
        return 0;
    }
    if (none)
        return 0;
    if (c->na == PEP_AFFS_MAX)
        return -1;
    c->a[c->na++] = (struct pep_aff){ xstrdup(jid), xstrdup(aff) };
    return 0;
}

static struct pep_field *find(const struct pep_config *c, const char *var)
{
    for (unsigned i = 0; i < c->n; i++)
        if (strcmp(c->f[i].var, var) == 0)
            return (struct pep_field *)&c->f[i];
    return NULL;
}

const char *pep_config_get(const struct pep_config *c, const char *var)
{
    const struct pep_field *f = find(c, var);
    if (f)
        return f->value;
    const struct known *k = find_known(var);
    return k ? k->def : NULL;
}

/* Sets var to value (both taken over). */
static int set(struct pep_config *c, char *var, char *value)
{
    struct pep_field *f = find(c, var);
    if (f) {
        free(var);
        free(f->value);
        f->value = value;
        return 0;
    }
    if (c->n == PEP_FIELDS_MAX) {
        free(var);
        free(value);
        return -1;
    }
    c->f[c->n++] = (struct pep_field){ var, value };
    return 0;
}

static bool is_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static bool in_list(const char *const *options, const char *v)
{
    for (; *options; options++)
        if (strcmp(*options, v) == 0)
            return true;
    return false;
}

/* The normalised form of one value v of a field of type k (v is the
 * only value unless k is F_MULTI or unknown): owned, NULL when v does
 * not suit the field. */
static char *normalise_one(const struct known *k, const char *v)
{
    if (!k || k->type == F_TEXT || k->type == F_MULTI)
        return xstrdup(v);
    switch (k->type) {
    case F_BOOL:
        if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
            return xstrdup("1");
        if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
            return xstrdup("0");
        return NULL;
    case F_LIST:
        return in_list(k->options, v) ? xstrdup(v) : NULL;
    case F_MAX_ITEMS:
        if (strcmp(v, "max") == 0)
            return xstrdup("max");
        /* fall through */
    default: {
        if (!is_digits(v) || strlen(v) > 9)
            return NULL;
        long n = strtol(v, NULL, 10);
        if (k->type == F_MAX_ITEMS) {
            if (n < 1)
                return NULL;
            /* What the server keeps at most is all "max" can mean. */
            if (n >= PEP_ITEMS_CAP)
                return xstrdup("max");
        }
        /* A payload limit above the server's cannot be honoured. */
        if (strcmp(k->var, "pubsub#max_payload_size") == 0 &&
            n > PEP_PAYLOAD_MAX)
            return NULL;
        char out[16];
        snprintf(out, sizeof(out), "%ld", n);
        return xstrdup(out);
    }
    }
}

/* The normalised value of one form field: owned, or NULL when it does
 * not suit the field. Several values are joined with tabs. */
static char *normalise(const char *var, const struct stanza *field)
{
    const struct known *k = find_known(var);
    char *vals[VALUES_MAX];
    unsigned n = 0;
    bool ok = true;
    for (struct stanza *v = stanza_next_child(field, NULL, NS_DATA, "value");
         v && ok; v = stanza_next_child(field, v, NS_DATA, "value")) {
        struct buf one = BUF_INIT;
        stanza_text(v, &one);
        const char *t = buf_cstr(&one);
        ok = n < VALUES_MAX && buf_used(&one) <= VALUE_MAX &&
             strlen(t) == buf_used(&one) && !strpbrk(t, "\t\n");
        if (ok) {
            vals[n] = normalise_one(k, t);
            ok = vals[n++] != NULL;
        }
        buf_free(&one);
    }
    /* Single-valued fields of the registry take exactly one value, but
     * an empty text field is an empty string. */
    if (ok && k && k->type != F_MULTI && n != 1)
        ok = n == 0 && k->type == F_TEXT;
    if (ok && k && k->type == F_MULTI)
        qsort(vals, n, sizeof(*vals), cmp_str);
    struct buf all = BUF_INIT;
    for (unsigned i = 0; i < n; i++) {
        if (ok && i > 0)
            buf_append(&all, "\t", 1);
        if (ok)
            buf_append_str(&all, vals[i]);
        free(vals[i]);
    }
    char *out = ok ? xstrdup(buf_cstr(&all)) : NULL;
    buf_free(&all);
    return out;
}

int pep_config_merge_form(struct pep_config *c, const struct stanza *x,
                          const char **bad)
{
    *bad = NULL;
    for (struct stanza *f = stanza_next_child(x, NULL, NS_DATA, "field"); f;
         f = stanza_next_child(x, f, NS_DATA, "field")) {
        const char *var = stanza_attr(f, "var");
        if (!var || strcmp(var, "FORM_TYPE") == 0)
            continue;
        *bad = var;
        if (!*var || strlen(var) > VAR_MAX || strpbrk(var, "\t\n"))
            return -1;
        char *v = normalise(var, f);
        if (!v || set(c, xstrdup(var), v) < 0)
            return -1;
    }
    *bad = NULL;
    return 0;
}

bool pep_config_matches(const struct pep_config *have,
                        const struct pep_config *want, const char **bad)
{
    for (unsigned i = 0; i < want->n; i++) {
        const char *v = pep_config_get(have, want->f[i].var);
        if (!v || strcmp(v, want->f[i].value) != 0) {
            *bad = want->f[i].var;
            return false;
        }
    }
    *bad = NULL;
    return true;
}

/* One line per field, "var<TAB>value" (values joined with tabs), then
 * one per affiliation, "<TAB>jid<TAB>affiliation": a var is never
 * empty, so the leading tab tells them apart. The store knows the
 * affiliation lines too (store.h): it removes a deleted account's. */
void pep_config_write(const struct pep_config *c, struct buf *out)
{
    for (unsigned i = 0; i < c->n; i++)
        buf_printf(out, "%s\t%s\n", c->f[i].var, c->f[i].value);
    for (unsigned i = 0; i < c->na; i++)
        buf_printf(out, "\t%s\t%s\n", c->a[i].jid, c->a[i].aff);
}

void pep_config_read(struct pep_config *c, const char *text)
{
    while (*text) {
        size_t line = strcspn(text, "\n");
        const char *tab = memchr(text, '\t', line);
        if (tab == text) {
            const char *tab2 = memchr(text + 1, '\t', line - 1);
            if (tab2) {
                char *jid = xstrndup(text + 1, (size_t)(tab2 - text - 1));
                char *aff = xstrndup(tab2 + 1,
                                     line - (size_t)(tab2 - text) - 1);
                pep_config_set_affiliation(c, jid, aff);
                free(jid);
                free(aff);
            }
        } else if (tab) {
            set(c, xstrndup(text, (size_t)(tab - text)),
                xstrndup(tab + 1, line - (size_t)(tab - text) - 1));
        }
        text += line + (text[line] == '\n');
    }
}

/* Adds the field with its values (split at tabs) and, for a list, its
 * options. k is NULL for a field outside the registry. */
static void add_field(struct stanza *x, const char *var,
                      const struct known *k, const char *value)
{
    static const char *const form_types[] = {
        [F_TEXT] = "text-single", [F_MULTI] = "text-multi",
        [F_BOOL] = "boolean",     [F_INT] = "text-single",
        [F_MAX_ITEMS] = "text-single", [F_LIST] = "list-single",
    };
    struct stanza *f =
        form_add_field(x, var, k ? form_types[k->type] : NULL, NULL);
    if (k && k->label)
        stanza_set_attr(f, "label", k->label);
    if (value && !*value && k && k->type == F_MULTI)
        value = NULL;
    while (value) {
        const char *tab = strchr(value, '\t');
        char *one = xstrndup(value, tab ? (size_t)(tab - value)
                                         : strlen(value));
        form_field_add_value(f, one);
        free(one);
        value = tab ? tab + 1 : NULL;
    }
    for (const char *const *o = k && k->options ? k->options : NULL; o && *o;
         o++)
        form_field_add_value(stanza_add_child(f, NS_DATA, "option"), *o);
}

void pep_config_form(const struct pep_config *c, struct stanza *parent)
{
    struct stanza *x = form_add(parent, "form",
                                "http://jabber.org/protocol/pubsub#node_config");
    for (size_t i = 0; i < N_KNOWN; i++) {
        const char *v = pep_config_get(c, known[i].var);
        if (known[i].label || (v && find(c, known[i].var)))
            add_field(x, known[i].var, &known[i], v);
    }
    for (unsigned i = 0; i < c->n; i++)
        if (!find_known(c->f[i].var))
            add_field(x, c->f[i].var, NULL, c->f[i].value);
}

unsigned pep_config_keep(const struct pep_config *c)
{
    if (strcmp(pep_config_get(c, "pubsub#persist_items"), "0") == 0)
        return 1;
    const char *max = pep_config_get(c, "pubsub#max_items");
    return strcmp(max, "max") == 0 ? PEP_ITEMS_CAP
                                   : (unsigned)strtoul(max, NULL, 10);
}
