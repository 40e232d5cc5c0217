#!/usr/bin/python3
"""OMEMO keys on nodes another client created with other settings: the
publish-options precondition fails, the client reconfigures the node and
publishes again, as Conversations and Dino do.

bob's first client published his device list without options (so the
node has the default presence access model): carol, who is no contact
of his, cannot read it. His OMEMO client publishes with access_model
open and gets <conflict/> + <precondition-not-met/>; it fetches the
node's configuration form with slixmpp, submits the whole form back
with the access model changed (every field the server showed, as a
client library round-trips it), and the retry succeeds: carol reads
the list, alice (a contact) is notified. The same for a
urn:xmpp:omemo:2 bundles node created with one item: publishing with
max_items=max fails, a form with that field alone fixes it, and every
device's bundle is kept.
"""
import theke
from theke import check
from slixmpp.exceptions import IqError
from peplib import (pep_client, publish, publish_ok, items, item_list,
                    only_condition, event_for)

AX = "eu.siacs.conversations.axolotl"
AX_LIST = AX + ".devicelist"
O2 = "urn:xmpp:omemo:2"
O2_BUNDLES = O2 + ":bundles"
OPEN = [("pubsub#access_model", "open")]


def devices(*ids):
    return "<list xmlns='%s'>%s</list>" % (
        AX, "".join("<device id='%d'/>" % i for i in ids))


def bundle(dev):
    return "<bundle xmlns='%s'><ik>K%d</ik></bundle>" % (O2, dev)


async def reconfigure(c, owner, node, change, whole=True):
    """Submits node's configuration with `change` applied."""
    res = await c["xep_0060"].get_node_config(owner, node, timeout=10)
    got = res["pubsub_owner"]["configure"]["form"]
    form = c["xep_0004"].make_form(ftype="submit")
    form.add_field(var="FORM_TYPE", ftype="hidden",
                   value="http://jabber.org/protocol/pubsub#node_config")
    if whole:
        for var, field in got.get_fields().items():
            if var != "FORM_TYPE" and var not in change:
                form.add_field(var=var, ftype=field["type"],
                               value=field["value"])
    for var, value in change.items():
        form.add_field(var=var, value=value)
    await c["xep_0060"].set_node_config(owner, node, form, timeout=10)


async def main(srv):
    bob = srv.jid("bob")
    a = await pep_client(srv, "alice", "a", [AX_LIST])
    old = await pep_client(srv, "bob", "old")
    b = await pep_client(srv, "bob", "conversations", [AX_LIST])
    c = await pep_client(srv, "carol", "c", [AX_LIST])
    await theke.befriend(a, b)

    await publish_ok(old, AX_LIST, "current", devices(1))
    kind, res = await items(c, bob, AX_LIST)
    only_condition(res, "not-authorized", "presence-subscription-required")

    kind, res = await publish(b, AX_LIST, "current", devices(1, 2), OPEN)
    check(kind == "error", "publish-options on a presence node: %s" % res)
    only_condition(res, "conflict", "precondition-not-met")
    await reconfigure(b, bob, AX_LIST, {"pubsub#access_model": "open"})
    await publish_ok(b, AX_LIST, "current", devices(1, 2), OPEN)
    def two_devices(m):
        return event_for(AX_LIST, "current", frm=bob)(m) and \
            len(m.xml.findall(".//{%s}device" % AX)) == 2
    await a.events.get(two_devices, 10,
                       "alice waiting for bob's new device list")
    kind, res = await items(c, bob, AX_LIST)
    got = item_list(res)
    check(kind == "result" and len(got) == 1 and
          len(got[0][1].findall("{%s}device" % AX)) == 2,
          "carol reading the open device list: %s" % res)
    # The rest of the configuration survived the round trip.
    res = await b["xep_0060"].get_node_config(bob, AX_LIST, timeout=10)
    vals = res["pubsub_owner"]["configure"]["form"].get_values()
    check(vals.get("pubsub#access_model") == "open" and
          str(vals.get("pubsub#max_items")) == "1",
          "configuration after the round trip: %s" % vals)

    await publish_ok(old, O2_BUNDLES, "1", bundle(1), OPEN)
    opts = OPEN + [("pubsub#max_items", "max")]
    kind, res = await publish(b, O2_BUNDLES, "2", bundle(2), opts)
    only_condition(res, "conflict", "precondition-not-met")
    await reconfigure(b, bob, O2_BUNDLES, {"pubsub#max_items": "max"},
                      whole=False)
    for dev in (2, 3):
        await publish_ok(b, O2_BUNDLES, str(dev), bundle(dev), opts)
    kind, res = await items(a, bob, O2_BUNDLES)
    check(sorted(i for i, _ in item_list(res)) == ["1", "2", "3"],
          "bundles after reconfiguring: %s" % res)

    # Only the owner may reconfigure.
    try:
        await a["xep_0060"].get_node_config(bob, AX_LIST, timeout=10)
        check(False, "alice read bob's node configuration")
    except IqError as e:
        check(e.iq["error"]["condition"] == "forbidden",
              "alice reading bob's configuration: %s" %
              e.iq["error"]["condition"])


theke.run(main, users=["alice", "bob", "carol"])
