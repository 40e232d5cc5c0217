#!/usr/bin/python3
"""XEP-0199 ping and XEP-0092 software version of the server."""
import theke
from theke import check


async def main(srv):
    c = await srv.client("alice")
    rtt = await c.ping_server()
    check(rtt < 1.0, "ping took %.2f s" % rtt)
    kind, res = await c.iq("<ping xmlns='urn:xmpp:ping'/>")
    check(kind == "result", "ping without 'to': %s" % res)
    kind, res = await c.iq("<query xmlns='jabber:iq:version'/>",
                           ito=srv.domain)
    check(kind == "result", "version answered with %s" % res)
    q = res.xml.find("{jabber:iq:version}query")
    name = q.findtext("{jabber:iq:version}name")
    version = q.findtext("{jabber:iq:version}version")
    check(name and version, "version without name or version: %s" % res)
    # A ping set is not a ping: the router answers it like any unknown iq.
    kind, res = await c.iq("<ping xmlns='urn:xmpp:ping'/>", ito=srv.domain,
                           itype="set")
    check(kind == "error", "iq set ping answered with %s" % res)


theke.run(main, users=["alice"])
