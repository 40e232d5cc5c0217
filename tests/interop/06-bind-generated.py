#!/usr/bin/python3
"""Without a requested resource the server generates one (RFC 6120 §7.6).

Two such logins get different resources, and both sessions are live:
a message to each full JID reaches only that session.
"""
import re

import theke
from theke import check


async def main(srv):
    a = await srv.client("alice")
    b = await srv.client("alice")
    for c in (a, b):
        check(c.boundjid.bare == srv.jid("alice") and c.boundjid.resource,
              "bound JID without a resource: %s" % c.boundjid)
    check(a.boundjid.resource != b.boundjid.resource,
          "two sessions got the same generated resource %s" %
          a.boundjid.resource)
    bob = await srv.client("bob", resource="b")
    for c, other in ((a, b), (b, a)):
        bob.chat(c.boundjid.full, "to " + c.boundjid.resource)
        await c.messages.get(theke.body_is("to " + c.boundjid.resource), 10,
                             "%s waiting for its message" % c.boundjid)
    await a.messages.none(wait=0.5)
    await b.messages.none(wait=0.1)

    # Raw bind without <resource/> (the empty bind element).
    r = theke.Raw(srv)
    r.login("alice", presence=False)
    r.close()
    r = theke.Raw(srv)
    jid = r.login("alice", presence=False)
    check(jid.startswith(srv.jid("alice") + "/") and
          len(jid) > len(srv.jid("alice")) + 1,
          "raw bind without resource gave %s" % jid)
    # The legacy session request (RFC 3921 §3) is accepted.
    r.send("<iq type='set' id='sess1'><session xmlns='%s'/></iq>" %
           theke.NS_SESSION)
    data = r.read_until(r"<iq[^>]*id=['\"]sess1['\"][^>]*(/>|>.*?</iq>)",
                        5, "answer to the legacy session request").decode()
    check(re.search(r"type=['\"]result['\"]", data),
          "legacy session request: %s" % data)
    r.close()


theke.run(main, users=["alice", "bob"])
