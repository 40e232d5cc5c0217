#!/usr/bin/python3
"""Stanzas to an account that does not exist bounce with
<service-unavailable/> (RFC 6121 §8.5.1), from the addressed JID, and
the sender keeps working."""
import theke
from theke import check


async def main(srv):
    alice = await srv.client("alice", resource="a")
    nobody = "nobody@" + srv.domain
    msg = alice.make_message(mto=nobody, mbody="anyone?", mtype="chat")
    msg["id"] = "bounce-1"
    msg.send()
    e = await alice.errors.get(lambda m: m["id"] == "bounce-1", 10,
                               "alice waiting for the bounce")
    check(e["type"] == "error", "bounce type %s" % e["type"])
    check(e["error"]["condition"] == "service-unavailable",
          "bounce condition <%s/>: %s" % (e["error"]["condition"], e))
    check(e["error"]["type"] == "cancel", "error type %s: %s" % (
        e["error"]["type"], e))
    check(e["from"].bare == nobody, "bounce from %s" % e["from"])

    # Also to a full JID of a missing account, and for iq.
    msg = alice.make_message(mto=nobody + "/r", mbody="x", mtype="chat")
    msg["id"] = "bounce-2"
    msg.send()
    e = await alice.errors.get(lambda m: m["id"] == "bounce-2", 10)
    check(e["error"]["condition"] == "service-unavailable", "%s" % e)
    kind, res = await alice.iq("<query xmlns='jabber:iq:version'/>",
                               ito=nobody)
    check(kind == "error" and
          res["error"]["condition"] == "service-unavailable",
          "iq to a missing account: %s" % res)

    # Directed presence to a missing account is silently dropped (§8.5.1).
    alice.send_presence(pto=nobody)
    await alice.presences.none(lambda p: p["type"] == "error", 1.0,
                               "presence error for a missing account")
    bob = await srv.client("bob")
    await theke.exchange(alice, bob)


theke.run(main, users=["alice", "bob"])
