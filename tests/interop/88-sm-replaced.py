#!/usr/bin/python3
"""XEP-0198 and RFC 6120 §7.7.2.2 together: a client that lost its
stream-management state logs in again and binds the resource of its
waiting (detached) session instead of resuming it. The new session
replaces the old one at once; what the old one held unconfirmed comes
to the new one exactly once, as offline messages at its initial
presence; the old id can no longer be resumed, and the server stays
sound when the old session's resumption time runs out."""
import asyncio

import theke
from theke import check

TIMEOUT = 3


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob = await theke.sm_client(srv, "bob", "phone")
    sm_id = bob.plugin["xep_0198"].sm_id
    bob.cut()
    await asyncio.wait_for(bob.closed.wait(), 10)
    sent = ["waiting %d" % i for i in range(3)]
    for b in sent:
        alice.chat(bob.boundjid.full, b)
    await alice.ping_server()

    again = await srv.client("bob", resource="phone", presence=False)
    await again.messages.none(lambda m: m["body"].startswith("waiting"),
                              wait=0.3, what="messages before presence")
    again.send_presence()
    for b in sent:
        m = await again.messages.get(
            lambda m: m["body"].startswith("waiting"), 10, "offline %r" % b)
        check(m["body"] == b, "got %r, wanted %r" % (m["body"], b))

    data = await theke.in_thread(theke.sm_try_resume, srv, "bob", sm_id,
                                 0)
    check("item-not-found" in data, "resume of the replaced session: %s" % data)

    # Past the old session's resumption time: nothing more, nothing lost.
    await asyncio.sleep(TIMEOUT + 0.5)
    alice.chat(again.boundjid.full, "still here")
    await again.messages.get(theke.body_is("still here"), 10, "new session")
    await again.messages.none(lambda m: m["body"].startswith("waiting"),
                              wait=0.5, what="a message twice")


theke.run(main, users=["alice", "bob"],
          config={"sm_resume_timeout": TIMEOUT})
