/* mod_util.c -- see mod_util.h. */
#include "mod/mod_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

#include "xml/xser.h"
#include "xmpp/router.h"
#include "xmpp/server.h"
#include "xmpp/session.h"

struct stanza *iq_result(const struct stanza *iq)
{
    struct stanza *r = stanza_new(iq->ns, "iq");
    const char *id = stanza_attr(iq, "id");
    const char *from = stanza_attr(iq, "from");
    const char *to = stanza_attr(iq, "to");
    stanza_set_attr(r, "type", "result");
    if (id)
        stanza_set_attr(r, "id", id);
    if (to)
        stanza_set_attr(r, "from", to);
    if (from)
        stanza_set_attr(r, "to", from);
    return r;
}

void iq_send_reply(struct hook_ctx *h, struct stanza *reply)
{
    if (h->sess && (!h->sess->bound || !stanza_attr(reply, "to")))
        session_send(h->sess, reply);
    else
        router_route(reply);
}

int iq_reply_raw(struct hook_ctx *h, const struct stanza *iq,
                 const char *inner, size_t len)
{
    struct stanza *r = iq_result(iq);
    struct buf out = BUF_INIT;
    xser_write(r, "jabber:client", &out);
    stanza_unref(r);
    out.len -= 2; /* "/>" of the empty result */
    buf_append(&out, ">", 1);
    buf_append(&out, inner, len);
    buf_append_str(&out, "</iq>");
    session_send_raw(h->sess, buf_data(&out), buf_used(&out));
    buf_free(&out);
    return HOOK_HANDLED;
}

int iq_reply_empty(struct hook_ctx *h, const struct stanza *iq)
{
    struct stanza *r = iq_result(iq);
    iq_send_reply(h, r);
    stanza_unref(r);
    return HOOK_HANDLED;
}

void datetime_format(int64_t ms, bool with_ms, char *out)
{
    time_t t = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        t--;
    }
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, DATETIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    if (with_ms)
        snprintf(out + n, DATETIME_MAX - n, ".%03dZ", frac);
    else
        snprintf(out + n, DATETIME_MAX - n, "Z");
}

bool message_only_chat_state(const struct stanza *m)
{
    bool any = false;
    for (struct stanza *c = stanza_next_child(m, NULL, NULL, NULL); c;
         c = stanza_next_child(m, c, NULL, NULL)) {
        if (strcmp(c->ns, "http://jabber.org/protocol/chatstates") != 0)
            return false;
        any = true;
    }
    return any;
}

void delay_add(struct stanza *m, int64_t ms)
{
    for (struct stanza *d = stanza_next_child(m, NULL, NS_DELAY_UTIL, "delay"); d;
         d = stanza_next_child(m, d, NS_DELAY_UTIL, "delay")) {
        const char *from = stanza_attr(d, "from");
        if (from && strcmp(from, srv.domain) == 0)
            return;
    }
    char stamp[DATETIME_MAX];
    datetime_format(ms, false, stamp);
    struct stanza *d = stanza_add_child(m, NS_DELAY_UTIL, "delay");
    stanza_set_attr(d, "from", srv.domain);
    stanza_set_attr(d, "stamp", stamp);
}

/* n decimal digits at *p into *v, moving p past them. */
static int digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -ERR_INVAL;
        *v = *v * 10 + (**p - '0');
    }
    return 0;
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return -ERR_INVAL;
    (*p)++;
    return 0;
}

/* XEP-0082 §3.2: CCYY-MM-DDThh:mm:ss[.sss]TZD, TZD = Z | (+|-)hh:mm. */
int datetime_parse(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, oh = 0, om = 0;
    const char *p = s;
    if (digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) ||
        expect(&p, '-') || digits(&p, 2, &d) || expect(&p, 'T') ||
        digits(&p, 2, &h) || expect(&p, ':') || digits(&p, 2, &mi) ||
        expect(&p, ':') || digits(&p, 2, &sec))
        return -ERR_INVAL;
    int frac = 0, scale = 100;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -ERR_INVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    int sign = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        p++;
        if (digits(&p, 2, &oh) || expect(&p, ':') || digits(&p, 2, &om) ||
            oh > 23 || om > 59)
            return -ERR_INVAL;
    } else {
        return -ERR_INVAL;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return -ERR_INVAL;
    struct tm tm = { 0 };
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    int64_t t = (int64_t)timegm(&tm);
    t -= (int64_t)sign * (oh * 3600 + om * 60);
    *ms = t * 1000 + frac;
    return 0;
}

struct stanza *form_add(struct stanza *parent, const char *type,
                        const char *form_type)
{
    struct stanza *x = stanza_add_child(parent, NS_DATA, "x");
    stanza_set_attr(x, "type", type);
    if (form_type)
        form_add_field(x, "FORM_TYPE", "hidden", form_type);
    return x;
}

struct stanza *form_add_field(struct stanza *x, const char *var,
                              const char *type, const char *value)
{
    struct stanza *f = stanza_add_child(x, NS_DATA, "field");
    stanza_set_attr(f, "var", var);
    if (type)
        stanza_set_attr(f, "type", type);
    if (value)
        form_field_add_value(f, value);
    return f;
}

void form_field_add_value(struct stanza *field, const char *value)
{
    struct stanza *v = stanza_add_child(field, NS_DATA, "value");
    stanza_add_text(v, value, strlen(value));
}

char *form_type_dup(const struct stanza *x)
{
    for (struct stanza *f = stanza_next_child(x, NULL, NS_DATA, "field"); f;
         f = stanza_next_child(x, f, NS_DATA, "field")) {
        const char *var = stanza_attr(f, "var");
        if (var && strcmp(var, "FORM_TYPE") == 0) {
            struct stanza *v = stanza_child(f, NS_DATA, "value");
            return v ? stanza_text_dup(v) : NULL;
        }
    }
    return NULL;
}
