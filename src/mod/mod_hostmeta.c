/* mod_hostmeta.c -- XEP-0156: Discovering Alternative XMPP Connection
 * Methods, over HTTP (§3).
 *
 * GET /.well-known/host-meta answers the XRD document (RFC 6415) and
 * /.well-known/host-meta.json its JSON form, each naming the WebSocket
 * endpoint (urn:xmpp:alt-connections:websocket) that mod_websocket
 * serves. Browsers fetch them from other origins (a web client on the
 * business's site), hence Access-Control-Allow-Origin: *.
 *
 * Not here: BOSH (not served), DNS TXT records (the operator's zone). */
#include <string.h>

#include "core/buf.h"
#include "http/http.h"
#include "mod/mod.h"
#include "mod/mod_websocket.h"

#define REL_WEBSOCKET "urn:xmpp:alt-connections:websocket"
#define CORS "Access-Control-Allow-Origin: *\r\n"

static void host_meta(struct http_req *r, void *ud)
{
    bool json = ud != NULL;
    const char *url = mod_websocket_url();
    struct buf b = BUF_INIT;
    if (json) {
        buf_append_str(&b, "{\"links\":[");
        if (url[0]) {
            /* The URL comes from the configuration, checked to start with
             * ws:// or wss://; quotes and backslashes are escaped all the
             * same. */
            buf_append_str(&b, "{\"rel\":\"" REL_WEBSOCKET "\",\"href\":\"");
            for (const char *p = url; *p; p++) {
                if (*p == '"' || *p == '\\')
                    buf_append(&b, "\\", 1);
                buf_append(&b, p, 1);
            }
            buf_append_str(&b, "\"}");
        }
        buf_append_str(&b, "]}\n");
    } else {
        buf_append_str(&b, "<?xml version='1.0' encoding='utf-8'?>\n"
                           "<XRD xmlns='http://docs.oasis-open.org/ns/xri/"
                           "xrd-1.0'>\n");
        if (url[0]) {
            buf_append_str(&b, "  <Link rel='" REL_WEBSOCKET "' href='");
            buf_append_xml_escaped(&b, url, strlen(url));
            buf_append_str(&b, "'/>\n");
        }
        buf_append_str(&b, "</XRD>\n");
    }
    http_respond(r, 200, json ? "application/json" : "application/xrd+xml",
                 CORS, buf_data(&b), buf_used(&b));
    buf_free(&b);
}

int mod_hostmeta_init(struct mod *m)
{
    (void)m;
    http_route(HTTP_M_GET, "/.well-known/host-meta", host_meta, NULL, 0);
    http_route(HTTP_M_GET, "/.well-known/host-meta.json", host_meta, (void *)1,
               0);
    return 0;
}
