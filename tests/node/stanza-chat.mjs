// Logs in to theke over XMPP over WebSocket (RFC 7395) with stanza (the
// library behind many web clients), sends a chat message to a peer and
// waits for the peer's answer.
//
//   node stanza-chat.mjs URL JID PASSWORD PEER
//
// Prints one line per step on stdout ("online JID", "sent", "received
// BODY", "closed"); the Python test driving it checks them and the exit
// status (0 only when the answer arrived and the session ended cleanly).
import * as XMPP from "stanza";

const [url, jid, password, peer] = process.argv.slice(2);
if (!peer) {
  console.error("usage: stanza-chat.mjs URL JID PASSWORD PEER");
  process.exit(2);
}

const timer = setTimeout(() => {
  console.error("timed out");
  process.exit(1);
}, 30000);

const client = XMPP.createClient({
  jid,
  password,
  resource: "stanza",
  transports: { websocket: url, bosh: false },
});

client.on("stream:error", (err) => {
  console.error("stream error:", JSON.stringify(err));
  process.exit(1);
});
client.on("auth:failed", () => {
  console.error("authentication failed");
  process.exit(1);
});

client.on("session:started", async () => {
  console.log(`online ${client.jid}`);
  try {
    await client.ping("localhost");
  } catch (err) {
    console.error("ping failed:", JSON.stringify(err));
    process.exit(1);
  }
  client.sendMessage({ to: peer, type: "chat", body: "hello from stanza" });
  console.log("sent");
});

client.on("chat", (msg) => {
  console.log(`received ${msg.body}`);
  if (msg.from.split("/")[0] !== peer) {
    console.error(`answer from ${msg.from}, expected ${peer}`);
    process.exit(1);
  }
  client.disconnect();
});

client.on("disconnected", () => {
  console.log("closed");
  clearTimeout(timer);
  process.exit(0);
});

client.connect();
