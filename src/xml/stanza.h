/* stanza.h -- an XML element tree for one stanza.
 *
 * A tree is created by stanza_new() (or by the stream parser) and is owned
 * through a reference count held by its root. All nodes, names and strings
 * of one tree live in one arena owned by the root, so building and freeing
 * a stanza costs a handful of allocations, not one per node. Child
 * pointers are borrowed from the root and stay valid until the root's
 * last reference is dropped.
 *
 * Namespaces are resolved: every element carries its namespace URI, never
 * a prefix. The serializer (xser.h) writes xmlns where needed.
 *
 * Not thread-safe: a tree is used by one thread at a time. */
#ifndef THEKE_STANZA_H
#define THEKE_STANZA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"

struct stanza_arena;

struct stanza_attr {
    const char *ns;    /* namespace URI of the attribute, NULL when none
                          (xml:lang has "http://www.w3.org/XML/1998/namespace") */
    const char *name;  /* local name */
    const char *value; /* NUL-terminated, unescaped */
};

struct stanza;

struct stanza_node {
    struct stanza *elem; /* element child, or NULL for a text node */
    const char *text;    /* text node bytes (unescaped), when elem is NULL */
    size_t text_len;
};

struct stanza {
    /* read-only for users; change through the functions below */
    const char *ns;                /* namespace URI, "" when none */
    const char *name;              /* local name */
    struct stanza_attr *attrs;     /* nattrs entries */
    unsigned nattrs, attrs_cap;
    struct stanza_node *children;  /* element and text children in order */
    unsigned nchildren, children_cap;
    struct stanza *parent;         /* NULL for the root */
    /* private */
    struct stanza_arena *arena;    /* shared by the whole tree */
    int refs;                      /* root only */
};

#define NS_XML "http://www.w3.org/XML/1998/namespace"

/* Whether the names (or namespaces) a and b are the same string. Most
 * comparisons on a stanza's way are between different names, which
 * mostly differ in their first byte: that answers them without a call,
 * and a parsed namespace is often the very string it is compared with. */
static inline bool stanza_same(const char *a, const char *b)
{
    return a == b || (a[0] == b[0] && strcmp(a, b) == 0);
}

/* A new root element, owned by the caller (one reference). */
struct stanza *stanza_new(const char *ns, const char *name);
/* Takes another reference on the tree of root st; returns st. */
struct stanza *stanza_ref(struct stanza *st);
/* Drops a reference; frees the tree with the last one. NULL is a no-op. */
void stanza_unref(struct stanza *st);
/* Deep copy of st (which need not be a root) as a new owned root. */
struct stanza *stanza_copy(const struct stanza *st);

/* Where a tree is in its history: equal versions mean the same tree
 * (not a copy of it) unchanged in between, so that something derived
 * from a stanza (a serialisation) can be kept and reused. Every change
 * through the functions below moves the version of the whole tree. */
struct stanza_version {
    uint64_t tree; /* unique per tree in the process */
    uint64_t gen;  /* changes made to it */
};
struct stanza_version stanza_version(const struct stanza *st);

/* Appends a child element; ns NULL inherits the parent's namespace.
 * Returns the child, borrowed from the tree. */
struct stanza *stanza_add_child(struct stanza *parent, const char *ns,
                                const char *name);
/* Appends a deep copy of child (from any tree) to parent. */
struct stanza *stanza_add_copy(struct stanza *parent, const struct stanza *child);
/* Appends text (bytes copied); adjacent text is merged. */
void stanza_add_text(struct stanza *el, const char *text, size_t len);
/* Removes child (and its subtree) from parent; memory is reclaimed with
 * the tree. */
void stanza_remove_child(struct stanza *parent, struct stanza *child);
/* Removes all children. */
void stanza_clear_children(struct stanza *el);
/* Moves el and every descendant in namespace from into namespace to
 * (a stream's default namespace, e.g. jabber:component:accept to
 * jabber:client); elements in other namespaces keep theirs. */
void stanza_rename_ns(struct stanza *el, const char *from, const char *to);

/* Value of the attribute without namespace called name, or NULL. */
const char *stanza_attr(const struct stanza *el, const char *name);
/* Value of a namespaced attribute, or NULL. */
const char *stanza_attr_ns(const struct stanza *el, const char *ns,
                           const char *name);
/* Sets (value copied) or, with value NULL, removes an attribute without
 * namespace. */
void stanza_set_attr(struct stanza *el, const char *name, const char *value);
void stanza_set_attr_ns(struct stanza *el, const char *ns, const char *name,
                        const char *value);
/* Adds an attribute el does not have yet, as the parser does (a
 * well-formed start tag names each attribute once): no search for an
 * old one, and lengths known, so nothing is measured twice. ns is
 * counted (nslen 0: none), name and value NUL-terminated at their
 * lengths; all are copied. Room for `more` further attributes is made
 * in the same step when the array must grow. */
void stanza_append_attr(struct stanza *el, const char *ns, size_t nslen,
                        const char *name, size_t namelen, const char *value,
                        size_t valuelen, unsigned more);

/* First element child matching ns and name; NULL matches anything. */
struct stanza *stanza_child(const struct stanza *el, const char *ns,
                            const char *name);
/* Next element sibling after prev under el matching ns and name
 * (prev NULL: first). Lets callers loop without an index. */
struct stanza *stanza_next_child(const struct stanza *el,
                                 const struct stanza *prev, const char *ns,
                                 const char *name);
/* Number of element children. */
unsigned stanza_elem_count(const struct stanza *el);
/* Appends the concatenated text of el's direct text children to out. */
void stanza_text(const struct stanza *el, struct buf *out);
/* Owned NUL-terminated copy of the direct text, or NULL if none. */
char *stanza_text_dup(const struct stanza *el);
/* Convenience: text of the first child (ns, name), appended to out;
 * returns 0, or -ERR_NOTFOUND when there is no such child. */
int stanza_child_text(const struct stanza *el, const char *ns,
                      const char *name, struct buf *out);

#endif
