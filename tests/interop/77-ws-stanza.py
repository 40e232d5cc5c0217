#!/usr/bin/python3
"""stanza (npm, the library under many web clients) chats over WebSocket
with a slixmpp client.

In Node, stanza logs in over wss:// with the mechanism it prefers among
those offered, pings the server, sends bob (slixmpp, TCP) a chat message,
gets bob's answer and disconnects (tests/node/stanza-chat.mjs); its
messages arrive from alice's full JID."""
import asyncio
import os
import shutil

import theke
from theke import check, fail

NODE_DIR = os.path.join(theke.ROOT, "tests", "node")
SCRIPT = os.path.join(NODE_DIR, "stanza-chat.mjs")


async def main(srv):
    check(os.path.isdir(os.path.join(NODE_DIR, "node_modules", "stanza")),
          "tests/node/node_modules is missing: run scripts/deps.sh")
    bob = await srv.client("bob", resource="tcp")
    env = dict(os.environ)
    # The test server's certificate is self-signed.
    env["NODE_TLS_REJECT_UNAUTHORIZED"] = "0"
    url = "wss://localhost:%d/xmpp-websocket" % srv.https_port
    proc = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node", SCRIPT, url, srv.jid("alice"),
        srv.users["alice"], srv.jid("bob"), cwd=NODE_DIR, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        m = await bob.messages.get(theke.body_is("hello from stanza"), 30,
                                   "bob waiting for stanza's message")
        check(str(m["from"]) == srv.jid("alice") + "/stanza",
              "message from %s" % m["from"])
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
        fail("stanza exited with %d\nstdout: %s\nstderr: %s" % (
            proc.returncode, out.decode(), err.decode()))
    check(lines == ["online alice@localhost/stanza", "sent",
                    "received hello back", "closed"],
          "stanza printed %r" % lines)


theke.run(main, users=["alice", "bob"])
