#!/usr/bin/python3
"""XEP-0352 with slixmpp: csi is offered after login; while a client is
inactive it gets messages with a body at once (carbons too), no presence
updates and no chat-state-only messages (nor carbons of them); subscription requests still flow; when it
is active again it gets the latest presence of each contact, once, and
later updates flow normally again."""
import xml.etree.ElementTree as ET

import theke
from theke import check, befriend

NS_CHATSTATES = "http://jabber.org/protocol/chatstates"


def from_alice(srv):
    return lambda p: p["from"].bare == srv.jid("alice")


async def main(srv):
    alice = await srv.client("alice", resource="a")
    alice2 = await srv.client("alice", resource="b")
    bob = theke.Client(srv, srv.jid("bob") + "/phone", srv.users["bob"])
    bob.register_plugin("xep_0352")
    bob.register_plugin("xep_0280")
    bob.copies = theke.Inbox("carbons")
    bob.add_event_handler("carbon_sent", bob.copies.put)
    await bob.login()
    check(bob.plugin["xep_0352"].enabled,
          "no <csi xmlns='urn:xmpp:csi:0'/> in the stream features")
    await bob.get_roster(timeout=10)
    bob.send_presence()
    await befriend(alice, bob)
    await bob.plugin["xep_0280"].enable(timeout=10)
    bob_desk = await srv.client("bob", resource="desk")
    await bob.ping_server()
    bob.presences.take_all()

    bob.plugin["xep_0352"].send_inactive()
    await bob.ping_server()         # inactive is in effect
    for status in ("one", "two", "three"):
        alice.send_presence(pstatus=status)
    alice2.send_presence(pstatus="other resource")
    m = alice.make_message(bob.boundjid.full, mtype="chat")
    m.append(ET.Element("{%s}composing" % NS_CHATSTATES))
    m.send()
    alice.chat(bob.boundjid.full, "hello while inactive")
    await bob.messages.get(theke.body_is("hello while inactive"), 10,
                           "a message with a body while inactive")
    # Carbons of bob's other resource: the chat state is dropped, the
    # message comes.
    m = bob_desk.make_message(alice.boundjid.bare, mtype="chat")
    m.append(ET.Element("{%s}composing" % NS_CHATSTATES))
    m.send()
    bob_desk.chat(alice.boundjid.bare, "from the desk")
    c = await bob.copies.get(lambda m: m["carbon_sent"]["body"] != "", 10,
                             "the carbon of a message while inactive")
    check(c["carbon_sent"]["body"] == "from the desk",
          "the chat state's carbon came first: %s" % c)
    carol = await srv.client("carol", resource="c")
    carol.send_presence(pto=bob.boundjid.bare, ptype="subscribe")
    await bob.presences.get(theke.presence_is("subscribe", carol.boundjid.bare),
                            10, "a subscription request while inactive")
    await bob.ping_server()
    await bob.presences.none(from_alice(srv), wait=0.5,
                             what="presence updates while inactive")
    await bob.messages.none(lambda m: m["body"] == "", wait=0.1,
                            what="chat states while inactive")
    await bob.copies.none(wait=0.1, what="a chat state's carbon while inactive")

    bob.plugin["xep_0352"].send_active()
    p = await bob.presences.get(
        lambda p: str(p["from"]) == str(alice.boundjid), 10,
        "alice's presence once active again")
    check(p["status"] == "three",
          "held presence is %r, not the latest ('three')" % p["status"])
    await bob.presences.get(
        lambda p: str(p["from"]) == str(alice2.boundjid), 10,
        "the other resource's presence once active again")
    await bob.ping_server()
    await bob.presences.none(from_alice(srv), wait=0.5,
                             what="older presences after the latest")
    await bob.messages.none(lambda m: m["body"] == "", wait=0.1,
                            what="a chat state held and sent later")

    # Active: updates flow again as they come.
    alice.send_presence(pstatus="four")
    p = await bob.presences.get(from_alice(srv), 10, "presence when active")
    check(p["status"] == "four", "status %r" % p["status"])


theke.run(main, users=["alice", "bob", "carol"])
