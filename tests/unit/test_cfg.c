/* test_cfg.c -- the configuration file parser: defaults, every key, each
 * kind of error with its line number, comments and quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/err.h"
#include "core/log.h"

static char dir[64];
static char path[96];

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/theke-cfg-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/theke.conf", dir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static void write_file(const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

/* Loads text over the defaults into c. */
static int load(struct cfg *c, const char *text, char *err, size_t errsz)
{
    write_file(text, strlen(text));
    cfg_defaults(c);
    return cfg_load(c, path, err, errsz);
}

/* Expects text to fail with "path:" followed by want. */
static void expect_error(const char *text, const char *want)
{
    struct cfg c;
    char err[512], full[640];
    assert_int_equal(load(&c, text, err, sizeof(err)), -ERR_CONFIG);
    snprintf(full, sizeof(full), "%s:%s", path, want);
    assert_string_equal(err, full);
    /* A failed load leaves the previous configuration in place. */
    assert_string_equal(c.domain, "localhost");
    assert_int_equal(c.max_stanza_size, 262144);
    cfg_free(&c);
}

static void test_defaults(void **state)
{
    (void)state;
    struct cfg c;
    cfg_defaults(&c);
    assert_string_equal(c.domain, "localhost");
    assert_string_equal(c.data_dir, "./data");
    assert_string_equal(c.c2s, "127.0.0.1:5222");
    assert_string_equal(c.c2s_tls, "127.0.0.1:5223");
    assert_string_equal(c.http, "127.0.0.1:5280");
    assert_string_equal(c.https, "");
    assert_int_equal(c.http_max_body, 1048576);
    assert_int_equal(c.http_timeout, 30);
    assert_null(c.http_public_url);
    assert_null(c.websocket_url);
    assert_false(c.http_trust_proxy);
    assert_null(c.tls_cert);
    assert_null(c.tls_key);
    assert_int_equal(c.registration, REG_CLOSED);
    assert_int_equal(c.max_stanza_size, 262144);
    assert_int_equal(c.log_level, LOG_INFO);
    assert_true(c.c2s_require_encryption);
    assert_int_equal(c.scram_iterations, 4096);
    assert_int_equal(c.auth_timeout, 30);
    assert_int_equal(c.idle_timeout, 300);
    assert_int_equal(c.max_offline, 1000);
    cfg_free(&c);
    assert_null(c.domain);
    cfg_free(&c);
}

