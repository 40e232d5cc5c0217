/* test_stanza.c -- element trees (stanza.c) and their serialisation
 * (xser.c): building, attributes, iteration, copies and references,
 * text merging, namespaces and escaping on output. Parsing is covered by
 * test_xstream.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "xml/stanza.h"
#include "xml/xser.h"

#define NS_CLIENT "jabber:client"

/* Serialises el with jabber:client in scope; the result is owned by the
 * test's buf and checked against want. */
static void assert_xml(const struct stanza *el, const char *want)
{
    struct buf b = BUF_INIT;
    xser_write(el, NS_CLIENT, &b);
    assert_string_equal(buf_cstr(&b), want);
    buf_free(&b);
}

static void assert_top_tag(const struct stanza *el, const char *want)
{
    struct buf b = BUF_INIT;
    xser_top_tag(el, &b);
    assert_string_equal(buf_cstr(&b), want);
    buf_free(&b);
}

static struct stanza *sample_message(void)
{
    struct stanza *m = stanza_new(NS_CLIENT, "message");
    stanza_set_attr(m, "to", "juliet@capulet.lit");
    stanza_set_attr(m, "type", "chat");
    struct stanza *body = stanza_add_child(m, NULL, "body");
    stanza_add_text(body, "Wherefore art thou?", 19);
    stanza_add_child(m, "urn:xmpp:receipts", "request");
    struct stanza *th = stanza_add_child(m, NULL, "thread");
    stanza_add_text(th, "t1", 2);
    return m;
}

static void test_build_and_serialise(void **state)
{
    (void)state;
    struct stanza *m = sample_message();
    assert_string_equal(m->ns, NS_CLIENT);
    assert_null(m->parent);
    assert_int_equal(stanza_elem_count(m), 3);
    struct stanza *body = stanza_child(m, NULL, "body");
    assert_non_null(body);
    assert_ptr_equal(body->parent, m);
    /* A child without its own namespace inherits the parent's. */
    assert_string_equal(body->ns, NS_CLIENT);
    assert_xml(m, "<message to='juliet@capulet.lit' type='chat'>"
                  "<body>Wherefore art thou?</body>"
                  "<request xmlns='urn:xmpp:receipts'/>"
                  "<thread>t1</thread></message>");
    /* In another scope the root states its namespace. */
    struct buf b = BUF_INIT;
    xser_write(m, "jabber:server", &b);
    assert_non_null(strstr(buf_cstr(&b), "<message xmlns='jabber:client' "));
    buf_free(&b);
    stanza_unref(m);
}

static void test_attributes(void **state)
{
    (void)state;
    struct stanza *el = stanza_new(NS_CLIENT, "iq");
    stanza_set_attr(el, "id", "a1");
    stanza_set_attr(el, "type", "get");
    stanza_set_attr(el, "to", "example.com");
    assert_int_equal(el->nattrs, 3);
    assert_string_equal(stanza_attr(el, "type"), "get");
    assert_null(stanza_attr(el, "from"));

    /* Replacing keeps the position and leaves old values readable: a
     * caller may still hold them (swapping to and from). */
    const char *to = stanza_attr(el, "to");
    stanza_set_attr(el, "from", to);
    stanza_set_attr(el, "to", "romeo@montague.lit");
    assert_string_equal(to, "example.com");
    assert_string_equal(stanza_attr(el, "from"), "example.com");
    assert_string_equal(stanza_attr(el, "to"), "romeo@montague.lit");
    assert_int_equal(el->nattrs, 4);
    assert_string_equal(el->attrs[2].name, "to");

    /* Removing, also of one that is not there. */
    stanza_set_attr(el, "type", NULL);
    stanza_set_attr(el, "nothing", NULL);
    assert_int_equal(el->nattrs, 3);
    assert_null(stanza_attr(el, "type"));
    assert_xml(el, "<iq id='a1' to='romeo@montague.lit' from='example.com'/>");

    /* Namespaced attributes are distinct from plain ones. */
    stanza_set_attr_ns(el, NS_XML, "lang", "en");
    stanza_set_attr(el, "lang", "plain");
    assert_string_equal(stanza_attr_ns(el, NS_XML, "lang"), "en");
    assert_string_equal(stanza_attr(el, "lang"), "plain");
    assert_string_equal(stanza_attr_ns(el, NULL, "lang"), "plain");
    assert_string_equal(stanza_attr_ns(el, "", "lang"), "plain");
    stanza_set_attr_ns(el, NS_XML, "lang", "de");
    assert_string_equal(stanza_attr_ns(el, NS_XML, "lang"), "de");
    stanza_set_attr_ns(el, NS_XML, "lang", NULL);
    assert_null(stanza_attr_ns(el, NS_XML, "lang"));
    assert_string_equal(stanza_attr(el, "lang"), "plain");

    /* Many attributes: the array grows. */
    char name[16];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "a%d", i);
        stanza_set_attr(el, name, name);
    }
    assert_string_equal(stanza_attr(el, "a0"), "a0");
    assert_string_equal(stanza_attr(el, "a99"), "a99");
    assert_string_equal(stanza_attr(el, "id"), "a1");
    stanza_unref(el);
}

