/* test_jid.c -- JID parsing and normalisation (RFC 7622 with the RFC 3920
 * stringprep profiles): valid and invalid addresses, case folding,
 * Unicode normalisation, prohibited characters, length limits, and the
 * ASCII fast path against full stringprep.
 *
 * jid.c is included so the tests can turn the fast path off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmpp/jid.c"

#include "core/err.h"

struct valid_case {
    const char *in;
    const char *out;  /* normalised full JID */
    const char *node; /* NULL when none */
    const char *domain;
    const char *resource; /* NULL when none */
};

static const struct valid_case valid[] = {
    {"example.com", "example.com", NULL, "example.com", NULL},
    {"user@example.com", "user@example.com", "user", "example.com", NULL},
    {"user@example.com/res", "user@example.com/res", "user", "example.com",
     "res"},
    {"example.com/res", "example.com/res", NULL, "example.com", "res"},
    {"x@y", "x@y", "x", "y", NULL},
    /* Node and domain fold case; the resource keeps it. */
    {"User@Example.COM/Res", "user@example.com/Res", "user", "example.com",
     "Res"},
    {"JULIET@EXAMPLE.COM/Balcony", "juliet@example.com/Balcony", "juliet",
     "example.com", "Balcony"},
    /* RFC 7622 §3.1: the first '/' starts the resource, which may hold
     * '@' and '/'. */
    {"a@b/c@d/e", "a@b/c@d/e", "a", "b", "c@d/e"},
    {"b/c@d", "b/c@d", NULL, "b", "c@d"},
    {"user@example.com/ spaced out ", "user@example.com/ spaced out ", "user",
     "example.com", " spaced out "},
    {"a.b-c_d+e~f@example.com", "a.b-c_d+e~f@example.com", "a.b-c_d+e~f",
     "example.com", NULL},
    /* §3.2: one trailing dot is stripped from the domain. */
    {"example.com.", "example.com", NULL, "example.com", NULL},
    {"user@example.com./r", "user@example.com/r", "user", "example.com", "r"},
    /* IP literals. */
    {"127.0.0.1", "127.0.0.1", NULL, "127.0.0.1", NULL},
    {"u@[::1]/r", "u@[::1]/r", "u", "[::1]", "r"},
    {"u@[0:0::1]", "u@[::1]", "u", "[::1]", NULL},
    {"[2001:DB8::0:1]", "[2001:db8::1]", NULL, "[2001:db8::1]", NULL},
    /* Canonical (RFC 5952) may be longer than what was written. */
    {"u@[1::2:3:4:5:6:7]/r", "u@[1:0:2:3:4:5:6:7]/r", "u", "[1:0:2:3:4:5:6:7]",
     "r"},
    /* Unicode: Ä folds to ä; ß folds to "ss" (RFC 3454 B.2). */
    {"\xc3\x84@example.com", "\xc3\xa4@example.com", "\xc3\xa4", "example.com",
     NULL},
    {"Stra\xc3\x9f"
     "e@example.com",
     "strasse@example.com", "strasse", "example.com", NULL},
    /* Fullwidth letters normalise (NFKC) and fold. */
    {"\xef\xbc\xb5\xef\xbd\x93\xef\xbd\x85\xef\xbd\x92@example.com",
     "user@example.com", "user", "example.com", NULL},
    {"u@\xef\xbd\x85\xef\xbd\x98.com", "u@ex.com", "u", "ex.com", NULL},
    /* Fullwidth and ideographic full stops separate labels. */
    {"u@ex\xef\xbc\x8e"
     "com",
     "u@ex.com", "u", "ex.com", NULL},
    {"u@ex\xe3\x80\x82"
     "com",
     "u@ex.com", "u", "ex.com", NULL},
    {"u@ex\xef\xbd\xa1"
     "com\xe3\x80\x82",
     "u@ex.com", "u", "ex.com", NULL},
    /* The resource is normalised (NFKC) but keeps its case. */
    {"u@d/\xef\xbc\xb2"
     "es",
     "u@d/Res", "u", "d", "Res"},
    /* Soft hyphen maps to nothing. */
    {"us\xc2\xad"
     "er@d",
     "user@d", "user", "d", NULL},
    /* Internationalised domain names. */
    {"u@B\xc3\x9c"
     "CHER.example",
     "u@b\xc3\xbc"
     "cher.example",
     "u",
     "b\xc3\xbc"
     "cher.example",
     NULL},
    {"u@xn--bcher-kva.example", "u@xn--bcher-kva.example", "u",
     "xn--bcher-kva.example", NULL},
    {"\xd0\x9f\xd1\x80\xd0\xb8@d", "\xd0\xbf\xd1\x80\xd0\xb8@d",
     "\xd0\xbf\xd1\x80\xd0\xb8", "d", NULL},
};

