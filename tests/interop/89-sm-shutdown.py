#!/usr/bin/python3
"""XEP-0198 and a server restart: messages held for a detached session
waiting to be resumed, and for a connected one that had not confirmed
them, are stored before theked exits on SIGTERM, and reach the next
login exactly once, in order."""
import asyncio

import theke
from theke import check


async def main(srv):
    alice = await srv.client("alice", resource="a")
    sleeper = await theke.sm_client(srv, "bob", "phone")
    awake = await theke.in_thread(theke.sm_raw, srv, "carol", "desk")
    sleeper.cut()
    await asyncio.wait_for(sleeper.closed.wait(), 10)
    for i in range(3):
        alice.chat(sleeper.boundjid.full, "for bob %d" % i)
        alice.chat(srv.jid("carol") + "/desk", "for carol %d" % i)
    await theke.in_thread(awake.read_until, "for carol 2</body>", 10,
                          "carol's messages, not acknowledged")
    await alice.ping_server()
    alice.abort()
    srv.restart()

    for user in ("bob", "carol"):
        c = await srv.client(user, resource="again")
        for i in range(3):
            body = "for %s %d" % (user, i)
            m = await c.messages.get(lambda m: m["body"].startswith("for "),
                                     10, "%s after the restart" % body)
            check(m["body"] == body, "got %r, wanted %r" % (m["body"], body))
        await c.messages.none(lambda m: m["body"].startswith("for "),
                              wait=0.5, what="a message twice")
    awake.close()


theke.run(main, users=["alice", "bob", "carol"])