static void test_iteration(void **state)
{
    (void)state;
    struct stanza *q = stanza_new("jabber:iq:roster", "query");
    char jid[32];
    for (int i = 0; i < 1000; i++) {
        struct stanza *item = stanza_add_child(q, NULL, "item");
        snprintf(jid, sizeof(jid), "u%d@example.com", i);
        stanza_set_attr(item, "jid", jid);
        if (i % 10 == 0)
            stanza_add_child(q, "urn:other", "item");
        stanza_add_text(q, " ", 1);
    }
    assert_int_equal(stanza_elem_count(q), 1100);
    int n = 0;
    for (struct stanza *it = stanza_next_child(q, NULL, NULL, "item"); it;
         it = stanza_next_child(q, it, NULL, "item"))
        n++;
    assert_int_equal(n, 1100);
    n = 0;
    for (struct stanza *it =
             stanza_next_child(q, NULL, "jabber:iq:roster", "item");
         it; it = stanza_next_child(q, it, "jabber:iq:roster", "item")) {
        snprintf(jid, sizeof(jid), "u%d@example.com", n);
        assert_string_equal(stanza_attr(it, "jid"), jid);
        n++;
    }
    assert_int_equal(n, 1000);
    n = 0;
    for (struct stanza *it = stanza_next_child(q, NULL, "urn:other", NULL); it;
         it = stanza_next_child(q, it, "urn:other", NULL))
        n++;
    assert_int_equal(n, 100);
    assert_null(stanza_child(q, NULL, "missing"));
    assert_null(stanza_child(q, "urn:none", NULL));

    /* Iteration goes on correctly when the loop removes what it saw. */
    struct stanza *it = stanza_child(q, "urn:other", NULL);
    while (it) {
        struct stanza *next = stanza_next_child(q, it, "urn:other", NULL);
        stanza_remove_child(q, it);
        it = next;
    }
    assert_int_equal(stanza_elem_count(q), 1000);
    assert_null(stanza_child(q, "urn:other", NULL));
    /* A sibling from another element is not a valid cursor. */
    struct stanza *other = stanza_new(NS_CLIENT, "x");
    assert_null(stanza_next_child(q, other, NULL, NULL));
    stanza_unref(other);
    stanza_unref(q);
}

static void test_text(void **state)
{
    (void)state;
    struct stanza *b = stanza_new(NS_CLIENT, "body");
    assert_null(stanza_text_dup(b));
    stanza_add_text(b, "", 0);
    assert_int_equal(b->nchildren, 0);
    stanza_add_text(b, "Hello", 5);
    stanza_add_text(b, ", ", 2);
    stanza_add_text(b, "world", 5);
    /* Adjacent text is one node. */
    assert_int_equal(b->nchildren, 1);
    assert_int_equal(b->children[0].text_len, 12);
    stanza_add_child(b, NULL, "br");
    stanza_add_text(b, "!", 1);
    assert_int_equal(b->nchildren, 3);
    char *s = stanza_text_dup(b);
    assert_string_equal(s, "Hello, world!");
    free(s);
    struct buf out = BUF_INIT;
    stanza_text(b, &out);
    assert_int_equal(buf_used(&out), 13);
    buf_free(&out);

    struct stanza *m = stanza_new(NS_CLIENT, "message");
    stanza_add_copy(m, b);
    assert_int_equal(stanza_child_text(m, NULL, "body", &out), 0);
    assert_string_equal(buf_cstr(&out), "Hello, world!");
    assert_int_equal(stanza_child_text(m, NULL, "subject", &out),
                     -ERR_NOTFOUND);
    buf_free(&out);
    stanza_unref(m);
    stanza_unref(b);
}

