#!/usr/bin/python3
"""XEP-0198: a session that does not come back within sm_resume_timeout
ends, and the messages it never confirmed (to its full JID or to the
bare JID, chat or normal) reach the next login exactly once, in order,
as offline messages with a XEP-0203 delay; a message it had confirmed is
not among them; while it waited, its contacts still saw it available;
afterwards they see it go, and resuming it fails with item-not-found."""
import time

import theke
from theke import check, presence_is, befriend

TIMEOUT = 2


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob = await theke.sm_client(srv, "bob", "phone")
    await befriend(alice, bob)

    alice.chat(bob.boundjid.full, "seen")
    await bob.messages.get(theke.body_is("seen"), 10, "bob before the cut")
    bob.plugin["xep_0198"].send_ack()
    await bob.ping_server()         # the ack is in before the cut
    sm_id = bob.plugin["xep_0198"].sm_id
    bob.cut()
    cut_at = time.monotonic()

    sent = []
    for i, (to, mtype) in enumerate([(bob.boundjid.full, "chat"),
                                     (bob.boundjid.full, "normal"),
                                     (bob.boundjid.bare, "chat"),
                                     (bob.boundjid.full, "chat")]):
        body = "while away %d" % i
        alice.chat(to, body, mtype=mtype)
        sent.append(body)
    await alice.ping_server()
    await alice.errors.none(wait=0.3, what="errors for the waiting session")
    if time.monotonic() - cut_at < TIMEOUT - 0.5:
        await alice.presences.none(
            presence_is("unavailable", bob.boundjid.full), wait=0.2,
            what="bob looked unavailable while his session waited")
    await alice.presences.get(presence_is("unavailable", bob.boundjid.full),
                              TIMEOUT + 15,
                              "bob's session ends after the timeout")

    # Resuming now is too late.
    data = await theke.in_thread(theke.sm_try_resume, srv, "bob", sm_id,
                                 1)
    check("item-not-found" in data, "resume after the timeout: %s" % data)

    again = await srv.client("bob", resource="tablet")
    for body in sent:
        m = await again.messages.get(
            lambda m: m["body"].startswith("while away") or
            m["body"] == "seen", 10, "offline message %r" % body)
        check(m["body"] == body, "got %r, wanted %r (order: %s)" % (
            m["body"], body, sent))
        delay = m.xml.find("{urn:xmpp:delay}delay")
        check(delay is not None and delay.get("stamp"),
              "no XEP-0203 delay on %s" % m)
        check(m["from"] == alice.boundjid, "from=%s" % m["from"])
    await again.messages.none(
        lambda m: m["body"].startswith("while away") or m["body"] == "seen",
        wait=1.0, what="a message twice, or the confirmed one again")
    await again.close()
    # Offline storage gave them away: nothing on the next login.
    third = await srv.client("bob", resource="third")
    await third.messages.none(wait=0.5, what="offline messages again")


theke.run(main, users=["alice", "bob"],
          config={"sm_resume_timeout": TIMEOUT})
