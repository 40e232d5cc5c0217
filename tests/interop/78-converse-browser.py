#!/usr/bin/python3
"""Converse.js, the web client, in Debian's Chromium chats with a slixmpp
client over WebSocket and finds the chat in the archive after a reload.

tests/node/converse-browser.mjs drives Chromium with playwright-core: the
page loads Converse from tests/node/node_modules and logs alice in over
ws:// on loopback (c2s_require_encryption = false); bob (slixmpp, TCP)
sends her a message, which Converse shows; she answers by typing into the
chat, and bob gets it from her full JID.  Then Converse starts again in a
fresh browser profile (no cached messages), opens the chat with bob and
shows both messages, fetched from the archive (MAM)."""
import asyncio
import os
import shutil

import theke
from theke import check, fail

NODE_DIR = os.path.join(theke.ROOT, "tests", "node")
SCRIPT = os.path.join(NODE_DIR, "converse-browser.mjs")
CHROMIUM = "/usr/bin/chromium"
# Chromium and Converse are heavy for a small machine running other tests.
STEP = 60


async def read_line(proc, what):
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), STEP)
    except asyncio.TimeoutError:
        fail("converse: no line within %d s while %s" % (STEP, what))
    check(line, "converse: ended while %s" % what)
    return line.decode().rstrip("\n")


async def main(srv):
    check(os.path.isdir(os.path.join(NODE_DIR, "node_modules",
                                     "playwright-core")) and
          os.path.isdir(os.path.join(NODE_DIR, "node_modules",
                                     "converse.js")),
          "tests/node/node_modules is incomplete: run scripts/deps.sh")
    check(os.access(CHROMIUM, os.X_OK),
          "no %s: run scripts/deps.sh" % CHROMIUM)
    bob = await srv.client("bob", resource="tcp")
    url = "ws://127.0.0.1:%d/xmpp-websocket" % srv.http_port
    env = dict(os.environ)
    # Never fetch a browser, whatever the environment says.
    env["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    proc = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node", SCRIPT, url, srv.jid("alice"),
        srv.users["alice"], srv.jid("bob"), cwd=NODE_DIR, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    got = []
    try:
        line = await read_line(proc, "logging in")
        got.append(line)
        check(line.startswith("online %s/" % srv.jid("alice")),
              "converse printed %r" % line)
        line = await read_line(proc, "opening the chat with bob")
        got.append(line)
        check(line == "ready", "converse printed %r" % line)
        bob.chat(srv.jid("alice"), "hello from slixmpp")
        line = await read_line(proc, "waiting for bob's message")
        got.append(line)
        check(line == "shown hello from slixmpp",
              "converse printed %r" % line)
        m = await bob.messages.get(theke.body_is("hello from converse"), STEP,
                                   "bob waiting for converse's answer")
        check(str(m["from"]).startswith(srv.jid("alice") + "/"),
              "answer from %s" % m["from"])
        check(m["type"] == "chat", "answer of type %r" % m["type"])
        proc.stdin.write(b"reload\n")
        await proc.stdin.drain()
        out, err = await asyncio.wait_for(proc.communicate(), 2 * STEP)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
        out, err = await proc.communicate()
        print("converse stdout:", got, out.decode(),
              "\nconverse stderr:", err.decode())
        raise
    lines = got + out.decode().splitlines()
    if proc.returncode != 0:
        fail("converse exited with %d\nstdout: %s\nstderr: %s" % (
            proc.returncode, "\n".join(lines), err.decode()))
    check(len(lines) == 8 and lines[3] == "sent" and
          lines[4].startswith("online %s/" % srv.jid("alice")) and
          lines[5:] == ["history hello from slixmpp",
                        "history hello from converse", "done"],
          "converse printed %r" % lines)


theke.run(main, users=["alice", "bob"],
          config={"c2s_require_encryption": "false"}, deadline=110)
