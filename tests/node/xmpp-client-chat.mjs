// Logs in to theke over XMPP over WebSocket (RFC 7395) with @xmpp/client,
// sends a chat message to a peer and waits for the peer's answer.
//
//   node xmpp-client-chat.mjs URL USER PASSWORD MECHANISM PEER
//
// MECHANISM is "PLAIN", "SCRAM-SHA-1" or "auto" (the client's choice).
// Prints one line per step on stdout ("online JID", "sent", "received
// BODY", "closed"); the Python test driving it checks them and the exit
// status (0 only when the answer arrived and the stream closed cleanly).
import { client, xml } from "@xmpp/client";
import { deadline } from "./test-env.mjs";

const [url, user, password, mechanism, peer] = process.argv.slice(2);
if (!peer) {
  console.error("usage: xmpp-client-chat.mjs URL USER PASSWORD MECH PEER");
  process.exit(2);
}

const timer = deadline(30000);

const credentials =
  mechanism === "auto"
    ? { username: user, password }
    : async (authenticate, mechanisms) => {
        if (!mechanisms.includes(mechanism)) {
          throw new Error(`${mechanism} not offered: ${mechanisms}`);
        }
        await authenticate({ username: user, password }, mechanism);
      };

const xmpp = client({
  service: url,
  domain: "localhost",
  resource: "node",
  credentials,
});
xmpp.reconnect.stop();

let answered;
const answer = new Promise((resolve) => (answered = resolve));

xmpp.on("error", (err) => {
  console.error("error:", err.message);
  process.exit(1);
});

xmpp.on("stanza", (stanza) => {
  if (stanza.is("message") && stanza.getChildText("body")) {
    console.log(`received ${stanza.getChildText("body")}`);
    answered(stanza);
  }
});

const address = await xmpp.start();
console.log(`online ${address.toString()}`);

// A ping to the server: iq round trip through the router.
await xmpp.iqCaller.request(
  xml("iq", { type: "get", to: "localhost" }, xml("ping", "urn:xmpp:ping")),
);

await xmpp.send(
  xml("message", { type: "chat", to: peer }, xml("body", {}, "hello from the web")),
);
console.log("sent");
const reply = await answer;
if (reply.attrs.from.split("/")[0] !== peer) {
  console.error(`answer from ${reply.attrs.from}, expected ${peer}`);
  process.exit(1);
}
await xmpp.stop();
console.log("closed");
clearTimeout(timer);
process.exit(0);
