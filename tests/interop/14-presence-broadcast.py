#!/usr/bin/python3
"""Presence goes to subscribers, probes answer at login, and a dropped TCP
connection ends in unavailable presence.

RFC 6121 §4.2 (initial presence, probes), §4.4 (broadcast), §4.5.2 and
RFC 6120 §4.4: when a client's connection is cut without </stream:stream>
the server broadcasts unavailable presence on its behalf.
"""
import time

import theke
from theke import check, presence_is


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob = await srv.client("bob", resource="b")
    await theke.befriend(alice, bob)
    await alice.close()

    # Probe at login: alice learns bob's presence right away.
    alice = await srv.client("alice", resource="a2")
    p = await alice.presences.get(presence_is("available", str(bob.boundjid)),
                                  10, "alice waiting for bob's presence at "
                                  "login")
    await bob.presences.get(presence_is("available", str(alice.boundjid)),
                            10, "bob waiting for alice's initial presence")

    bob.send_presence(pshow="away", pstatus="lunch")
    p = await alice.presences.get(
        lambda p: str(p["from"]) == str(bob.boundjid) and
        p["show"] == "away", 10, "alice waiting for bob's away")
    check(p["status"] == "lunch", "status not passed on: %s" % p)

    # A third account without a subscription sees nothing.
    carol = await srv.client("carol")
    bob.send_presence(pshow="dnd")
    await alice.presences.get(
        lambda p: str(p["from"]) == str(bob.boundjid) and p["show"] == "dnd",
        10)
    await carol.presences.none(theke.from_is(srv.jid("bob")), 0.5,
                               "bob's presence leaked to a non-contact")

    # Cut bob's connection: alice gets unavailable.
    t0 = time.monotonic()
    bob.cut()
    await alice.presences.get(presence_is("unavailable", str(bob.boundjid)),
                              10, "alice waiting for unavailable after "
                              "bob's TCP connection was cut")
    dt = time.monotonic() - t0
    check(dt < 5, "unavailable came %.1f s after the cut" % dt)

    # Clean logout also sends unavailable.
    bob = await srv.client("bob", resource="b2")
    await alice.presences.get(presence_is("available", str(bob.boundjid)), 10)
    await bob.close()
    await alice.presences.get(presence_is("unavailable", str(bob.boundjid)),
                              10, "alice waiting for unavailable after "
                              "bob closed his stream")


theke.run(main, users=["alice", "bob", "carol"])