static void test_empty_file(void **state)
{
    (void)state;
    struct cfg c;
    char err[256];
    assert_int_equal(load(&c, "", err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_string_equal(c.domain, "localhost");
    cfg_free(&c);
    assert_int_equal(load(&c, "\n  \n\t\n# only comments\n", err, sizeof(err)),
                     0);
    assert_string_equal(c.c2s, "127.0.0.1:5222");
    cfg_free(&c);
}

static void test_every_key(void **state)
{
    (void)state;
    struct cfg c;
    char err[256];
    const char *text = "domain = Shop.Example.COM\n"
                       "data_dir = /var/lib/theke\n"
                       "c2s = 0.0.0.0:5222\n"
                       "c2s_tls = [::]:5223\n"
                       "http = localhost:8080\n"
                       "https = [::1]:8443\n"
                       "http_max_body = 0\n"
                       "http_timeout = 5\n"
                       "http_public_url = https://chat.example.com/\n"
                       "websocket_url = wss://ws.example.com/x\n"
                       "http_trust_proxy = yes\n"
                       "tls_cert = /etc/theke/cert.pem\n"
                       "tls_key = /etc/theke/key.pem\n"
                       "registration = invite\n"
                       "max_stanza_size = 1024\n"
                       "log_level = debug\n"
                       "c2s_require_encryption = no\n"
                       "scram_iterations = 10000\n"
                       "auth_timeout = 10\n"
                       "idle_timeout = 600\n"
                       "max_offline = 0\n";
    assert_int_equal(load(&c, text, err, sizeof(err)), 0);
    assert_string_equal(c.domain, "shop.example.com");
    assert_string_equal(c.data_dir, "/var/lib/theke");
    assert_string_equal(c.c2s, "0.0.0.0:5222");
    assert_string_equal(c.c2s_tls, "[::]:5223");
    assert_string_equal(c.http, "localhost:8080");
    assert_string_equal(c.https, "[::1]:8443");
    assert_int_equal(c.http_max_body, 0);
    assert_int_equal(c.http_timeout, 5);
    assert_string_equal(c.http_public_url, "https://chat.example.com/");
    assert_string_equal(c.websocket_url, "wss://ws.example.com/x");
    assert_true(c.http_trust_proxy);
    assert_string_equal(c.tls_cert, "/etc/theke/cert.pem");
    assert_string_equal(c.tls_key, "/etc/theke/key.pem");
    assert_int_equal(c.registration, REG_INVITE);
    assert_int_equal(c.max_stanza_size, 1024);
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_false(c.c2s_require_encryption);
    assert_int_equal(c.scram_iterations, 10000);
    assert_int_equal(c.auth_timeout, 10);
    assert_int_equal(c.idle_timeout, 600);
    assert_int_equal(c.max_offline, 0);
    cfg_free(&c);
}

static void test_values(void **state)
{
    (void)state;
    struct cfg c;
    char err[256];
    static const struct {
        const char *text;
        bool value;
    } bools[] = {
        {"true", true}, {"yes", true},    {"on", true},  {"1", true},
        {"TRUE", true}, {"false", false}, {"no", false}, {"off", false},
        {"0", false},   {"Off", false},
    };
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "c2s_require_encryption = %s\n",
                 bools[i].text);
        assert_int_equal(load(&c, text, err, sizeof(err)), 0);
        assert_int_equal(c.c2s_require_encryption, bools[i].value);
        cfg_free(&c);
    }
    assert_int_equal(
        load(&c, "registration = open\nlog_level = warn\n", err, sizeof(err)),
        0);
    assert_int_equal(c.registration, REG_OPEN);
    assert_int_equal(c.log_level, LOG_WARN);
    cfg_free(&c);
    assert_int_equal(load(&c, "registration = closed\nlog_level = ERROR\n", err,
                          sizeof(err)),
                     0);
    assert_int_equal(c.registration, REG_CLOSED);
    assert_int_equal(c.log_level, LOG_ERROR);
    cfg_free(&c);
    /* Bounds are inclusive. */
    assert_int_equal(load(&c,
                          "max_stanza_size = 16777216\n"
                          "scram_iterations = 1000000\n"
                          "idle_timeout = 1\n",
                          err, sizeof(err)),
                     0);
    assert_int_equal(c.max_stanza_size, 16777216);
    assert_int_equal(c.scram_iterations, 1000000);
    assert_int_equal(c.idle_timeout, 1);
    cfg_free(&c);
    /* A final dot is not part of the domain. */
    assert_int_equal(load(&c, "domain = example.org.\n", err, sizeof(err)), 0);
    assert_string_equal(c.domain, "example.org");
    cfg_free(&c);
}

static void test_listeners_off(void **state)
{
    (void)state;
    struct cfg c;
    char err[256];
    assert_int_equal(
        load(&c, "c2s = off\nc2s_tls = \"\"\nhttp =\n", err, sizeof(err)), 0);
    assert_string_equal(c.c2s, "");
    assert_string_equal(c.c2s_tls, "");
    assert_string_equal(c.http, "");
    cfg_free(&c);
    assert_int_equal(
        load(&c, "c2s = [2001:db8::1]:1\nhttp = OFF\n", err, sizeof(err)), 0);
    assert_string_equal(c.c2s, "[2001:db8::1]:1");
    assert_string_equal(c.http, "");
    cfg_free(&c);
    /* An empty optional path means "none". */
    assert_int_equal(load(&c, "tls_cert = \"\"\ntls_key =\n", err, sizeof(err)),
                     0);
    assert_null(c.tls_cert);
    assert_null(c.tls_key);
    cfg_free(&c);
}

static void test_comments_quotes(void **state)
{
    (void)state;
    struct cfg c;
    char err[256];
    const char *text = "# theke\n"
                       "   # indented comment\n"
                       "\n"
                       "domain=example.net# no space needed\n"
                       "data_dir = \"/srv/my data #1\"   # quoted '#'\n"
                       "\tlog_level\t=\twarn\t\n"
                       "tls_cert = \"  spaced  \"\n"
                       "tls_key = /k#ey\n";
    assert_int_equal(load(&c, text, err, sizeof(err)), 0);
    assert_string_equal(c.domain, "example.net");
    assert_string_equal(c.data_dir, "/srv/my data #1");
    assert_int_equal(c.log_level, LOG_WARN);
    assert_string_equal(c.tls_cert, "  spaced  ");
    assert_string_equal(c.tls_key, "/k");
    cfg_free(&c);
}

static void test_crlf_bom_no_final_newline(void **state)
{
    (void)state;
    struct cfg c;
    char err[256];
    const char *text = "\xef\xbb\xbf"
                       "domain = a.example\r\n"
                       "auth_timeout = 5\r\n"
                       "max_offline = 7";
    assert_int_equal(load(&c, text, err, sizeof(err)), 0);
    assert_string_equal(c.domain, "a.example");
    assert_int_equal(c.auth_timeout, 5);
    assert_int_equal(c.max_offline, 7);
    cfg_free(&c);
}

