#!/usr/bin/python3
"""Service discovery of the server (XEP-0030).

disco#info lists an identity category='server' type='im' and the
features the server implements; disco#items answers; a node it does not
know gives item-not-found.
"""
import theke
from theke import check

NS_INFO = "http://jabber.org/protocol/disco#info"
NS_ITEMS = "http://jabber.org/protocol/disco#items"
EXPECTED = [NS_INFO, NS_ITEMS, "urn:xmpp:ping", "jabber:iq:version"]


async def main(srv):
    c = await srv.client("alice")
    kind, res = await c.iq("<query xmlns='%s'/>" % NS_INFO, ito=srv.domain)
    check(kind == "result", "disco#info answered with %s" % res)
    q = res.xml.find("{%s}query" % NS_INFO)
    idents = [(i.get("category"), i.get("type"))
              for i in q.findall("{%s}identity" % NS_INFO)]
    feats = [f.get("var") for f in q.findall("{%s}feature" % NS_INFO)]
    check(("server", "im") in idents,
          "no identity server/im: %s" % idents)
    missing = [f for f in EXPECTED if f not in feats]
    check(not missing, "features missing: %s (got %s)" % (missing, feats))
    check(len(set(feats)) == len(feats), "duplicate features: %s" % feats)

    kind, res = await c.iq("<query xmlns='%s'/>" % NS_ITEMS, ito=srv.domain)
    check(kind == "result", "disco#items answered with %s" % res)

    kind, res = await c.iq("<query xmlns='%s' node='no-such-node'/>" %
                           NS_INFO, ito=srv.domain)
    check(kind == "error" and
          res["error"]["condition"] == "item-not-found",
          "disco#info of an unknown node: %s" % res)


theke.run(main, users=["alice"])
