/* test_xstream.c -- the XMPP stream parser (xstream.c): a realistic
 * client stream split at every byte, namespaces, restricted XML, limits
 * enforced while bytes arrive, reset and stop from inside callbacks, and
 * the memory a parser keeps. Every callback is recorded as one line of
 * a log, so runs can be compared byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"
#include "xml/stanza.h"
#include "xml/xser.h"
#include "xml/xstream.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#endif
#ifdef HAVE_ASAN
/* From the sanitizer runtime; declared here as gcc ships no header. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#define NS_CLIENT  "jabber:client"
#define NS_STREAMS "http://etherx.jabber.org/streams"

#define HEADER                                                                 \
    "<stream:stream to='example.com' xmlns='jabber:client' "                   \
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0' "           \
    "xml:lang='en'>"

/* What a test wants the callbacks to do, and what they saw. */
struct rec {
    struct buf log; /* one line per callback */
    struct xstream *xs;
    const char *reset_on; /* reset in the stanza callback of this name */
    const char *stop_on;  /* stop in the stanza callback of this name */
    bool stop_on_error;   /* stop in the error callback, as c2s does */
    bool reset_on_error;
    bool drop_spares_each_feed; /* xstream_drop_spares() after each feed */
    size_t max_after_auth; /* raise the cap after <auth>, when set */
    unsigned errors;       /* error callbacks seen */
    unsigned stanzas;      /* stanza callbacks seen */
    enum xstream_error last_err;
};

static void on_open(void *ud, const struct stanza *hdr)
{
    struct rec *r = ud;
    assert_string_equal(hdr->ns, NS_STREAMS);
    assert_string_equal(hdr->name, "stream");
    assert_int_equal(hdr->nchildren, 0);
    buf_append_str(&r->log, "OPEN");
    for (unsigned i = 0; i < hdr->nattrs; i++)
        buf_printf(&r->log, " %s%s=%s", hdr->attrs[i].ns ? "xml:" : "",
                   hdr->attrs[i].name, hdr->attrs[i].value);
    buf_append_str(&r->log, "\n");
}

static void on_stanza(void *ud, struct stanza *st)
{
    struct rec *r = ud;
    r->stanzas++;
    assert_null(st->parent);
    assert_int_equal(st->refs, 1);
    buf_printf(&r->log, "STANZA {%s} ", st->ns);
    xser_write(st, NS_CLIENT, &r->log);
    buf_append_str(&r->log, "\n");
    if (r->max_after_auth && strcmp(st->name, "auth") == 0)
        xstream_set_max_stanza_size(r->xs, r->max_after_auth);
    if (r->reset_on && strcmp(st->name, r->reset_on) == 0)
        xstream_reset(r->xs);
    if (r->stop_on && strcmp(st->name, r->stop_on) == 0)
        xstream_stop(r->xs);
    stanza_unref(st);
}

static void on_close(void *ud)
{
    struct rec *r = ud;
    buf_append_str(&r->log, "CLOSE\n");
}

static void on_error(void *ud, enum xstream_error err)
{
    struct rec *r = ud;
    r->errors++;
    r->last_err = err;
    buf_printf(&r->log, "ERROR %s\n", xstream_error_str(err));
    if (r->stop_on_error)
        xstream_stop(r->xs);
    if (r->reset_on_error)
        xstream_reset(r->xs);
}

static const struct xstream_cb cb = {on_open, on_stanza, on_close, on_error};

static const struct xstream_limits default_lim = {
    .max_stanza_size = 65536,
    .max_depth = 32,
    .max_attrs = 64,
};

static void rec_init(struct rec *r, const struct xstream_limits *lim)
{
    memset(r, 0, sizeof(*r));
    r->log = BUF_INIT;
    r->xs = xstream_new(lim ? lim : &default_lim, &cb, r);
}

static void rec_free(struct rec *r)
{
    xstream_free(r->xs);
    buf_free(&r->log);
}

static int feed_str(struct rec *r, const char *s)
{
    int rc = xstream_feed(r->xs, s, strlen(s));
    if (r->drop_spares_each_feed)
        xstream_drop_spares();
    return rc;
}

/* Feeds s in pieces of at most step bytes; returns the last result. */
static int feed_steps(struct rec *r, const char *s, size_t len, size_t step)
{
    int rc = 0;
    for (size_t pos = 0; pos < len; pos += step) {
        size_t n = len - pos < step ? len - pos : step;
        rc = xstream_feed(r->xs, s + pos, n);
        if (r->drop_spares_each_feed)
            xstream_drop_spares();
    }
    return rc;
}

/* Runs a fresh parser configured like proto over s, fed as chunks that
 * end at the given cut points; returns its log (owned). */
static char *run_cuts(const struct rec *proto, const char *s,
                      const size_t *cuts, size_t ncuts)
{
    struct rec r;
    rec_init(&r, NULL);
    r.reset_on = proto->reset_on;
    r.stop_on = proto->stop_on;
    r.stop_on_error = proto->stop_on_error;
    r.drop_spares_each_feed = proto->drop_spares_each_feed;
    r.max_after_auth = proto->max_after_auth;
    size_t len = strlen(s), pos = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        xstream_feed(r.xs, s + pos, end - pos);
        if (r.drop_spares_each_feed)
            xstream_drop_spares();
        pos = end;
    }
    char *log = strdup(buf_cstr(&r.log));
    rec_free(&r);
    return log;
}

/* Feeds s whole, split in two at every byte, one byte at a time and in
 * random pieces, and checks that every run logs exactly want. */
static void assert_all_splits(const struct rec *proto, const char *s,
                              const char *want)
{
    size_t len = strlen(s);
    char *log = run_cuts(proto, s, NULL, 0);
    assert_string_equal(log, want);
    free(log);
    for (size_t i = 1; i < len; i++) {
        log = run_cuts(proto, s, &i, 1);
        if (strcmp(log, want) != 0)
            fail_msg("split at %zu of %zu:\n%s\nwant:\n%s", i, len, log, want);
        free(log);
    }
    size_t *cuts = malloc(len * sizeof(*cuts));
    for (size_t i = 1; i < len; i++)
        cuts[i - 1] = i;
    log = run_cuts(proto, s, cuts, len - 1);
    assert_string_equal(log, want);
    free(log);
    srand(6120);
    for (int round = 0; round < 200; round++) {
        size_t n = 0, at = 0;
        while (n < 8) {
            at += 1 + (size_t)rand() % (len / 4);
            if (at >= len)
                break;
            cuts[n++] = at;
        }
        log = run_cuts(proto, s, cuts, n);
        assert_string_equal(log, want);
        free(log);
    }
    free(cuts);
}

