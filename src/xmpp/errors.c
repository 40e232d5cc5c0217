/* errors.c -- see errors.h. */
#include "xmpp/errors.h"

#include <string.h>

static const struct {
    const char *name;
    const char *type;
} stanza_errors[SE__COUNT] = {
    [SE_NONE] = { "undefined-condition", "cancel" },
    [SE_BAD_REQUEST] = { "bad-request", "modify" },
    [SE_CONFLICT] = { "conflict", "cancel" },
    [SE_FEATURE_NOT_IMPLEMENTED] = { "feature-not-implemented", "cancel" },
    [SE_FORBIDDEN] = { "forbidden", "auth" },
    [SE_GONE] = { "gone", "cancel" },
    [SE_INTERNAL_SERVER_ERROR] = { "internal-server-error", "wait" },
    [SE_ITEM_NOT_FOUND] = { "item-not-found", "cancel" },
    [SE_JID_MALFORMED] = { "jid-malformed", "modify" },
    [SE_NOT_ACCEPTABLE] = { "not-acceptable", "modify" },
    [SE_NOT_ALLOWED] = { "not-allowed", "cancel" },
    [SE_NOT_AUTHORIZED] = { "not-authorized", "auth" },
    [SE_POLICY_VIOLATION] = { "policy-violation", "modify" },
    [SE_RECIPIENT_UNAVAILABLE] = { "recipient-unavailable", "wait" },
    [SE_REDIRECT] = { "redirect", "modify" },
    [SE_REGISTRATION_REQUIRED] = { "registration-required", "auth" },
    [SE_REMOTE_SERVER_NOT_FOUND] = { "remote-server-not-found", "cancel" },
    [SE_REMOTE_SERVER_TIMEOUT] = { "remote-server-timeout", "wait" },
    [SE_RESOURCE_CONSTRAINT] = { "resource-constraint", "wait" },
    [SE_SERVICE_UNAVAILABLE] = { "service-unavailable", "cancel" },
    [SE_SUBSCRIPTION_REQUIRED] = { "subscription-required", "auth" },
    [SE_UNDEFINED_CONDITION] = { "undefined-condition", "cancel" },
    [SE_UNEXPECTED_REQUEST] = { "unexpected-request", "wait" },
};

static const char *const stream_errors[STE__COUNT] = {
    [STE_BAD_FORMAT] = "bad-format",
    [STE_BAD_NAMESPACE_PREFIX] = "bad-namespace-prefix",
    [STE_CONFLICT] = "conflict",
    [STE_CONNECTION_TIMEOUT] = "connection-timeout",
    [STE_HOST_GONE] = "host-gone",
    [STE_HOST_UNKNOWN] = "host-unknown",
    [STE_IMPROPER_ADDRESSING] = "improper-addressing",
    [STE_INTERNAL_SERVER_ERROR] = "internal-server-error",
    [STE_INVALID_FROM] = "invalid-from",
    [STE_INVALID_NAMESPACE] = "invalid-namespace",
    [STE_INVALID_XML] = "invalid-xml",
    [STE_NOT_AUTHORIZED] = "not-authorized",
    [STE_NOT_WELL_FORMED] = "not-well-formed",
    [STE_POLICY_VIOLATION] = "policy-violation",
    [STE_RESOURCE_CONSTRAINT] = "resource-constraint",
    [STE_RESTRICTED_XML] = "restricted-xml",
    [STE_SYSTEM_SHUTDOWN] = "system-shutdown",
    [STE_UNDEFINED_CONDITION] = "undefined-condition",
    [STE_UNSUPPORTED_ENCODING] = "unsupported-encoding",
    [STE_UNSUPPORTED_STANZA_TYPE] = "unsupported-stanza-type",
    [STE_UNSUPPORTED_VERSION] = "unsupported-version",
};

const char *errors_stanza_name(enum stanza_error e)
{
    if (e <= SE_NONE || e >= SE__COUNT)
        e = SE_UNDEFINED_CONDITION;
    return stanza_errors[e].name;
}

const char *errors_stanza_type(enum stanza_error e)
{
    if (e <= SE_NONE || e >= SE__COUNT)
        e = SE_UNDEFINED_CONDITION;
    return stanza_errors[e].type;
}

const char *errors_stream_name(enum stream_error e)
{
    if ((int)e < 0 || e >= STE__COUNT)
        e = STE_UNDEFINED_CONDITION;
    return stream_errors[e];
}

int errors_no_reply(const struct stanza *st)
{
    const char *type = stanza_attr(st, "type");
    if (type && strcmp(type, "error") == 0)
        return 1;
    if (strcmp(st->name, "iq") == 0 && type && strcmp(type, "result") == 0)
        return 1;
    return 0;
}

struct stanza *errors_reply(const struct stanza *st, enum stanza_error e,
                            const char *text)
{
    struct stanza *r = stanza_new(st->ns, st->name);
    const char *from = stanza_attr(st, "from");
    const char *to = stanza_attr(st, "to");
    const char *id = stanza_attr(st, "id");
    if (from)
        stanza_set_attr(r, "to", from);
    if (to)
        stanza_set_attr(r, "from", to);
    if (id)
        stanza_set_attr(r, "id", id);
    stanza_set_attr(r, "type", "error");
    struct stanza *err = stanza_add_child(r, st->ns, "error");
    stanza_set_attr(err, "type", errors_stanza_type(e));
    stanza_add_child(err, NS_STANZAS, errors_stanza_name(e));
    if (text) {
        struct stanza *t = stanza_add_child(err, NS_STANZAS, "text");
        stanza_set_attr_ns(t, NS_XML, "lang", "en");
        stanza_add_text(t, text, strlen(text));
    }
    return r;
}

void errors_stream_element(struct buf *out, const char *cond,
                           const char *text, bool standalone)
{
    buf_printf(out, "<stream:error%s><%s xmlns='" NS_STREAMS_ERR "'/>",
               standalone ? " xmlns:stream='http://etherx.jabber.org/streams'"
                          : "",
               cond);
    if (text) {
        buf_append_str(out, "<text xmlns='" NS_STREAMS_ERR "' xml:lang='en'>");
        buf_append_xml_escaped(out, text, strlen(text));
        buf_append_str(out, "</text>");
    }
    buf_append_str(out, "</stream:error>");
}

void errors_stream_append(struct buf *out, const char *cond, const char *text)
{
    errors_stream_element(out, cond, text, false);
    buf_append_str(out, "</stream:stream>");
}
