#!/usr/bin/python3
"""An iq get/set nobody handles gets <service-unavailable/> (RFC 6120
§8.4, RFC 6121 §8.5); unsolicited result and error iqs are dropped
without an answer; a get without a child is answered with an error."""
import re

import theke
from theke import check


async def main(srv):
    c = await srv.client("alice")
    for itype in ("get", "set"):
        for to in (srv.domain, srv.jid("alice"), None):
            kind, res = await c.iq("<query xmlns='urn:example:unknown:0'/>",
                                   ito=to, itype=itype)
            check(kind == "error", "iq %s to %s answered with %s" % (
                itype, to, res))
            check(res["error"]["condition"] == "service-unavailable" and
                  res["error"]["type"] == "cancel",
                  "iq %s to %s: <%s/> type %s, wanted service-unavailable"
                  " cancel: %s" % (itype, to, res["error"]["condition"],
                                   res["error"]["type"], res))
    await c.close()

    r = theke.Raw(srv)
    r.login("alice", resource="raw", presence=False)
    r.send("<iq type='result' id='nope-1' to='%s'/>"
           "<iq type='error' id='nope-2' to='%s'><error type='cancel'>"
           "<bad-request xmlns='%s'/></error></iq>"
           "<iq type='get' id='p1' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>"
           % (srv.domain, srv.domain, theke.NS_STANZAS, srv.domain))
    data = r.read_until(r"<iq[^>]*id=['\"]p1['\"][^>]*(/>|>.*?</iq>)", 5,
                        "ping answer").decode()
    iqs = re.findall(r"<iq\b[^>]*>", data)
    check(len(iqs) == 1, "unsolicited result/error iqs were answered: %s"
          % data)
    check("type='result'" in iqs[0] or 'type="result"' in iqs[0],
          "ping answer: %s" % data)

    r.send("<iq type='get' id='empty-1' to='%s'/>" % srv.domain)
    data = r.read_until(r"<iq[^>]*id=['\"]empty-1['\"].*?(/>|</iq>)", 5,
                        "answer to an iq get without a child").decode()
    check(re.search(r"type=['\"]error['\"]", data) and
          re.search(r"<(bad-request|service-unavailable) ", data),
          "iq get without a child: %s" % data)
    r.close()


theke.run(main, users=["alice"])