/* Heap bytes in use by the whole process. */
static size_t heap_in_use(void)
{
#ifdef HAVE_ASAN
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

/* ---- a realistic client session ---- */

/* Bytes a client sends from connect to logout, with the stream restart
 * after SASL success pipelined behind <auth>. */
static const char client_stream[] =
    "<?xml version='1.0'?>" HEADER
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
    "AGp1bGlldAByMG0zMG15cjBtMzA=</auth>"
    "<?xml version='1.0'?>" HEADER "\n"
    "<iq type='set' id='bind_1'>"
    "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
    "<resource>balcony</resource></bind></iq>\n"
    "<presence><show>chat</show><status>Gr\xc3\xbc\xc3\x9f"
    "e aus Verona \xe2\x98\xba</status>"
    "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
    "node='https://conversations.im' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>"
    "</presence>  \n\t"
    "<message to='romeo@montague.lit/orchard' id='m1' type='chat' "
    "xml:lang='en'>\n"
    "  <body>I sent you an OMEMO encrypted message but your client "
    "doesn&apos;t seem to support that.</body>\n"
    "  <encrypted xmlns='eu.siacs.conversations.axolotl'>"
    "<header sid='27183'>"
    "<key rid='31415'>MwohBQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f"
    "EiEFAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8a</key>"
    "<key prekey='true' rid='12321'>MwohBQ8ODQwLCgkIBwYFBAMCAQA=</key>"
    "<iv>dGhpcyBpcyBhbiBpdg==</iv></header>"
    "<payload>RW5jcnlwdGVkIGJvZHk=</payload></encrypted>\n"
    "  <request xmlns='urn:xmpp:receipts'/>"
    "<store xmlns='urn:xmpp:hints'/>\n"
    "</message>\n"
    "<presence type='unavailable'/>"
    "</stream:stream>";

static const char client_log[] =
    "OPEN to=example.com version=1.0 xml:lang=en\n"
    "STANZA {urn:ietf:params:xml:ns:xmpp-sasl} "
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
    "AGp1bGlldAByMG0zMG15cjBtMzA=</auth>\n"
    "OPEN to=example.com version=1.0 xml:lang=en\n"
    "STANZA {jabber:client} <iq type='set' id='bind_1'>"
    "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
    "<resource>balcony</resource></bind></iq>\n"
    "STANZA {jabber:client} <presence><show>chat</show><status>"
    "Gr\xc3\xbc\xc3\x9f"
    "e aus Verona \xe2\x98\xba</status>"
    "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
    "node='https://conversations.im' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>"
    "</presence>\n"
    "STANZA {jabber:client} "
    "<message to='romeo@montague.lit/orchard' id='m1' type='chat' "
    "xml:lang='en'>\n"
    "  <body>I sent you an OMEMO encrypted message but your client "
    "doesn't seem to support that.</body>\n"
    "  <encrypted xmlns='eu.siacs.conversations.axolotl'>"
    "<header sid='27183'>"
    "<key rid='31415'>MwohBQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f"
    "EiEFAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8a</key>"
    "<key prekey='true' rid='12321'>MwohBQ8ODQwLCgkIBwYFBAMCAQA=</key>"
    "<iv>dGhpcyBpcyBhbiBpdg==</iv></header>"
    "<payload>RW5jcnlwdGVkIGJvZHk=</payload></encrypted>\n"
    "  <request xmlns='urn:xmpp:receipts'/>"
    "<store xmlns='urn:xmpp:hints'/>\n"
    "</message>\n"
    "STANZA {jabber:client} <presence type='unavailable'/>\n"
    "CLOSE\n";

static void test_client_stream_splits(void **state)
{
    (void)state;
    struct rec proto = {.reset_on = "auth"};
    assert_all_splits(&proto, client_stream, client_log);
}

/* The same with no spare parser to borrow after any feed: every feed
 * that starts between stanzas builds a parser by replaying the stream's
 * context, at every position. */
static void test_client_stream_without_spares(void **state)
{
    (void)state;
    struct rec proto = {.reset_on = "auth", .drop_spares_each_feed = true};
    assert_all_splits(&proto, client_stream, client_log);
}

/* ---- namespaces ---- */

/* Parses doc and returns its last stanza (owned), for tests that look at
 * the tree as a handler would. */
static struct stanza *kept;

static void keep_stanza(void *ud, struct stanza *st)
{
    (void)ud;
    stanza_unref(kept);
    kept = st;
}

static struct stanza *parse_one(const char *doc)
{
    static const struct xstream_cb keep_cb = {NULL, keep_stanza, NULL, NULL};
    struct xstream *xs = xstream_new(&default_lim, &keep_cb, NULL);
    kept = NULL;
    assert_int_equal(xstream_feed(xs, doc, strlen(doc)), 0);
    xstream_free(xs);
    assert_non_null(kept);
    struct stanza *st = kept;
    kept = NULL;
    return st;
}

static char *to_xml(const struct stanza *st)
{
    struct buf b = BUF_INIT;
    xser_write(st, NS_CLIENT, &b);
    char *s = strdup(buf_cstr(&b));
    buf_free(&b);
    return s;
}

static void test_namespaces(void **state)
{
    (void)state;
    struct stanza *m =
        parse_one(HEADER "<message to='a@b' xml:lang='de'><body>Hallo</body>"
                         "<x:foo xmlns:x='urn:a' x:attr='v' plain='p'>"
                         "<x:bar/><baz/><qux xmlns=''/></x:foo></message>");
    /* The stream's default namespace is the stanza's. */
    assert_string_equal(m->ns, NS_CLIENT);
    assert_string_equal(m->name, "message");
    assert_string_equal(stanza_attr_ns(m, NS_XML, "lang"), "de");
    assert_null(stanza_attr(m, "lang"));
    struct stanza *foo = stanza_child(m, "urn:a", "foo");
    assert_non_null(foo);
    assert_string_equal(stanza_attr_ns(foo, "urn:a", "attr"), "v");
    assert_null(stanza_attr(foo, "attr"));
    assert_string_equal(stanza_attr(foo, "plain"), "p");
    assert_non_null(stanza_child(foo, "urn:a", "bar"));
    /* An unprefixed child of a prefixed element is in the default
     * namespace, not in its parent's. */
    assert_non_null(stanza_child(foo, NS_CLIENT, "baz"));
    assert_non_null(stanza_child(foo, "", "qux"));

    char *xml = to_xml(m);
    assert_string_equal(xml, "<message to='a@b' xml:lang='de'>"
                             "<body>Hallo</body>"
                             "<foo xmlns='urn:a' xmlns:ns1='urn:a' "
                             "ns1:attr='v' plain='p'><bar/>"
                             "<baz xmlns='jabber:client'/>"
                             "<qux xmlns=''/></foo></message>");
    /* Serialised output parses back to the same tree. */
    struct buf doc = BUF_INIT;
    buf_append_str(&doc, HEADER);
    buf_append_str(&doc, xml);
    struct stanza *again = parse_one(buf_cstr(&doc));
    char *xml2 = to_xml(again);
    assert_string_equal(xml, xml2);
    free(xml);
    free(xml2);
    buf_free(&doc);
    stanza_unref(again);
    stanza_unref(m);

    /* The XML namespace keeps its reserved prefix on output. */
    m = parse_one(HEADER "<message><xml:x><y/></xml:x></message>");
    assert_string_equal(stanza_child(m, NS_XML, "x")->ns, NS_XML);
    xml = to_xml(m);
    assert_string_equal(xml, "<message><xml:x><y/></xml:x></message>");
    free(xml);
    stanza_unref(m);

    /* A stream without a default namespace gives stanzas none. */
    m = parse_one("<stream:stream xmlns:stream='" NS_STREAMS "'>"
                  "<message/>");
    assert_string_equal(m->ns, "");
    stanza_unref(m);
}

static void test_server_stream_namespaces(void **state)
{
    (void)state;
    /* Any prefix for the stream, and the content namespace of s2s. */
    struct rec r;
    rec_init(&r, NULL);
    feed_str(&r, "<s:stream xmlns:s='http://etherx.jabber.org/streams' "
                 "xmlns='jabber:server' "
                 "xmlns:db='jabber:server:dialback' version='1.0' "
                 "from='a.example' to='b.example' id='xyz'>"
                 "<db:result from='a.example' to='b.example'>k3y"
                 "</db:result><message from='u@a.example'/></s:stream>");
    assert_string_equal(buf_cstr(&r.log),
                        "OPEN version=1.0 from=a.example to=b.example id=xyz\n"
                        "STANZA {jabber:server:dialback} <result "
                        "xmlns='jabber:server:dialback' from='a.example' "
                        "to='b.example'>k3y</result>\n"
                        "STANZA {jabber:server} <message xmlns='jabber:server' "
                        "from='u@a.example'/>\n"
                        "CLOSE\n");
    rec_free(&r);
}

static void test_escaping_roundtrip(void **state)
{
    (void)state;
    struct stanza *m = parse_one(
        HEADER "<message id='a&amp;b&apos;c&quot;d&lt;&#x3E;&#9;'>"
               "<body>1 &lt; 2 &amp;&amp; 3 &gt; 2 &#x263A; &quot;q&quot; "
               "<![CDATA[<raw> & ]]>end</body></message>");
    assert_string_equal(stanza_attr(m, "id"), "a&b'c\"d<>\t");
    char *text = stanza_text_dup(stanza_child(m, NULL, "body"));
    assert_string_equal(text, "1 < 2 && 3 > 2 \xe2\x98\xba \"q\" <raw> & end");
    free(text);
    char *xml = to_xml(m);
    assert_string_equal(xml, "<message id='a&amp;b&apos;c&quot;d&lt;&gt;"
                             "&#9;'><body>1 &lt; 2 &amp;&amp; 3 &gt; 2 "
                             "\xe2\x98\xba \"q\" &lt;raw&gt; &amp; end"
                             "</body></message>");
    struct buf doc = BUF_INIT;
    buf_append_str(&doc, HEADER);
    buf_append_str(&doc, xml);
    struct stanza *again = parse_one(buf_cstr(&doc));
    assert_string_equal(stanza_attr(again, "id"), "a&b'c\"d<>\t");
    stanza_unref(again);
    buf_free(&doc);
    free(xml);
    stanza_unref(m);
}

/* ---- stream level ---- */

static void test_keepalive_whitespace(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r, NULL);
    /* Before the header, between stanzas, in many small pieces. */
    assert_int_equal(feed_str(&r, " \n"), 0);
    assert_int_equal(feed_str(&r, "<?xml version='1.0'?>" HEADER), 0);
    char ws[4096];
    memset(ws, ' ', sizeof(ws));
    ws[100] = '\n';
    ws[200] = '\t';
    ws[300] = '\r';
    size_t before = xstream_memory(r.xs);
    for (int i = 0; i < 256; i++)
        assert_int_equal(xstream_feed(r.xs, ws, sizeof(ws)), 0);
    /* A megabyte of keepalives is not buffered anywhere. */
    assert_true(xstream_memory(r.xs) <= before + 1024);
    assert_int_equal(feed_str(&r, "<presence/>\n \n"), 0);
    assert_int_equal(feed_str(&r, " "), 0);
    assert_int_equal(feed_str(&r, "</stream:stream>\n"), 0);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.stanzas, 1);
    assert_non_null(strstr(buf_cstr(&r.log), "CLOSE\n"));
    rec_free(&r);
}

