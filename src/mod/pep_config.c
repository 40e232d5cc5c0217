/* pep_config.c -- see pep_config.h. */
#include "mod/pep_config.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "mod/mod_util.h"

#define VALUE_MAX 1024 /* bytes of one field value */
#define VALUES_MAX 16  /* values of one field */
#define VAR_MAX 128    /* bytes of a field name */

enum ftype { F_TEXT, F_BOOL, F_MAX_ITEMS, F_ACCESS };

static const struct known {
    const char *var;
    enum ftype type;
    const char *def;
    const char *label;
} known[] = {
    { "pubsub#access_model", F_ACCESS, "presence", "Who may read items" },
    { "pubsub#deliver_notifications", F_BOOL, "1", "Deliver notifications" },
    { "pubsub#deliver_payloads", F_BOOL, "1", "Deliver payloads" },
    { "pubsub#max_items", F_MAX_ITEMS, "1", "Items to keep" },
    { "pubsub#notify_delete", F_BOOL, "1", "Notify when deleted" },
    { "pubsub#notify_retract", F_BOOL, "1", "Notify on retraction" },
    { "pubsub#persist_items", F_BOOL, "1", "Keep items" },
    { "pubsub#publish_model", F_TEXT, "publishers", "Who may publish" },
    { "pubsub#send_last_published_item", F_TEXT, "on_sub_and_presence",
      "When to send the last item" },
    { "pubsub#title", F_TEXT, "", "Title" },
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

/* The normalised value of one form field: owned, or NULL when it does
 * not suit the field. */
static char *normalise(const char *var, const struct stanza *field)
{
    struct buf all = BUF_INIT;
    unsigned n = 0;
    bool ok = true;
    for (struct stanza *v = stanza_next_child(field, NULL, NS_DATA, "value");
         v && ok; v = stanza_next_child(field, v, NS_DATA, "value")) {
        struct buf one = BUF_INIT;
        stanza_text(v, &one);
        const char *t = buf_cstr(&one);
        ok = ++n <= VALUES_MAX && buf_used(&one) <= VALUE_MAX &&
             strlen(t) == buf_used(&one) && !strpbrk(t, "\t\n");
        if (ok && n > 1)
            buf_append(&all, "\t", 1);
        if (ok)
            buf_append_str(&all, t);
        buf_free(&one);
    }
    char *out = ok ? xstrdup(buf_cstr(&all)) : NULL;
    buf_free(&all);
    const struct known *k = find_known(var);
    if (!out || !k || k->type == F_TEXT)
        return out;
    const char *v = out;
    const char *norm = NULL;
    if (n != 1) {
        norm = NULL;
    } else if (k->type == F_BOOL) {
        norm = strcmp(v, "1") == 0 || strcmp(v, "true") == 0    ? "1"
               : strcmp(v, "0") == 0 || strcmp(v, "false") == 0 ? "0"
                                                                 : NULL;
    } else if (k->type == F_ACCESS) {
        norm = strcmp(v, "open") == 0 || strcmp(v, "presence") == 0 ||
                       strcmp(v, "whitelist") == 0
                   ? v
                   : NULL;
    } else if (strcmp(v, "max") == 0) {
        norm = "max";
    } else if (is_digits(v) && strlen(v) <= 9) {
        long items = strtol(v, NULL, 10);
        /* What the server keeps at most is all "max" can mean. */
        norm = items >= PEP_ITEMS_CAP ? "max" : items >= 1 ? v : NULL;
    }
    char *r = norm ? xstrdup(norm) : NULL;
    free(out);
    return r;
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
        if (strlen(var) > VAR_MAX || strpbrk(var, "\t\n"))
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

void pep_config_write(const struct pep_config *c, struct buf *out)
{
    for (unsigned i = 0; i < c->n; i++)
        buf_printf(out, "%s\t%s\n", c->f[i].var, c->f[i].value);
}

void pep_config_read(struct pep_config *c, const char *text)
{
    while (*text) {
        size_t line = strcspn(text, "\n");
        const char *tab = memchr(text, '\t', line);
        if (tab)
            set(c, xstrndup(text, (size_t)(tab - text)),
                xstrndup(tab + 1, line - (size_t)(tab - text) - 1));
        text += line + (text[line] == '\n');
    }
}

/* Adds the field with its values (split at tabs). */
static void add_field(struct stanza *x, const char *var, const char *type,
                      const char *label, const char *value)
{
    struct stanza *f = form_add_field(x, var, type, NULL);
    if (label)
        stanza_set_attr(f, "label", label);
    while (value) {
        const char *tab = strchr(value, '\t');
        char *one = xstrndup(value, tab ? (size_t)(tab - value)
                                         : strlen(value));
        form_field_add_value(f, one);
        free(one);
        value = tab ? tab + 1 : NULL;
    }
    if (strcmp(var, "pubsub#access_model") == 0) {
        static const char *const models[] = { "open", "presence",
                                              "whitelist" };
        for (size_t i = 0; i < 3; i++) {
            struct stanza *o = stanza_add_child(f, NS_DATA, "option");
            form_field_add_value(o, models[i]);
        }
    }
}

void pep_config_form(const struct pep_config *c, struct stanza *parent)
{
    struct stanza *x = form_add(parent, "form",
                                "http://jabber.org/protocol/pubsub#node_config");
    for (size_t i = 0; i < N_KNOWN; i++) {
        const char *type = known[i].type == F_BOOL     ? "boolean"
                           : known[i].type == F_ACCESS ? "list-single"
                                                       : "text-single";
        add_field(x, known[i].var, type, known[i].label,
                  pep_config_get(c, known[i].var));
    }
    for (unsigned i = 0; i < c->n; i++)
        if (!find_known(c->f[i].var))
            add_field(x, c->f[i].var, NULL, NULL, c->f[i].value);
}

unsigned pep_config_keep(const struct pep_config *c)
{
    if (strcmp(pep_config_get(c, "pubsub#persist_items"), "0") == 0)
        return 1;
    const char *max = pep_config_get(c, "pubsub#max_items");
    return strcmp(max, "max") == 0 ? PEP_ITEMS_CAP
                                   : (unsigned)strtoul(max, NULL, 10);
}
