#!/usr/bin/python3
"""XEP-0280 with slixmpp, one account on three resources (phone and
laptop with carbons on, the laptop at priority -1; a tablet without):
urn:xmpp:carbons:2 is on the server's disco#info; a chat message to the
phone is copied to the laptop as <received/>, one to the bare JID to the
laptop only (phone and tablet get it themselves); what the phone sends
is copied to the laptop as <sent/>; the tablet never gets copies;
<private/> messages, errors and groupchat are not copied either way;
after <disable/> the laptop gets nothing."""
import xml.etree.ElementTree as ET

import theke
from theke import check, Inbox

NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"


def forwarded(msg, kind):
    """The message inside a <received/> or <sent/> carbon."""
    return msg.xml.find("{%s}%s/{%s}forwarded/{jabber:client}message" % (
        NS_CARBONS, kind, NS_FORWARD))


def body_of(el):
    b = el.find("{jabber:client}body") if el is not None else None
    return b.text if b is not None else None


async def carbon_client(srv, resource, priority=None, carbons=True):
    c = theke.Client(srv, "%s/%s" % (srv.jid("bob"), resource),
                     srv.users["bob"])
    c.register_plugin("xep_0280")
    c.copies = Inbox("carbons")
    c.add_event_handler("carbon_received", lambda m: c.copies.put(
        ("received", m)))
    c.add_event_handler("carbon_sent", lambda m: c.copies.put(("sent", m)))
    await c.login()
    await c.get_roster(timeout=10)
    if priority is None:
        c.send_presence()
    else:
        c.send_presence(ppriority=priority)
    if carbons:
        await c.plugin["xep_0280"].enable(timeout=10)
    return c


async def expect_copy(c, kind, body, frm, to, what):
    k, m = await c.copies.get(lambda x: x[0] == kind and
                              body_of(forwarded(x[1], kind)) == body,
                              10, what)
    check(m["from"] == c.boundjid.bare, "carbon from %s" % m["from"])
    inner = forwarded(m, kind)
    check(inner.get("from") == frm and inner.get("to") == to,
          "forwarded message from=%s to=%s, wanted %s -> %s" % (
              inner.get("from"), inner.get("to"), frm, to))


async def main(srv):
    alice = await srv.client("alice", resource="a")
    phone = await carbon_client(srv, "phone")
    laptop = await carbon_client(srv, "laptop", priority=-1)
    tablet = await carbon_client(srv, "tablet", carbons=False)
    bob_bare = srv.jid("bob")

    typ, res = await phone.iq("<query xmlns='http://jabber.org/protocol/"
                              "disco#info'/>", ito=srv.domain)
    check(typ == "result" and
          res.xml.find(".//{http://jabber.org/protocol/disco#info}"
                       "feature[@var='%s']" % NS_CARBONS) is not None,
          "no %s on the server's disco#info" % NS_CARBONS)

    # Received: to one resource, and to the bare JID.
    alice.chat(phone.boundjid.full, "to the phone")
    await phone.messages.get(theke.body_is("to the phone"), 10, "original")
    await expect_copy(laptop, "received", "to the phone",
                      str(alice.boundjid), str(phone.boundjid),
                      "laptop's received carbon")
    alice.chat(bob_bare, "to bob")
    await phone.messages.get(theke.body_is("to bob"), 10, "phone, bare")
    await tablet.messages.get(theke.body_is("to bob"), 10, "tablet, bare")
    await expect_copy(laptop, "received", "to bob", str(alice.boundjid),
                      bob_bare, "laptop's carbon of a message to the bare "
                      "JID it did not get itself")

    # Sent.
    phone.chat(alice.boundjid.full, "from the phone")
    await alice.messages.get(theke.body_is("from the phone"), 10, "alice")
    await expect_copy(laptop, "sent", "from the phone", str(phone.boundjid),
                      str(alice.boundjid), "laptop's sent carbon")

    # Not copied: private, error, groupchat.
    m = phone.make_message(alice.boundjid.full, "private out", mtype="chat")
    m.append(ET.Element("{%s}private" % NS_CARBONS))
    m.append(ET.Element("{urn:xmpp:hints}no-copy"))
    m.send()
    await alice.messages.get(theke.body_is("private out"), 10, "private")
    m = alice.make_message(phone.boundjid.full, "private in", mtype="chat")
    m.append(ET.Element("{%s}private" % NS_CARBONS))
    m.send()
    await phone.messages.get(theke.body_is("private in"), 10, "private in")
    alice.chat(phone.boundjid.full, "group", mtype="groupchat")
    await phone.messages.get(theke.body_is("group"), 10, "groupchat")
    alice.send_message(mto=phone.boundjid.full, mbody="oops", mtype="error")
    await alice.ping_server()
    await phone.ping_server()
    await laptop.ping_server()
    await laptop.copies.none(wait=0.5, what="copies of private, groupchat "
                             "or error messages")
    await tablet.copies.none(wait=0.1, what="copies without carbons on")
    check(not tablet.messages.take_all(lambda m: forwarded(m, "received")
                                       is not None or
                                       forwarded(m, "sent") is not None),
          "the tablet got carbons it never enabled")

    # Disabled: nothing more.
    await laptop.plugin["xep_0280"].disable(timeout=10)
    alice.chat(phone.boundjid.full, "after disable")
    await phone.messages.get(theke.body_is("after disable"), 10, "original")
    phone.chat(alice.boundjid.full, "sent after disable")
    await alice.messages.get(theke.body_is("sent after disable"), 10, "out")
    await laptop.ping_server()
    await laptop.copies.none(wait=0.5, what="copies after disable")


theke.run(main, users=["alice", "bob"])