static void test_text_at_stream_level(void **state)
{
    (void)state;
    static const char *const docs[] = {
        HEADER "hello<presence/>",
        HEADER "<presence/> x",
        HEADER "&amp;",
        HEADER "&#32;&#65;",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct rec r;
        rec_init(&r, NULL);
        assert_int_equal(feed_str(&r, docs[i]), -ERR_PROTO);
        assert_int_equal(r.errors, 1);
        assert_int_equal(r.last_err, XSE_NOT_WELL_FORMED);
        rec_free(&r);
    }
}

static void test_stream_header(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r, NULL);
    feed_str(&r, "<stream:stream xmlns:stream='" NS_STREAMS "' "
                 "xmlns='jabber:client' to='example.com' "
                 "from='juliet@example.com' id='s1' version='1.0' "
                 "xml:lang='fr'/>");
    /* An empty stream element opens and closes the stream. */
    assert_string_equal(buf_cstr(&r.log),
                        "OPEN to=example.com from=juliet@example.com id=s1 "
                        "version=1.0 xml:lang=fr\nCLOSE\n");
    rec_free(&r);
}

static void test_after_close(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r, NULL);
    assert_int_equal(feed_str(&r, HEADER "<presence/></stream:stream> \n"), 0);
    assert_int_equal(feed_str(&r, "\n"), 0);
    assert_int_equal(feed_str(&r, "<presence/>"), -ERR_PROTO);
    assert_string_equal(buf_cstr(&r.log),
                        "OPEN to=example.com version=1.0 xml:lang=en\n"
                        "STANZA {jabber:client} <presence/>\n"
                        "CLOSE\nERROR not-well-formed\n");
    rec_free(&r);
}

