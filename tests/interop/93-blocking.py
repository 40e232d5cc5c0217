#!/usr/bin/python3
"""Blocking command (XEP-0191).

alice (two resources, both having fetched the list) blocks bob, a
subscribed contact: both resources get the push, bob sees alice go
unavailable; bob's messages and iq requests are refused with
<service-unavailable/>, his presence is dropped; alice's own messages to
bob are refused with <not-acceptable/> and <blocked/>, her presence
broadcasts skip him; carol is unaffected. Full-JID and domain entries
match as XEP-0016 says. Unblocking pushes, gives bob alice's presence
again, and an empty <unblock/> clears the list. The list survives a
restart and is advertised on the server's disco#info.
"""
import xml.etree.ElementTree as ET

import theke
from theke import check, presence_is
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS = "urn:xmpp:blocking"


def watch_pushes(c):
    box = theke.Inbox("blocking pushes")
    for kind in ("block", "unblock"):
        c.register_handler(Callback(
            "blocking %s push" % kind,
            MatchXPath("{jabber:client}iq/{%s}%s" % (NS, kind)), box.put))
    return box


def push_is(kind, jids):
    def pred(iq):
        el = iq.xml.find("{%s}%s" % (NS, kind))
        return iq["type"] == "set" and el is not None and sorted(
            i.get("jid") for i in el.findall("{%s}item" % NS)) == \
            sorted(jids)
    return pred


async def blocklist(c):
    kind, res = await c.iq("<blocklist xmlns='%s'/>" % NS)
    check(kind == "result", "blocklist get: %s" % res)
    return sorted(i.get("jid") for i in res.xml.iter("{%s}item" % NS))


async def refused(sender, to, body, condition):
    sender.chat(to, body)
    e = await sender.errors.get(lambda m: m["error"]["condition"] ==
                                condition, 10,
                                "%s waiting for <%s/> for %r" % (
                                    sender.boundjid, condition, body))
    return e


