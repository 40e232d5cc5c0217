#!/usr/bin/python3
"""stanza (npm, the library under many web clients) chats over WebSocket
with a slixmpp client and publishes its user's nickname over PEP.

alice and bob are contacts (mutual subscription); bob (slixmpp, TCP)
announces nick+notify in his capabilities. In Node, stanza logs in as
alice over wss:// with the mechanism it prefers among those offered,
pings the server, sends its presence with its capabilities (the server
asks stanza for the features behind them), sends bob a chat message,
gets bob's answer, publishes a nickname with its own publishNick()
(XEP-0172 over XEP-0163: no node, no item id, no publish-options), is
notified of it as the owner's resource that wants the node, and
disconnects (tests/node/stanza-chat.mjs). Its messages arrive from
alice's full JID; bob gets the nickname as an event from alice's bare
JID and reads the same item, payload and id, from her node."""
import asyncio
import os
import shutil

import theke
from theke import check, fail
from peplib import pep_client, items, item_list, event_for

NODE_DIR = os.path.join(theke.ROOT, "tests", "node")
SCRIPT = os.path.join(NODE_DIR, "stanza-chat.mjs")
NS_NICK = "http://jabber.org/protocol/nick"
# Characters the serializers on both sides must escape, and non-ASCII.
NICK = "Alice & <Stanza> \u00e9t\u00e9"


def nick_of(payload):
    check(payload is not None and payload.tag == "{%s}nick" % NS_NICK,
          "item payload is %r, not a <nick/>" % payload)
    return payload.text


async def main(srv):
    check(os.path.isdir(os.path.join(NODE_DIR, "node_modules", "stanza")),
          "tests/node/node_modules is missing: run scripts/deps.sh")
    alice = srv.jid("alice")
    setup = await srv.client("alice", resource="setup")
    bob = await pep_client(srv, "bob", "tcp", [NS_NICK])
    await theke.befriend(setup, bob)
    await setup.close()

    env = dict(os.environ)
    # The test server's certificate is self-signed.
    env["NODE_TLS_REJECT_UNAUTHORIZED"] = "0"
    url = "wss://localhost:%d/xmpp-websocket" % srv.https_port
    proc = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node", SCRIPT, url, alice,
        srv.users["alice"], srv.jid("bob"), NICK, cwd=NODE_DIR, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        m = await bob.messages.get(theke.body_is("hello from stanza"), 30,
                                   "bob waiting for stanza's message")
        check(str(m["from"]) == alice + "/stanza",
              "message from %s" % m["from"])
        bob.chat(m["from"], "hello back")
        ev = await bob.events.get(event_for(NS_NICK, frm=alice), 30,
                                  "bob waiting for alice's nickname")
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
                    "received hello back", "published nick",
                    "notified nick " + NICK, "closed"],
          "stanza printed %r" % lines)

    # The event: from alice's bare JID, one item with the nickname and
    # the id the server gave it (stanza sent none).
    check(str(ev["from"]) == alice, "event from %s" % ev["from"])
    got = item_list(ev)
    check(len(got) == 1 and got[0][0], "event items %r: %s" % (got, ev))
    event_id = got[0][0]
    check(nick_of(got[0][1]) == NICK,
          "event carries nickname %r" % nick_of(got[0][1]))

    # bob reads the same item from alice's node.
    kind, res = await items(bob, alice, NS_NICK)
    check(kind == "result", "bob reading alice's nick node: %s" % res)
    got = item_list(res)
    check(len(got) == 1 and got[0][0] == event_id,
          "alice's nick node holds %r, the event named %s" %
          ([i for i, _ in got], event_id))
    check(nick_of(got[0][1]) == NICK,
          "alice's nick node holds nickname %r" % nick_of(got[0][1]))
    # One publication, one event.
    await bob.events.none(event_for(NS_NICK, frm=alice), 0.5,
                          "a second nickname event for bob")


theke.run(main, users=["alice", "bob"])
