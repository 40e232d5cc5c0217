// Logs in to theke the way a mobile client reconnects: @xmpp/client over
// WebSocket uses SASL2 (XEP-0388) with Bind 2 (XEP-0386), enables stream
// management inline, and asks for a FAST token (XEP-0484).
//
//   node xmpp-client-fast.mjs URL USER PASSWORD PEER TOKENFILE
//       chats with PEER, then (driven by lines on stdin) loses its
//       connection, comes back with the FAST token and resumes the
//       session inline, and finally saves the token to TOKENFILE
//   node xmpp-client-fast.mjs URL USER - - TOKENFILE
//       a fresh process that has only the token: logs in with it
//
// Prints one line per step on stdout ("online JID", "sm on", "token
// MECHANISM", "received BODY", "cut", "resumed", "archived BODY" per
// message of the archive, "fin complete=..", "closed"); the Python test
// driving it (tests/interop/79-ws-sasl2-fast.py) checks them and tells
// it when to go on with "go", "archive" and "close" on stdin.
import { readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { client, xml } from "@xmpp/client";
import { deadline } from "./test-env.mjs";

const [url, user, password, peer, tokenFile] = process.argv.slice(2);
if (!tokenFile) {
  console.error("usage: xmpp-client-fast.mjs URL USER PASSWORD PEER TOKENFILE");
  process.exit(2);
}
const tokenOnly = password === "-";
// A token belongs to one client, known by its SASL2 user-agent id.
const saved = tokenOnly ? JSON.parse(readFileSync(tokenFile, "utf8")) : null;
const agentId = saved ? saved.agent : globalThis.crypto.randomUUID();

const timer = deadline(40000);

const xmpp = client({
  service: url,
  domain: "localhost",
  resource: "shop",
  userAgent: xml("user-agent", { id: agentId }, xml("software", {}, "theke-test")),
  // A wrong password: only the token can log this one in.
  credentials: { username: user, password: tokenOnly ? "wrong" : password },
});
xmpp.reconnect.stop();

let token = saved ? saved.token : null;
xmpp.fast.fetchToken = async () => token;
xmpp.fast.saveToken = async (t) => {
  token = t;
  console.log(`token ${t.mechanism}`);
};
xmpp.fast.deleteToken = async () => {
  token = null;
};

xmpp.on("error", (err) => {
  console.error("error:", err.message);
  process.exit(1);
});
xmpp.on("stanza", (stanza) => {
  if (stanza.is("message") && stanza.getChildText("body"))
    console.log(`received ${stanza.getChildText("body")}`);
});

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function waitFor(command) {
  for (;;) {
    const { value, done } = await lines.next();
    if (done) throw new Error(`stdin ended before "${command}"`);
    if (value.trim() === command) return;
  }
}

const address = await xmpp.start();
console.log(`online ${address.toString()}`);
const sm = xmpp.streamManagement;
console.log(sm.enabled && sm.id ? "sm on" : "sm off");

if (tokenOnly) {
  await xmpp.stop();
  console.log("closed");
  clearTimeout(timer);
  process.exit(0);
}

await xmpp.send(
  xml("message", { type: "chat", to: peer }, xml("body", {}, "hello 1")),
);
await waitFor("go");

// The network goes away without a word: no </stream>, no <close/>.
console.log("cut");
xmpp.socket.socket.terminate();
await new Promise((resolve) => xmpp.once("disconnect", resolve));
await waitFor("go");

const resumed = new Promise((resolve) => sm.once("resumed", resolve));
await xmpp.reconnect.reconnect();
await resumed;
console.log("resumed");

// The history from the archive (XEP-0313), one page.
await waitFor("archive");
const queryid = "history";
const archived = [];
const collect = (stanza) => {
  const result = stanza.getChild("result", "urn:xmpp:mam:2");
  if (!stanza.is("message") || result?.attrs.queryid !== queryid) return;
  const m = result.getChild("forwarded", "urn:xmpp:forward:0")?.getChild("message");
  archived.push(m?.getChildText("body"));
};
xmpp.on("stanza", collect);
const answer = await xmpp.iqCaller.request(
  xml("iq", { type: "set" },
    xml("query", { xmlns: "urn:xmpp:mam:2", queryid },
      xml("set", { xmlns: "http://jabber.org/protocol/rsm" }, xml("max", {}, "50")))),
);
xmpp.removeListener("stanza", collect);
for (const body of archived) console.log(`archived ${body}`);
const fin = answer.getChild("fin", "urn:xmpp:mam:2");
console.log(`fin complete=${fin?.attrs.complete}`);
await waitFor("close");

writeFileSync(tokenFile, JSON.stringify({ agent: agentId, token }));
await xmpp.stop();
console.log("closed");
clearTimeout(timer);
process.exit(0);