static void test_load_over_previous(void **state)
{
    (void)state;
    struct cfg c;
    char err[256];
    assert_int_equal(
        load(&c, "tls_cert = /a.pem\ndomain = one.example\n", err, sizeof(err)),
        0);
    write_file("tls_cert = \"\"\n", 14);
    assert_int_equal(cfg_load(&c, path, err, sizeof(err)), 0);
    assert_null(c.tls_cert);
    assert_string_equal(c.domain, "one.example");
    /* A bad file changes nothing, not even the keys before the error. */
    write_file("domain = two.example\nnope = 1\n", 30);
    assert_int_equal(cfg_load(&c, path, err, sizeof(err)), -ERR_CONFIG);
    assert_string_equal(c.domain, "one.example");
    cfg_free(&c);
}

static void test_components(void **state)
{
    (void)state;
    struct cfg c;
    char err[256];
    assert_int_equal(load(&c,
                          "component_listen = 127.0.0.1:5347\n"
                          "component = Push.Example.ORG  s3cret\n"
                          "component = bridge.example.org other\n",
                          err, sizeof(err)),
                     0);
    assert_string_equal(c.component_listen, "127.0.0.1:5347");
    assert_int_equal(c.ncomponents, 2);
    assert_string_equal(c.components[0].domain, "push.example.org");
    assert_string_equal(c.components[0].secret, "s3cret");
    assert_string_equal(c.components[1].domain, "bridge.example.org");
    /* Loading over it copies the list, and a bad file keeps it. */
    write_file("nope = 1\n", 9);
    assert_int_equal(cfg_load(&c, path, err, sizeof(err)), -ERR_CONFIG);
    assert_int_equal(c.ncomponents, 2);
    assert_string_equal(c.components[1].secret, "other");
    cfg_free(&c);
    assert_int_equal(load(&c, "", err, sizeof(err)), 0);
    assert_string_equal(c.component_listen, "");
    assert_int_equal(c.ncomponents, 0);
    cfg_free(&c);

    expect_error("component = push.example.org\n",
                 "1: component: expected 'DOMAIN SECRET'");
    expect_error("component = push.example.org a b\n",
                 "1: component: expected 'DOMAIN SECRET' (the secret "
                 "without spaces)");
    expect_error("component = a@b s\n",
                 "1: component: not a valid domain name");
    expect_error("component = a.example s\ncomponent = A.example t\n",
                 "2: component: a.example is listed twice");
}

static void test_error_unknown_key(void **state)
{
    (void)state;
    expect_error("domain = a.example\n\n# x\n\n\n\ndomian = b.example\n",
                 "7: unknown key 'domian'");
    expect_error("Domain = a.example\n", "1: unknown key 'Domain'");
    expect_error("do\x01main = a\n", "1: invalid key");
}

static void test_error_repeated_key(void **state)
{
    (void)state;
    expect_error("log_level = info\ndomain = a.example\nlog_level = warn\n",
                 "3: duplicate key 'log_level' (first set on line 1)");
}

static void test_error_syntax(void **state)
{
    (void)state;
    expect_error("domain a.example\n", "1: missing '=' after 'domain'");
    expect_error("\n\ndomain\n", "3: missing '=' after 'domain'");
    expect_error("= x\n", "1: missing key before '='");
    expect_error("\xff\xfe = 1\n", "1: invalid key");
    expect_error("\xff\xfe\n", "1: expected 'key = value'");
    expect_error("domain = \"a.example\n", "1: missing closing '\"'");
    expect_error("domain = \"a.example\" b\n",
                 "1: unexpected text after the closing '\"'");
    expect_error("data_dir = a\x01b\n", "1: data_dir: control character in "
                                        "value");
}