/* Text built from many small pieces, as a parser delivers it, costs
 * linear time and is exact. */
static void test_long_text(void **state)
{
    (void)state;
    struct stanza *b = stanza_new(NS_CLIENT, "body");
    char piece[16];
    for (int i = 0; i < 200000; i++) {
        snprintf(piece, sizeof(piece), "%06d", i);
        stanza_add_text(b, piece, 6);
    }
    assert_int_equal(b->nchildren, 1);
    assert_int_equal(b->children[0].text_len, 1200000);
    assert_memory_equal(b->children[0].text + 6 * 123456, "123456", 6);
    assert_int_equal(b->children[0].text[1200000], '\0');
    stanza_unref(b);
}

static void test_copy_and_refs(void **state)
{
    (void)state;
    struct stanza *m = sample_message();
    stanza_set_attr_ns(m, NS_XML, "lang", "en");
    struct buf a = BUF_INIT, b = BUF_INIT;
    xser_write(m, NS_CLIENT, &a);

    struct stanza *c = stanza_copy(m);
    assert_ptr_not_equal(c, m);
    assert_int_equal(c->refs, 1);
    assert_null(c->parent);
    xser_write(c, NS_CLIENT, &b);
    assert_string_equal(buf_cstr(&a), buf_cstr(&b));
    assert_ptr_equal(stanza_child(c, NULL, "body")->parent, c);

    /* The copy is independent of the original. */
    stanza_set_attr(c, "to", "other@example.com");
    stanza_add_text(stanza_child(c, NULL, "body"), " Here.", 6);
    stanza_remove_child(c, stanza_child(c, "urn:xmpp:receipts", NULL));
    buf_reset(&b);
    xser_write(m, NS_CLIENT, &b);
    assert_string_equal(buf_cstr(&a), buf_cstr(&b));
    assert_xml(c, "<message to='other@example.com' type='chat' "
                  "xml:lang='en'><body>Wherefore art thou? Here.</body>"
                  "<thread>t1</thread></message>");

    /* A copy of a subtree is a new root. */
    struct stanza *body = stanza_copy(stanza_child(m, NULL, "body"));
    assert_null(body->parent);
    assert_xml(body, "<body>Wherefore art thou?</body>");

    /* References: the tree lives until the last one goes, and a child
     * keeps its whole tree alive. */
    struct stanza *req = stanza_child(m, "urn:xmpp:receipts", NULL);
    assert_ptr_equal(stanza_ref(m), m);
    assert_ptr_equal(stanza_ref(req), req);
    assert_int_equal(m->refs, 3);
    stanza_unref(m);
    stanza_unref(m);
    assert_string_equal(req->name, "request");
    stanza_unref(req);
    stanza_unref(NULL);

    stanza_unref(body);
    stanza_unref(c);
    buf_free(&a);
    buf_free(&b);
}

static void test_add_copy_and_remove(void **state)
{
    (void)state;
    struct stanza *m = sample_message();
    struct stanza *fwd = stanza_new(NS_CLIENT, "message");
    struct stanza *f = stanza_add_child(fwd, "urn:xmpp:forward:0", "forwarded");
    struct stanza *inner = stanza_add_copy(f, m);
    assert_ptr_equal(inner->parent, f);
    stanza_unref(m);
    /* The copy lives in fwd's tree: m is gone. */
    assert_xml(fwd, "<message><forwarded xmlns='urn:xmpp:forward:0'>"
                    "<message xmlns='jabber:client' "
                    "to='juliet@capulet.lit' type='chat'>"
                    "<body>Wherefore art thou?</body>"
                    "<request xmlns='urn:xmpp:receipts'/>"
                    "<thread>t1</thread></message></forwarded></message>");

    /* Copying an element into itself copies what it had before. */
    struct stanza *x = stanza_new("urn:a", "x");
    stanza_add_text(stanza_add_child(x, NULL, "y"), "1", 1);
    stanza_add_copy(x, x);
    assert_xml(x, "<x xmlns='urn:a'><y>1</y><x><y>1</y></x></x>");
    stanza_add_copy(stanza_child(x, NULL, "x"), x);
    assert_xml(x, "<x xmlns='urn:a'><y>1</y><x><y>1</y><x><y>1</y>"
                  "<x><y>1</y></x></x></x></x>");

    stanza_remove_child(fwd, f);
    assert_int_equal(fwd->nchildren, 0);
    stanza_remove_child(fwd, f); /* not a child any more: no effect */
    stanza_add_text(fwd, "t", 1);
    stanza_add_child(fwd, NULL, "a");
    stanza_clear_children(fwd);
    assert_int_equal(fwd->nchildren, 0);
    assert_xml(fwd, "<message/>");
    stanza_unref(x);
    stanza_unref(fwd);
}

