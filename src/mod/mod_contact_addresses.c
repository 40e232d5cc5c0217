/* mod_contact_addresses.c -- XEP-0157: Contact Addresses for XMPP
 * Services.
 *
 * The addresses configured as contact_abuse, contact_admin, ... (URIs
 * separated by spaces: mailto:, xmpp:, https:) go into the server's
 * disco#info as the http://jabber.org/network/serverinfo form
 * (XEP-0128), one field per kind, only the kinds that are set. */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/cfg.h"
#include "core/err.h"
#include "core/log.h"
#include "mod/mod.h"
#include "mod/mod_util.h"
#include "xmpp/server.h"

#define NS_SERVERINFO "http://jabber.org/network/serverinfo"

static const struct {
    const char *key; /* in the config file */
    const char *var; /* the form field */
    size_t off;      /* of the value in struct cfg */
} kinds[] = {
    { "contact_abuse", "abuse-addresses", offsetof(struct cfg, contact_abuse) },
    { "contact_admin", "admin-addresses", offsetof(struct cfg, contact_admin) },
    { "contact_feedback", "feedback-addresses",
      offsetof(struct cfg, contact_feedback) },
    { "contact_sales", "sales-addresses", offsetof(struct cfg, contact_sales) },
    { "contact_security", "security-addresses",
      offsetof(struct cfg, contact_security) },
    { "contact_status", "status-addresses",
      offsetof(struct cfg, contact_status) },
    { "contact_support", "support-addresses",
      offsetof(struct cfg, contact_support) },
};

#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

static const char *value_of(size_t i)
{
    return *(char *const *)((const char *)srv.cfg + kinds[i].off);
}

/* Calls fn for each whitespace-separated token of s. */
static void each_token(const char *s, void (*fn)(void *, const char *, size_t),
                       void *ud)
{
    while (*s) {
        while (isspace((unsigned char)*s))
            s++;
        size_t n = 0;
        while (s[n] && !isspace((unsigned char)s[n]))
            n++;
        if (n)
            fn(ud, s, n);
        s += n;
    }
}

static void add_value(void *ud, const char *tok, size_t n)
{
    char *v = xstrndup(tok, n);
    form_field_add_value(ud, v);
    free(v);
}

static int info(struct hook_ctx *h, struct stanza *iq)
{
    (void)iq;
    struct stanza *x = NULL;
    for (size_t i = 0; i < N_KINDS; i++) {
        const char *v = value_of(i);
        if (!v)
            continue;
        if (!x)
            x = form_add(h->data, "result", NS_SERVERINFO);
        each_token(v, add_value, form_add_field(x, kinds[i].var, NULL, NULL));
    }
    return HOOK_PASS;
}

/* An address is a URI: a scheme of letters, then ':' and more. */
static void check_uri(void *ud, const char *tok, size_t n)
{
    size_t i = 0;
    while (i < n && isalpha((unsigned char)tok[i]))
        i++;
    if (i == 0 || i + 1 >= n || tok[i] != ':')
        *(bool *)ud = false;
}

int mod_contact_addresses_init(struct mod *m)
{
    bool any = false;
    for (size_t i = 0; srv.cfg && i < N_KINDS; i++) {
        const char *v = value_of(i);
        if (!v)
            continue;
        bool ok = true;
        each_token(v, check_uri, &ok);
        if (!ok) {
            log_error(0, "%s: expected URIs such as mailto:abuse@example.com "
                         "separated by spaces",
                      kinds[i].key);
            return -ERR_CONFIG;
        }
        any = true;
    }
    if (any)
        mod_hook(m, "disco-info/host", info, PRIO_DEFAULT);
    return 0;
}
