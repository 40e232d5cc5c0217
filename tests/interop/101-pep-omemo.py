#!/usr/bin/python3
"""OMEMO key exchange over PEP, both namespaces, the way Conversations
does it.

alice and bob are contacts; each client announces +notify for the
device list nodes in its entity capabilities. bob publishes his device
list with publish-options access_model=open, then a bundle per device:
for eu.siacs.conversations.axolotl a node per device
(…bundles:<id>, item 'current'), for urn:xmpp:omemo:2 one node with an
item per device id and max_items=max. alice gets the device list
notifications, fetches the bundles, and a bundle that does not exist
answers item-not-found and nothing else. carol, no contact of bob's,
can fetch the open bundles too but gets no notification. A new device
of alice's coming online gets bob's device lists as last items.
"""
import theke
from theke import check
from peplib import (NS, pep_client, publish_ok, items, item_list,
                    only_condition, event_for)

AX = "eu.siacs.conversations.axolotl"
AX_LIST = AX + ".devicelist"
O2 = "urn:xmpp:omemo:2"
O2_DEVICES = O2 + ":devices"
O2_BUNDLES = O2 + ":bundles"
OPEN = [("pubsub#access_model", "open")]


def ax_bundle(dev):
    return ("<bundle xmlns='%s'><signedPreKeyPublic signedPreKeyId='1'>"
            "AAAA%d</signedPreKeyPublic><signedPreKeySignature>BBBB"
            "</signedPreKeySignature><identityKey>CCCC</identityKey>"
            "<prekeys><preKeyPublic preKeyId='1'>DDDD</preKeyPublic>"
            "</prekeys></bundle>" % (AX, dev))


def o2_bundle(dev):
    return ("<bundle xmlns='%s'><spk id='1'>AAAA%d</spk><spks>BBBB</spks>"
            "<ik>CCCC</ik><prekeys><pk id='1'>DDDD</pk></prekeys></bundle>"
            % (O2, dev))


async def main(srv):
    alice, bob = srv.jid("alice"), srv.jid("bob")
    notify = [AX_LIST, O2_DEVICES]
    a = await pep_client(srv, "alice", "phone", notify)
    b = await pep_client(srv, "bob", "laptop", notify)
    c = await pep_client(srv, "carol", "web", notify)
    await theke.befriend(a, b)

    # eu.siacs.conversations.axolotl
    await publish_ok(b, AX_LIST, "current",
                     "<list xmlns='%s'><device id='1111'/></list>" % AX, OPEN)
    m = await a.events.get(event_for(AX_LIST, "current", frm=bob), 10,
                           "alice waiting for bob's device list")
    dev = m.xml.find(".//{%s}device" % AX)
    check(dev is not None and dev.get("id") == "1111",
          "device list notification without the device: %s" % m)
    await b.events.get(event_for(AX_LIST, "current", frm=bob), 10,
                       "bob's own device list notification")
    await publish_ok(b, AX + ".bundles:1111", "current", ax_bundle(1111),
                     OPEN)
    for who in (a, c):
        kind, res = await items(who, bob, AX + ".bundles:1111", max_items=1)
        check(kind == "result", "%s fetching bob's bundle: %s" % (
            who.boundjid, res))
        got = item_list(res)
        check(len(got) == 1 and got[0][0] == "current" and
              got[0][1].tag == "{%s}bundle" % AX, "bundle: %s" % res)
    kind, res = await items(a, bob, AX + ".bundles:2222", max_items=1)
    check(kind == "error", "a missing bundle: %s" % res)
    only_condition(res, "item-not-found")
    kind, res = await items(a, bob, AX_LIST)
    check(kind == "result" and item_list(res)[0][0] == "current",
          "alice fetching the device list: %s" % res)

    # urn:xmpp:omemo:2
    await publish_ok(b, O2_DEVICES, "current",
                     "<devices xmlns='%s'><device id='1111'/><device "
                     "id='3333' label='tablet'/></devices>" % O2,
                     OPEN + [("pubsub#max_items", "max")])
    m = await a.events.get(event_for(O2_DEVICES, "current", frm=bob), 10,
                           "alice waiting for bob's OMEMO 2 devices")
    check(len(m.xml.findall(".//{%s}device" % O2)) == 2,
          "devices notification: %s" % m)
    for dev in (1111, 3333):
        await publish_ok(b, O2_BUNDLES, str(dev), o2_bundle(dev),
                         OPEN + [("pubsub#max_items", "max")])
    kind, res = await items(a, bob, O2_BUNDLES, ids=["3333"])
    got = item_list(res)
    check(kind == "result" and len(got) == 1 and got[0][0] == "3333" and
          got[0][1].tag == "{%s}bundle" % O2, "bundle 3333: %s" % res)
    kind, res = await items(c, bob, O2_BUNDLES)
    check(sorted(i for i, _ in item_list(res)) == ["1111", "3333"],
          "carol reads every bundle: %s" % res)
    kind, res = await items(a, alice, O2_BUNDLES)
    only_condition(res, "item-not-found")

    # carol is no contact: no notifications for her.
    await c.events.none(lambda m: True, 1.0, "carol got bob's events")

    # alice's new device gets bob's latest device lists on login.
    a2 = await pep_client(srv, "alice", "tablet", notify)
    for node in (AX_LIST, O2_DEVICES):
        await a2.events.get(event_for(node, "current", frm=bob), 10,
                            "alice's tablet waiting for bob's %s" % node)


theke.run(main, users=["alice", "bob", "carol"])
