/* xstream.c -- the XMPP stream parser (RFC 6120 §4, §11); see xstream.h.
 *
 * The only file that includes expat. Expat runs with namespace processing
 * (names arrive as "uri\x01local"), so every element of a stanza carries
 * its resolved namespace: the default namespace declared on the stream
 * header (jabber:client, jabber:server, ...) is the namespace of the
 * top-level stanzas unless they declare another one.
 *
 * Restricted XML (RFC 6120 §11.1): a DOCTYPE, entity declaration,
 * processing instruction or comment fails the stream at the first token,
 * before expat can expand anything, and a reference to any entity but the
 * five predefined ones is expat's "undefined entity" error; both give
 * XSE_RESTRICTED_XML. The XML declaration is allowed. Input is parsed as
 * UTF-8 whatever the declaration says, and a UTF-16 byte order mark is
 * refused (RFC 6120 §11.6).
 *
 * Limits hold while bytes arrive, not only when a stanza is complete:
 * after every slice of input the bytes of the open stanza, of the header
 * or of a token expat is still buffering are compared with their cap, so
 * a peer can make us hold at most about one cap of its data.
 *
 * Memory: expat is fed in slices of FEED_SLICE bytes, because it keeps
 * its input buffer at twice the largest piece it was given. Expat's own
 * allocations come from a region per parser (core/region.h), so that
 * they leave the resident set when the parser goes.
 *
 * Parsers are lent, not owned, between stanzas. A stream holds an expat
 * parser only while a stanza (or a token) is incomplete; once its input
 * ends between stanzas, the parser goes back to a small set of spares of
 * the thread, keyed by the stream's namespace context (the stream tag's
 * name and namespace declarations, kept as a minimal start tag). The
 * next stream with the same context to receive input takes it from
 * there, or builds one by replaying that tag. Expat holds no other state
 * of a stream at depth 1, so a spare parses any stream of its context
 * alike; what sharing buys is a parser whose tables are in the cache,
 * rather than one per connection, cold, of about 10 KiB each. A parser
 * whose region has grown past EXPAT_SOFT_MAX (expat keeps every distinct
 * attribute name and prefix it ever saw) is dropped instead.
 *
 * Not here: what the header's attributes mean (xmpp/c2s.c), stream
 * errors on the wire (xmpp/c2s.c), serialising (xser.c). */
#include "xml/xstream.h"

#include <assert.h>
#include <expat.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/region.h"
#include "xml/xser.h"

#define NS_STREAMS  "http://etherx.jabber.org/streams"
#define NS_SEP      '\x01' /* cannot occur in XML 1.0 text, so never in a URI */
#define STREAM_NAME NS_STREAMS "\x01stream"

#define FEED_SLICE         1024 /* bytes per XML_Parse() call */
#define HEADER_MAX         8192 /* stream header bytes, <?xml?> included */
#define EXPAT_SOFT_MAX     32768 /* drop, not lend, a parser above this */
#define SPARES             8     /* parsers lent per thread */
#define DEFAULT_STANZA_MAX 262144
#define DEFAULT_DEPTH      32
#define DEFAULT_ATTRS      64

enum xs_state {
    XS_HEADER,  /* waiting for the stream header */
    XS_OPEN,    /* header seen, stanzas flow */
    XS_CLOSED,  /* </stream:stream> seen */
    XS_FAILED,  /* error reported; feeds fail until a reset */
    XS_STOPPED, /* xstream_stop(); feeds fail for good */
};

struct xstream {
    /* private */
    XML_Parser p;                /* NULL before input and while shrunk */
    const struct xstream_cb *cb; /* borrowed */
    void *ud;
    struct xstream_limits lim;
    enum xs_state state;
    enum xstream_error err; /* found by a handler, reported after parse */
    bool in_feed;           /* xstream_feed() is on the stack */
    bool in_expat;          /* XML_Parse() is on the stack */
    bool halted;            /* expat was stopped: ignore late events */
    bool reset_pending;     /* reset asked for inside a callback */
    bool replaying;         /* feeding the saved header to a new parser */
    unsigned depth;         /* open elements: 1 = stream, 2 = stanza */
    uint64_t fed;           /* bytes given to p, replay included */
    uint64_t peer_start;    /* offset in p of the peer's first byte */
    uint64_t stanza_start;  /* offset in p of the open stanza */
    uint64_t event_end;     /* offset in p after the current callback's
                               token: where a reset resumes */
    struct stanza *root;    /* stanza being built, owned */
    struct stanza *cur;     /* its open element, borrowed from root */
    struct region *mem;     /* expat's memory; NULL with p */
    struct buf decls;       /* namespace declarations of the header */
    char *header;           /* the header's namespace context as a start */
    size_t header_len;      /* tag; NULL before the header */
    uint64_t context;       /* a spare's name for header, 0: none yet */
};

