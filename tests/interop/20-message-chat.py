#!/usr/bin/python3
"""Chat between two accounts, both ways, passed through unchanged.

RFC 6121 §8.5.3: a message to an available full JID is delivered to that
resource; the server stamps 'from' with the sender's full JID and keeps
the id, thread and unknown extension elements.
"""
import xml.etree.ElementTree as ET

import theke
from theke import check


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob = await srv.client("bob", resource="b")
    await theke.exchange(alice, bob)

    msg = alice.make_message(mto=str(bob.boundjid), mbody="ext test",
                             mtype="chat")
    msg["id"] = "keep-this-id"
    msg["thread"] = "thread-7"
    ext = ET.Element("{urn:example:ext}x", {"a": "1"})
    ET.SubElement(ext, "{urn:example:ext}y").text = "<&>"
    msg.append(ext)
    # A forged from is overwritten by the server (RFC 6120 §8.1.2.1).
    msg["from"] = srv.jid("carol") + "/forged"
    msg.send()
    m = await bob.messages.get(theke.body_is("ext test"), 10)
    check(str(m["from"]) == str(alice.boundjid),
          "from=%s, wanted %s" % (m["from"], alice.boundjid))
    check(m["id"] == "keep-this-id", "id changed: %s" % m)
    check(m["thread"] == "thread-7", "thread changed: %s" % m)
    x = m.xml.find("{urn:example:ext}x")
    check(x is not None and x.get("a") == "1" and
          x.find("{urn:example:ext}y") is not None and
          x.find("{urn:example:ext}y").text == "<&>",
          "extension element not passed through: %s" % m)

    # Non-ASCII text survives.
    text = "Grüße, 你好, \U0001F600"
    alice.chat(str(bob.boundjid), text)
    await bob.messages.get(theke.body_is(text), 10)

    # Many messages in a row arrive complete and in order.
    for i in range(50):
        bob.chat(str(alice.boundjid), "seq %d" % i)
    for i in range(50):
        m = await alice.messages.get(lambda m: m["body"].startswith("seq "),
                                     10, "waiting for seq %d" % i)
        check(m["body"] == "seq %d" % i, "got %r, wanted 'seq %d'" % (
            m["body"], i))


theke.run(main, users=["alice", "bob"])
