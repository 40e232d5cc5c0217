#!/usr/bin/python3
"""Directed presence to a non-contact, and its unavailable on logout.

RFC 6121 §4.6: available presence sent to a full JID is delivered as is;
when the sender goes offline the server sends unavailable to every entity
that got directed presence (§4.6.3).
"""
import theke
from theke import presence_is


async def main(srv):
    alice = await srv.client("alice", resource="a")
    carol = await srv.client("carol", resource="c")
    alice.send_presence(pto=str(carol.boundjid), pstatus="hi carol")
    p = await carol.presences.get(presence_is("available",
                                              str(alice.boundjid)), 10,
                                  "carol waiting for directed presence")
    theke.check(p["status"] == "hi carol", "directed presence: %s" % p)
    alice.cut()
    await carol.presences.get(presence_is("unavailable",
                                          str(alice.boundjid)), 10,
                              "carol waiting for unavailable after the "
                              "directed presence's sender dropped")


theke.run(main, users=["alice", "carol"])
