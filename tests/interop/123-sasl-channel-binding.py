#!/usr/bin/python3
"""SCRAM with channel binding (RFC 5802 -PLUS, XEP-0440).

Over TLS the features offer SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS and
announce tls-exporter and tls-server-end-point; a hand-written SCRAM
client binds to tls-server-end-point (the SHA-256 of the server's
certificate) and logs in; binding data of another certificate, a
"y" flag while -PLUS is offered and -PLUS without binding all fail; the
loopback plaintext stream offers no -PLUS.
"""
import base64
import hashlib
import hmac
import os
import re

import theke
from theke import check

NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


def b64(data):
    return base64.b64encode(data).decode()


def scram(r, mech, user, pw, gs2, cb_data=b"", flag_ok=True):
    """A SCRAM exchange on r; returns 'success' or the failure condition."""
    hname = "sha256" if "256" in mech else "sha1"
    cnonce = b64(os.urandom(18))
    bare = "n=%s,r=%s" % (user, cnonce)
    r.send("<auth xmlns='%s' mechanism='%s'>%s</auth>" % (
        NS_SASL, mech, b64((gs2 + bare).encode())))
    data = r.read_until(r"<challenge[^>]*>[^<]*</challenge>|"
                        r"<failure[^>]*>.*?</failure>", 10,
                        "server-first").decode()
    if "<failure" in data:
        m = re.search(r"<failure[^>]*>\s*<([a-z-]+)", data)
        return m.group(1)
    sf = base64.b64decode(re.search(r">([^<]*)<", data).group(1)).decode()
    attrs = dict(a.split("=", 1) for a in sf.split(","))
    salted = hashlib.pbkdf2_hmac(hname, pw.encode(),
                                 base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    ck = hmac.new(salted, b"Client Key", hname).digest()
    sk = hashlib.new(hname, ck).digest()
    without = "c=%s,r=%s" % (b64(gs2.encode() + cb_data), attrs["r"])
    auth = ",".join([bare, sf, without]).encode()
    sig = hmac.new(sk, auth, hname).digest()
    proof = bytes(a ^ b for a, b in zip(ck, sig))
    r.send("<response xmlns='%s'>%s</response>" % (
        NS_SASL, b64(("%s,p=%s" % (without, b64(proof))).encode())))
    data = r.read_until(r"<success[^>]*(/>|>.*?</success>)|"
                        r"<failure[^>]*>.*?</failure>", 10,
                        "SASL outcome").decode()
    if "<success" in data:
        return "success"
    return re.search(r"<failure[^>]*>\s*<([a-z-]+)", data).group(1)


def end_point(r):
    """tls-server-end-point for theke's certificate (ECDSA with SHA-256,
    so the hash is SHA-256; RFC 5929 §4.1)."""
    return hashlib.sha256(r.sock.getpeercert(binary_form=True)).digest()


async def main(srv):
    pw = srv.users.get("alice", theke.password("alice"))

    r, feats = theke.tls_stream(srv)
    for mech in ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"):
        check("<mechanism>%s</mechanism>" % mech in feats,
              "%s not offered over TLS: %s" % (mech, feats))
    check("urn:xmpp:sasl-cb:0" in feats, "no XEP-0440 element: %s" % feats)
    for t in ("tls-exporter", "tls-server-end-point"):
        check(re.search(r"<channel-binding[^>]*type=['\"]%s['\"]" % t, feats),
              "channel binding %s not announced: %s" % (t, feats))
    if r.sock.version() == "TLSv1.3":
        check(not re.search(r"<channel-binding[^>]*tls-unique", feats),
              "tls-unique announced on TLS 1.3: %s" % feats)
    for mech in ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"):
        r2, _ = theke.tls_stream(srv)
        outcome = scram(r2, mech, "alice", pw, "p=tls-server-end-point,,",
                        end_point(r2))
        check(outcome == "success", "%s with tls-server-end-point: %s"
              % (mech, outcome))
        r2.close()
    r.close()

    # The data of another channel (a man in the middle's certificate).
    r, _ = theke.tls_stream(srv)
    outcome = scram(r, "SCRAM-SHA-256-PLUS", "alice", pw,
                    "p=tls-server-end-point,,", hashlib.sha256(b"x").digest())
    check(outcome != "success", "wrong binding data accepted")
    r.close()
    # A -PLUS mechanism without binding, and a type the server lacks.
    for gs2 in ("n,,", "p=tls-unique,,"):
        r, _ = theke.tls_stream(srv)
        outcome = scram(r, "SCRAM-SHA-256-PLUS", "alice", pw, gs2)
        check(outcome != "success", "-PLUS with %s accepted" % gs2)
        r.close()
    # "y": the client believes the server cannot bind, but it offered to.
    r, _ = theke.tls_stream(srv)
    outcome = scram(r, "SCRAM-SHA-256", "alice", pw, "y,,")
    check(outcome != "success", "'y' accepted although -PLUS was offered")
    r.close()
    # Plain SCRAM still works over TLS.
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-1"):
        r, _ = theke.tls_stream(srv)
        check(scram(r, mech, "alice", pw, "n,,") == "success",
              "%s without binding" % mech)
        r.close()

    # Loopback plaintext (allowed here): no TLS, so no -PLUS and "y" is
    # right.
    r = theke.Raw(srv)
    feats = r.open_stream()
    check("-PLUS" not in feats and "sasl-cb" not in feats,
          "-PLUS offered without TLS: %s" % feats)
    check(scram(r, "SCRAM-SHA-256", "alice", pw, "y,,") == "success",
          "'y' without TLS")
    r.close()


theke.run(main, users=["alice"], config={"c2s_require_encryption": "false"})
