// Converse.js (the web client) in Debian's Chromium, driven by
// playwright-core: logs in to theke over XMPP over WebSocket, shows a
// message from a peer, answers it through the chat's text area, and after
// a reload in a fresh browser profile shows both from the message archive.
//
//   node converse-browser.mjs WS_URL JID PASSWORD PEER
//
// Serves the page and Converse's files (node_modules/converse.js/dist)
// from a static server on a free loopback port. Talks with the Python
// test driving it in lines: on stdout "online FULLJID", "ready" (the
// chat with the peer is open), "shown BODY", "sent", later "online
// FULLJID" again, "history BODY" per archived
// message in the chat and "done"; on stdin the test answers "reload"
// once the peer has the answer. Exits 0 only when every step happened;
// the browser's console errors go to stderr.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const [wsUrl, jid, password, peer] = process.argv.slice(2);
if (!peer) {
  console.error("usage: converse-browser.mjs WS_URL JID PASSWORD PEER");
  process.exit(2);
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(HERE, "node_modules", "converse.js", "dist");
// The machine is small and shared: every wait is generous.
const STEP_MS = 60000;
const FROM_PEER = "hello from slixmpp";
const TO_PEER = "hello from converse";

const timer = setTimeout(() => {
  console.error("timed out");
  process.exit(1);
}, 100000);

// Lines from the test on stdin, taken in order.
const input = readline.createInterface({ input: process.stdin });
const lines = [];
let lineWaiter = null;
input.on("line", (l) => {
  lines.push(l);
  if (lineWaiter) lineWaiter();
});
async function nextLine() {
  while (lines.length === 0) {
    await new Promise((resolve) => { lineWaiter = resolve; });
    lineWaiter = null;
  }
  return lines.shift();
}

const TYPES = {
  ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
  ".json": "application/json", ".wasm": "application/wasm",
  ".svg": "image/svg+xml", ".png": "image/png", ".woff": "font/woff",
  ".woff2": "font/woff2", ".ttf": "font/ttf", ".mp3": "audio/mpeg",
  ".ogg": "audio/ogg", ".map": "application/json",
};

// A test plugin hands Converse's inner object to the test (the public
// `converse` global exposes only initialize and plugins).
function page() {
  const settings = {
    websocket_url: wsUrl,
    jid,
    password,
    auto_login: true,
    auto_reconnect: false,
    view_mode: "fullscreen",
    discover_connection_methods: false,
    allow_non_roster_messaging: true,
    assets_path: "/dist/",
    i18n: "en",
    play_sounds: false,
    show_desktop_notifications: false,
    fetch_url_headers: false,
    whitelisted_plugins: ["theke-test"],
    // OMEMO would load a WebAssembly library the test does not need.
    blacklisted_plugins: ["converse-omemo"],
  };
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>theke test</title>
<link rel="stylesheet" href="/dist/converse.min.css"></head>
<body class="converse-fullscreen"><script type="module">
import converse from "/dist/converse.min.js";
converse.plugins.add("theke-test", {
  initialize() {
    const c = this._converse;
    window.thekeConverse = c;
    c.api.listen.on("connected", () => { window.thekeOnline = c.api.user.jid(); });
  },
});
converse.initialize(${JSON.stringify(settings)});
</script></body></html>`;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  if (url.pathname === "/") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(page());
    return;
  }
  const file = path.normalize(path.join(DIST,
    decodeURIComponent(url.pathname.replace(/^\/dist\//, ""))));
  if (!url.pathname.startsWith("/dist/") || !file.startsWith(DIST + path.sep)) {
    console.error(`static server: no ${url.pathname}`);
    res.writeHead(404).end();
    return;
  }
  fs.readFile(file, (err, data) => {
    if (err) {
      console.error(`static server: no ${url.pathname}`);
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[path.extname(file)] || "application/octet-stream",
    });
    res.end(data);
  });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const pageUrl = `http://127.0.0.1:${server.address().port}/`;

// Debian's Chromium is the only browser: playwright never downloads one.
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking"],
  timeout: STEP_MS,
});