static const char *const invalid[] = {
    "",
    "@",
    "/",
    "@d",
    "d/",
    "a@",
    "a@/r",
    "/r",
    "@/",
    "a@d/",
    "a@b@c",
    ".",
    "..",
    "d..com",
    ".d",
    "d..",
    "-d.com",
    "d-.com",
    "d.-x",
    "d_x.com",
    "d com",
    "u@d:5222",
    "[::1",
    "[zz::1]",
    "[]",
    "[1.2.3.4]",
    /* Characters Nodeprep prohibits (RFC 3920 App. A.5) and space. */
    "a\"b@d",
    "a&b@d",
    "a'b@d",
    "a:b@d",
    "a<b@d",
    "a>b@d",
    "a b@d",
    " @d",
    /* Controls anywhere. */
    "\x01@d",
    "a\x7f@d",
    "a@d\x01",
    "a@d/\x01",
    "a@d/r\x7f",
    /* Empty after mapping. */
    "\xc2\xad@d",
    "a@d/\xc2\xad",
    /* Malformed UTF-8. */
    "\xff@d",
    "a@d/\xc0\xaf",
    "a@d/\xed\xa0\x80",
    "a@\xe2\x82",
    /* Private use (RFC 3454 C.3) and non-ASCII space (C.1.2). */
    "\xee\x80\x80@d",
    "a\xc2\xa0"
    "b@d",
    /* Bidi: a RandALCat character mixed with LCat (RFC 3454 §6). */
    "\xd8\xa7"
    "a@d",
};

static void check_valid(bool fast_ok)
{
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        const struct valid_case *v = &valid[i];
        struct jid j;
        int r = parse(&j, v->in, strlen(v->in), fast_ok);
        if (r != 0)
            fail_msg("rejected valid #%zu \"%s\"", i, v->in);
        assert_string_equal(j.s, v->out);
        struct str n = jid_node(&j), d = jid_domain(&j), res = jid_resource(&j);
        assert_int_equal(jid_has_node(&j), v->node != NULL);
        assert_int_equal(jid_has_resource(&j), v->resource != NULL);
        if (v->node) {
            assert_int_equal(n.len, strlen(v->node));
            assert_memory_equal(n.p, v->node, n.len);
        }
        assert_int_equal(d.len, strlen(v->domain));
        assert_memory_equal(d.p, v->domain, d.len);
        if (v->resource) {
            assert_int_equal(res.len, strlen(v->resource));
            assert_memory_equal(res.p, v->resource, res.len);
        }
        /* A normalised JID parses to itself. */
        struct jid k;
        assert_int_equal(parse(&k, j.s, strlen(j.s), fast_ok), 0);
        assert_true(jid_equal(&j, &k));
        jid_free(&k);
        jid_free(&j);
    }
}

static void check_invalid(bool fast_ok)
{
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        struct jid j;
        int r = parse(&j, invalid[i], strlen(invalid[i]), fast_ok);
        if (r != -ERR_INVAL)
            fail_msg("accepted invalid #%zu \"%s\" as \"%s\"", i, invalid[i],
                     j.s);
        assert_null(j.s);
        assert_int_equal(j.node_len + j.domain_len + j.res_len, 0);
    }
    /* An embedded NUL in each part. */
    static const struct {
        const char *s;
        size_t len;
    } nul[] = {{"a\0b@d", 5}, {"a@d\0e", 5}, {"a@d/r\0s", 7}};
    for (size_t i = 0; i < sizeof(nul) / sizeof(nul[0]); i++) {
        struct jid j;
        assert_int_equal(parse(&j, nul[i].s, nul[i].len, fast_ok), -ERR_INVAL);
    }
}