static void parser_open(struct xstream *xs);
static void parser_drop(struct xstream *xs);
static int parse(struct xstream *xs, const char *s, size_t n, size_t *used);
static int fail(struct xstream *xs);
static void release(struct xstream *xs);
static void restart(struct xstream *xs);
static void halt(struct xstream *xs, enum xstream_error err);
static enum xstream_error map_error(enum XML_Error e);

/* ---- expat's memory, one region per parser ---- */

/* The region of the parser whose expat call is running. Expat allocates
 * and frees only inside the calls this file makes, which set it. */
static _Thread_local struct region *mm_region;

static void *mm_malloc(size_t n) { return region_alloc(mm_region, n); }

static void *mm_realloc(void *p, size_t n)
{
    return region_realloc(mm_region, p, n);
}

static void mm_free(void *p) { region_free(mm_region, p); }

static const XML_Memory_Handling_Suite mm_suite = {mm_malloc, mm_realloc,
                                                   mm_free};

/* ---- small helpers ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Offset in the parser's input just after the token being reported. */
static uint64_t token_end(const struct xstream *xs)
{
    XML_Index at = XML_GetCurrentByteIndex(xs->p);
    if (at < 0)
        return xs->fed;
    return (uint64_t)at + (uint64_t)XML_GetCurrentByteCount(xs->p);
}

/* Splits an expat name "uri\x01local" (or "local") into a counted
 * namespace and the NUL-terminated local name. */
static const char *split_name(const char *name, size_t *nslen)
{
    const char *sep = strchr(name, NS_SEP);
    if (!sep) {
        *nslen = 0;
        return name;
    }
    *nslen = (size_t)(sep - name);
    return sep + 1;
}

/* Runs stmt, an expat call, with expat's allocations in xs's region. */
#define WITH_REGION(xs, stmt)                                                  \
    do {                                                                       \
        struct region *saved_region_ = mm_region;                              \
        mm_region = (xs)->mem;                                                 \
        stmt;                                                                  \
        mm_region = saved_region_;                                             \
    } while (0)

/* ---- building stanzas ---- */

/* Sets the attributes of el, which has none yet, from expat's list of
 * n name/value pairs; expat has refused repeated ones already. */
static void set_attrs(struct stanza *el, const XML_Char **atts, unsigned n)
{
    for (unsigned i = 0; atts[i]; i += 2) {
        size_t nslen;
        const char *local = split_name(atts[i], &nslen);
        const char *value = atts[i + 1];
        stanza_append_attr(el, atts[i], nslen, local, strlen(local), value,
                           strlen(value), n - i / 2 - 1);
    }
}

/* A new element named by expat's name, as the root of a new stanza when
 * parent is NULL. */
static struct stanza *new_elem(struct stanza *parent, const char *name)
{
    size_t nslen;
    const char *local = split_name(name, &nslen);
    if (parent && strlen(parent->ns) == nslen &&
        memcmp(parent->ns, name, nslen) == 0)
        return stanza_add_child(parent, NULL, local);
    char small[128];
    char *ns = nslen < sizeof(small) ? small : xmalloc(nslen + 1);
    memcpy(ns, name, nslen);
    ns[nslen] = '\0';
    struct stanza *el =
        parent ? stanza_add_child(parent, ns, local) : stanza_new(ns, local);
    if (ns != small)
        free(ns);
    return el;
}

/* ---- expat handlers ---- */

static unsigned count_attrs(const XML_Char **atts)
{
    unsigned n = 0;
    while (atts[2 * n])
        n++;
    return n;
}

/* Collects the stream header's namespace declarations (expat reports
 * them before the start tag, and leaves them out of its attributes). */
