#!/usr/bin/python3
"""XEP-0198: a client that never acknowledges is asked to (<r/>), and
once more than sm_max_unacked stanzas wait for its ack its stream ends
with <policy-violation/>; every message it left unconfirmed is stored
offline and reaches the next login exactly once, in order. A client
that acknowledges more than it was sent gets <undefined-condition/>."""
import re

import theke
from theke import check, in_thread

NS_SM = "urn:xmpp:sm:3"
LIMIT = 10
COUNT = LIMIT + 3


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob = await in_thread(theke.sm_raw, srv, "bob", "phone")
    full = srv.jid("bob") + "/phone"
    bodies = ["unconfirmed %d" % i for i in range(COUNT)]
    for b in bodies:
        alice.chat(full, b)
    data = (await in_thread(bob.expect_stream_error, "policy-violation",
                            15)).decode()
    check(re.search(r"<r xmlns=['\"]%s['\"]" % NS_SM, data),
          "the server never asked for an ack: %s" % theke.short(data))
    check("unconfirmed %d<" % LIMIT in data,
          "the stream ended before %d stanzas were sent" % (LIMIT + 1))
    await alice.errors.none(wait=0.3, what="errors for the messages")

    again = await srv.client("bob", resource="tablet")
    for b in bodies:
        m = await again.messages.get(
            lambda m: m["body"].startswith("unconfirmed"), 10,
            "offline %r" % b)
        check(m["body"] == b, "got %r, wanted %r" % (m["body"], b))
    await again.messages.none(lambda m: m["body"].startswith("unconfirmed"),
                              wait=1.0, what="a message twice")

    def too_high():
        c = theke.sm_raw(srv, "carol", "x")
        c.send("<a xmlns='%s' h='3'/>" % NS_SM)
        c.expect_stream_error("undefined-condition", 10)
    await in_thread(too_high)


theke.run(main, users=["alice", "bob", "carol"],
          config={"sm_max_unacked": LIMIT})