static void test_valid(void **state)
{
    (void)state;
    check_valid(true);
}

static void test_invalid(void **state)
{
    (void)state;
    check_invalid(true);
}

/* The whole tables again with stringprep only. */
static void test_valid_slow(void **state)
{
    (void)state;
    check_valid(false);
    check_invalid(false);
}

/* Every ASCII character, in each part, through the fast path and through
 * libidn: same verdict, same bytes. */
static void test_fast_equals_slow(void **state)
{
    (void)state;
    for (int k = PART_NODE; k <= PART_RESOURCE; k++) {
        for (int c = 1; c < 128; c++) {
            char in[4] = {'A', (char)c, 'z', '\0'};
            struct buf f = BUF_INIT, s = BUF_INIT;
            bool took = prep_fast(k, in, 3, &f);
            int rs = prep_slow(k, in, 3, &s);
            if (took) {
                if (rs != 0 || buf_used(&f) != buf_used(&s) ||
                    memcmp(buf_data(&f), buf_data(&s), buf_used(&f)) != 0)
                    fail_msg("part %d char 0x%02x: fast path differs", k, c);
            } else {
                /* The fast path only declines what stringprep refuses. */
                if (rs == 0)
                    fail_msg("part %d char 0x%02x: fast path declined a "
                             "valid character",
                             k, c);
            }
            /* prep() as a whole gives one answer either way. */
            struct buf a = BUF_INIT, b = BUF_INIT;
            int ra = prep(k, in, 3, &a, true, JID_PART_MAX);
            int rb = prep(k, in, 3, &b, false, JID_PART_MAX);
            assert_int_equal(ra, rb);
            assert_int_equal(buf_used(&a), buf_used(&b));
            if (ra == 0)
                assert_memory_equal(buf_data(&a), buf_data(&b), buf_used(&a));
            buf_free(&f);
            buf_free(&s);
            buf_free(&a);
            buf_free(&b);
        }
    }
    /* The fast path does take the common case. */
    struct buf b = BUF_INIT;
    assert_true(prep_fast(PART_NODE, "juliet", 6, &b));
    assert_true(prep_fast(PART_DOMAIN, "Example.COM", 11, &b));
    assert_true(prep_fast(PART_RESOURCE, "Balcony 1", 9, &b));
    assert_string_equal(buf_cstr(&b), "julietexample.comBalcony 1");
    assert_false(prep_fast(PART_NODE, "j\xc3\xa4", 3, &b));
    buf_free(&b);
}

static void fill(char *s, size_t n, char c)
{
    memset(s, c, n);
    s[n] = '\0';
}

/* A domain of exactly n bytes, in labels short enough for DNS. */
static void domain_of(char *s, size_t n)
{
    fill(s, n, 'a');
    for (size_t i = 50; i + 1 < n; i += 51)
        s[i] = '.';
}