static void XMLCALL on_ns_decl(void *ud, const XML_Char *prefix,
                               const XML_Char *uri)
{
    struct xstream *xs = ud;
    if (xs->depth != 0 || xs->replaying)
        return;
    buf_append(&xs->decls, " xmlns", 6);
    if (prefix) {
        buf_append(&xs->decls, ":", 1);
        buf_append_str(&xs->decls, prefix);
    }
    buf_append(&xs->decls, "='", 2);
    if (uri)
        xser_escape_attr(uri, strlen(uri), &xs->decls);
    buf_append(&xs->decls, "'", 1);
}

/* Keeps the header's namespace context, the tag's qualified name (from
 * the raw tag) and its declarations: the key of the stream's spare
 * parsers, and what a new parser replays to resume the stream. The
 * other attributes (to, from, id, ...) stay out, so that the streams of
 * all clients of a kind share one context. */
static void keep_context(struct xstream *xs, const char *tag, size_t len)
{
    size_t qname = 1;
    while (qname < len && !is_space(tag[qname]) && tag[qname] != '/' &&
           tag[qname] != '>')
        qname++;
    size_t ndecls = buf_used(&xs->decls);
    xs->header_len = qname + ndecls + 1;
    xs->header = xmalloc(xs->header_len + 1);
    memcpy(xs->header, tag, qname);
    memcpy(xs->header + qname, buf_data(&xs->decls), ndecls);
    memcpy(xs->header + qname + ndecls, ">", 2);
}

static void stream_start(struct xstream *xs, const XML_Char *name,
                         const XML_Char **atts)
{
    if (strcmp(name, STREAM_NAME) != 0) {
        halt(xs, XSE_INVALID_NAMESPACE);
        return;
    }
    xs->depth = 1;
    if (xs->replaying)
        return;
    uint64_t end = token_end(xs);
    if (end - xs->peer_start > HEADER_MAX) {
        halt(xs, XSE_POLICY_VIOLATION);
        return;
    }
    unsigned nattrs = count_attrs(atts);
    if (nattrs > xs->lim.max_attrs) {
        halt(xs, XSE_BAD_FORMAT);
        return;
    }
    /* Without XML_CONTEXT_BYTES in expat there is no raw input, and the
     * stream keeps its own parser throughout. */
    int off = 0, size = 0, count = XML_GetCurrentByteCount(xs->p);
    const char *ctx = XML_GetInputContext(xs->p, &off, &size);
    free(xs->header);
    xs->header = NULL;
    xs->header_len = 0;
    xs->context = 0;
    if (ctx && off >= 0 && count > 0 && off + count <= size)
        keep_context(xs, ctx + off, (size_t)count);
    buf_free(&xs->decls);
    XML_SetNamespaceDeclHandler(xs->p, NULL, NULL);
    xs->state = XS_OPEN;
    xs->event_end = end;
    struct stanza *hdr = stanza_new(NS_STREAMS, "stream");
    set_attrs(hdr, atts, nattrs);
    if (xs->cb->stream_open)
        xs->cb->stream_open(xs->ud, hdr);
    stanza_unref(hdr);
}

static void XMLCALL on_start(void *ud, const XML_Char *name,
                             const XML_Char **atts)
{
    struct xstream *xs = ud;
    if (xs->halted)
        return;
    if (xs->depth == 0) {
        stream_start(xs, name, atts);
        return;
    }
    if (xs->depth == 1) {
        XML_Index at = XML_GetCurrentByteIndex(xs->p);
        xs->stanza_start = at < 0 ? xs->fed : (uint64_t)at;
    }
    if (token_end(xs) - xs->stanza_start > xs->lim.max_stanza_size) {
        halt(xs, XSE_POLICY_VIOLATION);
        return;
    }
    /* The new element's nesting level in its stanza is depth: 1 for
     * the stanza element itself. */
    unsigned nattrs = count_attrs(atts);
    if (xs->depth > xs->lim.max_depth || nattrs > xs->lim.max_attrs) {
        halt(xs, XSE_BAD_FORMAT);
        return;
    }
    struct stanza *el = new_elem(xs->cur, name);
    set_attrs(el, atts, nattrs);
    if (!xs->root)
        xs->root = el;
    xs->cur = el;
    xs->depth++;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    (void)name;
    struct xstream *xs = ud;
    if (xs->halted)
        return;
    uint64_t end = token_end(xs);
    if (xs->depth == 1) {
        xs->depth = 0;
        xs->state = XS_CLOSED;
        xs->event_end = end;
        if (xs->cb->stream_close)
            xs->cb->stream_close(xs->ud);
        return;
    }
    if (end - xs->stanza_start > xs->lim.max_stanza_size) {
        halt(xs, XSE_POLICY_VIOLATION);
        return;
    }
    xs->depth--;
    xs->cur = xs->cur->parent;
    if (xs->depth > 1)
        return;
    struct stanza *st = xs->root;
    xs->root = NULL;
    xs->event_end = end;
    if (xs->cb->stanza)
        xs->cb->stanza(xs->ud, st);
    else
        stanza_unref(st);
}

