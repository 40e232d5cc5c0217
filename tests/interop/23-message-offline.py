#!/usr/bin/python3
"""Messages to an offline account are stored and delivered in order at
its next available presence, with XEP-0203 delay stamps; nothing is
delivered before that presence, and nothing twice."""
import theke
from theke import check


async def main(srv):
    alice = await srv.client("alice", resource="a")
    for i in range(1, 6):
        alice.chat(srv.jid("bob"), "offline %d" % i)
    await alice.ping_server()       # the messages have been processed
    await alice.errors.none(wait=0.5, what="error for a stored message")

    bob = await srv.client("bob", resource="b", presence=False)
    await bob.messages.none(wait=1.0, what="messages before initial "
                            "presence")
    bob.send_presence()
    for i in range(1, 6):
        m = await bob.messages.get(lambda m: m["body"].startswith("offline"),
                                   10, "waiting for offline %d" % i)
        check(m["body"] == "offline %d" % i,
              "offline messages out of order: got %r, wanted 'offline %d'"
              % (m["body"], i))
        check(m["from"].bare == srv.jid("alice"), "from=%s" % m["from"])
        delay = m.xml.find("{urn:xmpp:delay}delay")
        check(delay is not None and delay.get("stamp"),
              "offline message without a XEP-0203 delay stamp: %s" % m)
    await bob.close()

    # Delivered once: a new login gets nothing.
    bob = await srv.client("bob", resource="b2")
    await bob.messages.none(wait=1.5, what="offline messages delivered "
                            "twice")


theke.run(main, users=["alice", "bob"])