static void test_lengths(void **state)
{
    (void)state;
    static char part[5000], in[6000];
    struct jid j;

    fill(part, 1023, 'a');
    snprintf(in, sizeof(in), "%s@d", part);
    assert_int_equal(jid_parse(&j, in, strlen(in)), 0);
    assert_int_equal(j.node_len, 1023);
    jid_free(&j);
    fill(part, 1024, 'a');
    snprintf(in, sizeof(in), "%s@d", part);
    assert_int_equal(jid_parse(&j, in, strlen(in)), -ERR_INVAL);

    domain_of(part, 1023);
    assert_int_equal(jid_parse(&j, part, 1023), 0);
    assert_int_equal(j.domain_len, 1023);
    jid_free(&j);
    /* The trailing dot does not count. */
    snprintf(in, sizeof(in), "u@%s./r", part);
    assert_int_equal(jid_parse(&j, in, strlen(in)), 0);
    assert_int_equal(j.domain_len, 1023);
    jid_free(&j);
    domain_of(part, 1024);
    assert_int_equal(jid_parse(&j, part, 1024), -ERR_INVAL);
    /* A DNS label is at most 63 bytes. */
    fill(part, 63, 'a');
    assert_int_equal(jid_parse(&j, part, 63), 0);
    jid_free(&j);
    fill(part, 64, 'a');
    assert_int_equal(jid_parse(&j, part, 64), -ERR_INVAL);

    fill(part, 1023, 'R');
    snprintf(in, sizeof(in), "u@d/%s", part);
    assert_int_equal(jid_parse(&j, in, strlen(in)), 0);
    assert_int_equal(j.res_len, 1023);
    jid_free(&j);
    fill(part, 1024, 'R');
    snprintf(in, sizeof(in), "u@d/%s", part);
    assert_int_equal(jid_parse(&j, in, strlen(in)), -ERR_INVAL);

    /* The limit is on prepared bytes: "é" is two. */
    part[0] = '\0';
    for (int i = 0; i < 511; i++)
        strcat(part, "\xc3\xa9");
    snprintf(in, sizeof(in), "u@d/%sa", part);
    assert_int_equal(jid_parse(&j, in, strlen(in)), 0);
    assert_int_equal(j.res_len, 1023);
    jid_free(&j);
    snprintf(in, sizeof(in), "u@d/%s\xc3\xa9", part);
    assert_int_equal(jid_parse(&j, in, strlen(in)), -ERR_INVAL);

    /* Preparation may grow a part past the limit (ß -> ss) ... */
    part[0] = '\0';
    for (int i = 0; i < 512; i++)
        strcat(part, "\xc3\x9f");
    snprintf(in, sizeof(in), "%s@d", part);
    assert_int_equal(jid_parse(&j, in, strlen(in)), -ERR_INVAL);
    /* ... or shrink one under it (soft hyphens vanish). */
    fill(part, 1023, 'a');
    for (int i = 0; i < 10; i++)
        strcat(part, "\xc2\xad");
    snprintf(in, sizeof(in), "%s@d", part);
    assert_int_equal(jid_parse(&j, in, strlen(in)), 0);
    assert_int_equal(j.node_len, 1023);
    jid_free(&j);

    /* Far too long input is refused before any work. */
    fill(in, 5000, 'a');
    assert_int_equal(jid_parse(&j, in, 5000), -ERR_INVAL);
}

static void test_make(void **state)
{
    (void)state;
    struct jid j;
    assert_int_equal(jid_make(&j, "Juliet", "Example.com", "Balcony"), 0);
    assert_string_equal(j.s, "juliet@example.com/Balcony");
    jid_free(&j);
    assert_int_equal(jid_make(&j, NULL, "example.com", NULL), 0);
    assert_string_equal(j.s, "example.com");
    assert_false(jid_has_node(&j));
    assert_false(jid_has_resource(&j));
    jid_free(&j);
    assert_int_equal(jid_make(&j, "u", "d", NULL), 0);
    assert_string_equal(j.s, "u@d");
    jid_free(&j);
    /* Parts given separately may hold what splitting would take apart,
     * but only where the profile allows it. */
    assert_int_equal(jid_make(&j, "u", "d", "r/s@t"), 0);
    assert_string_equal(j.s, "u@d/r/s@t");
    jid_free(&j);
    assert_int_equal(jid_make(&j, "a@b", "d", NULL), -ERR_INVAL);
    assert_null(j.s);
    assert_int_equal(jid_make(&j, "a/b", "d", NULL), -ERR_INVAL);
    assert_int_equal(jid_make(&j, "u", "d/x", NULL), -ERR_INVAL);
    assert_int_equal(jid_make(&j, "u", "d@x", NULL), -ERR_INVAL);
    assert_int_equal(jid_make(&j, "", "d", NULL), -ERR_INVAL);
    assert_int_equal(jid_make(&j, "u", "", NULL), -ERR_INVAL);
    assert_int_equal(jid_make(&j, "u", "d", ""), -ERR_INVAL);
    assert_int_equal(jid_make(&j, "u", NULL, NULL), -ERR_INVAL);
}

