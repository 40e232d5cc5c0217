#!/usr/bin/python3
"""The server's entity capabilities (XEP-0115 §6.3) in the stream features.

The stream features carry <c hash='sha-1' node=... ver=.../>; ver is the
verification string of the server's disco#info, forms included (the
contact addresses of XEP-0157 are one), as slixmpp computes it; a
disco#info query for NODE#VER answers the same features with the node
echoed, and one for another version finds nothing.
"""
import re

import theke
from theke import check

NS_INFO = "http://jabber.org/protocol/disco#info"


async def main(srv):
    r, feats = theke.tls_stream(srv)
    m = re.search(r"<c [^>]*xmlns=['\"]http://jabber.org/protocol/caps['\"]"
                  r"[^>]*/?>", feats)
    check(m, "no caps element in the stream features: %s" % feats)
    attrs = dict(re.findall(r"(\w+)=['\"]([^'\"]*)['\"]", m.group(0)))
    check(attrs.get("hash") == "sha-1" and attrs.get("node") and
          attrs.get("ver"), "caps attributes: %s" % attrs)
    r.close()

    c = await srv.client("alice")
    c.register_plugin("xep_0004")
    c.register_plugin("xep_0128")
    c.register_plugin("xep_0115")
    info = await c.plugin["xep_0030"].get_info(jid=srv.domain, timeout=10)
    disco = info["disco_info"]
    check(any(isinstance(s, c.plugin["xep_0004"].stanza.Form)
              for s in disco["substanzas"]),
          "no extension form in the server's disco#info: %s" % info)
    ver = c.plugin["xep_0115"].generate_verstring(disco, "sha-1")
    check(ver == attrs["ver"], "ver %s, but the disco#info hashes to %s"
          % (attrs["ver"], ver))

    node = "%s#%s" % (attrs["node"], attrs["ver"])
    kind, res = await c.iq("<query xmlns='%s' node='%s'/>" % (NS_INFO, node),
                           ito=srv.domain)
    check(kind == "result", "disco#info of the caps node: %s" % res)
    q = res.xml.find("{%s}query" % NS_INFO)
    check(q.get("node") == node, "node not echoed: %s" % res)
    feats_node = sorted(f.get("var") for f in
                        q.findall("{%s}feature" % NS_INFO))
    check(feats_node == sorted(disco["features"]),
          "caps node features differ: %s vs %s" % (feats_node,
                                                   disco["features"]))
    kind, res = await c.iq("<query xmlns='%s' node='%s#AAAA'/>"
                           % (NS_INFO, attrs["node"]), ito=srv.domain)
    check(kind == "error" and res["error"]["condition"] == "item-not-found",
          "disco#info of another version: %s" % res)


theke.run(main, users=["alice"],
          config={"contact_abuse": "mailto:abuse@localhost",
                  "contact_admin": "xmpp:admin@localhost"})