static void XMLCALL on_chars(void *ud, const XML_Char *s, int len)
{
    struct xstream *xs = ud;
    if (xs->halted)
        return;
    if (xs->depth <= 1) {
        /* Between stanzas only whitespace (keepalives) may appear. */
        for (int i = 0; i < len; i++) {
            if (!is_space(s[i])) {
                halt(xs, XSE_NOT_WELL_FORMED);
                return;
            }
        }
        return;
    }
    if (token_end(xs) - xs->stanza_start > xs->lim.max_stanza_size) {
        halt(xs, XSE_POLICY_VIOLATION);
        return;
    }
    stanza_add_text(xs->cur, s, (size_t)len);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name,
                               const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    halt(ud, XSE_RESTRICTED_XML);
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_pe,
                                   const XML_Char *value, int value_len,
                                   const XML_Char *base, const XML_Char *sysid,
                                   const XML_Char *pubid,
                                   const XML_Char *notation)
{
    (void)name, (void)is_pe, (void)value, (void)value_len, (void)base;
    (void)sysid, (void)pubid, (void)notation;
    halt(ud, XSE_RESTRICTED_XML);
}

static void XMLCALL on_pi(void *ud, const XML_Char *target,
                          const XML_Char *data)
{
    (void)target, (void)data;
    halt(ud, XSE_RESTRICTED_XML);
}

static void XMLCALL on_comment(void *ud, const XML_Char *data)
{
    (void)data;
    halt(ud, XSE_RESTRICTED_XML);
}

/* ---- spare parsers ---- */

/* A parser at depth 1 of a stream of context header, after fed bytes. */
struct spare {
    XML_Parser p; /* NULL: the slot is free */
    struct region *mem;
    uint64_t fed;
    char *header; /* owned; kept in a free slot for its next parser */
    size_t header_len;
    uint64_t context; /* names header: a new number whenever it changes */
};

static _Atomic uint64_t contexts_named;

static _Thread_local struct spare spares[SPARES];
static _Thread_local unsigned spare_victim;
static pthread_key_t spares_key;
static pthread_once_t spares_once = PTHREAD_ONCE_INIT;

static void free_parser(XML_Parser p, struct region *mem)
{
    struct region *saved = mm_region;
    mm_region = mem;
    XML_ParserFree(p);
    mm_region = saved;
    region_destroy(mem);
}

void xstream_drop_spares(void)
{
    for (unsigned i = 0; i < SPARES; i++) {
        struct spare *sp = &spares[i];
        if (sp->p)
            free_parser(sp->p, sp->mem);
        free(sp->header);
        *sp = (struct spare){0};
    }
}

static void spares_at_thread_exit(void *unused)
{
    (void)unused;
    xstream_drop_spares();
}

static bool spares_key_made;

static void spares_key_create(void)
{
    spares_key_made =
        pthread_key_create(&spares_key, spares_at_thread_exit) == 0;
}

/* Whether sp's context is xs's: by the spare's number for it when xs
 * has seen that before, so that the stream's own copy, cold in the
 * cache, is compared only the first time. */
static bool same_context(const struct spare *sp, struct xstream *xs)
{
    if (xs->context && sp->context == xs->context)
        return true;
    if (!sp->header || sp->header_len != xs->header_len ||
        memcmp(sp->header, xs->header, xs->header_len) != 0)
        return false;
    xs->context = sp->context;
    return true;
}

/* Takes a spare parser of xs's context, if the thread has one. */
static bool borrow(struct xstream *xs)
{
    for (unsigned i = 0; i < SPARES; i++) {
        struct spare *sp = &spares[i];
        if (!sp->p || !same_context(sp, xs))
            continue;
        xs->p = sp->p;
        xs->mem = sp->mem;
        sp->p = NULL;
        sp->mem = NULL;
        XML_SetUserData(xs->p, xs);
        xs->fed = xs->peer_start = xs->stanza_start = xs->event_end = sp->fed;
        xs->depth = 1;
        return true;
    }
    return false;
}