/* ---- errors ---- */

struct bad_doc {
    const char *doc;
    enum xstream_error err;
};

static const char billion_laughs[] =
    "<?xml version='1.0'?>"
    "<!DOCTYPE lolz [<!ENTITY lol 'lol'>"
    "<!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"
    "<!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"
    "&lol1;'>"
    "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"
    "&lol2;'>"
    "<!ENTITY lol4 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"
    "&lol3;'>"
    "<!ENTITY lol5 '&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"
    "&lol4;'>"
    "<!ENTITY lol6 '&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"
    "&lol5;'>"
    "<!ENTITY lol7 '&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"
    "&lol6;'>"
    "<!ENTITY lol8 '&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"
    "&lol7;'>"
    "<!ENTITY lol9 '&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;"
    "&lol8;'>]>" HEADER "<message><body>&lol9;</body></message>";

static const struct bad_doc bad_docs[] = {
    {"<?xml version='1.0'?><!DOCTYPE stream:stream>" HEADER,
     XSE_RESTRICTED_XML},
    {"<!DOCTYPE x SYSTEM 'http://example.com/x.dtd'>" HEADER,
     XSE_RESTRICTED_XML},
    {billion_laughs, XSE_RESTRICTED_XML},
    {"<?xml version='1.0'?><?xml-stylesheet href='a'?>" HEADER,
     XSE_RESTRICTED_XML},
    {HEADER "<?php echo 1; ?>", XSE_RESTRICTED_XML},
    {HEADER "<message><?pi data?></message>", XSE_RESTRICTED_XML},
    {"<!-- hello -->" HEADER, XSE_RESTRICTED_XML},
    {HEADER "<presence/><!-- between -->", XSE_RESTRICTED_XML},
    {HEADER "<message><body>a<!-- in -->b</body></message>",
     XSE_RESTRICTED_XML},
    {HEADER "<message><body>&foo;</body></message>", XSE_RESTRICTED_XML},
    {HEADER "<message to='&foo;'/>", XSE_RESTRICTED_XML},
    {HEADER "</stream:stream><!-- epilog -->", XSE_RESTRICTED_XML},
    {"<stream:stream xmlns:stream='urn:wrong' xmlns='jabber:client'>",
     XSE_INVALID_NAMESPACE},
    {"<stream xmlns='jabber:client'>", XSE_INVALID_NAMESPACE},
    {"<stream:features xmlns:stream='" NS_STREAMS "'>", XSE_INVALID_NAMESPACE},
    {"<stream>", XSE_INVALID_NAMESPACE},
    {HEADER "<message><body></message>", XSE_NOT_WELL_FORMED},
    {HEADER "<message a='1' a='2'/>", XSE_NOT_WELL_FORMED},
    {HEADER "<p:message/>", XSE_NOT_WELL_FORMED},
    {HEADER "<message>\xff</message>", XSE_NOT_WELL_FORMED},
    {HEADER "<message>\x01</message>", XSE_NOT_WELL_FORMED},
    {HEADER "<?xml version='1.0'?>", XSE_NOT_WELL_FORMED},
    {HEADER "</stream:stream><stream:stream>", XSE_NOT_WELL_FORMED},
    {"\xef\xbb\xbf<stream>", XSE_INVALID_NAMESPACE}, /* UTF-8 BOM */
};

static void test_bad_documents(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_docs) / sizeof(bad_docs[0]); i++) {
        const char *doc = bad_docs[i].doc;
        size_t len = strlen(doc);
        for (size_t step = 1; step <= len; step = step == 1 ? len : len + 1) {
            struct rec r;
            rec_init(&r, NULL);
            int rc = feed_steps(&r, doc, len, step);
            if (r.errors != 1 || r.last_err != bad_docs[i].err)
                fail_msg("doc %zu (step %zu): %u errors, last %s, log:\n%s", i,
                         step, r.errors, xstream_error_str(r.last_err),
                         buf_cstr(&r.log));
            assert_int_equal(rc, -ERR_PROTO);
            /* Later feeds fail without callbacks. */
            size_t loglen = buf_used(&r.log);
            assert_int_equal(feed_str(&r, "<presence/>"), -ERR_PROTO);
            assert_int_equal(feed_str(&r, HEADER), -ERR_PROTO);
            assert_int_equal(buf_used(&r.log), loglen);
            assert_int_equal(r.errors, 1);
            /* The error is the last thing reported. */
            const char *e = strstr(buf_cstr(&r.log), "ERROR");
            assert_non_null(e);
            assert_int_equal(strchr(e, '\n')[1], '\0');
            rec_free(&r);
        }
    }
}

static void test_billion_laughs_is_cheap(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r, NULL);
    size_t heap = heap_in_use();
    clock_t t0 = clock();
    assert_int_equal(feed_str(&r, billion_laughs), -ERR_PROTO);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    assert_int_equal(r.last_err, XSE_RESTRICTED_XML);
    assert_true(secs < 0.5);
    /* The parser was dropped with the error: nothing is kept. */
    assert_true(xstream_memory(r.xs) < 512);
    assert_true(heap_in_use() < heap + 4096);
    rec_free(&r);
}

