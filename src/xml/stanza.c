/* stanza.c -- element trees in one arena per tree; see stanza.h.
 *
 * The arena is a chunked bump allocator. Its first chunk holds the arena
 * header and the root element, so a small stanza costs one malloc and one
 * free. Nothing is freed before the whole tree goes: a removed child, a
 * replaced attribute value or a grown array stays in the arena until the
 * last reference is dropped. In exchange every string handed out by this
 * file stays valid for the lifetime of the tree, so a caller may read
 * "from", set "to" from it and set "from" afterwards without copying.
 *
 * Growing the most recent allocation (a text node receiving more
 * character data, an array receiving one more entry) happens in place
 * when the chunk has room, and otherwise moves to a chunk of its own with
 * room to double, which is then resized as a whole; building a long text
 * piecewise stays linear and costs about twice its length.
 *
 * Serialising lives in xser.c and parsing in xstream.c. */
#include "xml/stanza.h"

#include <assert.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"

#define ARENA_FIRST     2048  /* bytes of a new tree's first chunk */
#define POOL_MAX        64    /* spare first chunks kept per thread */
#define ARENA_CHUNK_MAX 65536 /* chunks double in size up to this */
#define NODE_ALIGN      alignof(struct stanza)

struct arena_chunk {
    struct arena_chunk *next; /* older chunk */
};

struct stanza_arena {
    struct arena_chunk *chunks; /* extra chunks, newest first */
    char *cur, *end;            /* free space of the newest chunk */
    char *last;                 /* newest allocation, may grow in place */
    size_t next_size;           /* size of the next chunk, bytes */
    struct stanza *root;        /* lives right after this header */
    /* Where stanza_next_child() found its last answer, so the usual loop
     * over siblings does not rescan from the first child each time. */
    const struct stanza *it_parent;
    unsigned it_pos;
    uint64_t serial; /* unique per tree in the process */
    uint64_t gen;    /* changes of the tree so far */
    bool pooled;     /* the first chunk is ARENA_FIRST bytes, reusable */
};

/* Tree serials; trees are made on several threads. */
static _Atomic uint64_t next_serial;

static const char ns_xml[] = NS_XML;

static struct stanza *tree_new(const char *ns, size_t nslen, const char *name,
                               size_t namelen, size_t room, bool pooled);
static void *arena_alloc(struct stanza_arena *a, size_t n, size_t align);
static void *arena_grow(struct stanza_arena *a, void *p, size_t oldn,
                        size_t newn, size_t align);
static char *arena_strndup(struct stanza_arena *a, const char *s, size_t n);
static const char *intern_ns(struct stanza_arena *a, const struct stanza *near,
                             const char *ns);
static void elem_init(struct stanza *el, struct stanza_arena *a,
                      struct stanza *parent, const char *ns, const char *name);
static struct stanza_node *push_node(struct stanza *parent);
static void copy_fill(struct stanza_arena *a, struct stanza *el,
                      struct stanza *parent, const struct stanza *src);
static size_t copy_size(const struct stanza *el, const char *parent_ns);
static bool matches(const struct stanza *el, const char *ns, const char *name);

static inline size_t align_up(size_t n, size_t align)
{
    return (n + align - 1) & ~(align - 1);
}

/* ---- arena ---- */

/* Spare first chunks of this thread's freed trees. Every routed stanza
 * is a tree made and dropped within a loop turn; taking its memory from
 * here rather than from malloc() saves the allocator's work twice per
 * stanza. Chunks go back to the pool of the thread that frees the tree,
 * and past POOL_MAX to free(). */
struct chunk_pool {
    void *v[POOL_MAX];
    unsigned n;
};
static _Thread_local struct chunk_pool pool;
static _Thread_local bool pool_registered; /* pool_drain() runs at exit */
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_drain(void *p)
{
    struct chunk_pool *cp = p;
    while (cp->n > 0)
        free(cp->v[--cp->n]);
}

static bool pool_usable; /* set once, before any chunk is pooled */