static void test_error_values(void **state)
{
    (void)state;
    expect_error("\n\nmax_stanza_size = 1023\n",
                 "3: max_stanza_size: expected an integer between 1024 and "
                 "16777216");
    expect_error("max_stanza_size = 16777217\n",
                 "1: max_stanza_size: expected an integer between 1024 and "
                 "16777216");
    expect_error("max_stanza_size = 4k\n",
                 "1: max_stanza_size: expected an integer between 1024 and "
                 "16777216");
    expect_error("max_stanza_size = -2048\n",
                 "1: max_stanza_size: expected an integer between 1024 and "
                 "16777216");
    expect_error("max_stanza_size = 99999999999999999999999999\n",
                 "1: max_stanza_size: expected an integer between 1024 and "
                 "16777216");
    expect_error("max_stanza_size =\n",
                 "1: max_stanza_size: expected an integer between 1024 and "
                 "16777216");
    expect_error("scram_iterations = 4095\n",
                 "1: scram_iterations: expected an integer between 4096 and "
                 "1000000");
    expect_error("auth_timeout = 0\n",
                 "1: auth_timeout: expected an integer between 1 and 3600");
    expect_error("idle_timeout = 1.5\n",
                 "1: idle_timeout: expected an integer between 1 and 86400");
    expect_error("max_offline = 1000001\n",
                 "1: max_offline: expected an integer between 0 and 1000000");
    expect_error("c2s_require_encryption = maybe\n",
                 "1: c2s_require_encryption: expected true or false (or "
                 "yes/no, on/off, 1/0)");
    expect_error("registration = public\n",
                 "1: registration: expected closed, open or invite");
    expect_error("log_level = verbose\n",
                 "1: log_level: expected debug, info, warn or error");
    expect_error("log_level = informational\n",
                 "1: log_level: expected debug, info, warn or error");
    expect_error("domain =\n", "1: domain: must not be empty");
    expect_error("domain = \"\"\n", "1: domain: must not be empty");
    expect_error("domain = a@b.example\n", "1: domain: not a valid domain "
                                           "name");
    expect_error("domain = a.example/x\n", "1: domain: not a valid domain "
                                           "name");
    expect_error("data_dir = \"\"\n", "1: data_dir: must not be empty");
}

static void test_error_listeners(void **state)
{
    (void)state;
    static const char *const bad_form[] = {
        "5222",       ":5222",     "host:",         "::1:5222",
        "[::1]5222",  "[::1]",     "[nothex]:5222", "[]:5222",
        "ho st:5222", "host:52a2", "host:+5222",
    };
    for (size_t i = 0; i < sizeof(bad_form) / sizeof(bad_form[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "http = %s\n", bad_form[i]);
        expect_error(text, "1: http: expected host:port, [ipv6]:port or off");
    }
    static const char *const bad_port[] = {
        "host:0",
        "host:65536",
        "[::1]:70000",
        "h:99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof(bad_port) / sizeof(bad_port[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "c2s_tls = %s\n", bad_port[i]);
        expect_error(text, "1: c2s_tls: port must be between 1 and 65535");
    }
}

static void test_error_limits(void **state)
{
    (void)state;
    /* A line of exactly 4096 bytes is fine; one more byte is not. */
    size_t n = 3 * 4096 + 64;
    char *text = calloc(1, n);
    strcpy(text, "# x\n#");
    memset(text + 5, 'x', 4095);
    strcat(text, "\n#");
    memset(text + strlen(text), 'y', 4096);
    strcat(text, "\n");
    expect_error(text, "3: line longer than 4096 bytes");

    /* Values are bounded too. */
    memset(text, 0, n);
    strcpy(text, "data_dir = ");
    memset(text + strlen(text), 'd', 1025);
    strcat(text, "\n");
    expect_error(text, "1: data_dir: value longer than 1024 bytes");
    free(text);

    struct cfg c;
    char err[256];
    write_file("domain = a\n\0\n", 13);
    cfg_defaults(&c);
    assert_int_equal(cfg_load(&c, path, err, sizeof(err)), -ERR_CONFIG);
    char want[160];
    snprintf(want, sizeof(want), "%s:2: NUL byte in line", path);
    assert_string_equal(err, want);
    cfg_free(&c);
}

static void test_error_missing_file(void **state)
{
    (void)state;
    struct cfg c;
    char err[256];
    cfg_defaults(&c);
    assert_int_equal(cfg_load(&c, "/nonexistent/theke.conf", err, sizeof(err)),
                     -ERR_CONFIG);
    assert_string_equal(err, "/nonexistent/theke.conf: cannot open: "
                             "No such file or directory");
    assert_string_equal(c.domain, "localhost");
    /* A short error buffer is cut, never overrun. */
    char small[8];
    assert_int_equal(
        cfg_load(&c, "/nonexistent/theke.conf", small, sizeof(small)),
        -ERR_CONFIG);
    assert_string_equal(small, "/nonexi");
    assert_int_equal(cfg_load(&c, "/nonexistent/theke.conf", NULL, 0),
                     -ERR_CONFIG);
    cfg_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_listeners_off),
        cmocka_unit_test(test_comments_quotes),
        cmocka_unit_test(test_crlf_bom_no_final_newline),
        cmocka_unit_test(test_load_over_previous),
        cmocka_unit_test(test_components),
        cmocka_unit_test(test_error_unknown_key),
        cmocka_unit_test(test_error_repeated_key),
        cmocka_unit_test(test_error_syntax),
        cmocka_unit_test(test_error_values),
        cmocka_unit_test(test_error_listeners),
        cmocka_unit_test(test_error_limits),
        cmocka_unit_test(test_error_missing_file),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
