/* xser.c -- serialising stanza trees to XML text; see xser.h.
 *
 * Elements are written unprefixed, with xmlns='...' where their namespace
 * differs from the one in scope (Namespaces in XML 1.0 §6.2), so output
 * never depends on prefixes the peer chose; the one exception is the XML
 * namespace, which keeps its reserved xml: prefix. Attributes in the XML
 * namespace are written as xml:name; any other namespaced attribute gets
 * a prefix ns1, ns2, ... declared on its own element.
 *
 * Escaping: &, <, >, ' and " everywhere, plus tab, newline and carriage
 * return in attribute values and carriage return in text as character
 * references, so that the receiver's attribute-value and end-of-line
 * normalisation (XML 1.0 §3.3.3, §2.11) gives back the same string.
 * Characters that XML 1.0 cannot carry at all are the producer's
 * problem; the parser never yields them. */
#include "xml/xser.h"

#include <stdbool.h>
#include <string.h>
#ifdef XSER_CHECK_MEMO
#include <stdio.h>
#include <stdlib.h>
#endif

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define TOP_TAG_VALUE_MAX 64 /* bytes of each attribute value in logs */

enum esc_mode { ESC_TEXT, ESC_ATTR, ESC_LOG };

static void write_elem(const struct stanza *el, const char *scope_ns,
                       struct buf *out);
static void write_start(const struct stanza *el, const char *scope_ns,
                        size_t value_max, struct buf *out);
static void escape(struct buf *out, const char *s, size_t n,
                   enum esc_mode mode);

/* For each byte: 0 when it is copied as is, else what escape() must do
 * in which mode (bit 0: text, bit 1: attributes, bit 2: logs). */
static const unsigned char esc_class[256] = {
    ['&'] = 7,  ['<'] = 7,  ['>'] = 7,  ['\''] = 6, ['"'] = 6,  ['\t'] = 6,
    ['\n'] = 6, ['\r'] = 7, [0x01] = 4, [0x02] = 4, [0x03] = 4, [0x04] = 4,
    [0x05] = 4, [0x06] = 4, [0x07] = 4, [0x08] = 4, [0x0b] = 4, [0x0c] = 4,
    [0x0e] = 4, [0x0f] = 4, [0x10] = 4, [0x11] = 4, [0x12] = 4, [0x13] = 4,
    [0x14] = 4, [0x15] = 4, [0x16] = 4, [0x17] = 4, [0x18] = 4, [0x19] = 4,
    [0x1a] = 4, [0x1b] = 4, [0x1c] = 4, [0x1d] = 4, [0x1e] = 4, [0x1f] = 4,
    [0x7f] = 4,
};

#if defined(__SSE2__)
/* Bit i set when byte i of v is one bit's mode escapes, or is below ' '
 * (a superset: text keeps tab and newline as they are). */
static unsigned special_bytes(__m128i v, unsigned char bit)
{
    const __m128i space = _mm_set1_epi8(' ');
    /* Below ' ' (unsigned): max(v, ' ') is ' ' while v is not. */
    __m128i hit = _mm_cmpeq_epi8(_mm_max_epu8(v, space), space);
    hit = _mm_andnot_si128(_mm_cmpeq_epi8(v, space), hit);
    hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8('&')));
    hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8('<')));
    hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8('>')));
    if (bit == 2) {
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8('\'')));
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
    }
    return (unsigned)_mm_movemask_epi8(hit);
}
#endif

/* Length of the front of s (n bytes) that mode copies as is. Most text
 * and nearly every JID and id need no escaping at all, so with SSE2 the
 * scan goes sixteen bytes a step, the last few through a padded copy.
 * It may stop early (at a control character text keeps), never late. */