static void pool_key_init(void)
{
    pool_usable = pthread_key_create(&pool_key, pool_drain) == 0;
}

static void *pool_take(void)
{
    if (pool.n > 0)
        return pool.v[--pool.n];
    return xmalloc(ARENA_FIRST);
}

static void pool_give(void *mem)
{
    if (!pool_registered) {
        /* So that a thread's spare chunks are freed when it ends. */
        pthread_once(&pool_once, pool_key_init);
        pool_registered =
            pool_usable && pthread_setspecific(pool_key, &pool) == 0;
    }
    if (!pool_registered || pool.n == POOL_MAX) {
        free(mem);
        return;
    }
    pool.v[pool.n++] = mem;
}

/* A root whose first chunk has room bytes after the root element; a
 * first chunk that fits ARENA_FIRST bytes gets all of them, pooled. */
static struct stanza *tree_new(const char *ns, size_t nslen, const char *name,
                               size_t namelen, size_t room, bool pooled)
{
    size_t head = align_up(sizeof(struct stanza_arena), NODE_ALIGN);
    size_t size = head + sizeof(struct stanza) + nslen + namelen + 2 + room;
    pooled = pooled && size <= ARENA_FIRST;
    if (pooled)
        size = ARENA_FIRST;
    char *mem = pooled ? pool_take() : xmalloc(size);
    struct stanza_arena *a = (struct stanza_arena *)mem;
    struct stanza *root = (struct stanza *)(mem + head);
    a->chunks = NULL;
    a->cur = (char *)(root + 1);
    a->end = mem + size;
    a->last = NULL;
    a->next_size = ARENA_FIRST * 2;
    a->root = root;
    a->it_parent = NULL;
    a->it_pos = 0;
    a->serial = atomic_fetch_add_explicit(&next_serial, 1,
                                          memory_order_relaxed);
    a->gen = 0;
    a->pooled = pooled;
    const char *n = arena_strndup(a, name, namelen);
    const char *s = arena_strndup(a, ns, nslen);
    elem_init(root, a, NULL, s, n);
    root->refs = 1;
    return root;
}

/* Opens a new chunk able to hold at least need bytes at any alignment. */
static void arena_new_chunk(struct stanza_arena *a, size_t need)
{
    size_t size = a->next_size;
    size_t min = sizeof(struct arena_chunk) + need + NODE_ALIGN;
    if (size < min)
        size = min;
    else if (a->next_size < ARENA_CHUNK_MAX)
        a->next_size *= 2;
    struct arena_chunk *c = xmalloc(size);
    c->next = a->chunks;
    a->chunks = c;
    a->cur = (char *)(c + 1);
    a->end = (char *)c + size;
}

static void *arena_alloc(struct stanza_arena *a, size_t n, size_t align)
{
    uintptr_t at = align_up((uintptr_t)a->cur, align);
    if (at > (uintptr_t)a->end || (uintptr_t)a->end - at < n) {
        arena_new_chunk(a, n);
        at = align_up((uintptr_t)a->cur, align);
    }
    a->last = (char *)at;
    a->cur = (char *)at + n;
    return (char *)at;
}

/* Grows the allocation p (oldn bytes) to newn bytes: in place when it is
 * the newest allocation and its chunk has room. Otherwise the contents
 * move to a chunk with room for as much again, so repeated growth of one
 * allocation copies each byte a bounded number of times. */
static void *arena_grow(struct stanza_arena *a, void *p, size_t oldn,
                        size_t newn, size_t align)
{
    if (p && p == a->last) {
        if ((size_t)(a->end - (char *)p) >= newn) {
            a->cur = (char *)p + newn;
            return p;
        }
        /* Alone in its chunk (a long text, typically): resize the chunk
         * itself, so the old copy is not left behind in the arena. */
        struct arena_chunk *c = a->chunks;
        if (c && (uintptr_t)p == align_up((uintptr_t)(c + 1), align)) {
            size_t size = sizeof(*c) + align + newn * 2;
            c = xrealloc(c, size);
            a->chunks = c;
            p = (char *)align_up((uintptr_t)(c + 1), align);
            a->last = p;
            a->cur = (char *)p + newn;
            a->end = (char *)c + size;
            return p;
        }
    }
    if ((size_t)(a->end - a->cur) < newn * 2 + align)
        arena_new_chunk(a, newn * 2);
    void *q = arena_alloc(a, newn, align);
    if (oldn)
        memcpy(q, p, oldn);
    return q;
}

