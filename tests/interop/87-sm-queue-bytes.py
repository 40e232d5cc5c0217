#!/usr/bin/python3
"""XEP-0198: the queue of unacknowledged stanzas is bounded in bytes too
(16 stanzas of max_stanza_size), not only in count: a client that does
not acknowledge large messages is ended with <policy-violation/> well
before sm_max_unacked, and every message still reaches the next login
exactly once, in order."""
import theke
from theke import check, in_thread

MAX_STANZA = 1024
COUNT = 25


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob = await in_thread(theke.sm_raw, srv, "bob", "phone")
    full = srv.jid("bob") + "/phone"
    bodies = ["big %02d %s" % (i, "x" * 700) for i in range(COUNT)]
    for b in bodies:
        alice.chat(full, b)
    data = (await in_thread(bob.expect_stream_error, "policy-violation",
                            15)).decode()
    got = data.count("<body>")
    check(got < COUNT, "all %d messages sent before the stream ended" % got)
    await alice.errors.none(wait=0.3, what="errors for the messages")

    again = await srv.client("bob", resource="tablet")
    for b in bodies:
        m = await again.messages.get(lambda m: m["body"].startswith("big "),
                                     10, "offline %r" % b[:6])
        check(m["body"] == b, "got %r, wanted %r" % (m["body"][:6], b[:6]))
    await again.messages.none(lambda m: m["body"].startswith("big "),
                              wait=1.0, what="a message twice")


theke.run(main, users=["alice", "bob"],
          config={"max_stanza_size": MAX_STANZA, "sm_max_unacked": 500})
