#!/usr/bin/python3
"""Login over direct TLS (XEP-0368) on the c2s_tls port.

The client starts TLS at once, so the server must not offer STARTTLS
again; ALPN "xmpp-client" must be accepted by the handshake.
"""
import ssl

import theke
from theke import check


async def main(srv):
    c = await srv.client("alice", resource="phone", direct_tls=True)
    check(c.tls_version() in ("TLSv1.2", "TLSv1.3"),
          "TLS version %s" % c.tls_version())
    check("starttls" not in c.features,
          "STARTTLS was negotiated inside direct TLS")
    check(c.mechanism() == "SCRAM-SHA-256-PLUS",
          "mechanism used: %s (wanted SCRAM-SHA-256-PLUS)" % c.mechanism())
    check(str(c.boundjid) == srv.jid("alice") + "/phone",
          "bound JID %s" % c.boundjid)
    await c.ping_server()

    # Raw: ALPN xmpp-client, features offer SASL and no STARTTLS.
    ctx = theke.no_verify_context()
    ctx.set_alpn_protocols(["xmpp-client"])
    r = theke.Raw(srv, port=srv.tls_port)
    r.sock = ctx.wrap_socket(r.sock, server_hostname=srv.domain)
    alpn = r.sock.selected_alpn_protocol()
    check(alpn in (None, "xmpp-client"), "ALPN selected %r" % alpn)
    feats = r.open_stream()
    check("starttls" not in feats,
          "STARTTLS offered on a direct TLS stream: %s" % feats)
    check("SCRAM-SHA-256" in feats and "PLAIN" in feats,
          "direct TLS features lack SCRAM-SHA-256 or PLAIN: %s" % feats)
    r.close()

    # TLS 1.2 clients are served too.  (That 1.0 and 1.1 are refused
    # cannot be checked here: Debian's OpenSSL will not offer them.)
    ctx = theke.no_verify_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    r = theke.Raw(srv, port=srv.tls_port)
    r.sock = ctx.wrap_socket(r.sock, server_hostname=srv.domain)
    check(r.sock.version() == "TLSv1.2", "TLS 1.2 client got %s" %
          r.sock.version())
    r.open_stream()
    r.close()
    await c.close()


theke.run(main, users=["alice"])
