#!/usr/bin/python3
"""vCard4 over PEP (XEP-0292): a profile on the urn:xmpp:vcard4 node.

alice publishes her vCard4 (item 'current', the default presence access
model): bob, her contact with +notify for the node, is notified with the
whole vCard and reads it back; carol, no contact, may not read it
(<not-authorized/> + <presence-subscription-required/>). A new version
replaces the old one (max_items 1), and bob's next device gets it as the
last item when it comes online.
"""
import theke
from theke import check
from peplib import (pep_client, publish_ok, items, item_list,
                    only_condition, event_for)

NODE = "urn:xmpp:vcard4"
NS = "urn:ietf:params:xml:ns:vcard-4.0"


def vcard(fn, note):
    return ("<vcard xmlns='%s'><fn><text>%s</text></fn><note><text>%s"
            "</text></note><impp><uri>xmpp:alice@localhost</uri></impp>"
            "</vcard>" % (NS, fn, note))


async def main(srv):
    alice = srv.jid("alice")
    a = await pep_client(srv, "alice", "a", [NODE])
    b = await pep_client(srv, "bob", "b", [NODE])
    c = await pep_client(srv, "carol", "c", [NODE])
    await theke.befriend(a, b)

    await publish_ok(a, NODE, "current", vcard("Alice's Bakery", "v1"))
    m = await b.events.get(event_for(NODE, "current", frm=alice), 10,
                           "bob waiting for alice's vCard4")
    fn = m.xml.find(".//{%s}fn/{%s}text" % (NS, NS))
    check(fn is not None and fn.text == "Alice's Bakery",
          "vCard4 notification without the card: %s" % m)
    kind, res = await items(c, alice, NODE)
    only_condition(res, "not-authorized", "presence-subscription-required")
    await c.events.none(lambda m: True, 0.3, "carol was notified")

    await publish_ok(a, NODE, "current", vcard("Alice's Bakery", "v2"))
    kind, res = await items(b, alice, NODE)
    got = item_list(res)
    note = got[0][1].find("{%s}note/{%s}text" % (NS, NS)) if got else None
    check(kind == "result" and len(got) == 1 and note is not None and
          note.text == "v2", "bob reading the vCard4: %s" % res)

    b2 = await pep_client(srv, "bob", "b2", [NODE])
    m = await b2.events.get(event_for(NODE, "current", frm=alice), 10,
                            "bob's new device waiting for the vCard4")
    check("v2" in str(m), "last item is not the newest: %s" % m)


theke.run(main, users=["alice", "bob", "carol"])
