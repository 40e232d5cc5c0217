#!/usr/bin/python3
"""@xmpp/client (npm, in Node) chats over WebSocket with a slixmpp client.

The Node client logs in with SASL2 and Bind 2 (as it does whenever a
server offers them), over wss:// with its own choice of mechanism
(SCRAM-SHA-1) and over ws:// with PLAIN (allowed in plaintext because the
test sets c2s_require_encryption = false on loopback), pings the server,
sends a chat message to bob on TCP, gets bob's answer, and closes the
stream cleanly (tests/node/xmpp-client-chat.mjs)."""
import asyncio
import os
import re
import shutil
import subprocess

import theke
from theke import check, fail

NODE_DIR = os.path.join(theke.ROOT, "tests", "node")
SCRIPT = os.path.join(NODE_DIR, "xmpp-client-chat.mjs")


async def node_chat(srv, bob, url, mechanism, resource_seen):
    proc = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node", SCRIPT, url, "alice",
        srv.users["alice"], mechanism, srv.jid("bob"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=NODE_DIR)
    try:
        m = await bob.messages.get(theke.body_is("hello from the web"), 30,
                                   "bob waiting for @xmpp/client (%s)" % url)
        check(m["from"].bare == srv.jid("alice"),
              "message from %s" % m["from"])
        resource_seen.append(m["from"].resource)
        bob.chat(m["from"], "hello back")
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            out, err = await proc.communicate()
            print("node stdout:", out.decode(), "\nnode stderr:",
                  err.decode())
        raise
    lines = out.decode().splitlines()
    if proc.returncode != 0:
        fail("@xmpp/client over %s exited with %d\nstdout: %s\nstderr: %s"
             % (url, proc.returncode, out.decode(), err.decode()))
    # Bind 2 (XEP-0386) makes the resource from the client's tag.
    check(re.fullmatch(r"online alice@localhost/node/[0-9A-Za-z]{16}",
                       (lines or [""])[0]) and
          "received hello back" in lines and lines[-1] == "closed",
          "@xmpp/client over %s printed %r" % (url, lines))


def node_version():
    out = subprocess.run([shutil.which("node") or "node", "--version"],
                         capture_output=True, text=True, timeout=20).stdout
    m = re.match(r"v(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


async def main(srv):
    check(node_version() >= (20, 10),
          "@xmpp/client needs Node 20.10 or newer; node --version says %s"
          % ".".join(map(str, node_version())))
    check(os.path.isdir(os.path.join(NODE_DIR, "node_modules", "@xmpp")),
          "tests/node/node_modules is missing: run scripts/deps.sh")
    bob = await srv.client("bob", resource="tcp")
    seen = []
    await node_chat(srv, bob, "wss://localhost:%d/xmpp-websocket" %
                    srv.https_port, "auto", seen)
    await node_chat(srv, bob, "ws://localhost:%d/xmpp-websocket" %
                    srv.http_port, "PLAIN", seen)
    check(len(seen) == 2 and all(r.startswith("node/") for r in seen),
          "resources %r" % seen)
    log = srv.log_text()
    check("authenticated with SCRAM-SHA-1 (SASL2)" in log,
          "wss login did not use SCRAM-SHA-1 in SASL2")
    check("authenticated with PLAIN (SASL2)" in log,
          "ws login did not use PLAIN in SASL2")


theke.run(main, users=["alice", "bob"],
          config={"c2s_require_encryption": "false"})