static void test_copy_bare_compare(void **state)
{
    (void)state;
    struct jid a, b, c, bare, cp;
    const char *s1 = "Romeo@Example.net/Orchard";
    assert_int_equal(jid_parse(&a, s1, strlen(s1)), 0);
    const char *s2 = "romeo@example.NET/Orchard";
    assert_int_equal(jid_parse(&b, s2, strlen(s2)), 0);
    const char *s3 = "romeo@example.net/orchard";
    assert_int_equal(jid_parse(&c, s3, strlen(s3)), 0);

    assert_true(jid_equal(&a, &b));
    assert_false(jid_equal(&a, &c));
    assert_true(jid_bare_equal(&a, &c));

    struct str bs = jid_bare(&a);
    assert_int_equal(bs.len, strlen("romeo@example.net"));
    assert_memory_equal(bs.p, "romeo@example.net", bs.len);
    char *bd = jid_bare_dup(&a);
    assert_string_equal(bd, "romeo@example.net");
    free(bd);

    jid_bare_of(&bare, &a);
    assert_string_equal(bare.s, "romeo@example.net");
    assert_false(jid_has_resource(&bare));
    assert_int_equal(jid_resource(&bare).len, 0);
    assert_false(jid_equal(&bare, &a));
    assert_true(jid_bare_equal(&bare, &a));

    jid_copy(&cp, &a);
    assert_ptr_not_equal(cp.s, a.s);
    assert_true(jid_equal(&cp, &a));
    /* The bare JID of itself, in place. */
    jid_bare_of(&cp, &cp);
    assert_true(jid_equal(&cp, &bare));

    /* A domain-only JID. */
    struct jid d, dr;
    assert_int_equal(jid_parse(&d, "example.net", 11), 0);
    assert_int_equal(jid_parse(&dr, "example.net/x", 13), 0);
    assert_int_equal(jid_node(&d).len, 0);
    assert_int_equal(jid_domain(&dr).len, 11);
    assert_memory_equal(jid_resource(&dr).p, "x", 1);
    assert_true(jid_bare_equal(&d, &dr));
    assert_false(jid_equal(&d, &dr));
    assert_false(jid_bare_equal(&d, &bare));

    /* Empty JIDs compare equal only to each other. */
    struct jid e1 = JID_INIT, e2 = JID_INIT;
    assert_true(jid_equal(&e1, &e2));
    assert_false(jid_equal(&e1, &d));

    jid_free(&a);
    jid_free(&b);
    jid_free(&c);
    jid_free(&bare);
    jid_free(&cp);
    jid_free(&d);
    jid_free(&dr);
    jid_free(&e1);
}

static void test_single_parts(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_append_str(&b, "<");
    assert_int_equal(jid_nodeprep("Alice", 5, &b), 0);
    assert_string_equal(buf_cstr(&b), "<alice");
    assert_int_equal(jid_nodeprep("a@b", 3, &b), -ERR_INVAL);
    assert_int_equal(jid_nodeprep("a b", 3, &b), -ERR_INVAL);
    assert_int_equal(jid_nodeprep("", 0, &b), -ERR_INVAL);
    assert_string_equal(buf_cstr(&b), "<alice");
    buf_reset(&b);

    assert_int_equal(jid_nameprep("Example.COM.", 12, &b), 0);
    assert_string_equal(buf_cstr(&b), "example.com");
    buf_reset(&b);
    assert_int_equal(jid_nameprep("ex ample", 8, &b), -ERR_INVAL);
    assert_int_equal(jid_nameprep("a/b", 3, &b), -ERR_INVAL);
    assert_int_equal(buf_used(&b), 0);

    assert_int_equal(jid_resourceprep("Res @/", 6, &b), 0);
    assert_string_equal(buf_cstr(&b), "Res @/");
    assert_int_equal(jid_resourceprep("\x01", 1, &b), -ERR_INVAL);
    assert_string_equal(buf_cstr(&b), "Res @/");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_valid_slow),
        cmocka_unit_test(test_fast_equals_slow),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_make),
        cmocka_unit_test(test_copy_bare_compare),
        cmocka_unit_test(test_single_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
