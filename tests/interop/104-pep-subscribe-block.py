#!/usr/bin/python3
"""PEP and the roster: a subscription approved while online, and
blocking.

alice and bob are online and not contacts yet; bob has items on an open
node and on one with the default presence access model. alice asks to
see bob's presence and bob approves: alice's client (with +notify for
both) gets the last item of each at once, without logging in again,
and only once. carol is bob's contact and hears of his items until bob
blocks her (XEP-0191): then his notifications skip her, and her
requests for his items are refused.
"""
import theke
from theke import check, presence_is
from peplib import pep_client, publish_ok, items, item_list, event_for

O, P = "urn:example:open", "urn:example:presence"


def payload(n):
    return "<v xmlns='urn:example'>%s</v>" % n


async def main(srv):
    bob = srv.jid("bob")
    a = await pep_client(srv, "alice", "a", [O, P])
    b = await pep_client(srv, "bob", "b", [O, P])
    c = await pep_client(srv, "carol", "c", [O, P])
    await theke.befriend(b, c)
    await publish_ok(b, O, "o1", payload("o1"),
                     [("pubsub#access_model", "open")])
    await publish_ok(b, P, "p1", payload("p1"))
    await c.events.get(event_for(P, "p1", frm=bob), 10,
                       "carol waiting for bob's P")
    await a.events.none(lambda m: True, 0.5, "alice heard of bob's items")

    a.send_presence(pto=bob, ptype="subscribe")
    await b.presences.get(presence_is("subscribe", srv.jid("alice")), 10,
                          "bob waiting for alice's request")
    b.send_presence(pto=srv.jid("alice"), ptype="subscribed")
    for node, i in ((O, "o1"), (P, "p1")):
        await a.events.get(event_for(node, i, frm=bob), 10,
                           "alice waiting for bob's last %s" % node)
    # bob's next presence does not send them again.
    b.send_presence(pstatus="busy")
    await a.presences.get(lambda p: p["status"] == "busy", 10,
                          "alice waiting for bob's new status")
    await a.events.none(lambda m: True, 0.5, "alice got last items twice")

    kind, res = await b.iq("<block xmlns='urn:xmpp:blocking'><item jid='%s'/>"
                           "</block>" % srv.jid("carol"), itype="set")
    check(kind == "result", "block: %s" % res)
    await publish_ok(b, P, "p2", payload("p2"))
    await a.events.get(event_for(P, "p2", frm=bob), 10,
                       "alice waiting for bob's p2")
    await c.events.none(event_for(P, "p2"), 0.5, "carol, blocked, got p2")
    kind, res = await items(c, bob, O)
    check(kind == "error", "blocked carol read bob's open node: %s" % res)
    kind, res = await items(a, bob, P)
    check(kind == "result" and [i for i, _ in item_list(res)] == ["p2"],
          "alice reading P: %s" % res)


theke.run(main, users=["alice", "bob", "carol"])
