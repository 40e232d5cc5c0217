/* test_mod_util.c -- the helpers modules share: XEP-0082 dates and
 * XEP-0004 forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "mod/mod_util.h"
#include "xml/xser.h"

static void test_datetime_parse(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(datetime_parse("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(datetime_parse("2026-11-23T06:35:35Z", &ms), 0);
    assert_int_equal(ms, 1795415735000LL);
    assert_int_equal(datetime_parse("2026-11-23T06:35:35.123Z", &ms), 0);
    assert_int_equal(ms, 1795415735123LL);
    /* Digits past milliseconds are dropped, not rounded. */
    assert_int_equal(datetime_parse("2026-11-23T06:35:35.1239Z", &ms), 0);
    assert_int_equal(ms, 1795415735123LL);
    assert_int_equal(datetime_parse("2026-11-23T07:35:35+01:00", &ms), 0);
    assert_int_equal(ms, 1795415735000LL);
    assert_int_equal(datetime_parse("2026-11-23T01:05:35-05:30", &ms), 0);
    assert_int_equal(ms, 1795415735000LL);
    static const char *const bad[] = {
        "",
        "2026-11-23",
        "2026-11-23T06:35:35",
        "2026-11-23 06:35:35Z",
        "2026-13-01T00:00:00Z",
        "2026-11-23T24:00:00Z",
        "2026-11-23T06:35:35.Z",
        "2026-11-23T06:35:35Zjunk",
        "2026-11-23T06:35:35+0100",
        "26-11-23T06:35:35Z",
        "yesterday",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(datetime_parse(bad[i], &ms), -ERR_INVAL);
}

static void test_datetime_format(void **state)
{
    (void)state;
    char out[DATETIME_MAX];
    datetime_format(1795415735123LL, false, out);
    assert_string_equal(out, "2026-11-23T06:35:35Z");
    datetime_format(1795415735123LL, true, out);
    assert_string_equal(out, "2026-11-23T06:35:35.123Z");
    datetime_format(0, true, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    /* Before the epoch the milliseconds still count forwards. */
    datetime_format(-1, true, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    int64_t ms;
    datetime_format(1795415735123LL, true, out);
    assert_int_equal(datetime_parse(out, &ms), 0);
    assert_int_equal(ms, 1795415735123LL);
}

static void test_forms(void **state)
{
    (void)state;
    struct stanza *q = stanza_new("urn:x", "query");
    struct stanza *x = form_add(q, "result", "urn:x:form");
    struct stanza *f = form_add_field(x, "list", "list-multi", "a<b");
    form_field_add_value(f, "c");
    form_add_field(x, "empty", NULL, NULL);
    struct buf b = BUF_INIT;
    xser_write(q, "urn:x", &b);
    assert_string_equal(
        buf_cstr(&b),
        "<query><x xmlns='jabber:x:data' type='result'>"
        "<field var='FORM_TYPE' type='hidden'><value>urn:x:form</value>"
        "</field><field var='list' type='list-multi'><value>a&lt;b</value>"
        "<value>c</value></field><field var='empty'/></x></query>");
    char *t = form_type_dup(x);
    assert_string_equal(t, "urn:x:form");
    free(t);
    struct stanza *bare = form_add(q, "submit", NULL);
    assert_null(form_type_dup(bare));
    buf_free(&b);
    stanza_unref(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datetime_parse),
        cmocka_unit_test(test_datetime_format),
        cmocka_unit_test(test_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
