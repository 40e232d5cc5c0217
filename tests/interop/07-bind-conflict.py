#!/usr/bin/python3
"""A second login with the same resource replaces the first session.

RFC 6120 §7.7.2.2: the older session is ended with a <conflict/> stream
error; the new one gets the resource and its messages.
"""
import theke
from theke import check


async def main(srv):
    old = await srv.client("alice", resource="home")
    bob = await srv.client("bob", resource="b")
    new = await srv.client("alice", resource="home")
    check(str(new.boundjid) == srv.jid("alice") + "/home",
          "second login bound %s" % new.boundjid)
    err = await old.stream_errors.get(timeout=10,
                                      what="old session waiting for a "
                                      "stream error")
    check(err["condition"] == "conflict",
          "old session ended with <%s/>, wanted <conflict/>: %s" % (
              err["condition"], err))
    try:
        await theke.asyncio.wait_for(old.closed.wait(), 10)
    except theke.asyncio.TimeoutError:
        theke.fail("replaced session still connected 10 s after <conflict/>")
    bob.chat(srv.jid("alice") + "/home", "to the new session")
    await new.messages.get(theke.body_is("to the new session"), 10)
    await theke.exchange(new, bob)


theke.run(main, users=["alice", "bob"])
