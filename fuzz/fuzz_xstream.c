/* fuzz_xstream.c -- libFuzzer target for the stream parser (xstream.c)
 * and the serialiser (xser.c).
 *
 * The first input byte says where to split the rest into two feeds, so
 * the fuzzer explores chunk boundaries too. Stanzas named "r" reset the
 * stream and stanzas named "s" stop it, from inside the callback; the
 * parser is shrunk between the feeds. Every stanza is serialised,
 * parsed again and serialised again, and the two serialisations must be
 * equal: whatever the parser accepts, the serialiser writes as XML that
 * means the same. Build and run: see fuzz/README.md. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "xml/stanza.h"
#include "xml/xser.h"
#include "xml/xstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NS_CLIENT "jabber:client"
#define HEADER                                                                 \
    "<stream:stream xmlns='jabber:client' "                                    \
    "xmlns:stream='http://etherx.jabber.org/streams'>"

static const struct xstream_limits lim = {
    .max_stanza_size = 4096,
    .max_depth = 16,
    .max_attrs = 16,
};

struct ctx {
    struct xstream *xs;
    int errors;
};

static struct stanza *reparsed;

static void keep(void *ud, struct stanza *st)
{
    (void)ud;
    if (reparsed)
        abort(); /* one stanza in, one stanza out */
    reparsed = st;
}

static void reparse_error(void *ud, enum xstream_error err)
{
    (void)ud, (void)err;
    abort(); /* the serialiser wrote something the parser refuses */
}

/* Serialises st, parses the result and checks it serialises the same. */
static void check_roundtrip(const struct stanza *st)
{
    static const struct xstream_cb cb = {NULL, keep, NULL, reparse_error};
    /* Escapes and xmlns declarations make the output longer than the
     * input; the re-parse needs more room than the original cap. */
    struct xstream_limits big = lim;
    big.max_stanza_size = 1 << 20;
    struct buf first = BUF_INIT, second = BUF_INIT;
    buf_append_str(&first, HEADER);
    size_t start = buf_used(&first);
    xser_write(st, NS_CLIENT, &first);
    struct xstream *xs = xstream_new(&big, &cb, NULL);
    reparsed = NULL;
    if (xstream_feed(xs, buf_data(&first), buf_used(&first)) != 0 || !reparsed)
        abort();
    xser_write(reparsed, NS_CLIENT, &second);
    if (buf_used(&second) != buf_used(&first) - start ||
        memcmp(buf_data(&second), buf_data(&first) + start,
               buf_used(&second)) != 0)
        abort();
    stanza_unref(reparsed);
    reparsed = NULL;
    xstream_free(xs);
    buf_free(&first);
    buf_free(&second);
}

static void on_open(void *ud, const struct stanza *hdr)
{
    (void)ud;
    struct buf b = BUF_INIT;
    xser_top_tag(hdr, &b);
    buf_free(&b);
}

static void on_stanza(void *ud, struct stanza *st)
{
    struct ctx *c = ud;
    struct buf b = BUF_INIT;
    xser_top_tag(st, &b);
    buf_free(&b);
    struct stanza *copy = stanza_copy(st);
    check_roundtrip(copy);
    stanza_unref(copy);
    if (strcmp(st->name, "r") == 0)
        xstream_reset(c->xs);
    else if (strcmp(st->name, "s") == 0)
        xstream_stop(c->xs);
    stanza_unref(st);
}

static void on_close(void *ud)
{
    (void)ud;
}

static void on_error(void *ud, enum xstream_error err)
{
    struct ctx *c = ud;
    (void)err;
    if (++c->errors > 1)
        abort(); /* the error callback comes once per stream */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct xstream_cb cb = {on_open, on_stanza, on_close,
                                         on_error};
    if (size == 0)
        return 0;
    size_t cut = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    if (cut > len)
        cut = len;
    struct ctx c = {NULL, 0};
    c.xs = xstream_new(&lim, &cb, &c);
    int r = xstream_feed(c.xs, in, cut);
    xstream_shrink(c.xs);
    if (r == 0)
        xstream_feed(c.xs, in + cut, len - cut);
    xstream_free(c.xs);
    return 0;
}