/* Whether xs's parser holds nothing of the stream but its context. */
static bool between_stanzas(struct xstream *xs)
{
    return xs->p && xs->state == XS_OPEN && xs->header && !xs->root &&
           !xs->halted &&
           XML_GetCurrentByteIndex(xs->p) == (XML_Index)xs->fed;
}

/* Gives xs's parser, which is between_stanzas(), to the thread's spares,
 * or frees it when it has grown. */
static void lend(struct xstream *xs)
{
    XML_Parser p = xs->p;
    struct region *mem = xs->mem;
    xs->p = NULL;
    xs->mem = NULL;
    xs->depth = 0;
    if (region_bytes(mem) > EXPAT_SOFT_MAX) {
        free_parser(p, mem);
        return;
    }
    struct spare *sp = NULL;
    for (unsigned i = 0; i < SPARES && !sp; i++)
        if (!spares[i].p && same_context(&spares[i], xs))
            sp = &spares[i];
    for (unsigned i = 0; i < SPARES && !sp; i++)
        if (!spares[i].p)
            sp = &spares[i];
    if (!sp) {
        sp = &spares[spare_victim++ % SPARES];
        free_parser(sp->p, sp->mem);
    }
    if (!same_context(sp, xs)) {
        free(sp->header);
        sp->header = xstrndup(xs->header, xs->header_len);
        sp->header_len = xs->header_len;
        sp->context = xs->context = ++contexts_named;
        /* A thread other than the loop's frees its spares as it ends;
         * the loop calls xstream_drop_spares(). */
        pthread_once(&spares_once, spares_key_create);
        if (spares_key_made)
            pthread_setspecific(spares_key, spares);
    }
    sp->p = p;
    sp->mem = mem;
    sp->fed = xs->fed;
}

static void parser_open(struct xstream *xs)
{
    static const XML_Char sep[] = {NS_SEP, '\0'};
    assert(!xs->p && !xs->mem);
    if (xs->state == XS_OPEN && xs->header && borrow(xs))
        return;
    xs->mem = region_new();
    WITH_REGION(xs, xs->p = XML_ParserCreate_MM("UTF-8", &mm_suite, sep));
    XML_Parser p = xs->p;
    XML_SetUserData(p, xs);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_chars);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    XML_SetEntityDeclHandler(p, on_entity_decl);
    XML_SetProcessingInstructionHandler(p, on_pi);
    XML_SetCommentHandler(p, on_comment);
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    if (xs->state == XS_HEADER)
        XML_SetNamespaceDeclHandler(p, on_ns_decl, NULL);
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 6)
    /* Deferral holds back a completed stanza until more input arrives;
     * a server must act on every stanza as soon as its last byte is in. */
    XML_SetReparseDeferralEnabled(p, XML_FALSE);
#endif
    xs->fed = xs->peer_start = xs->stanza_start = xs->event_end = 0;
    xs->depth = 0;
    if (xs->state != XS_OPEN || !xs->header)
        return;
    /* Resuming with a parser of its own: the context was valid when it
     * first came, so replaying it only restores it. */
    xs->replaying = true;
    for (size_t pos = 0, used; pos < xs->header_len; pos += used) {
        size_t n = xs->header_len - pos;
        int r =
            parse(xs, xs->header + pos, n < FEED_SLICE ? n : FEED_SLICE, &used);
        (void)r;
        assert(r == 0);
    }
    xs->replaying = false;
    assert(xs->depth == 1);
    xs->peer_start = xs->fed;
}

/* Frees expat and any half-built stanza; the state stays as it is. */
static void parser_drop(struct xstream *xs)
{
    if (xs->p)
        free_parser(xs->p, xs->mem);
    xs->p = NULL;
    xs->mem = NULL;
    stanza_unref(xs->root);
    xs->root = xs->cur = NULL;
    xs->depth = 0;
    xs->halted = false;
    xs->reset_pending = false;
    xs->err = XSE_NONE;
}

/* Frees everything the stream holds but the struct itself. */
static void release(struct xstream *xs)
{
    parser_drop(xs);
    buf_free(&xs->decls);
    free(xs->header);
    xs->header = NULL;
    xs->header_len = 0;
    xs->context = 0;
}

