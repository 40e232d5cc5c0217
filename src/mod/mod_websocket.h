/* mod_websocket.h -- what other modules need to know of XMPP over
 * WebSocket: where it is served. */
#ifndef THEKE_MOD_WEBSOCKET_H
#define THEKE_MOD_WEBSOCKET_H

#define MOD_WEBSOCKET_PATH "/xmpp-websocket"

/* The URL clients connect to (websocket_url, else derived from the HTTP
 * server's public URL: http -> ws, https -> wss); "" without an HTTP
 * listener. Borrowed until the next call. */
const char *mod_websocket_url(void);

#endif
