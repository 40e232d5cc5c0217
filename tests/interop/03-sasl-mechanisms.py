#!/usr/bin/python3
"""SASL mechanisms on offer before and after TLS, and each one works.

RFC 6120 §6.4.1 and §13.9.4: PLAIN must not be offered on an
unencrypted stream; after STARTTLS SCRAM-SHA-256(-PLUS), SCRAM-SHA-1(-PLUS)
and PLAIN are offered.  The stream limit (XEP-0478) is announced in the
features.  (Plain SCRAM over TLS is driven by 123-sasl-channel-binding:
slixmpp, told to use it while -PLUS is offered, says "y", which RFC 5802
§6 makes a failure.)
"""
import re

import theke
from theke import check


def mechanisms(feats):
    return re.findall(r"<mechanism>([^<]+)</mechanism>", feats)


async def main(srv):
    r = theke.Raw(srv)
    feats = r.open_stream()
    check(re.search(r"<starttls[^>]*xmlns=['\"]%s" % theke.NS_TLS, feats),
          "no <starttls/> in the first features: %s" % feats)
    check(re.search(r"<starttls[^>]*>\s*<required\s*/>", feats),
          "STARTTLS not marked <required/> with c2s_require_encryption "
          "on: %s" % feats)
    check("PLAIN" not in mechanisms(feats),
          "PLAIN offered before TLS: %s" % feats)
    # PLAIN before TLS must not succeed even if the client insists.
    r.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (
        theke.NS_SASL, "AGFsaWNlAHdyb25n"))
    data = r.read_to_eof(5)
    if data is None:
        data = r.read_until(r"<failure[^>]*>.*?</failure>", 5,
                            "answer to PLAIN before TLS")
    check(b"<success" not in data,
          "PLAIN before TLS answered with success: %s" % theke.short(data))
    r.close()

    r = theke.Raw(srv)
    r.open_stream()
    r.starttls()
    feats = r.open_stream()
    mechs = mechanisms(feats)
    for m in ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256",
              "SCRAM-SHA-1", "PLAIN"):
        check(m in mechs, "%s not offered after TLS: %s" % (m, mechs))
    check("starttls" not in feats, "STARTTLS offered twice: %s" % feats)
    out = r.auth_plain("alice", theke.password("alice"))
    check(out == "success", "PLAIN login after TLS: %s" % out)
    feats = r.open_stream()
    check(re.search(r"<bind[^>]*%s" % theke.NS_BIND, feats),
          "no <bind/> after SASL: %s" % feats)
    m = re.search(r"<limits[^>]*urn:xmpp:stream-limits:0[^>]*>.*?"
                  r"<max-bytes>(\d+)</max-bytes>", feats, re.S)
    check(m and int(m.group(1)) == 262144,
          "post-auth features do not announce max-bytes 262144: %s" % feats)
    jid = r.bind("raw")
    check(jid == srv.jid("alice") + "/raw", "bound %s" % jid)
    r.close()

    for mech in ("SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS", "PLAIN"):
        c = await srv.client("alice", resource=mech, sasl_mech=mech,
                             presence=False, roster=False)
        check(c.mechanism() == mech, "asked for %s, used %s" % (
            mech, c.mechanism()))
        await c.ping_server()
        await c.close()


theke.run(main, users=["alice"])