static size_t plain_prefix(const char *s, size_t n, unsigned char bit)
{
#if defined(__SSE2__)
    if (bit != 4) {
        size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            unsigned hit =
                special_bytes(_mm_loadu_si128((const __m128i *)(s + i)), bit);
            if (hit)
                return i + (size_t)__builtin_ctz(hit);
        }
        if (i == n)
            return n;
        /* Padding with 'x', which no mode escapes. */
        char tail[16];
        memset(tail, 'x', sizeof(tail));
        memcpy(tail, s + i, n - i);
        unsigned hit =
            special_bytes(_mm_loadu_si128((const __m128i *)tail), bit);
        return hit ? i + (size_t)__builtin_ctz(hit) : n;
    }
#endif
    size_t i = 0;
    while (i < n && !(esc_class[(unsigned char)s[i]] & bit))
        i++;
    return i;
}

static void escape(struct buf *out, const char *s, size_t n, enum esc_mode mode)
{
    unsigned char bit = mode == ESC_TEXT ? 1 : mode == ESC_ATTR ? 2 : 4;
    size_t start = 0, i = 0;
    for (;;) {
        i += plain_prefix(s + i, n - i, bit);
        if (i >= n)
            break;
        unsigned char c = (unsigned char)s[i++];
        if (!(esc_class[c] & bit))
            continue;
        buf_append(out, s + start, i - 1 - start);
        switch (c) {
        case '&':
            buf_append(out, "&amp;", 5);
            break;
        case '<':
            buf_append(out, "&lt;", 4);
            break;
        case '>':
            buf_append(out, "&gt;", 4);
            break;
        case '\'':
            buf_append(out, "&apos;", 6);
            break;
        case '"':
            buf_append(out, "&quot;", 6);
            break;
        default:
            buf_printf(out, "&#%u;", c);
            break;
        }
        start = i;
    }
    buf_append(out, s + start, n - start);
}

static bool foreign(const char *ns)
{
    return ns && *ns && !stanza_same(ns, NS_XML);
}

/* Index of the first attribute of el in the namespace of attribute i.
 * Its prefix is named after that index ("ns1" for attribute 0), which
 * keeps prefixes distinct per namespace without any bookkeeping; the
 * scan is quadratic only in the attributes of one element, which the
 * parser bounds. */
static unsigned first_of_ns(const struct stanza *el, unsigned i)
{
    for (unsigned j = 0; j < i; j++)
        if (el->attrs[j].ns && stanza_same(el->attrs[j].ns, el->attrs[i].ns))
            return j;
    return i;
}

/* Writes "<name ...attributes" without the closing bracket. Values are
 * cut to value_max bytes (at a UTF-8 character boundary, marked "...")
 * when value_max is not SIZE_MAX. */
static void write_start(const struct stanza *el, const char *scope_ns,
                        size_t value_max, struct buf *out)
{
    bool logging = value_max != (size_t)-1;
    buf_append(out, "<", 1);
    if (stanza_same(el->ns, NS_XML))
        buf_append(out, "xml:", 4);
    buf_append_str(out, el->name);
    if (scope_ns && !stanza_same(el->ns, scope_ns) &&
        !stanza_same(el->ns, NS_XML)) {
        buf_append(out, " xmlns='", 8);
        escape(out, el->ns, strlen(el->ns), ESC_ATTR);
        buf_append(out, "'", 1);
    }
    for (unsigned i = 0; i < el->nattrs; i++) {
        const struct stanza_attr *at = &el->attrs[i];
        if (!foreign(at->ns) || first_of_ns(el, i) != i)
            continue;
        buf_printf(out, " xmlns:ns%u='", i + 1);
        escape(out, at->ns, strlen(at->ns), ESC_ATTR);
        buf_append(out, "'", 1);
    }
    for (unsigned i = 0; i < el->nattrs; i++) {
        const struct stanza_attr *at = &el->attrs[i];
        buf_append(out, " ", 1);
        if (foreign(at->ns))
            buf_printf(out, "ns%u:", first_of_ns(el, i) + 1);
        else if (at->ns && *at->ns)
            buf_append(out, "xml:", 4);
        buf_append_str(out, at->name);
        buf_append(out, "='", 2);
        size_t len = strlen(at->value);
        bool cut = len > value_max;
        if (cut) {
            len = value_max;
            /* Do not split a UTF-8 sequence: back up over continuation
             * bytes to the start of the character that was cut. */
            while (len > 0 && ((unsigned char)at->value[len] & 0xc0) == 0x80)
                len--;
        }
        escape(out, at->value, len, logging ? ESC_LOG : ESC_ATTR);
        if (cut)
            buf_append(out, "...", 3);
        buf_append(out, "'", 1);
    }
}

