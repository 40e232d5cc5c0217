#!/usr/bin/python3
"""A real client logs in over STARTTLS with SCRAM-SHA-256-PLUS and its
resource.

RFC 6120 §5 (STARTTLS), §6 (SASL), §7 (binding); RFC 7677, RFC 5929.
slixmpp picks the strongest mechanism offered, so SCRAM-SHA-256-PLUS must
be on offer and must work with the binding slixmpp uses (tls-unique);
the bound JID is the requested one and TLS is 1.2 or newer.
"""
import theke
from theke import check


async def main(srv):
    c = await srv.client("alice", resource="desk")
    check(c.tls_version() in ("TLSv1.2", "TLSv1.3"),
          "TLS version %s" % c.tls_version())
    check("starttls" in c.features,
          "client did not negotiate STARTTLS (features %s)" % c.features)
    check(c.mechanism() == "SCRAM-SHA-256-PLUS",
          "mechanism used: %s (wanted SCRAM-SHA-256-PLUS)" % c.mechanism())
    check(str(c.boundjid) == srv.jid("alice") + "/desk",
          "bound JID %s, requested %s/desk" % (c.boundjid, srv.jid("alice")))
    # Our own initial presence comes back to us (RFC 6121 §4.2.2).
    await c.presences.get(theke.presence_is("available", c.boundjid), 10,
                          "own initial presence reflected")
    await c.ping_server()
    await c.close()


theke.run(main, users=["alice"])