/* A fresh stream: nothing of the old one remains. */
static void restart(struct xstream *xs)
{
    release(xs);
    xs->state = XS_HEADER;
}

/* Stops expat from a handler; err (when not XSE_NONE) is reported once
 * XML_Parse() has returned. */
static void halt(struct xstream *xs, enum xstream_error err)
{
    if (err != XSE_NONE && xs->err == XSE_NONE)
        xs->err = err;
    if (!xs->halted) {
        xs->halted = true;
        XML_StopParser(xs->p, XML_FALSE);
    }
}

static enum xstream_error map_error(enum XML_Error e)
{
    switch (e) {
    case XML_ERROR_UNDEFINED_ENTITY:
    case XML_ERROR_RECURSIVE_ENTITY_REF:
    case XML_ERROR_PARAM_ENTITY_REF:
    case XML_ERROR_BINARY_ENTITY_REF:
    case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
    case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
    case XML_ERROR_NOT_STANDALONE:
    case XML_ERROR_ENTITY_DECLARED_IN_PE:
        return XSE_RESTRICTED_XML;
    default:
        return XSE_NOT_WELL_FORMED;
    }
}

/* Reports the error found and leaves the stream failed. The error
 * callback may reset or stop the stream; the rest of the input fed with
 * the bad bytes is dropped either way. */
static int fail(struct xstream *xs)
{
    enum xstream_error err = xs->err;
    release(xs);
    xs->state = XS_FAILED;
    if (xs->cb->error)
        xs->cb->error(xs->ud, err);
    return -ERR_PROTO;
}

/* Caps on what the peer has sent but we have not finished: the open
 * stanza, the header, or a token expat is buffering between stanzas. */
static enum xstream_error check_pending(struct xstream *xs)
{
    switch (xs->state) {
    case XS_HEADER:
        if (xs->fed - xs->peer_start > HEADER_MAX)
            return XSE_POLICY_VIOLATION;
        break;
    case XS_OPEN:
    case XS_CLOSED:
        if (xs->root) {
            if (xs->fed - xs->stanza_start > xs->lim.max_stanza_size)
                return XSE_POLICY_VIOLATION;
        } else {
            XML_Index at = XML_GetCurrentByteIndex(xs->p);
            uint64_t done = at < 0 ? 0 : (uint64_t)at;
            if (done < xs->peer_start)
                done = xs->peer_start;
            if (xs->fed - done > xs->lim.max_stanza_size)
                return XSE_POLICY_VIOLATION;
        }
        break;
    default:
        break;
    }
    return XSE_NONE;
}

/* Feeds s[0..n) (n <= FEED_SLICE) to expat and acts on what the
 * callbacks asked for. *used is how much of s was consumed, which is
 * less than n when a callback reset the stream mid-slice. */
static int parse(struct xstream *xs, const char *s, size_t n, size_t *used)
{
    uint64_t base = xs->fed;
    xs->fed += n;
    xs->in_expat = true;
    enum XML_Status st;
    WITH_REGION(xs, st = XML_Parse(xs->p, s, (int)n, XML_FALSE));
    xs->in_expat = false;
    *used = n;
    if (xs->state == XS_STOPPED) {
        release(xs);
        return -ERR_CLOSED;
    }
    if (st == XML_STATUS_ERROR && !xs->halted)
        xs->err = map_error(XML_GetErrorCode(xs->p));
    if (xs->err != XSE_NONE)
        return fail(xs);
    if (xs->reset_pending) {
        /* Resume right after the token whose callback asked for the
         * reset: the peer may have pipelined a new stream header
         * behind it (RFC 6120 §6.4.6). */
        uint64_t end = xs->event_end;
        *used = end <= base ? 0 : end - base >= n ? n : (size_t)(end - base);
        restart(xs);
        return 0;
    }
    xs->err = check_pending(xs);
    if (xs->err != XSE_NONE)
        return fail(xs);
    return 0;
}

/* ---- API ---- */

struct xstream *xstream_new(const struct xstream_limits *lim,
                            const struct xstream_cb *cb, void *ud)
{
    struct xstream *xs = xcalloc(1, sizeof(*xs));
    xs->cb = cb;
    xs->ud = ud;
    if (lim)
        xs->lim = *lim;
    if (!xs->lim.max_stanza_size)
        xs->lim.max_stanza_size = DEFAULT_STANZA_MAX;
    if (!xs->lim.max_depth)
        xs->lim.max_depth = DEFAULT_DEPTH;
    if (!xs->lim.max_attrs)
        xs->lim.max_attrs = DEFAULT_ATTRS;
    xs->state = XS_HEADER;
    return xs;
}

