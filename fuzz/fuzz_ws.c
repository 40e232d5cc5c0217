/* fuzz_ws.c -- libFuzzer target for the WebSocket frame decoder (ws.c).
 *
 * The first input byte picks the message bound (up to 255 * 64 bytes)
 * and the second where to split the rest into two decode calls, so the
 * fuzzer explores frame boundaries across reads. Checked: the decoder
 * uses no more than it was given, a message is never longer than the
 * bound and is always valid UTF-8, control payloads never exceed 125
 * bytes, and after an error every call fails again. Build and run: see
 * fuzz/README.md. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/utf8.h"
#include "http/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(struct ws_decoder *d, const char *p, size_t len,
                   size_t max)
{
    while (len > 0) {
        struct ws_event ev;
        size_t n = ws_decode(d, p, len, &ev);
        if (n > len)
            abort();
        p += n;
        len -= n;
        switch (ev.type) {
        case WS_EV_MESSAGE:
            if (ev.len > max ||
                !utf8_valid((const unsigned char *)ev.data, ev.len))
                abort();
            break;
        case WS_EV_PING:
        case WS_EV_PONG:
        case WS_EV_CLOSE:
            if (ev.len > WS_CONTROL_MAX)
                abort();
            break;
        case WS_EV_ERROR: {
            struct ws_event again;
            if (ws_decode(d, "x", 1, &again) != 0 ||
                again.type != WS_EV_ERROR)
                abort();
            return;
        }
        case WS_EV_NONE:
            if (len != 0)
                abort(); /* "more input needed" means all was used */
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t max = (size_t)data[0] * 64;
    size_t split = data[1];
    const char *p = (const char *)data + 2;
    size -= 2;
    if (split > size)
        split = size;
    struct ws_decoder d;
    ws_decoder_init(&d, max);
    decode(&d, p, split, max);
    decode(&d, p + split, size - split, max);
    ws_decoder_free(&d);
    return 0;
}
