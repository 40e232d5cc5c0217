#!/usr/bin/python3
"""A mobile-style reconnect with @xmpp/client (npm, in Node) over
WebSocket: SASL2 (XEP-0388), Bind 2 (XEP-0386), FAST (XEP-0484) and
stream management inline (tests/node/xmpp-client-fast.mjs).

The first login uses SCRAM-SHA-1 inside SASL2, binds a resource from its
tag ("shop/..."), enables stream management and receives a
FAST token, all in one round trip; it chats with bob (slixmpp, TCP).
Then its
connection drops without a word; bob writes meanwhile; the client comes
back with the token (HT-SHA-256-NONE, its password is not used) and
resumes the session inside the same <authenticate/>: bob's message
arrives exactly once, and the archive holds both messages. A fresh
process that has only the token (and a
wrong password) logs in with it, also after the server restarted; a
tampered token does not log in."""
import asyncio
import json
import os
import re
import shutil
import tempfile

import theke
from theke import check, fail

NODE_DIR = os.path.join(theke.ROOT, "tests", "node")
SCRIPT = os.path.join(NODE_DIR, "xmpp-client-fast.mjs")


class Node:
    """The Node client, its stdout lines collected as they come."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            self.lines.append(line.decode().rstrip("\n"))

    async def wait(self, pred, what, timeout=20):
        for _ in range(int(timeout * 20)):
            for line in self.lines:
                if pred(line):
                    return line
            if self.reader.done() and not any(pred(x) for x in self.lines):
                break
            await asyncio.sleep(0.05)
        await self.fail("waiting for %s" % what)

    def say(self, command):
        self.proc.stdin.write((command + "\n").encode())

    async def finish(self, what):
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
            await self.reader
        except asyncio.TimeoutError:
            await self.fail("%s did not end" % what)
        err = (await self.proc.stderr.read()).decode()
        return self.proc.returncode, err

    async def fail(self, msg):
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        err = (await self.proc.stderr.read()).decode()
        fail("%s\nnode stdout: %r\nnode stderr: %s" % (msg, self.lines, err))


async def start(srv, url, password, token_file, peer="-"):
    proc = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node", SCRIPT, url, "alice", password, peer,
        token_file, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=NODE_DIR)
    return Node(proc)


async def wait_log(srv, text, what, timeout=10):
    for _ in range(int(timeout * 20)):
        if text in srv.log_text():
            return
        await asyncio.sleep(0.05)
    fail("%s: %r not in the server log" % (what, text))


async def token_login(srv, url, token_file):
    node = await start(srv, url, "-", token_file)
    code, err = await node.finish("the token-only login")
    check(code == 0 and node.lines[-1:] == ["closed"],
          "token-only login: exit %s, %r, %s" % (code, node.lines, err))
    return node.lines


async def main(srv):
    check(os.path.isdir(os.path.join(NODE_DIR, "node_modules", "@xmpp")),
          "tests/node/node_modules is missing: run scripts/deps.sh")
    url = "wss://localhost:%d/xmpp-websocket" % srv.https_port
    bob = await srv.client("bob", resource="tcp")
    tmp = tempfile.mkdtemp(prefix="theke-fast-")
    token_file = os.path.join(tmp, "token.json")
    node = await start(srv, url, srv.users["alice"], token_file,
                       srv.jid("bob"))

    online = await node.wait(lambda l: l.startswith("online "), "online")
    jid = online.split(" ", 1)[1]
    check(re.fullmatch(r"alice@localhost/shop/[0-9a-f]{16}", jid),
          "Bind 2 resource from the tag: %s" % jid)
    await node.wait(lambda l: l == "sm on", "stream management inline")
    await node.wait(lambda l: l == "token HT-SHA-256-NONE", "a FAST token")
    m = await bob.messages.get(theke.body_is("hello 1"), 10, "hello 1")
    check(str(m["from"]) == jid, "hello 1 from %s" % m["from"])
    log = srv.log_text()
    check("authenticated with SCRAM-SHA-1 (SASL2)" in log,
          "first login not SCRAM-SHA-1 in SASL2")

    node.say("go")  # the connection drops
    await node.wait(lambda l: l == "cut", "cut")
    await wait_log(srv, "session detached", "the session waits")
    bob.chat(jid, "while away")
    await asyncio.sleep(0.3)
    node.say("go")  # back, with the token, resuming inline
    await node.wait(lambda l: l == "resumed", "resumed")
    await node.wait(lambda l: l == "received while away", "while away")
    await wait_log(srv, "authenticated with HT-SHA-256-NONE (SASL2)",
                   "the second login used the token")
    log = srv.log_text()
    check("resumed, 1 stanzas sent again" in log,
          "resumption did not send the missed message again")
    check("authenticated with SCRAM-SHA-1" not in
          log.split("session detached", 1)[1],
          "the password was used again after the cut")
    # The conversation is in the archive, in order.
    node.say("archive")
    await node.wait(lambda l: l.startswith("fin "), "the archive's answer")
    history = [l[len("archived "):] for l in node.lines
               if l.startswith("archived ")]
    check(history == ["hello 1", "while away"] and
          "fin complete=true" in node.lines,
          "archive: %r" % node.lines)
    node.say("close")
    code, err = await node.finish("the client")
    check(code == 0 and node.lines[-1:] == ["closed"],
          "exit %s, %r, %s" % (code, node.lines, err))
    check(node.lines.count("received while away") == 1,
          "'while away' delivered %d times"
          % node.lines.count("received while away"))
    check("received hello 1" not in node.lines, "own message echoed")

    # A fresh process with only the token (and a wrong password).
    lines = await token_login(srv, url, token_file)
    check(lines[0].startswith("online alice@localhost/shop/"),
          "token login: %r" % lines)
    check(srv.log_text().count("authenticated with HT-SHA-256-NONE") == 2,
          "the fresh process did not log in with the token")
    # Tokens are stored: they outlive a restart.
    srv.restart()
    lines = await token_login(srv, url, token_file)
    check(srv.log_text().count("authenticated with HT-SHA-256-NONE") == 3,
          "no token login after a restart: %r" % lines)
    # A tampered token fails, and the wrong password after it too.
    saved = json.load(open(token_file))
    saved["token"]["token"] = saved["token"]["token"][:-4] + "AAAA"
    json.dump(saved, open(token_file, "w"))
    node = await start(srv, url, "-", token_file)
    code, _ = await node.finish("the tampered-token login")
    check(code != 0, "a tampered token logged in: %r" % node.lines)
    check(srv.log_text().count("authenticated with HT-SHA-256-NONE") == 3,
          "a tampered token authenticated")
    check("authentication failed (not-authorized)" in srv.log_text(),
          "no failure logged for the tampered token")
    shutil.rmtree(tmp, ignore_errors=True)


theke.run(main, users=["alice", "bob"])