static void test_serialise_namespaces(void **state)
{
    (void)state;
    struct stanza *m = stanza_new(NS_CLIENT, "message");
    struct stanza *e =
        stanza_add_child(m, "eu.siacs.conversations.axolotl", "encrypted");
    struct stanza *h = stanza_add_child(e, NULL, "header");
    stanza_set_attr(h, "sid", "27183");
    /* Back in the outer namespace: needs its own xmlns. */
    stanza_add_child(h, NS_CLIENT, "body");
    /* No namespace inside a default one: xmlns=''. */
    stanza_add_child(m, "", "plain");
    /* Namespaced attributes: xml: prefix, generated prefixes, shared per
     * namespace. */
    struct stanza *x = stanza_add_child(m, "urn:x", "x");
    stanza_set_attr_ns(x, "urn:a", "one", "1");
    stanza_set_attr(x, "two", "2");
    stanza_set_attr_ns(x, "urn:b", "three", "3");
    stanza_set_attr_ns(x, "urn:a", "four", "4");
    stanza_set_attr_ns(x, NS_XML, "lang", "fr");
    assert_xml(m, "<message><encrypted "
                  "xmlns='eu.siacs.conversations.axolotl'><header "
                  "sid='27183'><body xmlns='jabber:client'/></header>"
                  "</encrypted><plain xmlns=''/><x xmlns='urn:x' "
                  "xmlns:ns1='urn:a' xmlns:ns3='urn:b' ns1:one='1' two='2' "
                  "ns3:three='3' ns1:four='4' xml:lang='fr'/></message>");
    /* An element without namespace in an empty scope needs nothing. */
    struct stanza *bare = stanza_new(NULL, "bare");
    assert_string_equal(bare->ns, "");
    struct buf b = BUF_INIT;
    xser_write(bare, NULL, &b);
    assert_string_equal(buf_cstr(&b), "<bare/>");
    buf_free(&b);
    stanza_unref(bare);
    stanza_unref(m);
}

static void test_serialise_escaping(void **state)
{
    (void)state;
    struct stanza *m = stanza_new(NS_CLIENT, "message");
    stanza_set_attr(m, "id", "a&b<c>d'e\"f\tg\nh\ri");
    struct stanza *body = stanza_add_child(m, NULL, "body");
    const char *text = "1 < 2 && 3 > 2 'q' \"q\" line\r\nnext\ttab ]]>";
    stanza_add_text(body, text, strlen(text));
    assert_xml(m, "<message id='a&amp;b&lt;c&gt;d&apos;e&quot;f&#9;g&#10;h"
                  "&#13;i'><body>1 &lt; 2 &amp;&amp; 3 &gt; 2 'q' \"q\" "
                  "line&#13;\nnext\ttab ]]&gt;</body></message>");
    stanza_unref(m);
}

/* Escaping as XML 1.0 asks, one character at a time: what the
 * serialiser must produce however it scans. */
static void reference_escape(struct buf *out, const char *s, bool attr)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': buf_append_str(out, "&amp;"); break;
        case '<': buf_append_str(out, "&lt;"); break;
        case '>': buf_append_str(out, "&gt;"); break;
        case '\r': buf_append_str(out, "&#13;"); break;
        case '\'': buf_append_str(out, attr ? "&apos;" : "'"); break;
        case '"': buf_append_str(out, attr ? "&quot;" : "\""); break;
        case '\t': buf_append_str(out, attr ? "&#9;" : "\t"); break;
        case '\n': buf_append_str(out, attr ? "&#10;" : "\n"); break;
        default: buf_append(out, s, 1);
        }
    }
}

