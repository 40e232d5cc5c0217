#!/usr/bin/python3
"""Roster set and remove are pushed to every interested resource.

RFC 6121 §2.1.5-2.1.6 and §2.5: a roster set is answered with a result
and pushed to all of the user's resources that requested the roster,
including the one that made the change; a remove is pushed with
subscription='remove'; a roster get afterwards shows the change.
"""
import theke
from theke import check, fetch_roster, push_for


async def main(srv):
    a1 = await srv.client("alice", resource="one")
    a2 = await srv.client("alice", resource="two")
    bob = srv.jid("bob")

    kind, res = await a1.iq("<query xmlns='jabber:iq:roster'>"
                            "<item jid='%s' name='Bob B.'><group>Friends"
                            "</group><group>Work</group></item></query>" %
                            bob, itype="set")
    check(kind == "result", "roster set answered with %s" % res)
    for c in (a1, a2):
        item = await push_for(c, bob, timeout=10)
        check(item.get("name") == "Bob B." and
              item["groups"] == ["Friends", "Work"] and
              item["subscription"] == "none" and "ask" not in item,
              "push to %s: %s" % (c.boundjid, item))

    items = await fetch_roster(a2)
    check(bob in items and items[bob]["name"] == "Bob B." and
          items[bob]["groups"] == ["Friends", "Work"],
          "roster get after set: %s" % items)

    # Update: new name, one group.
    kind, res = await a2.iq("<query xmlns='jabber:iq:roster'>"
                            "<item jid='%s' name='Robert'><group>Work"
                            "</group></item></query>" % bob, itype="set")
    check(kind == "result", "roster update answered with %s" % res)
    for c in (a1, a2):
        item = await push_for(c, bob, lambda i: i.get("name") == "Robert")
        check(item["groups"] == ["Work"], "update push: %s" % item)

    kind, res = await a1.iq("<query xmlns='jabber:iq:roster'>"
                            "<item jid='%s' subscription='remove'/></query>"
                            % bob, itype="set")
    check(kind == "result", "roster remove answered with %s" % res)
    for c in (a1, a2):
        await push_for(c, bob, lambda i: i["subscription"] == "remove")
    items = await fetch_roster(a1)
    check(bob not in items, "roster still has %s after remove: %s" % (
        bob, items))

    # Removing an item that is not there: item-not-found (§2.5.3).
    kind, res = await a1.iq("<query xmlns='jabber:iq:roster'>"
                            "<item jid='nobody@%s' subscription='remove'/>"
                            "</query>" % srv.domain, itype="set")
    check(kind == "error" and res["error"]["condition"] == "item-not-found",
          "removing an absent item: %s" % res)

    # A roster set with two items is refused with bad-request (§2.3.3).
    kind, res = await a1.iq("<query xmlns='jabber:iq:roster'>"
                            "<item jid='x@%s'/><item jid='y@%s'/></query>"
                            % (srv.domain, srv.domain), itype="set")
    check(kind == "error" and res["error"]["condition"] == "bad-request",
          "roster set with two items: %s" % res)
    items = await fetch_roster(a1)
    check(items == {}, "roster not empty at the end: %s" % items)


theke.run(main, users=["alice", "bob"])
