#!/usr/bin/python3
"""A restart of theked keeps accounts, rosters, subscriptions, pending
requests and offline messages (all in data_dir)."""
import theke
from theke import check, fetch_roster, presence_is


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob = await srv.client("bob", resource="b")
    await theke.befriend(alice, bob)
    kind, _ = await alice.iq("<query xmlns='jabber:iq:roster'><item jid='%s'"
                             " name='Carol'><group>G</group></item></query>"
                             % srv.jid("carol"), itype="set")
    check(kind == "result", "roster set failed")
    alice.send_presence(pto=srv.jid("carol"), ptype="subscribe")
    for i in range(1, 4):
        alice.chat(srv.jid("carol"), "kept %d" % i)
    await alice.ping_server()
    roster_before = await fetch_roster(alice)
    await alice.close()
    await bob.close()

    srv.restart()

    alice = await srv.client("alice", resource="a")
    roster_after = await fetch_roster(alice)
    check(roster_after == roster_before,
          "alice's roster changed over the restart:\nbefore %s\nafter  %s"
          % (roster_before, roster_after))
    check(roster_after.get(srv.jid("bob"), {}).get("subscription") == "both"
          and roster_after.get(srv.jid("carol"), {}).get("ask") ==
          "subscribe", "roster after restart: %s" % roster_after)
    carol = await srv.client("carol", resource="c")
    await carol.presences.get(presence_is("subscribe", srv.jid("alice")), 10,
                              "carol waiting for the pending subscribe")
    for i in range(1, 4):
        m = await carol.messages.get(lambda m: m["body"].startswith("kept"),
                                     10, "carol waiting for 'kept %d'" % i)
        check(m["body"] == "kept %d" % i, "got %r, wanted 'kept %d'" % (
            m["body"], i))
    bob = await srv.client("bob", resource="b")
    await alice.presences.get(presence_is("available", str(bob.boundjid)),
                              10, "alice waiting for bob's presence after "
                              "the restart")


theke.run(main, users=["alice", "bob", "carol"])
