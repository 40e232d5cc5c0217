#!/usr/bin/python3
"""PEP publish-options and node configuration (XEP-0060 §7.1.5, §8.2).

alice publishes to a new node with publish-options (access_model open,
max_items as a number, persist_items as 'true'): the node is created with
them. A second publish with the same options written differently ('1'
for 'true', 'max' on a node whose max is the server's cap) succeeds;
one with another access model is refused with <conflict/> and
<precondition-not-met/>. alice then reads the node configuration form,
submits the other access model, and the retry succeeds. Items are read
back all, by max_items and by id; retract removes one and notifies;
deleting the node makes it item-not-found (and nothing else). The
account's disco#info (and the domain's) has the pep identity and
publish-options.
"""
import theke
from theke import check
from peplib import (NS, NS_OWNER, NS_DATA, form, publish, publish_ok, items,
                    item_list, only_condition, pep_client, event_for)

NODE = "urn:example:test"


def payload(n):
    return "<v xmlns='urn:example:test'>%d</v>" % n


async def main(srv):
    alice = srv.jid("alice")
    a = await pep_client(srv, "alice", "a1", notify=[NODE])

    kind, res = await a.iq("<query xmlns='http://jabber.org/protocol/"
                           "disco#info'/>", ito=alice)
    check(kind == "result", "disco#info on the bare JID: %s" % res)
    q = res.xml.find("{http://jabber.org/protocol/disco#info}query")
    ids = [(i.get("category"), i.get("type")) for i in q.findall(
        "{http://jabber.org/protocol/disco#info}identity")]
    feats = [f.get("var") for f in q.findall(
        "{http://jabber.org/protocol/disco#info}feature")]
    check(("pubsub", "pep") in ids, "no pubsub/pep identity: %s" % ids)
    check(NS + "#publish-options" in feats, "no publish-options: %s" % feats)
    # The domain says so too, for clients that look there.
    kind, res = await a.iq("<query xmlns='http://jabber.org/protocol/"
                           "disco#info'/>", ito=srv.domain)
    check(kind == "result" and "type=\"pep\"" in str(res) and
          NS + "#publish-options" in str(res),
          "the domain's disco#info without PEP: %s" % res)

    # A missing node: item-not-found and nothing else.
    kind, res = await items(a, alice, NODE)
    check(kind == "error", "items of a missing node: %s" % res)
    only_condition(res, "item-not-found")

    opts = [("pubsub#access_model", "open"), ("pubsub#max_items", "300"),
            ("pubsub#persist_items", "true")]
    await publish_ok(a, NODE, "one", payload(1), opts)
    await a.events.get(event_for(NODE, "one"), 10, "own notification")
    same = [("pubsub#access_model", "open"), ("pubsub#max_items", "max"),
            ("pubsub#persist_items", "1")]
    await publish_ok(a, NODE, "two", payload(2), same)

    kind, res = await publish(a, NODE, "three", payload(3),
                              [("pubsub#access_model", "whitelist")])
    check(kind == "error", "mismatching publish-options accepted: %s" % res)
    only_condition(res, "conflict", "precondition-not-met")

    kind, res = await a.iq("<pubsub xmlns='%s'><configure node='%s'/>"
                           "</pubsub>" % (NS_OWNER, NODE), ito=alice)
    check(kind == "result", "configure get: %s" % res)
    x = res.xml.find("{%s}pubsub/{%s}configure/{%s}x" % (
        NS_OWNER, NS_OWNER, NS_DATA))
    check(x is not None, "no configuration form: %s" % res)
    vals = {f.get("var"): [v.text for v in f.findall("{%s}value" % NS_DATA)]
            for f in x.findall("{%s}field" % NS_DATA)}
    check(vals.get("pubsub#access_model") == ["open"] and
          vals.get("pubsub#max_items") == ["max"],
          "configuration form shows %s" % vals)
    kind, res = await a.iq(
        "<pubsub xmlns='%s'><configure node='%s'>%s</configure></pubsub>" % (
            NS_OWNER, NODE, form([("pubsub#access_model", "whitelist")],
                                 form_type=NS + "#node_config")),
        ito=alice, itype="set")
    check(kind == "result", "configure set: %s" % res)
    await publish_ok(a, NODE, "three", payload(3),
                     [("pubsub#access_model", "whitelist")])
    # Unknown options are taken too, compared literally.
    kind, res = await publish(a, "urn:example:other", "x", payload(0),
                              [("pubsub#title", "Hello")])
    check(kind == "result", "publish with a title: %s" % res)
    kind, res = await publish(a, "urn:example:other", "x", payload(0),
                              [("pubsub#title", "Other")])
    only_condition(res, "conflict", "precondition-not-met")

    kind, res = await items(a, alice, NODE)
    check(kind == "result", "items: %s" % res)
    got = [(i, p.text) for i, p in item_list(res)]
    check(got == [("one", "1"), ("two", "2"), ("three", "3")],
          "items are %s" % got)
    kind, res = await items(a, alice, NODE, max_items=2)
    check([i for i, _ in item_list(res)] == ["two", "three"],
          "max_items=2 gives %s" % item_list(res))
    kind, res = await items(a, alice, NODE, ids=["two", "nope"])
    check([i for i, _ in item_list(res)] == ["two"],
          "by id gives %s" % item_list(res))

    kind, res = await a.iq("<pubsub xmlns='%s'><retract node='%s' "
                           "notify='true'><item id='two'/></retract>"
                           "</pubsub>" % (NS, NODE), ito=alice, itype="set")
    check(kind == "result", "retract: %s" % res)
    await a.events.get(event_for(NODE, "two", kind="retract"), 10,
                       "retract notification")
    kind, res = await items(a, alice, NODE)
    check([i for i, _ in item_list(res)] == ["one", "three"],
          "after retract: %s" % item_list(res))

    # A node keeps max_items items.
    await publish_ok(a, "urn:example:few", "a", payload(1),
                     [("pubsub#max_items", "2")])
    await publish_ok(a, "urn:example:few", "b", payload(2))
    await publish_ok(a, "urn:example:few", "c", payload(3))
    kind, res = await items(a, alice, "urn:example:few")
    check([i for i, _ in item_list(res)] == ["b", "c"],
          "max_items 2 keeps %s" % item_list(res))

    # Bad requests.
    for node in (NODE, "urn:example:big"):
        kind, res = await publish(a, node, "big", "<v xmlns='urn:x'>%s</v>"
                                  % ("x" * 70000))
        only_condition(res, "not-acceptable", "payload-too-big")
    # A refused first publish creates no node.
    kind, res = await items(a, alice, "urn:example:big")
    only_condition(res, "item-not-found")
    kind, res = await publish(a, NODE, "bad", payload(1),
                              [("pubsub#max_items", "lots")])
    only_condition(res, "conflict", "precondition-not-met")

    kind, res = await a.iq("<pubsub xmlns='%s'><delete node='%s'/>"
                           "</pubsub>" % (NS_OWNER, NODE), ito=alice,
                           itype="set")
    check(kind == "result", "delete: %s" % res)
    await a.events.get(event_for(NODE, kind="delete"), 10,
                       "delete notification")
    kind, res = await items(a, alice, NODE)
    only_condition(res, "item-not-found")

    # Items survive a restart.
    await a.close()
    srv.restart()
    a = await pep_client(srv, "alice", "a1")
    kind, res = await items(a, alice, "urn:example:few")
    check([i for i, _ in item_list(res)] == ["b", "c"],
          "after restart: %s" % item_list(res))


theke.run(main, users=["alice"])
