#!/usr/bin/python3
"""The subscription handshake both ways ends in subscription='both'.

RFC 6121 §3.1: subscribe is stamped with the bare from and delivered to
the contact; the user's roster is pushed with ask='subscribe'; subscribed
moves the user to 'to' and the contact to 'from', and the contact's
current presence is sent to the user; the reverse direction ends in
'both' on both sides.
"""
import theke
from theke import check, fetch_roster, presence_is, push_for, sub_is


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob = await srv.client("bob", resource="b")
    A, B = srv.jid("alice"), srv.jid("bob")

    alice.send_presence(pto=B, ptype="subscribe")
    item = await push_for(alice, B, timeout=10)
    check(item["subscription"] == "none" and item.get("ask") == "subscribe",
          "alice's push after subscribe: %s" % item)
    p = await bob.presences.get(presence_is("subscribe", A), 10,
                                "bob waiting for subscribe")
    check(str(p["from"]) == A, "subscribe from %s, wanted the bare %s" % (
        p["from"], A))

    bob.send_presence(pto=A, ptype="subscribed")
    item = await push_for(bob, A, timeout=10)
    check(item["subscription"] == "from" and "ask" not in item,
          "bob's push after subscribed: %s" % item)
    p = await alice.presences.get(presence_is("subscribed", B), 10,
                                  "alice waiting for subscribed")
    await push_for(alice, B, sub_is("to"), 10)
    # Bob's current presence reaches alice (RFC 6121 §3.1.5).
    await alice.presences.get(presence_is("available", str(bob.boundjid)),
                              10, "alice waiting for bob's presence")

    bob.send_presence(pto=A, ptype="subscribe")
    await push_for(bob, A, sub_is("from", "subscribe"), 10)
    await alice.presences.get(presence_is("subscribe", B), 10,
                              "alice waiting for subscribe")
    alice.send_presence(pto=B, ptype="subscribed")
    await push_for(alice, B, sub_is("both"), 10)
    await push_for(bob, A, sub_is("both"), 10)
    await bob.presences.get(presence_is("subscribed", A), 10)
    await bob.presences.get(presence_is("available", str(alice.boundjid)),
                            10, "bob waiting for alice's presence")

    ra, rb = await fetch_roster(alice), await fetch_roster(bob)
    check(ra.get(B, {}).get("subscription") == "both" and
          "ask" not in ra[B], "alice's roster: %s" % ra)
    check(rb.get(A, {}).get("subscription") == "both" and
          "ask" not in rb[A], "bob's roster: %s" % rb)

    # A subscribed without a pending request is ignored (§3.1.6).
    bob.send_presence(pto=A, ptype="subscribed")
    await alice.presences.none(presence_is("subscribed", B), 1.0,
                               "redundant subscribed delivered")

    # Bob cancels alice's subscription to him (§3.2): alice is told,
    # gets unavailable from bob's resources, both rosters are pushed.
    bob.send_presence(pto=A, ptype="unsubscribed")
    await push_for(bob, A, sub_is("to"), 10)
    await push_for(alice, B, sub_is("from"), 10)
    await alice.presences.get(presence_is("unsubscribed", B), 10)
    await alice.presences.get(presence_is("unavailable", str(bob.boundjid)),
                              10, "alice waiting for bob's unavailable "
                              "after bob cancelled her subscription")

    # Bob unsubscribes from alice (§3.3): both end at 'none'.
    bob.send_presence(pto=A, ptype="unsubscribe")
    await push_for(bob, A, sub_is("none"), 10)
    await push_for(alice, B, sub_is("none"), 10)
    await alice.presences.get(presence_is("unsubscribe", B), 10)
    ra, rb = await fetch_roster(alice), await fetch_roster(bob)
    check(ra.get(B, {}).get("subscription") == "none" and
          rb.get(A, {}).get("subscription") == "none",
          "rosters after both cancellations: alice %s, bob %s" % (ra, rb))


theke.run(main, users=["alice", "bob"])