let failed = false;
async function fail(msg) {
  console.error(msg);
  failed = true;
}

// One browser profile: a page logged in to theke.
async function login() {
  const context = await browser.newContext();
  const p = await context.newPage();
  p.setDefaultTimeout(STEP_MS);
  p.on("console", (m) => {
    if (m.type() === "error") console.error("console:", m.text());
  });
  p.on("pageerror", (e) => console.error("page error:", e.message));
  await p.goto(pageUrl);
  await p.waitForFunction(() => window.thekeOnline, null,
                          { timeout: STEP_MS });
  console.log(`online ${await p.evaluate(() => window.thekeOnline)}`);
  return { context, p };
}

// Opens the chat with the peer, as a click on a contact does.
async function openChat(p) {
  await p.evaluate((peer) => window.thekeConverse.api.chats.open(peer, {}, true),
                   peer);
  await p.locator("textarea.chat-textarea").first().waitFor();
}

// The text of the chat's message bodies, in order, as the page shows them.
function shownTexts(p) {
  return p.locator("converse-chat-message .chat-msg__text").allInnerTexts();
}

try {
  const first = await login();
  const p = first.p;
  // Alice opens the chat with her peer, then the test has the peer write.
  await openChat(p);
  console.log("ready");
  await p.locator("converse-chat-message .chat-msg__text",
                  { hasText: FROM_PEER }).first().waitFor();
  console.log(`shown ${(await shownTexts(p)).join("|")}`);

  // As a user does: type into the chat's text area and press Enter.
  const area = p.locator("textarea.chat-textarea").first();
  await area.fill(TO_PEER);
  await area.press("Enter");
  await p.locator("converse-chat-message .chat-msg__text",
                  { hasText: TO_PEER }).first().waitFor();
  console.log("sent");

  const go = await nextLine();
  if (go !== "reload") throw new Error(`expected "reload", got "${go}"`);
  await first.context.close();

  // A fresh profile has no cached messages: what the chat shows now came
  // from the archive.
  const second = await login();
  const q = second.p;
  await openChat(q);
  await q.waitForFunction((peer) =>
    window.thekeConverse.state.chatboxes.get(peer)?.messages?.length >= 2,
  peer, { timeout: STEP_MS });
  await q.locator("converse-chat-message .chat-msg__text",
                  { hasText: TO_PEER }).first().waitFor();
  await q.locator("converse-chat-message .chat-msg__text",
                  { hasText: FROM_PEER }).first().waitFor();
  const models = await q.evaluate((peer) =>
    window.thekeConverse.state.chatboxes.get(peer).messages.models.map((m) => ({
      body: m.get("body"), archived: !!m.get("is_archived"),
    })), peer);
  for (const m of models) {
    if (!m.archived) await fail(`not from the archive: ${JSON.stringify(m)}`);
    console.log(`history ${m.body}`);
  }
  const shown = await shownTexts(q);
  if (shown.join("|") !== [FROM_PEER, TO_PEER].join("|"))
    await fail(`the chat shows ${JSON.stringify(shown)}`);
  await second.context.close();
  console.log("done");
} catch (err) {
  await fail(`failed: ${err.stack || err}`);
  for (const ctx of browser.contexts()) {
    for (const pg of ctx.pages()) {
      const state = await pg.evaluate(() =>
        window.thekeConverse?.state?.chatboxes?.models.map((c) => ({
          jid: c.get("jid"), type: c.get("type"),
          messages: c.messages?.models.map((m) => m.get("body")),
        }))).catch((e) => `${e}`);
      console.error("chats:", JSON.stringify(state));
    }
  }
}
await browser.close();
server.close();
clearTimeout(timer);
process.exit(failed ? 1 : 0);
