// Logs in to theke over XMPP over WebSocket (RFC 7395) with stanza (the
// library behind many web clients), announces its capabilities in its
// presence, sends a chat message to a peer, waits for the peer's answer,
// then publishes a nickname over PEP (XEP-0163, XEP-0172) and waits for
// the server to notify it of its own nickname.
//
//   node stanza-chat.mjs URL JID PASSWORD PEER NICK
//
// Prints one line per step on stdout ("online JID", "sent", "received
// BODY", "published nick", "notified nick NICK", "closed"); the Python
// test driving it checks them and the exit status (0 only when every
// step succeeded and the session ended cleanly).
import * as XMPP from "stanza";

const [url, jid, password, peer, nick] = process.argv.slice(2);
if (!nick) {
  console.error("usage: stanza-chat.mjs URL JID PASSWORD PEER NICK");
  process.exit(2);
}

const timer = setTimeout(() => {
  console.error("timed out");
  process.exit(1);
}, 30000);

function die(what, err) {
  console.error(what, JSON.stringify(err));
  process.exit(1);
}

const client = XMPP.createClient({
  jid,
  password,
  resource: "stanza",
  transports: { websocket: url, bosh: false },
});

client.on("stream:error", (err) => die("stream error:", err));
client.on("auth:failed", () => die("authentication failed", null));

client.on("session:started", async () => {
  console.log(`online ${client.jid}`);
  try {
    await client.ping("localhost");
  } catch (err) {
    die("ping failed:", err);
  }
  // As web clients do: presence with XEP-0115 capabilities, which list
  // NODE+notify for the PEP nodes stanza's plugins handle (nick among
  // them); the server asks stanza for the features behind the hash.
  client.updateCaps();
  client.sendPresence({ legacyCapabilities: client.disco.getCaps() });
  client.sendMessage({ to: peer, type: "chat", body: "hello from stanza" });
  console.log("sent");
});

// The server notifies the owner's own resources that want the node.
const ownNick = new Promise((resolve) => {
  client.on("nick", (ev) => {
    if (ev.jid === jid && ev.nick === nick) {
      resolve();
    }
  });
});

client.on("chat", async (msg) => {
  console.log(`received ${msg.body}`);
  if (msg.from.split("/")[0] !== peer) {
    die("answer from the wrong JID:", msg.from);
  }
  try {
    await client.publishNick(nick);
  } catch (err) {
    die("publishing the nickname failed:", err);
  }
  console.log("published nick");
  await ownNick;
  console.log(`notified nick ${nick}`);
  client.disconnect();
});

client.on("disconnected", () => {
  console.log("closed");
  clearTimeout(timer);
  process.exit(0);
});

client.connect();
