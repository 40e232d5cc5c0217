#!/usr/bin/python3
"""c2s_require_encryption = false allows a plaintext login from loopback,
with SCRAM and with PLAIN: the operator has declared loopback private
(benchmarks compare servers this way). Anything not from loopback still
needs TLS; 03-sasl-mechanisms covers the default."""
import re

import theke
from theke import check


async def main(srv):
    r = theke.Raw(srv)
    feats = r.open_stream()
    mechs = re.findall(r"<mechanism>([^<]+)</mechanism>", feats)
    check("SCRAM-SHA-256" in mechs,
          "SCRAM-SHA-256 not offered on a plaintext stream although "
          "encryption is optional: %s" % feats)
    check("PLAIN" in mechs,
          "PLAIN not offered on loopback plaintext: %s" % feats)
    check(not re.search(r"<starttls[^>]*>\s*<required", feats),
          "STARTTLS still required: %s" % feats)
    out = r.auth_plain("alice", theke.password("alice"))
    check(out == "success", "PLAIN login on loopback plaintext: %s" % out)
    feats = r.open_stream()
    jid = r.bind("rawplain")
    check(jid == srv.jid("alice") + "/rawplain", "bound %s" % jid)
    r.close()

    c = theke.Client(srv, srv.jid("alice") + "/plain",
                     theke.password("alice"), no_tls=True)
    await c.login()
    check(c.tls_version() is None, "TLS negotiated though disabled")
    check(c.mechanism() == "SCRAM-SHA-256", "mechanism %s" % c.mechanism())
    await c.ping_server()
    bob = await srv.client("bob")
    await theke.exchange(c, bob)


theke.run(main, users=["alice", "bob"],
          config={"c2s_require_encryption": "false"})