static void test_encoding(void **state)
{
    (void)state;
    /* RFC 6120 §11.6: UTF-8 only; the declaration cannot change that. */
    struct stanza *m = parse_one("<?xml version='1.0' encoding='UTF-8'?>" HEADER
                                 "<message><body>\xc3\xa9</body></message>");
    char *t = stanza_text_dup(stanza_child(m, NULL, "body"));
    assert_string_equal(t, "\xc3\xa9");
    free(t);
    stanza_unref(m);
    /* A UTF-16 stream, byte order mark and all. */
    struct rec r;
    rec_init(&r, NULL);
    char utf16[512];
    size_t n = 0;
    utf16[n++] = (char)0xff;
    utf16[n++] = (char)0xfe;
    for (const char *c = HEADER; *c; c++) {
        utf16[n++] = *c;
        utf16[n++] = '\0';
    }
    assert_int_equal(xstream_feed(r.xs, utf16, n), -ERR_PROTO);
    assert_int_equal(r.last_err, XSE_NOT_WELL_FORMED);
    assert_int_equal(buf_used(&r.log), strlen("ERROR not-well-formed\n"));
    rec_free(&r);

    rec_init(&r, NULL);
    feed_str(&r, "<?xml version='1.0' encoding='ISO-8859-1'?>" HEADER
                 "<message><body>\xe9</body></message>");
    assert_int_equal(r.errors, 1);
    assert_int_equal(r.last_err, XSE_NOT_WELL_FORMED);
    rec_free(&r);
}

static void test_error_callback_actions(void **state)
{
    (void)state;
    /* c2s stops the parser from its error callback. */
    struct rec r;
    rec_init(&r, NULL);
    r.stop_on_error = true;
    assert_int_equal(feed_str(&r, HEADER "<a><b></a>"), -ERR_PROTO);
    assert_int_equal(feed_str(&r, HEADER), -ERR_CLOSED);
    assert_int_equal(r.errors, 1);
    rec_free(&r);

    /* A reset from the error callback drops the rest of the bad chunk
     * and gives a fresh stream for the next feed. */
    rec_init(&r, NULL);
    r.reset_on_error = true;
    assert_int_equal(feed_str(&r, HEADER "<a><b></a>" HEADER), -ERR_PROTO);
    assert_int_equal(feed_str(&r, HEADER "<presence/>"), 0);
    assert_string_equal(buf_cstr(&r.log),
                        "OPEN to=example.com version=1.0 xml:lang=en\n"
                        "ERROR not-well-formed\n"
                        "OPEN to=example.com version=1.0 xml:lang=en\n"
                        "STANZA {jabber:client} <presence/>\n");
    rec_free(&r);

    /* Without any action, a reset revives a failed stream. */
    rec_init(&r, NULL);
    assert_int_equal(feed_str(&r, "<x/>"), -ERR_PROTO);
    assert_int_equal(feed_str(&r, HEADER), -ERR_PROTO);
    xstream_reset(r.xs);
    assert_int_equal(feed_str(&r, HEADER "<presence/>"), 0);
    assert_int_equal(r.errors, 1);
    assert_int_equal(r.stanzas, 1);
    rec_free(&r);
}

/* ---- limits ---- */

static void test_size_limit_while_streaming(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r, NULL); /* 64 KiB cap */
    assert_int_equal(feed_str(&r, HEADER "<message><body>"), 0);
    char chunk[4096];
    memset(chunk, 'a', sizeof(chunk));
    size_t heap0 = heap_in_use(), peak = 0;
    size_t fed = 0;
    int rc = 0;
    while (fed < 1024 * 1024 && r.errors == 0) {
        rc = xstream_feed(r.xs, chunk, sizeof(chunk));
        fed += sizeof(chunk);
        size_t now = heap_in_use();
        if (now > heap0 && now - heap0 > peak)
            peak = now - heap0;
    }
    assert_int_equal(rc, -ERR_PROTO);
    assert_int_equal(r.last_err, XSE_POLICY_VIOLATION);
    /* Caught within one chunk of the cap, long before the megabyte. */
    assert_true(fed <= 65536 + sizeof(chunk));
    assert_true(fed > 65536 - sizeof(chunk));
    /* The text under construction is the bulk; nothing near 1 MiB. */
    assert_true(peak < 200 * 1024);
    assert_true(heap_in_use() <= heap0 + 1024);
    rec_free(&r);

    /* A start tag that never ends is caught while expat buffers it. */
    rec_init(&r, NULL);
    assert_int_equal(feed_str(&r, HEADER "<message to='"), 0);
    fed = 0;
    while (fed < 1024 * 1024 && r.errors == 0) {
        xstream_feed(r.xs, chunk, sizeof(chunk));
        fed += sizeof(chunk);
    }
    assert_int_equal(r.last_err, XSE_POLICY_VIOLATION);
    assert_true(fed <= 65536 + sizeof(chunk));
    rec_free(&r);

    /* So is a comment between stanzas, before it could be refused. */
    rec_init(&r, NULL);
    assert_int_equal(feed_str(&r, HEADER "<presence/><!--"), 0);
    fed = 0;
    while (fed < 1024 * 1024 && r.errors == 0) {
        xstream_feed(r.xs, chunk, sizeof(chunk));
        fed += sizeof(chunk);
    }
    assert_int_equal(r.last_err, XSE_POLICY_VIOLATION);
    assert_true(fed <= 65536 + sizeof(chunk));
    rec_free(&r);
}

/* The cap counts the stanza's bytes, tags included: exactly at the cap
 * passes, one more fails, however the bytes arrive. */
static void test_size_limit_exact(void **state)
{
    (void)state;
    struct xstream_limits lim = default_lim;
    lim.max_stanza_size = 100;
    const char *head = "<message><body>";
    const char *tail = "</body></message>";
    for (int extra = 0; extra <= 1; extra++) {
        char st[200];
        size_t fill = 100 - strlen(head) - strlen(tail) + (size_t)extra;
        strcpy(st, head);
        memset(st + strlen(head), 'x', fill);
        strcpy(st + strlen(head) + fill, tail);
        assert_int_equal(strlen(st), 100 + (size_t)extra);
        for (size_t step = 1; step <= 128; step *= 2) {
            struct rec r;
            rec_init(&r, &lim);
            feed_str(&r, HEADER);
            feed_steps(&r, st, strlen(st), step);
            if (extra) {
                assert_int_equal(r.errors, 1);
                assert_int_equal(r.last_err, XSE_POLICY_VIOLATION);
                assert_int_equal(r.stanzas, 0);
            } else {
                assert_int_equal(r.errors, 0);
                assert_int_equal(r.stanzas, 1);
            }
            rec_free(&r);
        }
    }
}

