#!/usr/bin/python3
"""Pre-approved subscriptions (RFC 6121 §3.4).

The server announces <sub xmlns='urn:xmpp:features:pre-approval'/>;
bob's subscribed without a pending request creates a roster item with
approved='true'; alice's later subscribe is approved by the server
without bob seeing the request, and bob's item becomes 'from'.
"""
import theke
from theke import check, fetch_roster, presence_is, push_for, sub_is


async def main(srv):
    A, B = srv.jid("alice"), srv.jid("bob")
    r = theke.Raw(srv)
    r.open_stream()
    r.starttls()
    r.open_stream()
    r.auth_plain("bob", theke.password("bob"))
    feats = r.open_stream()
    check("urn:xmpp:features:pre-approval" in feats,
          "pre-approval not announced in the features: %s" % feats)
    r.close()

    bob = await srv.client("bob", resource="b")
    bob.send_presence(pto=A, ptype="subscribed")
    item = await push_for(bob, A, timeout=10,
                          what="bob waiting for the pre-approval push")
    check(item["subscription"] == "none" and item.get("approved") == "true",
          "pre-approval push: %s" % item)
    rb = await fetch_roster(bob)
    check(rb.get(A, {}).get("approved") == "true",
          "bob's roster after pre-approval: %s" % rb)

    alice = await srv.client("alice", resource="a")
    await alice.presences.none(presence_is("subscribed", B), 0.5,
                               "pre-approval leaked to alice")
    alice.send_presence(pto=B, ptype="subscribe")
    await alice.presences.get(presence_is("subscribed", B), 10,
                              "alice waiting for the automatic subscribed")
    await push_for(alice, B, sub_is("to"), 10)
    await push_for(bob, A, sub_is("from"), 10)
    await bob.presences.none(presence_is("subscribe", A), 1.0,
                             "pre-approved subscribe shown to bob")
    await alice.presences.get(presence_is("available", str(bob.boundjid)),
                              10, "alice waiting for bob's presence")
    rb = await fetch_roster(bob)
    check(rb.get(A, {}).get("subscription") == "from" and
          rb[A].get("approved") in (None, "false"),
          "bob's roster after the approved subscribe: %s" % rb)


theke.run(main, users=["alice", "bob"])
