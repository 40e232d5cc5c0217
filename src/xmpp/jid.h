/* jid.h -- XMPP addresses (RFC 7622), parsed and normalised.
 *
 * A struct jid holds one owned string "node@domain/resource" in normalised
 * form (nodeprep, nameprep, resourceprep of RFC 3920 Appendix A / B via
 * libidn's stringprep profiles), with the lengths of its parts, so the
 * bare JID is a prefix of the full one and comparing JIDs is memcmp. */
#ifndef THEKE_JID_H
#define THEKE_JID_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

#define JID_PART_MAX 1023 /* bytes per part after preparation, RFC 7622 §3 */

struct jid {
    char *s;           /* owned, NUL-terminated, normalised full JID */
    size_t node_len;   /* 0 when there is no node */
    size_t domain_len;
    size_t res_len;    /* 0 when there is no resource */
};

#define JID_INIT ((struct jid){ NULL, 0, 0, 0 })

/* Parses and normalises s (len bytes). On success fills out (which owns
 * its string) and returns 0; on failure returns -ERR_INVAL and out is
 * JID_INIT. Rejects empty parts, parts over JID_PART_MAX and characters
 * the profiles prohibit. */
int jid_parse(struct jid *out, const char *s, size_t len);
/* Builds a JID from parts (node, resource may be NULL); normalises. */
int jid_make(struct jid *out, const char *node, const char *domain,
             const char *resource);
void jid_free(struct jid *j);
/* Owned deep copy. */
void jid_copy(struct jid *dst, const struct jid *src);
/* dst becomes src's bare JID (owned). */
void jid_bare_of(struct jid *dst, const struct jid *src);

static inline bool jid_has_node(const struct jid *j) { return j->node_len > 0; }
static inline bool jid_has_resource(const struct jid *j) { return j->res_len > 0; }
/* Borrowed views into j->s, valid while j lives. */
struct str jid_node(const struct jid *j);
struct str jid_domain(const struct jid *j);
struct str jid_resource(const struct jid *j);
/* node@domain, or domain. */
struct str jid_bare(const struct jid *j);
/* Owned NUL-terminated bare JID string. */
char *jid_bare_dup(const struct jid *j);

bool jid_equal(const struct jid *a, const struct jid *b);
bool jid_bare_equal(const struct jid *a, const struct jid *b);

/* Normalises a single part with the named profile; appends to out.
 * Used to normalise usernames given to thekectl and SASL. */
int jid_nodeprep(const char *in, size_t len, struct buf *out);
int jid_nameprep(const char *in, size_t len, struct buf *out);
int jid_resourceprep(const char *in, size_t len, struct buf *out);

#endif
