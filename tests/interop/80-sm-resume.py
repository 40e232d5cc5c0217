#!/usr/bin/python3
"""XEP-0198 resumption with slixmpp: a client with stream management
loses its TCP connection abruptly (RST) while messages keep coming, then
reconnects and resumes: every message arrives exactly once and in the
order it was sent, twice in a row, and the session kept its presence
meanwhile (the sender never sees it go unavailable)."""
import asyncio

import theke
from theke import check, presence_is, befriend

ROUNDS = 2
PER_ROUND = 6


async def reconnect(c, timeout=15):
    """Connect again; slixmpp resumes with the id it was given."""
    resumed = asyncio.Event()
    c.add_event_handler("session_resumed", lambda _: resumed.set())
    c.closed.clear()
    c.connect(address=(c.srv.domain, c.srv.c2s_port), force_starttls=True)
    try:
        await asyncio.wait_for(resumed.wait(), timeout)
    except asyncio.TimeoutError:
        theke.fail("%s did not resume within %d s (steps: %s)" % (
            c.boundjid, timeout, ", ".join(c.progress)))


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob = await theke.sm_client(srv, "bob", "phone")
    await befriend(alice, bob)
    sent = []
    n = 0

    def send(count):
        nonlocal n
        for _ in range(count):
            n += 1
            body = "msg %d" % n
            alice.chat(bob.boundjid.full, body)
            sent.append(body)

    for r in range(ROUNDS):
        send(PER_ROUND // 2)
        await bob.messages.get(theke.body_is(sent[-1]), 10,
                               "bob before the cut, round %d" % r)
        bob.cut()
        await asyncio.wait_for(bob.closed.wait(), 10)
        # While the connection is dead (the server may not know yet),
        # more messages come.
        send(PER_ROUND // 2)
        await alice.ping_server()
        await reconnect(bob)
        send(1)
        await bob.messages.get(theke.body_is(sent[-1]), 10,
                               "bob after resuming, round %d" % r)

    # Anything late or twice would show up now.
    await asyncio.sleep(1.0)
    got = [b for b in bob.bodies if b.startswith("msg ")]
    check(got == sent, "bob got %s, alice sent %s" % (got, sent))
    await alice.presences.none(presence_is("unavailable", bob.boundjid.full),
                               wait=0.2,
                               what="bob's session looked unavailable")
    # The resumed stream works both ways.
    bob.chat(alice.boundjid.full, "back")
    await alice.messages.get(theke.body_is("back"), 10, "alice from bob")
    await bob.ping_server()


theke.run(main, users=["alice", "bob"])
