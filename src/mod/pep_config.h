/* pep_config.h -- the configuration of a PEP node (XEP-0060 §16.4.3
 * pubsub#node_config), as mod_pep keeps, compares and shows it.
 *
 * A configuration is a list of fields, each with one value (several
 * values of a list-multi field are joined with tabs). Values are kept
 * normalised, so that fields compare by meaning: booleans as "1" or "0",
 * pubsub#max_items as a number or "max", the values of multi-valued
 * fields sorted. Every field of the pubsub#node_config registry is
 * known by type, and those that have one by default; any other field is
 * kept as given. */
#ifndef THEKE_PEP_CONFIG_H
#define THEKE_PEP_CONFIG_H

#include <stdbool.h>

#include "core/buf.h"
#include "xml/stanza.h"

#define PEP_FIELDS_MAX 32    /* fields of one node's configuration */
#define PEP_ITEMS_CAP 256    /* items a node keeps at most ("max") */
#define PEP_AFFS_MAX 64      /* affiliations of one node */
#define PEP_PAYLOAD_MAX 65536 /* bytes of one item's payload */
#define PEP_PAYLOAD_MAX_STR "65536"

struct pep_field {
    char *var;   /* owned */
    char *value; /* owned, normalised */
};

/* An affiliation other than the owner's (XEP-0060 §4.1): "member" may
 * read whatever the access model, "outcast" may not. */
struct pep_aff {
    char *jid; /* owned, normalised bare JID */
    char *aff; /* owned: "member" or "outcast" */
};

struct pep_config {
    struct pep_field f[PEP_FIELDS_MAX];
    unsigned n;
    struct pep_aff a[PEP_AFFS_MAX];
    unsigned na;
};

void pep_config_free(struct pep_config *c);

/* The affiliation of bare JID jid ("member", "outcast"), or NULL for
 * none. Borrowed. */
const char *pep_config_affiliation(const struct pep_config *c,
                                   const char *jid);
/* Sets jid's affiliation ("member", "outcast"; "none" removes it).
 * 0, or -1 when the node has PEP_AFFS_MAX already or aff is unknown. */
int pep_config_set_affiliation(struct pep_config *c, const char *jid,
                               const char *aff);

/* The value of var: set, else its default, else NULL. Borrowed. */
const char *pep_config_get(const struct pep_config *c, const char *var);

/* Reads the fields of a data form (FORM_TYPE skipped) into c, replacing
 * fields c has already. 0, or -1 when a value is not acceptable for its
 * field or there are too many; *bad then names the field (borrowed from
 * x). */
int pep_config_merge_form(struct pep_config *c, const struct stanza *x,
                          const char **bad);

/* True when every field of want has the same value in have (defaults
 * count). *bad names the first field that differs. */
bool pep_config_matches(const struct pep_config *have,
                        const struct pep_config *want, const char **bad);

/* Text form for the store (fields and affiliations), and back. */
void pep_config_write(const struct pep_config *c, struct buf *out);
void pep_config_read(struct pep_config *c, const char *text);

/* Appends the node configuration form (type 'form') to parent. */
void pep_config_form(const struct pep_config *c, struct stanza *parent);

/* How many items the node keeps (persist_items and max_items). */
unsigned pep_config_keep(const struct pep_config *c);

#endif
