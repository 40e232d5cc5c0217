/* test_hooks.c -- named events: order, results, and the lookup cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "xmpp/hooks.h"

static char trail[64];

static void note(char c)
{
    size_t n = strlen(trail);
    if (n + 1 < sizeof(trail)) {
        trail[n] = c;
        trail[n + 1] = '\0';
    }
}

static int pass_a(struct hook_ctx *h, struct stanza *st)
{
    (void)h;
    (void)st;
    note('a');
    return HOOK_PASS;
}

static int pass_b(struct hook_ctx *h, struct stanza *st)
{
    (void)h;
    (void)st;
    note('b');
    return HOOK_PASS;
}

static int handle_c(struct hook_ctx *h, struct stanza *st)
{
    (void)h;
    (void)st;
    note('c');
    return HOOK_HANDLED;
}

static int teardown(void **state)
{
    (void)state;
    hooks_clear();
    trail[0] = '\0';
    return 0;
}

static void test_priority_and_result(void **state)
{
    (void)state;
    hooks_add("ev", pass_a, PRIO_LOW);
    hooks_add("ev", handle_c, PRIO_DEFAULT);
    hooks_add("ev", pass_b, PRIO_HIGH);
    struct hook_ctx h = {0};
    assert_int_equal(hooks_fire("ev", &h, NULL), HOOK_HANDLED);
    /* Highest first; the handler that answers ends the run. */
    assert_string_equal(trail, "bc");
    assert_int_equal(hooks_fire("nothing", &h, NULL), HOOK_PASS);
    assert_true(hooks_has("ev"));
    assert_false(hooks_has("nothing"));
}

/* The same address holding different names at different times, as a
 * buffer on the stack does, must find each name's own handlers. */
static void test_reused_buffer(void **state)
{
    (void)state;
    hooks_add("one", pass_a, PRIO_DEFAULT);
    hooks_add("two", pass_b, PRIO_DEFAULT);
    struct hook_ctx h = {0};
    char name[16];
    const char *seq[] = { "one", "two", "one", "three", "two" };
    for (size_t i = 0; i < sizeof(seq) / sizeof(*seq); i++) {
        snprintf(name, sizeof(name), "%s", seq[i]);
        hooks_fire(name, &h, NULL);
    }
    assert_string_equal(trail, "abab");
}

/* An event fired before it had handlers gets them once registered, and
 * loses them with hooks_clear(). */
static void test_registration_after_use(void **state)
{
    (void)state;
    struct hook_ctx h = {0};
    assert_int_equal(hooks_fire("late", &h, NULL), HOOK_PASS);
    assert_false(hooks_has("late"));
    hooks_add("late", handle_c, PRIO_DEFAULT);
    assert_true(hooks_has("late"));
    assert_int_equal(hooks_fire("late", &h, NULL), HOOK_HANDLED);
    hooks_clear();
    assert_false(hooks_has("late"));
    assert_int_equal(hooks_fire("late", &h, NULL), HOOK_PASS);
    assert_string_equal(trail, "c");
}

/* Names too long to be remembered are looked up every time. */
static void test_long_name(void **state)
{
    (void)state;
    const char *name = "a-rather-long-event-name-of-more-than-forty-bytes";
    hooks_add(name, pass_a, PRIO_DEFAULT);
    struct hook_ctx h = {0};
    hooks_fire(name, &h, NULL);
    hooks_fire(name, &h, NULL);
    assert_string_equal(trail, "aa");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_priority_and_result, teardown),
        cmocka_unit_test_teardown(test_reused_buffer, teardown),
        cmocka_unit_test_teardown(test_registration_after_use, teardown),
        cmocka_unit_test_teardown(test_long_name, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