/* Every special character at every offset of strings longer and
 * shorter than the serialiser's scanning step, between plain ASCII
 * and multi-byte UTF-8, in attribute values and in text. */
static void test_serialise_escaping_positions(void **state)
{
    (void)state;
    const char specials[] = "&<>'\"\t\n\r";
    const char *fillers[] = { "x", "\xc3\xa4", " " };
    for (size_t f = 0; f < 3; f++) {
        for (size_t len = 1; len <= 40; len++) {
            for (size_t at = 0; at < len; at++) {
                for (size_t k = 0; k < sizeof(specials) - 1; k++) {
                    struct buf in = BUF_INIT;
                    for (size_t i = 0; i < len; i++) {
                        if (i == at || i == len - 1 - at / 2)
                            buf_append(&in, &specials[k], 1);
                        else
                            buf_append_str(&in, fillers[f]);
                    }
                    const char *value = buf_cstr(&in);
                    struct stanza *m = stanza_new("", "m");
                    stanza_set_attr(m, "a", value);
                    stanza_add_text(m, value, strlen(value));
                    struct buf want = BUF_INIT;
                    buf_append_str(&want, "<m a='");
                    reference_escape(&want, value, true);
                    buf_append_str(&want, "'>");
                    reference_escape(&want, value, false);
                    buf_append_str(&want, "</m>");
                    struct buf got = BUF_INIT;
                    xser_write(m, NULL, &got);
                    assert_string_equal(buf_cstr(&got), buf_cstr(&want));
                    buf_free(&got);
                    buf_free(&want);
                    buf_free(&in);
                    stanza_unref(m);
                }
            }
        }
    }
}

/* A memo stands for its tree at its version, in its scope, and only
 * there; the text below is deliberately not the tree's, to see which
 * one is written. */
static void test_serialise_memo(void **state)
{
    (void)state;
#ifdef XSER_CHECK_MEMO
    /* This build compares every memo it uses with the tree and aborts
     * on the difference this test relies on. */
    skip();
#endif
    struct stanza *m = stanza_new(NS_CLIENT, "message");
    struct stanza *body = stanza_add_child(m, NULL, "body");
    stanza_add_text(body, "hi", 2);
    const char memo[] = "<message><body>remembered</body></message>";
    buf_append_str(xser_memo_open(stanza_version(m), NS_CLIENT), memo);

    struct buf b = BUF_INIT;
    xser_write(m, NS_CLIENT, &b);
    assert_string_equal(buf_cstr(&b), memo);
    /* Another scope, a child, or a changed tree: serialised afresh. */
    buf_reset(&b);
    xser_write(m, "", &b);
    assert_string_equal(buf_cstr(&b),
                        "<message xmlns='jabber:client'><body>hi</body>"
                        "</message>");
    buf_reset(&b);
    xser_write(body, NS_CLIENT, &b);
    assert_string_equal(buf_cstr(&b), "<body>hi</body>");
    stanza_set_attr(m, "id", "1");
    buf_reset(&b);
    xser_write(m, NS_CLIENT, &b);
    assert_string_equal(buf_cstr(&b),
                        "<message id='1'><body>hi</body></message>");
    /* Nor does a copy of the tree, which is another tree. */
    buf_append_str(xser_memo_open(stanza_version(m), NS_CLIENT), memo);
    struct stanza *c = stanza_copy(m);
    buf_reset(&b);
    xser_write(c, NS_CLIENT, &b);
    assert_string_equal(buf_cstr(&b),
                        "<message id='1'><body>hi</body></message>");
    xser_memo_clear();
    buf_reset(&b);
    xser_write(m, NS_CLIENT, &b);
    assert_string_equal(buf_cstr(&b),
                        "<message id='1'><body>hi</body></message>");
    buf_free(&b);
    stanza_unref(c);
    stanza_unref(m);
}

