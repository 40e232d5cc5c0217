// What the Node test clients share: @xmpp/websocket uses the global
// WebSocket, which Node 20 lacks (the `ws` package stands in, accepting
// the test server's self-signed certificate), and every script gives up
// after a bounded time rather than hang a test run.
import WS from "ws";

globalThis.WebSocket = class extends WS {
  constructor(address, protocols) {
    super(address, protocols, { rejectUnauthorized: false });
  }
};

// Exits with status 1 after ms; the caller clears the returned timer.
export function deadline(ms) {
  return setTimeout(() => {
    console.error("timed out");
    process.exit(1);
  }, ms);
}
