#!/usr/bin/python3
"""What clients build on PEP: private storage (XEP-0223), bookmarks
(XEP-0402) and avatars (XEP-0084).

Private storage: a node published with publish-options
persist_items=true and access_model=whitelist keeps its items for the
owner alone (bob, a contact, gets <not-allowed/> + <closed-node/>).
Bookmarks: one item per room on urn:xmpp:bookmarks:1 with the options
XEP-0402 gives (max_items=max, send_last_published_item=never): the
owner's other device is notified of additions and retractions, reads
them all, and a device coming online gets no last item (never); bob
hears nothing. Avatars: the image on urn:xmpp:avatar:data, then the
metadata; bob, a contact with +notify for the metadata, is notified,
fetches the data by the id the metadata names and gets the same bytes.
"""
import base64
import hashlib

import theke
from theke import check
from peplib import (pep_client, publish_ok, items, item_list,
                    only_condition, event_for)

BM = "urn:xmpp:bookmarks:1"
AV_DATA = "urn:xmpp:avatar:data"
AV_META = "urn:xmpp:avatar:metadata"
PRIVATE = [("pubsub#persist_items", "true"),
           ("pubsub#access_model", "whitelist")]
BM_OPTS = PRIVATE + [("pubsub#max_items", "max"),
                     ("pubsub#send_last_published_item", "never")]


def conference(name):
    return ("<conference xmlns='%s' name='%s' autojoin='true'><nick>al"
            "</nick></conference>" % (BM, name))


async def main(srv):
    alice = srv.jid("alice")
    a1 = await pep_client(srv, "alice", "a1", [BM])
    a2 = await pep_client(srv, "alice", "a2", [BM])
    b1 = await pep_client(srv, "bob", "b1", [BM, AV_META])
    await theke.befriend(a1, b1)

    # XEP-0223
    await publish_ok(a1, "storage:bookmarks", "current",
                     "<storage xmlns='storage:bookmarks'/>", PRIVATE)
    await publish_ok(a1, "storage:bookmarks", "current",
                     "<storage xmlns='storage:bookmarks'><conference "
                     "jid='r@muc.example'/></storage>", PRIVATE)
    kind, res = await items(a2, alice, "storage:bookmarks")
    got = item_list(res)
    check(kind == "result" and len(got) == 1 and
          len(list(got[0][1])) == 1, "private storage reads %s" % res)
    kind, res = await items(b1, alice, "storage:bookmarks")
    only_condition(res, "not-allowed", "closed-node")

    # XEP-0402
    for room in ("one@muc.example", "two@muc.example"):
        await publish_ok(a1, BM, room, conference(room), BM_OPTS)
        m = await a2.events.get(event_for(BM, room, frm=alice), 10,
                                "a2 waiting for bookmark %s" % room)
        check(m.xml.find(".//{%s}conference" % BM) is not None,
              "bookmark notification without the conference: %s" % m)
    kind, res = await items(a2, alice, BM)
    check(sorted(i for i, _ in item_list(res)) ==
          ["one@muc.example", "two@muc.example"], "bookmarks: %s" % res)
    kind, res = await a1.iq(
        "<pubsub xmlns='http://jabber.org/protocol/pubsub'><retract "
        "node='%s' notify='true'><item id='one@muc.example'/></retract>"
        "</pubsub>" % BM, itype="set")
    check(kind == "result", "retract bookmark: %s" % res)
    await a2.events.get(event_for(BM, "one@muc.example", kind="retract"),
                        10, "a2 waiting for the bookmark retraction")
    kind, res = await items(b1, alice, BM)
    only_condition(res, "not-allowed", "closed-node")
    a3 = await pep_client(srv, "alice", "a3", [BM])

    # XEP-0084
    image = bytes(range(256)) * 40
    sha = hashlib.sha1(image).hexdigest()
    await publish_ok(a1, AV_DATA, sha, "<data xmlns='%s'>%s</data>" % (
        AV_DATA, base64.b64encode(image).decode()))
    await publish_ok(a1, AV_META, sha,
                     "<metadata xmlns='%s'><info bytes='%d' id='%s' "
                     "height='64' width='64' type='image/png'/></metadata>"
                     % (AV_META, len(image), sha))
    m = await b1.events.get(event_for(AV_META, sha, frm=alice), 10,
                            "bob waiting for alice's avatar metadata")
    info = m.xml.find(".//{%s}info" % AV_META)
    check(info is not None and info.get("id") == sha,
          "metadata notification: %s" % m)
    kind, res = await items(b1, alice, AV_DATA, ids=[info.get("id")])
    got = item_list(res)
    check(kind == "result" and len(got) == 1, "avatar data: %s" % res)
    check(base64.b64decode(got[0][1].text) == image,
          "avatar data differs from what was published")

    await a3.events.none(event_for(BM), 0.5, "a3 got a last bookmark")
    await b1.events.none(event_for(BM), 0.1, "bob got alice's bookmarks")


theke.run(main, users=["alice", "bob"])