static void test_header_limit(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r, NULL);
    assert_int_equal(
        feed_str(&r, "<stream:stream xmlns:stream='" NS_STREAMS "' to='"), 0);
    char chunk[1024];
    memset(chunk, 'a', sizeof(chunk));
    size_t fed = 0;
    while (fed < 1024 * 1024 && r.errors == 0) {
        xstream_feed(r.xs, chunk, sizeof(chunk));
        fed += sizeof(chunk);
    }
    assert_int_equal(r.last_err, XSE_POLICY_VIOLATION);
    assert_true(fed <= 16384);
    rec_free(&r);
}

static void test_raise_limit_after_auth(void **state)
{
    (void)state;
    struct xstream_limits lim = default_lim;
    lim.max_stanza_size = 1024;
    char big[4096 + 64];
    strcpy(big, "<message><body>");
    memset(big + 15, 'b', 4000);
    strcpy(big + 4015, "</body></message>");
    struct rec r;
    rec_init(&r, &lim);
    r.max_after_auth = 65536;
    feed_str(&r, HEADER "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    assert_int_equal(feed_str(&r, big), 0);
    assert_int_equal(r.stanzas, 2);
    assert_int_equal(r.errors, 0);
    rec_free(&r);
    /* Without the raise the same stanza is refused. */
    rec_init(&r, &lim);
    feed_str(&r, HEADER);
    assert_int_equal(feed_str(&r, big), -ERR_PROTO);
    assert_int_equal(r.last_err, XSE_POLICY_VIOLATION);
    rec_free(&r);
}

static void test_depth_and_attr_limits(void **state)
{
    (void)state;
    struct xstream_limits lim = {
        .max_stanza_size = 65536, .max_depth = 4, .max_attrs = 3};
    static const struct {
        const char *doc;
        enum xstream_error err;
    } cases[] = {
        {HEADER "<a><b><c><d/></c></b></a>", XSE_NONE},
        {HEADER "<a><b><c><d><e/></d></c></b></a>", XSE_BAD_FORMAT},
        {HEADER "<a x='1' y='2' z='3'/>", XSE_NONE},
        {HEADER "<a x='1' y='2' z='3' w='4'/>", XSE_BAD_FORMAT},
        {HEADER "<a><b x='1' y='2' z='3' xml:lang='en'/></a>", XSE_BAD_FORMAT},
        /* Namespace declarations are not attributes. */
        {HEADER "<a xmlns:p='urn:p' xmlns:q='urn:q' x='1' y='2' z='3'/>",
         XSE_NONE},
        {"<stream:stream xmlns:stream='" NS_STREAMS "' a='1' b='2' c='3' "
         "d='4'>",
         XSE_BAD_FORMAT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rec r;
        rec_init(&r, &lim);
        feed_str(&r, cases[i].doc);
        if (cases[i].err == XSE_NONE) {
            assert_int_equal(r.errors, 0);
            assert_int_equal(r.stanzas, 1);
        } else {
            assert_int_equal(r.errors, 1);
            assert_int_equal(r.last_err, cases[i].err);
            assert_int_equal(r.stanzas, 0);
        }
        rec_free(&r);
    }
}

/* ---- reset and stop ---- */

static void test_reset_pipelined_header(void **state)
{
    (void)state;
    /* After SASL success the client sends the new header at once; it
     * may sit in the same read as <auth>, and whitespace keepalives may
     * come between. */
    const char *doc =
        HEADER "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>x</auth>"
               " \n<?xml version='1.0'?>" HEADER "<iq type='get' id='1'/>";
    const char *want =
        "OPEN to=example.com version=1.0 xml:lang=en\n"
        "STANZA {urn:ietf:params:xml:ns:xmpp-sasl} "
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>x</auth>\n"
        "OPEN to=example.com version=1.0 xml:lang=en\n"
        "STANZA {jabber:client} <iq type='get' id='1'/>\n";
    struct rec proto = {.reset_on = "auth"};
    assert_all_splits(&proto, doc, want);
    /* The same with an empty-element <auth/>. */
    const char *doc2 =
        HEADER "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" HEADER
               "<iq type='get' id='1'/>";
    const char *want2 = "OPEN to=example.com version=1.0 xml:lang=en\n"
                        "STANZA {urn:ietf:params:xml:ns:xmpp-sasl} "
                        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>\n"
                        "OPEN to=example.com version=1.0 xml:lang=en\n"
                        "STANZA {jabber:client} <iq type='get' id='1'/>\n";
    assert_all_splits(&proto, doc2, want2);
}

static void test_reset_outside_callbacks(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r, NULL);
    assert_int_equal(feed_str(&r, HEADER "<message><body>half"), 0);
    /* A half-read stanza is dropped with the old stream. */
    xstream_reset(r.xs);
    assert_int_equal(feed_str(&r, HEADER "<presence/>"), 0);
    assert_string_equal(buf_cstr(&r.log),
                        "OPEN to=example.com version=1.0 xml:lang=en\n"
                        "OPEN to=example.com version=1.0 xml:lang=en\n"
                        "STANZA {jabber:client} <presence/>\n");
    /* A new stream must start with a header again. */
    xstream_reset(r.xs);
    assert_int_equal(feed_str(&r, "<presence/>"), -ERR_PROTO);
    assert_int_equal(r.last_err, XSE_INVALID_NAMESPACE);
    rec_free(&r);
}

static void test_stop(void **state)
{
    (void)state;
    /* From a stanza callback: the rest of the chunk is not parsed. */
    const char *doc = HEADER "<presence/><iq type='get' id='1'/>"
                             "<message/><bad";
    struct rec proto = {.stop_on = "iq"};
    assert_all_splits(&proto, doc,
                      "OPEN to=example.com version=1.0 xml:lang=en\n"
                      "STANZA {jabber:client} <presence/>\n"
                      "STANZA {jabber:client} <iq type='get' id='1'/>\n");
    struct rec r;
    rec_init(&r, NULL);
    r.stop_on = "iq";
    assert_int_equal(feed_str(&r, doc), -ERR_CLOSED);
    assert_int_equal(feed_str(&r, "<message/>"), -ERR_CLOSED);
    /* Stopped is for good: a reset does not revive it. */
    xstream_reset(r.xs);
    assert_int_equal(feed_str(&r, HEADER), -ERR_CLOSED);
    assert_int_equal(r.stanzas, 2);
    assert_int_equal(r.errors, 0);
    assert_true(xstream_memory(r.xs) < 512);
    rec_free(&r);

    /* From outside callbacks, mid-stanza. */
    rec_init(&r, NULL);
    assert_int_equal(feed_str(&r, HEADER "<message><body>"), 0);
    xstream_stop(r.xs);
    assert_int_equal(feed_str(&r, "</body></message>"), -ERR_CLOSED);
    assert_int_equal(r.stanzas, 0);
    rec_free(&r);
}

static void test_null_callbacks(void **state)
{
    (void)state;
    static const struct xstream_cb none = {NULL, NULL, NULL, NULL};
    struct xstream *xs = xstream_new(NULL, &none, NULL);
    const char *doc = HEADER "<message><body>x</body></message><x";
    assert_int_equal(xstream_feed(xs, doc, strlen(doc)), 0);
    assert_int_equal(xstream_feed(xs, "<", 1), -ERR_PROTO);
    assert_int_equal(xstream_feed(xs, "<", 1), -ERR_PROTO);
    xstream_free(xs);
    xstream_free(NULL);
}

/* ---- memory ---- */

static void test_parser_lent_between_stanzas(void **state)
{
    (void)state;
    for (int replay = 0; replay < 2; replay++) {
        struct rec r;
        rec_init(&r, NULL);
        r.drop_spares_each_feed = replay;
        /* Nothing allocated before the first byte. */
        assert_true(xstream_memory(r.xs) < 256);
        /* Mid-header the stream holds its parser. */
        feed_str(&r, "<?xml version='1.0'?><s:stream "
                     "xmlns:s='http://etherx.jabber.org/streams' ");
        assert_true(xstream_memory(r.xs) > 4096);
        feed_str(&r, "xmlns='jabber:client' to='example.com' version='1.0'>"
                     "<presence><status>here</status></presence>");
        /* Between stanzas it has lent it. */
        assert_true(xstream_memory(r.xs) < 512);
        /* Mid-stanza it holds one again, until the stanza is complete. */
        feed_str(&r, "<message><body>");
        assert_true(xstream_memory(r.xs) > 4096);
        feed_str(&r, "hi</body></message>");
        assert_true(xstream_memory(r.xs) < 512);
        /* The context, borrowed or replayed, keeps the prefix of the
         * stream element. */
        feed_str(&r, "</s:stream>");
        assert_string_equal(
            buf_cstr(&r.log),
            "OPEN to=example.com version=1.0\n"
            "STANZA {jabber:client} <presence><status>here</status>"
            "</presence>\n"
            "STANZA {jabber:client} <message><body>hi</body></message>\n"
            "CLOSE\n");
        assert_int_equal(r.errors, 0);
        rec_free(&r);
    }
}

/* Streams of different namespace contexts take turns with pieces of
 * stanzas, as connections do in one loop turn: each stanza gets its own
 * stream's namespaces, whichever parser it was lent. */
static void test_streams_share_parsers(void **state)
{
    (void)state;
    static const char *const headers[] = {
        /* Two clients that differ only in attributes: one context. */
        "<stream:stream to='example.com' xmlns='jabber:client' "
        "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
        "<stream:stream from='juliet@example.com' to='example.com' "
        "version='1.0' xmlns:stream='http://etherx.jabber.org/streams' "
        "xmlns='jabber:client'>",
        /* A server with a prefix of its own. */
        "<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' "
        "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
        /* Another prefix for the stream, and one used inside stanzas. */
        "<x:stream xmlns:x='http://etherx.jabber.org/streams' "
        "xmlns='jabber:client' xmlns:p='urn:example:p&amp;&apos;q'>",
    };
    static const char *const pieces[][3] = {
        {"<message><bo", "dy>one</body></mess", "age><presence/>"},
        {"<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq><mes",
         "sage><body>two</body></message>", "<presence/>"},
        {"<db:result from='a.example' to='b.example'>k", "ey</db:result>",
         "<message/>"},
        {"<p:thing a='1'/><message><p:x/></message>", "<p:thing>", "</p:thing>"},
    };
    static const char *const want[] = {
        "OPEN to=example.com version=1.0\n"
        "STANZA {jabber:client} <message><body>one</body></message>\n"
        "STANZA {jabber:client} <presence/>\n",
        "OPEN from=juliet@example.com to=example.com version=1.0\n"
        "STANZA {jabber:client} <iq type='get' id='1'><query "
        "xmlns='jabber:iq:roster'/></iq>\n"
        "STANZA {jabber:client} <message><body>two</body></message>\n"
        "STANZA {jabber:client} <presence/>\n",
        "OPEN version=1.0\n"
        "STANZA {jabber:server:dialback} <result xmlns='jabber:server:dialback' "
        "from='a.example' to='b.example'>key</result>\n"
        "STANZA {jabber:server} <message xmlns='jabber:server'/>\n",
        "OPEN\n"
        "STANZA {urn:example:p&'q} <thing xmlns='urn:example:p&amp;&apos;q' "
        "a='1'/>\n"
        "STANZA {jabber:client} <message><x xmlns='urn:example:p&amp;&apos;q'/>"
        "</message>\n"
        "STANZA {urn:example:p&'q} <thing xmlns='urn:example:p&amp;&apos;q'/>\n",
    };
    enum { N = sizeof(headers) / sizeof(headers[0]) };
    for (int replay = 0; replay < 2; replay++) {
        struct rec r[N];
        for (int i = 0; i < N; i++) {
            rec_init(&r[i], NULL);
            r[i].drop_spares_each_feed = replay;
            assert_int_equal(feed_str(&r[i], headers[i]), 0);
        }
        for (int step = 0; step < 3; step++)
            for (int i = 0; i < N; i++)
                assert_int_equal(feed_str(&r[i], pieces[i][step]), 0);
        for (int i = 0; i < N; i++) {
            assert_string_equal(buf_cstr(&r[i].log), want[i]);
            assert_int_equal(r[i].errors, 0);
            rec_free(&r[i]);
        }
    }
    xstream_drop_spares();
}

/* Streams fed in random pieces, taking turns at random, with the
 * thread's spares dropped now and then, log what each logs alone: no
 * stanza is parsed in another stream's context, and a failed stream's
 * parser is lent to nobody. */
static void test_interleaved_streams_match_alone(void **state)
{
    (void)state;
    static const char *const docs[] = {
        client_stream,
        "<stream:stream xmlns='jabber:server' "
        "xmlns:db='jabber:server:dialback' "
        "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
        "<db:result from='a.example' to='b.example'>key</db:result>"
        "<message from='x@a.example' to='y@b.example'><body>hi</body>"
        "</message></stream:stream>",
        "<x:stream xmlns:x='http://etherx.jabber.org/streams' "
        "xmlns='jabber:client' xmlns:p='urn:example:p'>"
        "<p:thing a='1'/><message><p:x b='2'>t</p:x></message>"
        "<iq type='get' id='q'><query xmlns='jabber:iq:roster'/></iq>",
        HEADER "<message><body>x</bod></message><presence/>",
        HEADER "<presence><status>a&amp;b</status></presence>  \n "
               "<message to='a@example.com'><body>&lt;3</body></message>",
    };
    enum { N = sizeof(docs) / sizeof(docs[0]) };
    char *alone[N];
    for (int i = 0; i < N; i++) {
        struct rec proto = {.reset_on = "auth"};
        xstream_drop_spares();
        alone[i] = run_cuts(&proto, docs[i], NULL, 0);
    }
    assert_non_null(strstr(alone[3], "ERROR not-well-formed"));
    srand(4711);
    for (int round = 0; round < 300; round++) {
        struct rec r[N];
        size_t at[N], left = 0;
        for (int i = 0; i < N; i++) {
            rec_init(&r[i], NULL);
            r[i].reset_on = "auth";
            at[i] = 0;
            left += strlen(docs[i]);
        }
        while (left > 0) {
            int i = rand() % N;
            size_t len = strlen(docs[i]);
            if (at[i] == len)
                continue;
            size_t n = 1 + (size_t)rand() % 64;
            if (n > len - at[i])
                n = len - at[i];
            xstream_feed(r[i].xs, docs[i] + at[i], n);
            at[i] += n;
            left -= n;
            if (rand() % 16 == 0)
                xstream_drop_spares();
        }
        for (int i = 0; i < N; i++) {
            if (strcmp(buf_cstr(&r[i].log), alone[i]) != 0)
                fail_msg("round %d, stream %d:\n%s\nalone:\n%s", round, i,
                         buf_cstr(&r[i].log), alone[i]);
            rec_free(&r[i]);
        }
    }
    for (int i = 0; i < N; i++)
        free(alone[i]);
    xstream_drop_spares();
}

/* Expat remembers every attribute name and prefix it has seen; a peer
 * sending new ones forever must not grow the parser forever. */
static void test_unique_names_do_not_grow(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r, NULL);
    feed_str(&r, HEADER);
    char st[160];
    size_t max = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(st, sizeof(st),
                 "<presence a%d='1' xmlns:p%d='urn:x:%d' p%d:b='2'/>", i, i, i,
                 i);
        assert_int_equal(feed_str(&r, st), 0);
        size_t m = xstream_memory(r.xs);
        if (m > max)
            max = m;
    }
    assert_int_equal(r.stanzas, 20000);
    assert_true(max < 64 * 1024);
    rec_free(&r);
}