static void test_top_tag(void **state)
{
    (void)state;
    struct stanza *m = sample_message();
    struct stanza *body = stanza_child(m, NULL, "body");
    (void)body;
    assert_top_tag(m, "<message to='juliet@capulet.lit' type='chat'>");

    /* Values are escaped, control characters included, and cut. */
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    stanza_set_attr(m, "id", big);
    stanza_set_attr(m, "to", "evil'\n<x>");
    struct buf b = BUF_INIT;
    xser_top_tag(m, &b);
    const char *s = buf_cstr(&b);
    assert_non_null(strstr(s, "to='evil&apos;&#10;&lt;x&gt;'"));
    char want[100];
    snprintf(want, sizeof(want), " id='%.64s...'>", big);
    assert_non_null(strstr(s, want));
    assert_null(strchr(s, '\n'));
    buf_free(&b);

    /* A cut never splits a UTF-8 character: 63 ASCII bytes and a
     * two-byte character cut after its first byte. */
    char utf[80];
    memset(utf, 'a', 63);
    strcpy(utf + 63, "\xc3\xa9zzz");
    stanza_set_attr(m, "id", utf);
    stanza_set_attr(m, "to", NULL);
    stanza_set_attr(m, "type", NULL);
    xser_top_tag(m, &b);
    snprintf(want, sizeof(want), "<message id='%.63s...'>", utf);
    assert_string_equal(buf_cstr(&b), want);
    buf_free(&b);

    /* Namespaces other than the stream's are shown; children never. */
    struct stanza *auth =
        stanza_new("urn:ietf:params:xml:ns:xmpp-sasl", "auth");
    stanza_set_attr(auth, "mechanism", "PLAIN");
    stanza_add_text(auth, "c2VjcmV0", 8);
    assert_top_tag(auth, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                         "mechanism='PLAIN'>");
    stanza_unref(auth);
    stanza_unref(m);
}

/* A version moves with every change anywhere in the tree, stays put
 * while nothing changes, and is never shared with another tree. */
static bool version_is(const struct stanza *st, struct stanza_version v)
{
    struct stanza_version now = stanza_version(st);
    return now.tree == v.tree && now.gen == v.gen;
}

static void test_version(void **state)
{
    (void)state;
    struct stanza *m = stanza_new(NS_CLIENT, "message");
    struct stanza *body = stanza_add_child(m, NULL, "body");
    struct stanza_version v = stanza_version(m);
    /* Reading changes nothing; every node of a tree has its version. */
    assert_null(stanza_attr(m, "to"));
    assert_non_null(stanza_child(m, NS_CLIENT, "body"));
    assert_true(version_is(m, v));
    assert_true(version_is(body, v));
    /* Each way of changing it, at the root or deeper, moves it. */
    stanza_set_attr(m, "to", "a@b");
    assert_false(version_is(m, v));
    v = stanza_version(m);
    stanza_set_attr(body, "xml:lang", "en");
    assert_false(version_is(m, v));
    v = stanza_version(m);
    stanza_set_attr(body, "xml:lang", NULL);
    assert_false(version_is(m, v));
    v = stanza_version(m);
    stanza_add_text(body, "hi", 2);
    assert_false(version_is(m, v));
    v = stanza_version(m);
    stanza_add_text(body, "", 0);
    assert_true(version_is(m, v));
    struct stanza *x = stanza_add_child(body, "urn:x", "x");
    assert_false(version_is(m, v));
    v = stanza_version(m);
    stanza_rename_ns(x, "urn:x", "urn:y");
    assert_false(version_is(m, v));
    v = stanza_version(m);
    stanza_remove_child(body, x);
    assert_false(version_is(m, v));
    v = stanza_version(m);
    /* Removing what is not a child is no change. */
    stanza_remove_child(body, x);
    assert_true(version_is(m, v));
    stanza_add_copy(m, body);
    assert_false(version_is(m, v));
    v = stanza_version(m);
    stanza_clear_children(body);
    assert_false(version_is(m, v));
    /* A copy is another tree, even while equal. */
    struct stanza *c = stanza_copy(m);
    assert_int_not_equal(stanza_version(c).tree, stanza_version(m).tree);
    stanza_unref(c);
    stanza_unref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_serialise),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_iteration),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_long_text),
        cmocka_unit_test(test_copy_and_refs),
        cmocka_unit_test(test_add_copy_and_remove),
        cmocka_unit_test(test_serialise_namespaces),
        cmocka_unit_test(test_serialise_escaping),
        cmocka_unit_test(test_serialise_escaping_positions),
        cmocka_unit_test(test_serialise_memo),
        cmocka_unit_test(test_top_tag),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