void xstream_free(struct xstream *xs)
{
    if (!xs)
        return;
    assert(!xs->in_feed);
    release(xs);
    free(xs);
}

int xstream_feed(struct xstream *xs, const char *data, size_t len)
{
    assert(!xs->in_feed);
    if (xs->state == XS_FAILED)
        return -ERR_PROTO;
    if (xs->state == XS_STOPPED)
        return -ERR_CLOSED;
    int r = 0;
    size_t pos = 0;
    xs->in_feed = true;
    while (pos < len && r == 0) {
        if (!xs->p) {
            /* Whitespace before a new stream is a keepalive that crossed
             * the restart; expat would reject it before <?xml?>. */
            if (xs->state == XS_HEADER) {
                while (pos < len && is_space(data[pos]))
                    pos++;
                if (pos == len)
                    break;
                /* A UTF-16 byte order mark: expat would honour it over
                 * the UTF-8 we ask for (RFC 6120 §11.6). */
                if ((unsigned char)data[pos] >= 0xfe) {
                    xs->err = XSE_NOT_WELL_FORMED;
                    r = fail(xs);
                    break;
                }
            }
            parser_open(xs);
        }
        size_t n = len - pos < FEED_SLICE ? len - pos : FEED_SLICE;
        size_t used;
        r = parse(xs, data + pos, n, &used);
        pos += used;
    }
    xs->in_feed = false;
    if (r == 0 && between_stanzas(xs))
        lend(xs);
    return r;
}

void xstream_reset(struct xstream *xs)
{
    if (xs->state == XS_STOPPED)
        return;
    if (xs->in_expat) {
        xs->reset_pending = true;
        halt(xs, XSE_NONE);
        return;
    }
    restart(xs);
}

void xstream_stop(struct xstream *xs)
{
    xs->state = XS_STOPPED;
    if (xs->in_expat) {
        xs->reset_pending = false;
        halt(xs, XSE_NONE);
        return;
    }
    release(xs);
}

void xstream_set_max_stanza_size(struct xstream *xs, size_t max)
{
    xs->lim.max_stanza_size = max ? max : DEFAULT_STANZA_MAX;
}

size_t xstream_memory(const struct xstream *xs)
{
    return sizeof(*xs) + xs->header_len + xs->decls.cap +
           (xs->mem ? region_bytes(xs->mem) : 0);
}

const char *xstream_error_str(enum xstream_error err)
{
    switch (err) {
    case XSE_NONE:
        return "no error";
    case XSE_NOT_WELL_FORMED:
        return "not-well-formed";
    case XSE_POLICY_VIOLATION:
        return "policy-violation";
    case XSE_RESTRICTED_XML:
        return "restricted-xml";
    case XSE_INVALID_NAMESPACE:
        return "invalid-namespace";
    case XSE_BAD_FORMAT:
        return "bad-format";
    }
    return "unknown error";
}

/* ---- one element from a string ---- */

struct one {
    struct stanza *st;
};

static void one_open(void *ud, const struct stanza *hdr)
{
    (void)ud;
    (void)hdr;
}

static void one_stanza(void *ud, struct stanza *st)
{
    struct one *o = ud;
    if (o->st)
        stanza_unref(st);
    else
        o->st = st;
}

static void one_close(void *ud) { (void)ud; }

static void one_error(void *ud, enum xstream_error err)
{
    (void)ud;
    (void)err;
}

struct stanza *xstream_parse_one(const char *xml, size_t len)
{
    static const struct xstream_cb cb = { one_open, one_stanza, one_close,
                                          one_error };
    static const char head[] =
        "<stream:stream xmlns='jabber:client' "
        "xmlns:stream='http://etherx.jabber.org/streams'>";
    struct xstream_limits lim = { .max_stanza_size = len + 1,
                                  .max_depth = 64,
                                  .max_attrs = 256 };
    struct one o = { NULL };
    struct xstream *xs = xstream_new(&lim, &cb, &o);
    if (xstream_feed(xs, head, sizeof(head) - 1) == 0)
        xstream_feed(xs, xml, len);
    xstream_free(xs);
    return o.st;
}