static void write_elem(const struct stanza *el, const char *scope_ns,
                       struct buf *out)
{
    write_start(el, scope_ns, (size_t)-1, out);
    if (el->nchildren == 0) {
        buf_append(out, "/>", 2);
        return;
    }
    buf_append(out, ">", 1);
    /* The XML namespace may not be made the default (Namespaces in XML
     * §3), so such an element keeps its xml: prefix and the scope of its
     * children stays what it was. */
    bool xml_el = stanza_same(el->ns, NS_XML);
    for (unsigned i = 0; i < el->nchildren; i++) {
        const struct stanza_node *c = &el->children[i];
        if (c->elem)
            write_elem(c->elem, xml_el ? scope_ns : el->ns, out);
        else
            escape(out, c->text, c->text_len, ESC_TEXT);
    }
    buf_append(out, "</", 2);
    if (xml_el)
        buf_append(out, "xml:", 4);
    buf_append_str(out, el->name);
    buf_append(out, ">", 1);
}

#define MEMO_SCOPE_MAX 64

static _Thread_local struct {
    bool valid;
    struct stanza_version v;
    char scope[MEMO_SCOPE_MAX];
    struct buf xml;
} memo;

struct buf *xser_memo_open(struct stanza_version v, const char *default_ns)
{
    size_t n = strlen(default_ns);
    memo.valid = n < MEMO_SCOPE_MAX;
    if (!memo.valid)
        return NULL;
    memo.v = v;
    memcpy(memo.scope, default_ns, n + 1);
    buf_reset(&memo.xml);
    return &memo.xml;
}

void xser_memo_clear(void)
{
    memo.valid = false;
    buf_free(&memo.xml);
}

static bool memo_fits(const struct stanza *el, const char *scope)
{
    if (!memo.valid || el->parent)
        return false;
    struct stanza_version v = stanza_version(el);
    return v.tree == memo.v.tree && v.gen == memo.v.gen &&
           strcmp(scope, memo.scope) == 0;
}

void xser_write(const struct stanza *el, const char *default_ns,
                struct buf *out)
{
    const char *scope = default_ns ? default_ns : "";
    if (memo_fits(el, scope)) {
#ifdef XSER_CHECK_MEMO
        struct buf fresh = BUF_INIT;
        write_elem(el, scope, &fresh);
        if (buf_used(&fresh) != buf_used(&memo.xml) ||
            memcmp(buf_data(&fresh), buf_data(&memo.xml),
                   buf_used(&fresh)) != 0) {
            fprintf(stderr, "xser: memo differs:\n%.*s\n%s\n",
                    (int)buf_used(&memo.xml), buf_data(&memo.xml),
                    buf_cstr(&fresh));
            abort();
        }
        buf_free(&fresh);
#endif
        buf_append(out, buf_data(&memo.xml), buf_used(&memo.xml));
        return;
    }
    write_elem(el, scope, out);
}

void xser_escape_attr(const char *s, size_t n, struct buf *out)
{
    escape(out, s, n, ESC_ATTR);
}

void xser_top_tag(const struct stanza *el, struct buf *out)
{
    /* The stream content namespaces go without saying in a log line;
     * any other one says what the element is about. */
    const char *scope = el->ns;
    if (!*el->ns || strcmp(el->ns, "jabber:client") == 0 ||
        strcmp(el->ns, "jabber:server") == 0 ||
        strcmp(el->ns, "jabber:component:accept") == 0)
        scope = NULL;
    else
        scope = "";
    write_start(el, scope, TOP_TAG_VALUE_MAX, out);
    buf_append(out, ">", 1);
}