async def main(srv):
    a1 = await srv.client("alice", resource="a1")
    a2 = await srv.client("alice", resource="a2")
    bob = await srv.client("bob", resource="b")
    carol = await srv.client("carol", resource="c")
    await theke.befriend(a1, bob)
    alice = srv.jid("alice")

    kind, res = await carol.iq("<query xmlns='http://jabber.org/protocol/"
                               "disco#info'/>", ito=srv.domain)
    check(NS in [f.get("var") for f in res.xml.iter(
        "{http://jabber.org/protocol/disco#info}feature")],
        "no %s on the server: %s" % (NS, res))

    p1, p2 = watch_pushes(a1), watch_pushes(a2)
    a1.register_plugin("xep_0191")
    lst = await a1["xep_0191"].get_blocked()
    check(list(lst["blocklist"]["items"]) == [], "list not empty: %s" % lst)
    check(await blocklist(a2) == [], "a2's list not empty")

    bob.presences.take_all()
    await a1["xep_0191"].block([srv.jid("bob")])
    for box, who in ((p1, "a1"), (p2, "a2")):
        await box.get(push_is("block", [srv.jid("bob")]), 10,
                      "%s waiting for the block push" % who)
    for r in (a1, a2):
        await bob.presences.get(presence_is("unavailable", r.boundjid), 10,
                                "bob waiting for %s to go away" % r.boundjid)
    check(await blocklist(a2) == [srv.jid("bob")], "list after block")

    # bob cannot reach alice.
    await refused(bob, alice, "blocked msg", "service-unavailable")
    await refused(bob, str(a1.boundjid), "blocked full", "service-unavailable")
    kind, res = await bob.iq("<query xmlns='jabber:iq:version'/>",
                             ito=str(a1.boundjid))
    check(kind == "error" and
          res["error"]["condition"] == "service-unavailable",
          "bob's iq to alice: %s" % res)
    a1.presences.take_all()
    bob.presences.take_all()
    bob.send_presence(pto=str(a1.boundjid), pstatus="hello?")
    bob.send_presence(pto=alice, ptype="subscribe")
    await a1.messages.none(theke.from_is(srv.jid("bob")), 0.5,
                           "alice got bob's messages")
    await a1.presences.none(theke.from_is(srv.jid("bob")), 0.1,
                            "alice got bob's presence")

    # alice cannot reach bob, and her broadcasts skip him.
    e = await refused(a1, str(bob.boundjid), "to bob", "not-acceptable")
    check(e.xml.find("{jabber:client}error/{%s:errors}blocked" % NS)
          is not None, "no <blocked/> in %s" % e)
    a2.send_presence(pstatus="busy")
    await a1.presences.get(lambda p: p["status"] == "busy", 10,
                           "a1 waiting for a2's own presence")
    await bob.presences.none(theke.from_is(alice), 0.5,
                             "bob got alice's presence while blocked")
    await bob.messages.none(theke.from_is(alice), 0.1, "bob got a message")
    # carol is not blocked.
    carol.chat(str(a1.boundjid), "from carol")
    await a1.messages.get(theke.body_is("from carol"), 10)

    # Unblock: pushes, and bob sees alice again.
    await a1["xep_0191"].unblock([srv.jid("bob")])
    await p2.get(push_is("unblock", [srv.jid("bob")]), 10,
                 "a2 waiting for the unblock push")
    await bob.presences.get(presence_is("available", a2.boundjid), 10,
                            "bob waiting for alice's presence")
    bob.chat(str(a1.boundjid), "back")
    await a1.messages.get(theke.body_is("back"), 10)

    # A full JID entry blocks that resource only; a domain entry all.
    await a1["xep_0191"].block([srv.jid("bob") + "/other"])
    bob.chat(str(a1.boundjid), "other resource blocked only")
    await a1.messages.get(theke.body_is("other resource blocked only"), 10)
    await a1["xep_0191"].block([srv.domain])
    await refused(carol, str(a1.boundjid), "domain", "service-unavailable")
    a2.chat(str(a1.boundjid), "own resource")
    await a1.messages.get(theke.body_is("own resource"), 10)
    check(await blocklist(a1) == sorted([srv.domain,
                                         srv.jid("bob") + "/other"]),
          "list: %s" % await blocklist(a1))

    # Survives a restart.
    srv.restart()
    a1 = await srv.client("alice", resource="a1")
    check(await blocklist(a1) == sorted([srv.domain,
                                         srv.jid("bob") + "/other"]),
          "list after restart")
    p1 = watch_pushes(a1)
    # An empty unblock clears everything.
    kind, res = await a1.iq("<unblock xmlns='%s'/>" % NS, itype="set")
    check(kind == "result", "unblock all: %s" % res)
    await p1.get(push_is("unblock", []), 10, "push of unblock-all")
    check(await blocklist(a1) == [], "list after unblock all")
    carol = await srv.client("carol", resource="c2")
    carol.chat(str(a1.boundjid), "after all")
    await a1.messages.get(theke.body_is("after all"), 10)

    # A peer that only had directed presence sees alice go too.
    a1.send_presence(pto=str(carol.boundjid), pstatus="just for carol")
    await carol.presences.get(lambda p: p["status"] == "just for carol", 10,
                              "carol waiting for alice's directed presence")
    kind, res = await a1.iq("<block xmlns='%s'><item jid='%s'/></block>" %
                            (NS, srv.jid("carol")), itype="set")
    check(kind == "result", "block carol: %s" % res)
    await carol.presences.get(presence_is("unavailable", a1.boundjid), 10,
                              "carol waiting for alice to go away")
    kind, res = await a1.iq("<unblock xmlns='%s'/>" % NS, itype="set")
    check(kind == "result", "unblock all: %s" % res)

    # Bad requests.
    for bad, cond in (("<block xmlns='%s'/>" % NS, "bad-request"),
                      ("<block xmlns='%s'><item jid='@@'/></block>" % NS,
                       "jid-malformed")):
        kind, res = await a1.iq(bad, itype="set")
        check(kind == "error" and res["error"]["condition"] == cond,
              "%s answered %s" % (bad, res))
    kind, res = await carol.iq("<blocklist xmlns='%s'/>" % NS, ito=alice)
    check(kind == "error" and res["error"]["condition"] == "forbidden",
          "carol read alice's list: %s" % res)


theke.run(main, users=["alice", "bob", "carol"])
