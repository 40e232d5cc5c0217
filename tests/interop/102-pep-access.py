#!/usr/bin/python3
"""PEP access models and notification filtering (XEP-0163 §4, XEP-0060
§4.5).

alice has three nodes: P with the default access model (presence), O
open and W whitelist. bob, her contact, reads P and O but not W
(<not-allowed/> + <closed-node/>); carol, no contact, reads O only
(P gives <not-authorized/> + <presence-subscription-required/>). Only
the owner can publish. Notifications follow both the access model and
+notify in each client's capabilities: bob's client that wants only O
hears of O alone, alice's other device hears of W too. Devices coming
online get the last item of each node they want and may read: alice's
own new device gets W and P, bob's new device P and O.
"""
import theke
from theke import check
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath
from peplib import (pep_client, publish, publish_ok, items, item_list,
                    only_condition, event_for)

P, O, W = "urn:example:p", "urn:example:o", "urn:example:w"
DISCO_INFO = "http://jabber.org/protocol/disco#info"


def payload(n):
    return "<v xmlns='urn:example'>%s</v>" % n


async def main(srv):
    alice = srv.jid("alice")
    a1 = await pep_client(srv, "alice", "a1", [P, O, W])
    a2 = await pep_client(srv, "alice", "a2", [W])
    b1 = await pep_client(srv, "bob", "b1", [O])
    c1 = await pep_client(srv, "carol", "c1", [P, O, W])
    await theke.befriend(a1, b1)

    await publish_ok(a1, P, "p1", payload("p1"))
    await publish_ok(a1, O, "o1", payload("o1"),
                     [("pubsub#access_model", "open")])
    await publish_ok(a1, W, "w1", payload("w1"),
                     [("pubsub#access_model", "whitelist")])

    await b1.events.get(event_for(O, "o1", frm=alice), 10,
                        "bob waiting for O")
    await a2.events.get(event_for(W, "w1", frm=alice), 10,
                        "alice's a2 waiting for W")
    for n, i in ((P, "p1"), (O, "o1"), (W, "w1")):
        await a1.events.get(event_for(n, i, frm=alice), 10,
                            "alice's a1 waiting for %s" % n)

    kind, res = await publish(b1, P, "x", payload("x"), to=alice)
    check(kind == "error", "bob published to alice's node: %s" % res)
    only_condition(res, "forbidden")

    for who, node, ok in ((b1, P, True), (b1, O, True), (b1, W, False),
                          (c1, P, False), (c1, O, True), (c1, W, False),
                          (a2, W, True)):
        kind, res = await items(who, alice, node)
        if ok:
            check(kind == "result" and len(item_list(res)) == 1,
                  "%s reading %s: %s" % (who.boundjid, node, res))
        elif node == W:
            only_condition(res, "not-allowed", "closed-node")
        else:
            only_condition(res, "not-authorized",
                           "presence-subscription-required")

    # disco#items on alice's account lists the nodes each may read.
    for who, want in ((a2, [O, P, W]), (b1, [O, P]), (c1, [O])):
        kind, res = await who.iq("<query xmlns='http://jabber.org/protocol/"
                                 "disco#items'/>", ito=alice)
        got = sorted(i.get("node") for i in res.xml.iter(
            "{http://jabber.org/protocol/disco#items}item"))
        check(kind == "result" and got == sorted(want),
              "%s lists alice's nodes as %s" % (who.boundjid, got))

    # Nothing else reached anyone: bob wants O only, a2 W only, and
    # carol sees no presence of alice's.
    await b1.events.none(lambda m: True, 0.5, "bob's extra events")
    await a2.events.none(lambda m: True, 0.1, "a2's extra events")
    await c1.events.none(lambda m: True, 0.1, "carol's events")

    a3 = await pep_client(srv, "alice", "a3", [W, P])
    b2 = await pep_client(srv, "bob", "b2", [P, O, W])
    for who, node, i in ((a3, W, "w1"), (a3, P, "p1"), (b2, P, "p1"),
                         (b2, O, "o1")):
        m = await who.events.get(event_for(node, i, frm=alice), 10,
                                 "%s waiting for the last item of %s" % (
                                     who.boundjid, node))
        got = item_list(m)
        check(got and got[0][1] is not None and got[0][1].text == i,
              "last item without its payload: %s" % m)
    await b2.events.none(event_for(W), 0.5, "bob's device got W")

    # Capabilities are cached by ver once the answer matched it: a client
    # with a ver seen before is not asked again, one with a new ver is.
    for notify, asked in (([P, O, W], False), ([P, "urn:example:new"], True)):
        a = await pep_client(srv, "alice", None, notify, presence=False)
        queries = theke.Inbox("caps queries")
        a.register_handler(Callback("caps query", MatchXPath(
            "{jabber:client}iq/{%s}query" % DISCO_INFO), queries.put))
        a.send_presence()
        await a.events.get(event_for(P, "p1"), 10,
                           "%s waiting for the last item of P" % a.boundjid)
        if asked:
            await queries.get(lambda iq: iq["from"] == srv.domain, 10,
                              "the server asking for a new ver")
        else:
            check(not queries.take_all(lambda iq: iq["from"] == srv.domain),
                  "the server asked again for a cached ver")

    # A retraction reaches those who may read the node.
    kind, res = await a1.iq(
        "<pubsub xmlns='http://jabber.org/protocol/pubsub'><retract "
        "node='%s'><item id='o1'/></retract></pubsub>" % O, itype="set")
    check(kind == "result", "retract: %s" % res)
    await b2.events.get(event_for(O, "o1", kind="retract"), 10,
                        "bob waiting for the retraction")


theke.run(main, users=["alice", "bob", "carol"])
