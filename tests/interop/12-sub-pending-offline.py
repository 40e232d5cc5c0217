#!/usr/bin/python3
"""A subscription request to an offline contact waits for its login.

RFC 6121 §3.1.3: the contact's server stores the request and delivers it
when the contact next sends available presence, and again at every later
login until it is answered.  The answer then reaches the user.
"""
import theke
from theke import check, fetch_roster, presence_is, push_for, sub_is


async def main(srv):
    A, B = srv.jid("alice"), srv.jid("bob")
    alice = await srv.client("alice", resource="a")
    alice.send_presence(pto=B, ptype="subscribe")
    await push_for(alice, B, sub_is("none", "subscribe"), 10)

    for round in (1, 2):
        # Before initial presence nothing is delivered.
        bob = await srv.client("bob", resource="b%d" % round, presence=False)
        await bob.presences.none(presence_is("subscribe", A), 1.0,
                                 "subscribe delivered before bob's initial "
                                 "presence")
        bob.send_presence()
        await bob.presences.get(presence_is("subscribe", A), 10,
                                "login %d of bob waiting for the stored "
                                "subscribe" % round)
        if round == 1:
            await bob.close()

    bob.send_presence(pto=A, ptype="subscribed")
    await alice.presences.get(presence_is("subscribed", B), 10)
    await push_for(alice, B, sub_is("to"), 10)
    rb = await fetch_roster(bob)
    check(rb.get(A, {}).get("subscription") == "from",
          "bob's roster after approving: %s" % rb)
    await bob.close()

    bob = await srv.client("bob", resource="b3")
    await bob.presences.none(presence_is("subscribe", A), 1.5,
                             "answered subscribe delivered again")

    # A request seen while online but left unanswered comes again at
    # the next login.
    bob.send_presence(pto=A, ptype="subscribe")
    await alice.presences.get(presence_is("subscribe", B), 10)
    await alice.close()
    alice = await srv.client("alice", resource="a2", presence=False)
    alice.send_presence()
    await alice.presences.get(presence_is("subscribe", B), 10,
                              "alice's next login waiting for bob's "
                              "unanswered subscribe")


theke.run(main, users=["alice", "bob"])
