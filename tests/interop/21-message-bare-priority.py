#!/usr/bin/python3
"""A message to a bare JID goes to the highest-priority resource.

RFC 6121 §8.5.2.1.1 lets a server deliver a message to the bare JID
either to the "most available" resources or to all non-negative ones;
theked routes type='normal' by priority (the highest, or all that share
it) and may give type='chat' to every non-negative resource.  Never to a
negative priority one; with only those, the message is stored offline.
"""
import theke
from theke import check


async def seen(observer, other, priority):
    await observer.presences.get(
        lambda p: str(p["from"]) == str(other.boundjid) and
        theke.is_available(p) and int(p["priority"] or 0) == priority, 10,
        "%s waiting for %s's presence with priority %d" % (
            observer.boundjid.resource, other.boundjid.resource, priority))


async def main(srv):
    hi = await srv.client("bob", resource="hi", priority=5)
    lo = await srv.client("bob", resource="lo", priority=1)
    neg = await srv.client("bob", resource="neg", priority=-1)
    alice = await srv.client("alice", resource="a")
    # Each resource sees the others' presence (RFC 6121 §4.2.2), so the
    # server knows every priority before the first message.
    await seen(hi, neg, -1)

    alice.chat(srv.jid("bob"), "to bare 1", mtype="normal")
    m = await hi.messages.get(theke.body_is("to bare 1"), 10,
                              "priority 5 resource waiting for the message "
                              "to the bare JID")
    check(m["to"].bare == srv.jid("bob"), "to=%s" % m["to"])
    await lo.messages.none(theke.body_is("to bare 1"), 1.0,
                           "priority 1 resource got the message too")
    await neg.messages.none(theke.body_is("to bare 1"), 0.1,
                            "negative priority resource got the message")

    # A chat message reaches the best resource (and perhaps the other
    # non-negative one), never the negative one.
    alice.chat(srv.jid("bob"), "chat to bare")
    await hi.messages.get(theke.body_is("chat to bare"), 10,
                          "priority 5 resource waiting for a chat message "
                          "to the bare JID")
    await neg.messages.none(theke.body_is("chat to bare"), 1.0,
                            "negative priority resource got a chat message")
    lo.messages.take_all(theke.body_is("chat to bare"))

    # The priority changes: now 'lo' is the best.
    lo.send_presence(ppriority=10)
    await seen(hi, lo, 10)
    alice.chat(srv.jid("bob"), "to bare 2", mtype="normal")
    await lo.messages.get(theke.body_is("to bare 2"), 10,
                          "priority 10 resource waiting")
    await hi.messages.none(theke.body_is("to bare 2"), 1.0,
                           "lower priority resource got the message")

    # Equal priorities: both get it (RFC 6121 §8.5.2.1.1 allows all).
    hi.send_presence(ppriority=10)
    await seen(lo, hi, 10)
    alice.chat(srv.jid("bob"), "to bare 3")
    got = []
    await theke.asyncio.sleep(1.5)
    for c in (hi, lo):
        got += c.messages.take_all(theke.body_is("to bare 3"))
    check(len(got) >= 1, "message to bare JID with two priority 10 "
          "resources not delivered")
    await neg.messages.none(theke.body_is("to bare 3"), 0.1,
                            "negative priority resource got the message")

    # Only a negative priority resource left: the message is stored
    # offline (§8.5.2.1.1 / §8.5.2.2) and not shown to it.
    await hi.close()
    await lo.close()
    alice.chat(srv.jid("bob"), "to bare 4", mtype="normal")
    await neg.messages.none(theke.body_is("to bare 4"), 1.0,
                            "negative priority resource got the message")
    await neg.close()
    bob = await srv.client("bob", resource="back")
    await bob.messages.get(theke.body_is("to bare 4"), 10,
                           "stored message for the bare JID")


theke.run(main, users=["alice", "bob"])