static char *arena_strndup(struct stanza_arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1, 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* A namespace string for an element of tree a: the pointer of a nearby
 * element when equal, since most of a tree shares one or two namespaces. */
static const char *intern_ns(struct stanza_arena *a, const struct stanza *near,
                             const char *ns)
{
    if (near && stanza_same(near->ns, ns))
        return near->ns;
    return arena_strndup(a, ns, strlen(ns));
}

static void elem_init(struct stanza *el, struct stanza_arena *a,
                      struct stanza *parent, const char *ns, const char *name)
{
    el->ns = ns;
    el->name = name;
    el->attrs = NULL;
    el->nattrs = el->attrs_cap = 0;
    el->children = NULL;
    el->nchildren = el->children_cap = 0;
    el->parent = parent;
    el->arena = a;
    el->refs = 0;
}

static struct stanza_node *push_node(struct stanza *parent)
{
    if (parent->nchildren == parent->children_cap) {
        unsigned cap = parent->children_cap ? parent->children_cap * 2 : 2;
        parent->children = arena_grow(
            parent->arena, parent->children,
            parent->children_cap * sizeof(struct stanza_node),
            cap * sizeof(struct stanza_node), alignof(struct stanza_node));
        parent->children_cap = cap;
    }
    return &parent->children[parent->nchildren++];
}

/* ---- lifetime ---- */

static void rename_ns(struct stanza *el, const char *from, const char **to,
                      struct stanza_arena *a, const char *to_src)
{
    if (stanza_same(el->ns, from)) {
        if (!*to)
            *to = arena_strndup(a, to_src, strlen(to_src));
        el->ns = *to;
    }
    for (unsigned i = 0; i < el->nchildren; i++)
        if (el->children[i].elem)
            rename_ns(el->children[i].elem, from, to, a, to_src);
}

void stanza_rename_ns(struct stanza *el, const char *from, const char *to)
{
    el->arena->gen++;
    const char *interned = NULL;
    rename_ns(el, from, &interned, el->arena, to);
}

struct stanza *stanza_new(const char *ns, const char *name)
{
    if (!ns)
        ns = "";
    return tree_new(ns, strlen(ns), name, strlen(name), 0, true);
}

struct stanza *stanza_ref(struct stanza *st)
{
    st->arena->root->refs++;
    return st;
}

void stanza_unref(struct stanza *st)
{
    if (!st)
        return;
    struct stanza_arena *a = st->arena;
    assert(a->root->refs > 0);
    if (--a->root->refs > 0)
        return;
    struct arena_chunk *c = a->chunks;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    if (a->pooled)
        pool_give(a);
    else
        free(a);
}

/* Upper bound of the arena bytes copy_fill() needs for el and its
 * subtree, alignment padding included. */
static size_t copy_size(const struct stanza *el, const char *parent_ns)
{
    size_t n = sizeof(struct stanza) + NODE_ALIGN + strlen(el->name) + 1;
    if (!parent_ns || !stanza_same(parent_ns, el->ns))
        n += strlen(el->ns) + 1;
    if (el->nattrs)
        n += el->nattrs * sizeof(struct stanza_attr) + NODE_ALIGN;
    for (unsigned i = 0; i < el->nattrs; i++) {
        const struct stanza_attr *at = &el->attrs[i];
        n += strlen(at->name) + strlen(at->value) + 2;
        if (at->ns && at->ns != ns_xml)
            n += strlen(at->ns) + 1;
    }
    if (el->nchildren)
        n += el->nchildren * sizeof(struct stanza_node) + NODE_ALIGN;
    for (unsigned i = 0; i < el->nchildren; i++) {
        const struct stanza_node *c = &el->children[i];
        if (c->elem)
            n += copy_size(c->elem, el->ns);
        else
            n += c->text_len + 1;
    }
    return n;
}

/* Fills el with a copy of src and its subtree, allocated in arena a, as
 * a child of parent (not linked into parent's children; the caller does
 * that). Arrays are sized exactly. */
static void copy_fill(struct stanza_arena *a, struct stanza *el,
                      struct stanza *parent, const struct stanza *src)
{
    elem_init(el, a, parent, intern_ns(a, parent, src->ns),
              arena_strndup(a, src->name, strlen(src->name)));
    if (src->nattrs) {
        el->attrs = arena_alloc(a, src->nattrs * sizeof(struct stanza_attr),
                                alignof(struct stanza_attr));
        el->nattrs = el->attrs_cap = src->nattrs;
        for (unsigned i = 0; i < src->nattrs; i++) {
            const struct stanza_attr *from = &src->attrs[i];
            struct stanza_attr *to = &el->attrs[i];
            if (!from->ns || stanza_same(from->ns, ns_xml))
                to->ns = from->ns ? ns_xml : NULL;
            else
                to->ns = arena_strndup(a, from->ns, strlen(from->ns));
            to->name = arena_strndup(a, from->name, strlen(from->name));
            to->value = arena_strndup(a, from->value, strlen(from->value));
        }
    }
    if (src->nchildren) {
        el->children =
            arena_alloc(a, src->nchildren * sizeof(struct stanza_node),
                        alignof(struct stanza_node));
        el->nchildren = el->children_cap = src->nchildren;
        for (unsigned i = 0; i < src->nchildren; i++) {
            const struct stanza_node *from = &src->children[i];
            struct stanza_node *to = &el->children[i];
            if (from->elem) {
                to->elem = arena_alloc(a, sizeof(struct stanza), NODE_ALIGN);
                copy_fill(a, to->elem, el, from->elem);
                to->text = NULL;
                to->text_len = 0;
            } else {
                to->elem = NULL;
                to->text = arena_strndup(a, from->text, from->text_len);
                to->text_len = from->text_len;
            }
        }
    }
}

struct stanza *stanza_copy(const struct stanza *st)
{
    /* One chunk sized for the whole copy: copies are what modules keep
     * for a long time (last presence, offline messages), so they should
     * be compact. */
    struct stanza *root =
        tree_new("", 0, "", 0, copy_size(st, NULL), false);
    /* A kept copy is rarely changed, and then only a little. */
    root->arena->next_size = ARENA_FIRST / 2;
    copy_fill(root->arena, root, NULL, st);
    root->refs = 1;
    return root;
}

/* ---- building ---- */

struct stanza *stanza_add_child(struct stanza *parent, const char *ns,
                                const char *name)
{
    struct stanza_arena *a = parent->arena;
    a->gen++;
    /* The node slot first: while a parent receives several children in
     * a row, its array is often the newest allocation and grows in
     * place. */
    struct stanza_node *node = push_node(parent);
    struct stanza *el = arena_alloc(a, sizeof(*el), NODE_ALIGN);
    elem_init(el, a, parent, ns ? intern_ns(a, parent, ns) : parent->ns,
              arena_strndup(a, name, strlen(name)));
    node->elem = el;
    node->text = NULL;
    node->text_len = 0;
    return el;
}

struct stanza *stanza_add_copy(struct stanza *parent,
                               const struct stanza *child)
{
    /* Copy before linking: child may be parent itself or one of its
     * ancestors, whose children must not change while being copied. */
    struct stanza *el = arena_alloc(parent->arena, sizeof(*el), NODE_ALIGN);
    copy_fill(parent->arena, el, parent, child);
    parent->arena->gen++;
    struct stanza_node *node = push_node(parent);
    node->elem = el;
    node->text = NULL;
    node->text_len = 0;
    return el;
}

void stanza_add_text(struct stanza *el, const char *text, size_t len)
{
    if (len == 0)
        return;
    el->arena->gen++;
    struct stanza_node *last =
        el->nchildren ? &el->children[el->nchildren - 1] : NULL;
    if (last && !last->elem) {
        char *p = arena_grow(el->arena, (char *)last->text, last->text_len + 1,
                             last->text_len + len + 1, 1);
        memcpy(p + last->text_len, text, len);
        last->text = p;
        last->text_len += len;
        p[last->text_len] = '\0';
        return;
    }
    /* Reserve the slot before the text, so the text is the newest
     * allocation and later character data extends it in place. */
    struct stanza_node *node = push_node(el);
    node->elem = NULL;
    node->text = arena_strndup(el->arena, text, len);
    node->text_len = len;
}

void stanza_remove_child(struct stanza *parent, struct stanza *child)
{
    for (unsigned i = 0; i < parent->nchildren; i++) {
        if (parent->children[i].elem == child) {
            memmove(&parent->children[i], &parent->children[i + 1],
                    (parent->nchildren - i - 1) * sizeof(struct stanza_node));
            parent->nchildren--;
            parent->arena->gen++;
            return;
        }
    }
}

void stanza_clear_children(struct stanza *el)
{
    el->arena->gen++;
    el->nchildren = 0;
}

/* ---- attributes ---- */

static struct stanza_attr *find_attr(const struct stanza *el, const char *ns,
                                     const char *name)
{
    if (ns && !*ns)
        ns = NULL;
    for (unsigned i = 0; i < el->nattrs; i++) {
        struct stanza_attr *at = &el->attrs[i];
        if (!stanza_same(at->name, name))
            continue;
        if (ns ? at->ns && stanza_same(at->ns, ns) : !at->ns)
            return at;
    }
    return NULL;
}

const char *stanza_attr(const struct stanza *el, const char *name)
{
    const struct stanza_attr *at = find_attr(el, NULL, name);
    return at ? at->value : NULL;
}

const char *stanza_attr_ns(const struct stanza *el, const char *ns,
                           const char *name)
{
    const struct stanza_attr *at = find_attr(el, ns, name);
    return at ? at->value : NULL;
}

void stanza_set_attr(struct stanza *el, const char *name, const char *value)
{
    stanza_set_attr_ns(el, NULL, name, value);
}

void stanza_set_attr_ns(struct stanza *el, const char *ns, const char *name,
                        const char *value)
{
    struct stanza_arena *a = el->arena;
    a->gen++;
    struct stanza_attr *at = find_attr(el, ns, name);
    if (!value) {
        if (at) {
            size_t i = (size_t)(at - el->attrs);
            memmove(at, at + 1, (el->nattrs - i - 1) * sizeof(*at));
            el->nattrs--;
        }
        return;
    }
    /* The old value is left in the arena rather than overwritten: a
     * caller may still hold it (see the top of this file). */
    const char *v = arena_strndup(a, value, strlen(value));
    if (at) {
        at->value = v;
        return;
    }
    if (el->nattrs == el->attrs_cap) {
        unsigned cap = el->attrs_cap ? el->attrs_cap * 2 : 4;
        el->attrs = arena_grow(
            a, el->attrs, el->attrs_cap * sizeof(struct stanza_attr),
            cap * sizeof(struct stanza_attr), alignof(struct stanza_attr));
        el->attrs_cap = cap;
    }
    at = &el->attrs[el->nattrs++];
    if (ns && *ns)
        at->ns =
            stanza_same(ns, ns_xml) ? ns_xml : arena_strndup(a, ns, strlen(ns));
    else
        at->ns = NULL;
    at->name = arena_strndup(a, name, strlen(name));
    at->value = v;
}

void stanza_append_attr(struct stanza *el, const char *ns, size_t nslen,
                        const char *name, size_t namelen, const char *value,
                        size_t valuelen, unsigned more)
{
    struct stanza_arena *a = el->arena;
    a->gen++;
    if (el->nattrs == el->attrs_cap) {
        unsigned cap = el->attrs_cap ? el->attrs_cap * 2 : 4;
        if (cap < el->nattrs + 1 + more)
            cap = el->nattrs + 1 + more;
        el->attrs = arena_grow(
            a, el->attrs, el->attrs_cap * sizeof(struct stanza_attr),
            cap * sizeof(struct stanza_attr), alignof(struct stanza_attr));
        el->attrs_cap = cap;
    }
    struct stanza_attr *at = &el->attrs[el->nattrs++];
    if (nslen == 0)
        at->ns = NULL;
    else if (nslen == sizeof(ns_xml) - 1 && memcmp(ns, ns_xml, nslen) == 0)
        at->ns = ns_xml;
    else
        at->ns = arena_strndup(a, ns, nslen);
    /* Name and value in one piece of the arena. */
    char *p = arena_alloc(a, namelen + valuelen + 2, 1);
    memcpy(p, name, namelen + 1);
    memcpy(p + namelen + 1, value, valuelen + 1);
    at->name = p;
    at->value = p + namelen + 1;
}

/* ---- reading ---- */

struct stanza_version stanza_version(const struct stanza *st)
{
    return (struct stanza_version){ st->arena->serial, st->arena->gen };
}

static bool matches(const struct stanza *el, const char *ns, const char *name)
{
    return (!ns || stanza_same(el->ns, ns)) &&
           (!name || stanza_same(el->name, name));
}

struct stanza *stanza_child(const struct stanza *el, const char *ns,
                            const char *name)
{
    return stanza_next_child(el, NULL, ns, name);
}

struct stanza *stanza_next_child(const struct stanza *el,
                                 const struct stanza *prev, const char *ns,
                                 const char *name)
{
    struct stanza_arena *a = el->arena;
    unsigned i = 0;
    if (prev) {
        if (a->it_parent == el && a->it_pos < el->nchildren &&
            el->children[a->it_pos].elem == prev) {
            i = a->it_pos + 1;
        } else {
            while (i < el->nchildren && el->children[i].elem != prev)
                i++;
            if (i == el->nchildren)
                return NULL;
            i++;
        }
    }
    for (; i < el->nchildren; i++) {
        struct stanza *c = el->children[i].elem;
        if (c && matches(c, ns, name)) {
            a->it_parent = el;
            a->it_pos = i;
            return c;
        }
    }
    return NULL;
}

unsigned stanza_elem_count(const struct stanza *el)
{
    unsigned n = 0;
    for (unsigned i = 0; i < el->nchildren; i++)
        if (el->children[i].elem)
            n++;
    return n;
}

void stanza_text(const struct stanza *el, struct buf *out)
{
    for (unsigned i = 0; i < el->nchildren; i++)
        if (!el->children[i].elem)
            buf_append(out, el->children[i].text, el->children[i].text_len);
}

char *stanza_text_dup(const struct stanza *el)
{
    size_t len = 0;
    bool any = false;
    for (unsigned i = 0; i < el->nchildren; i++) {
        if (!el->children[i].elem) {
            len += el->children[i].text_len;
            any = true;
        }
    }
    if (!any)
        return NULL;
    char *s = xmalloc(len + 1), *w = s;
    for (unsigned i = 0; i < el->nchildren; i++) {
        if (!el->children[i].elem) {
            memcpy(w, el->children[i].text, el->children[i].text_len);
            w += el->children[i].text_len;
        }
    }
    *w = '\0';
    return s;
}

int stanza_child_text(const struct stanza *el, const char *ns, const char *name,
                      struct buf *out)
{
    const struct stanza *c = stanza_child(el, ns, name);
    if (!c)
        return -ERR_NOTFOUND;
    stanza_text(c, out);
    return 0;
}
