#!/usr/bin/python3
"""PEP Native Bookmarks and the private-storage bookmarks of older
clients, kept in step (XEP-0402 §5.3, urn:xmpp:bookmarks:1#compat).

alice's new client (Conversations or Gajim: +notify for
urn:xmpp:bookmarks:1) and her old client (storage:bookmarks over
jabber:iq:private, XEP-0048) share her rooms. The account announces the
#compat feature. The old client stores two rooms and a URL: the new
client is notified of both rooms and reads them as items, with name,
autojoin, nick and password. The new client adds a room with an
extension: the old client's get lists three rooms and the URL. The old
client stores the list without one room: the new client is told of the
retraction, and the room it added keeps its extension. bob, a contact,
reads none of it.
"""
import theke
from theke import check
from peplib import (pep_client, publish_ok, items, item_list,
                    only_condition, event_for)

BM = "urn:xmpp:bookmarks:1"
LEG = "storage:bookmarks"
PRIV = "jabber:iq:private"


def storage(rooms, url=True):
    out = ["<query xmlns='%s'><storage xmlns='%s'>" % (PRIV, LEG)]
    for jid, name, autojoin, nick, pw in rooms:
        out.append("<conference jid='%s' name='%s' autojoin='%s'>" % (
            jid, name, autojoin))
        if nick:
            out.append("<nick>%s</nick>" % nick)
        if pw:
            out.append("<password>%s</password>" % pw)
        out.append("</conference>")
    if url:
        out.append("<url name='Shop' url='https://shop.example/'/>")
    out.append("</storage></query>")
    return "".join(out)


async def legacy_rooms(c):
    kind, res = await c.iq("<query xmlns='%s'><storage xmlns='%s'/></query>"
                           % (PRIV, LEG))
    check(kind == "result", "private storage get: %s" % res)
    st = res.xml.find("{%s}query/{%s}storage" % (PRIV, LEG))
    rooms = {}
    for c in st.findall("{%s}conference" % LEG):
        nick = c.find("{%s}nick" % LEG)
        rooms[c.get("jid")] = (c.get("name"), c.get("autojoin"),
                               nick.text if nick is not None else None)
    urls = [u.get("url") for u in st.findall("{%s}url" % LEG)]
    return rooms, urls


async def main(srv):
    alice = srv.jid("alice")
    new = await pep_client(srv, "alice", "new", [BM])
    old = await srv.client("alice", resource="old")
    b = await pep_client(srv, "bob", "b", [BM])
    await theke.befriend(new, b)

    kind, res = await new.iq("<query xmlns='http://jabber.org/protocol/"
                             "disco#info'/>", ito=alice)
    check(BM + "#compat" in str(res), "no %s#compat: %s" % (BM, res))

    rooms = [("one@muc.example", "One", "true", "al", "secret"),
             ("two@muc.example", "Two", "false", None, None)]
    kind, res = await old.iq(storage(rooms), itype="set")
    check(kind == "result", "private storage set: %s" % res)
    for jid in ("one@muc.example", "two@muc.example"):
        await new.events.get(event_for(BM, jid, frm=alice), 10,
                             "new client waiting for %s" % jid)
    kind, res = await items(new, alice, BM)
    got = dict(item_list(res))
    check(kind == "result" and sorted(got) == ["one@muc.example",
                                               "two@muc.example"],
          "bookmark items: %s" % res)
    one = got["one@muc.example"]
    check(one.get("name") == "One" and one.get("autojoin") == "true" and
          one.find("{%s}nick" % BM).text == "al" and
          one.find("{%s}password" % BM).text == "secret",
          "room one as an item: %s" % res)
    kind, res = await new.iq("<pubsub xmlns='http://jabber.org/protocol/"
                             "pubsub#owner'><configure node='%s'/></pubsub>"
                             % BM, ito=alice)
    check("<value>whitelist</value>" in str(res),
          "the node is not whitelist: %s" % res)

    await publish_ok(new, BM, "three@muc.example",
                     "<conference xmlns='%s' name='Three' autojoin='true'>"
                     "<nick>al</nick><extensions><state xmlns='urn:example'"
                     "/></extensions></conference>" % BM,
                     [("pubsub#persist_items", "true"),
                      ("pubsub#access_model", "whitelist"),
                      ("pubsub#max_items", "max"),
                      ("pubsub#send_last_published_item", "never")])
    lrooms, urls = await legacy_rooms(old)
    check(sorted(lrooms) == ["one@muc.example", "three@muc.example",
                             "two@muc.example"] and
          lrooms["three@muc.example"] == ("Three", "true", "al") and
          urls == ["https://shop.example/"],
          "old client's bookmarks: %s %s" % (lrooms, urls))

    kind, res = await old.iq(storage(
        [("one@muc.example", "One", "true", "al", "secret"),
         ("three@muc.example", "Three", "true", "al", None)]), itype="set")
    check(kind == "result", "private storage set: %s" % res)
    await new.events.get(event_for(BM, "two@muc.example", kind="retract"),
                         10, "new client waiting for the retraction")
    kind, res = await items(new, alice, BM)
    got = dict(item_list(res))
    check(sorted(got) == ["one@muc.example", "three@muc.example"],
          "items after the old client's set: %s" % res)
    check(got["three@muc.example"].find(
        "{%s}extensions/{urn:example}state" % BM) is not None,
        "the extension was lost: %s" % res)

    kind, res = await items(b, alice, BM)
    only_condition(res, "not-allowed", "closed-node")
    await b.events.none(lambda m: True, 0.3, "bob heard of alice's rooms")


theke.run(main, users=["alice", "bob"])