static void test_memory_of_open_stream(void **state)
{
    (void)state;
    /* Mid-stanza a stream costs expat's ~10 KiB plus a few hundred bytes
     * of ours; between stanzas only ours. The parser is one of its own:
     * a spare may have grown with other streams' names. */
    xstream_drop_spares();
    struct rec r;
    rec_init(&r, NULL);
    r.reset_on = "auth";
    feed_steps(&r, client_stream, strlen(client_stream) - 16, 4096);
    assert_int_equal(r.stanzas, 5);
    size_t idle = xstream_memory(r.xs);
    feed_str(&r, "<message><body>");
    size_t open = xstream_memory(r.xs);
    print_message("xstream memory: %zu bytes mid-stanza, %zu bytes between "
                  "stanzas\n",
                  open, idle);
    assert_true(open < 16384);
    assert_true(idle < 512);
    rec_free(&r);
}

static void test_error_strings(void **state)
{
    (void)state;
    assert_string_equal(xstream_error_str(XSE_NOT_WELL_FORMED),
                        "not-well-formed");
    assert_string_equal(xstream_error_str(XSE_POLICY_VIOLATION),
                        "policy-violation");
    assert_string_equal(xstream_error_str(XSE_RESTRICTED_XML),
                        "restricted-xml");
    assert_string_equal(xstream_error_str(XSE_INVALID_NAMESPACE),
                        "invalid-namespace");
    assert_string_equal(xstream_error_str(XSE_BAD_FORMAT), "bad-format");
    assert_string_equal(xstream_error_str((enum xstream_error)99),
                        "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_stream_splits),
        cmocka_unit_test(test_client_stream_without_spares),
        cmocka_unit_test(test_namespaces),
        cmocka_unit_test(test_server_stream_namespaces),
        cmocka_unit_test(test_escaping_roundtrip),
        cmocka_unit_test(test_keepalive_whitespace),
        cmocka_unit_test(test_text_at_stream_level),
        cmocka_unit_test(test_stream_header),
        cmocka_unit_test(test_after_close),
        cmocka_unit_test(test_bad_documents),
        cmocka_unit_test(test_billion_laughs_is_cheap),
        cmocka_unit_test(test_encoding),
        cmocka_unit_test(test_error_callback_actions),
        cmocka_unit_test(test_size_limit_while_streaming),
        cmocka_unit_test(test_size_limit_exact),
        cmocka_unit_test(test_header_limit),
        cmocka_unit_test(test_raise_limit_after_auth),
        cmocka_unit_test(test_depth_and_attr_limits),
        cmocka_unit_test(test_reset_pipelined_header),
        cmocka_unit_test(test_reset_outside_callbacks),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_null_callbacks),
        cmocka_unit_test(test_parser_lent_between_stanzas),
        cmocka_unit_test(test_streams_share_parsers),
        cmocka_unit_test(test_interleaved_streams_match_alone),
        cmocka_unit_test(test_unique_names_do_not_grow),
        cmocka_unit_test(test_memory_of_open_stream),
        cmocka_unit_test(test_error_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
