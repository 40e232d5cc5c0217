/* test_pep_config.c -- PEP node configuration (pep_config.c): values
 * normalised so that publish-options compare by meaning, defaults,
 * refusals, the text form kept in the store, and the item limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "mod/pep_config.h"
#include "mod/mod_util.h"
#include "xml/xser.h"

/* A form with the fields "var=value;var=v1|v2;..." */
static struct stanza *form(const char *spec)
{
    struct stanza *x = stanza_new(NS_DATA, "x");
    form_add_field(x, "FORM_TYPE", "hidden",
                   "http://jabber.org/protocol/pubsub#publish-options");
    char buf[512];
    strncpy(buf, spec, sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\0';
    for (char *save = NULL, *f = strtok_r(buf, ";", &save); f;
         f = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(f, '=');
        *eq = '\0';
        struct stanza *field = form_add_field(x, f, NULL, NULL);
        for (char *s2 = NULL, *v = strtok_r(eq + 1, "|", &s2); v;
             v = strtok_r(NULL, "|", &s2))
            form_field_add_value(field, v);
    }
    return x;
}

static int merge(struct pep_config *c, const char *spec, const char **bad)
{
    struct stanza *x = form(spec);
    int r = pep_config_merge_form(c, x, bad);
    stanza_unref(x);
    return r;
}

static void test_defaults(void **state)
{
    (void)state;
    struct pep_config c = { .n = 0 };
    assert_string_equal(pep_config_get(&c, "pubsub#access_model"),
                        "presence");
    assert_string_equal(pep_config_get(&c, "pubsub#persist_items"), "1");
    assert_null(pep_config_get(&c, "pubsub#unknown"));
    assert_int_equal(pep_config_keep(&c), 1);
}

static void test_compare_by_meaning(void **state)
{
    (void)state;
    struct pep_config node = { .n = 0 }, want = { .n = 0 };
    const char *bad;
    assert_int_equal(merge(&node, "pubsub#access_model=open;"
                                  "pubsub#max_items=1000;"
                                  "pubsub#persist_items=true;"
                                  "pubsub#title=Keys",
                           &bad),
                     0);
    assert_string_equal(pep_config_get(&node, "pubsub#max_items"), "max");
    assert_int_equal(pep_config_keep(&node), PEP_ITEMS_CAP);
    assert_int_equal(merge(&want, "pubsub#max_items=max;"
                                  "pubsub#persist_items=1;"
                                  "pubsub#deliver_payloads=true;"
                                  "pubsub#title=Keys",
                           &bad),
                     0);
    assert_true(pep_config_matches(&node, &want, &bad));
    pep_config_free(&want);
    assert_int_equal(merge(&want, "pubsub#persist_items=0", &bad), 0);
    assert_false(pep_config_matches(&node, &want, &bad));
    assert_string_equal(bad, "pubsub#persist_items");
    pep_config_free(&want);
    /* A field the node never had matches nothing. */
    assert_int_equal(merge(&want, "urn:example#x=1", &bad), 0);
    assert_false(pep_config_matches(&node, &want, &bad));
    pep_config_free(&want);
    pep_config_free(&node);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad_specs[] = {
        "pubsub#access_model=authorize", "pubsub#max_items=0",
        "pubsub#max_items=lots",         "pubsub#persist_items=yes",
        "pubsub#persist_items=1|0",      "pubsub#title=a\tb",
    };
    for (size_t i = 0; i < sizeof(bad_specs) / sizeof(bad_specs[0]); i++) {
        struct pep_config c = { .n = 0 };
        const char *bad;
        assert_int_equal(merge(&c, bad_specs[i], &bad), -1);
        assert_non_null(bad);
        pep_config_free(&c);
    }
    /* Too many fields. */
    struct pep_config c = { .n = 0 };
    char spec[PEP_FIELDS_MAX * 16 + 16] = "";
    for (int i = 0; i <= PEP_FIELDS_MAX; i++)
        sprintf(spec + strlen(spec), "x#%d=1;", i);
    const char *bad;
    assert_int_equal(merge(&c, spec, &bad), -1);
    pep_config_free(&c);
}

static void test_text_roundtrip(void **state)
{
    (void)state;
    struct pep_config c = { .n = 0 }, back = { .n = 0 };
    const char *bad;
    assert_int_equal(merge(&c, "pubsub#access_model=whitelist;"
                               "pubsub#max_items=5;"
                               "pubsub#roster_groups_allowed=a|b c",
                           &bad),
                     0);
    /* Merging again replaces a field rather than adding it. */
    assert_int_equal(merge(&c, "pubsub#max_items=7", &bad), 0);
    assert_int_equal(c.n, 3);
    struct buf text = BUF_INIT;
    pep_config_write(&c, &text);
    pep_config_read(&back, buf_cstr(&text));
    assert_int_equal(back.n, 3);
    assert_true(pep_config_matches(&back, &c, &bad));
    assert_string_equal(pep_config_get(&back, "pubsub#roster_groups_allowed"),
                        "a\tb c");
    assert_int_equal(pep_config_keep(&back), 7);
    /* The form shows both values of the multi-valued field. */
    struct stanza *parent = stanza_new(NS_DATA, "configure");
    pep_config_form(&back, parent);
    struct buf xml = BUF_INIT;
    xser_write(parent, NS_DATA, &xml);
    assert_non_null(strstr(buf_cstr(&xml), "<value>a</value><value>b c"));
    stanza_unref(parent);
    buf_free(&xml);
    buf_free(&text);
    pep_config_free(&c);
    pep_config_free(&back);
}

/* Every field of the node_config registry compares by meaning, not
 * only those the server acts on. */
static void test_registry(void **state)
{
    (void)state;
    struct pep_config node = { .n = 0 }, want = { .n = 0 };
    const char *bad;
    assert_int_equal(merge(&node, "pubsub#notify_sub=true;"
                                  "pubsub#contact=b@x|a@x;"
                                  "pubsub#item_expire=0060",
                           &bad),
                     0);
    assert_int_equal(merge(&want, "pubsub#notify_sub=1;"
                                  "pubsub#contact=a@x|b@x;"
                                  "pubsub#item_expire=60;"
                                  "pubsub#presence_based_delivery=true;"
                                  "pubsub#purge_offline=false;"
                                  "pubsub#node_type=leaf;"
                                  "pubsub#max_payload_size=65536",
                           &bad),
                     0);
    /* Set ones by value, the others by their defaults. */
    assert_true(pep_config_matches(&node, &want, &bad));
    pep_config_free(&want);
    assert_int_equal(merge(&want, "pubsub#notify_config=true", &bad), 0);
    assert_false(pep_config_matches(&node, &want, &bad));
    assert_string_equal(bad, "pubsub#notify_config");
    pep_config_free(&want);
    /* Fields without a default match only when set alike. */
    assert_int_equal(merge(&want, "pubsub#description=x", &bad), 0);
    assert_false(pep_config_matches(&node, &want, &bad));
    pep_config_free(&want);
    /* What the server cannot honour is refused. */
    static const char *const refused[] = {
        "pubsub#node_type=collection", "pubsub#notify_sub=maybe",
        "pubsub#max_payload_size=1000000", "pubsub#item_expire=-1",
        "pubsub#publish_model=open", "pubsub#notify_sub=1|0",
        "pubsub#send_last_published_item=sometimes",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(merge(&want, refused[i], &bad), -1);
        pep_config_free(&want);
    }
    /* The form shows what the server acts on, and what was set. */
    struct stanza *parent = stanza_new(NS_DATA, "configure");
    pep_config_form(&node, parent);
    struct buf xml = BUF_INIT;
    xser_write(parent, NS_DATA, &xml);
    const char *t = buf_cstr(&xml);
    assert_non_null(strstr(t, "var='pubsub#notify_sub'"));
    assert_non_null(strstr(t, "var='pubsub#max_payload_size'"));
    assert_non_null(strstr(t, "<option><value>whitelist</value></option>"));
    assert_null(strstr(t, "var='pubsub#tempsub'"));
    stanza_unref(parent);
    buf_free(&xml);
    pep_config_free(&node);
}

static void test_affiliations(void **state)
{
    (void)state;
    struct pep_config c = { .n = 0 }, back = { .n = 0 };
    const char *bad;
    assert_int_equal(merge(&c, "pubsub#access_model=whitelist", &bad), 0);
    assert_null(pep_config_affiliation(&c, "bob@x"));
    assert_int_equal(pep_config_set_affiliation(&c, "bob@x", "member"), 0);
    assert_int_equal(pep_config_set_affiliation(&c, "eve@x", "outcast"), 0);
    assert_int_equal(pep_config_set_affiliation(&c, "eve@x", "owner"), -1);
    assert_int_equal(pep_config_set_affiliation(&c, "a\tb", "member"), -1);
    assert_string_equal(pep_config_affiliation(&c, "eve@x"), "outcast");
    struct buf text = BUF_INIT;
    pep_config_write(&c, &text);
    pep_config_read(&back, buf_cstr(&text));
    assert_int_equal(back.n, 1);
    assert_int_equal(back.na, 2);
    assert_string_equal(pep_config_affiliation(&back, "bob@x"), "member");
    assert_int_equal(pep_config_set_affiliation(&back, "bob@x", "none"), 0);
    assert_null(pep_config_affiliation(&back, "bob@x"));
    assert_string_equal(pep_config_affiliation(&back, "eve@x"), "outcast");
    /* An empty var would read back as an affiliation: refused. */
    assert_int_equal(merge(&c, "=x", &bad), -1);
    for (int i = (int)c.na; i < PEP_AFFS_MAX; i++) {
        char jid[32];
        snprintf(jid, sizeof(jid), "u%d@x", i);
        assert_int_equal(pep_config_set_affiliation(&c, jid, "member"), 0);
    }
    assert_int_equal(pep_config_set_affiliation(&c, "one@more", "member"),
                     -1);
    buf_free(&text);
    pep_config_free(&c);
    pep_config_free(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_compare_by_meaning),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_text_roundtrip),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_affiliations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
