#!/usr/bin/python3
"""SASL2 (XEP-0388), Bind 2 (XEP-0386) and FAST (XEP-0484) as they are
on the wire, driven by a hand-written client over TLS.

- The features offer <authentication/> with the SASL mechanisms, and
  inline: Bind 2 (with carbons, CSI and stream management as session
  features), stream management, FAST with HT-SHA-256-EXPR, -ENDP and
  -NONE. RFC 6120 SASL stays offered beside it.
- A wrong password fails with the RFC 6120 condition inside SASL2's
  <failure/>; the stream stays usable and the next attempt succeeds.
- One <authenticate/> with PLAIN binds "raw/...", enables carbons,
  stream management and the inactive state, and asks for an -ENDP token:
  one <success/> carries the full JID, <bound/> with <enabled/> and the
  archive's metadata, and the token; the features that follow offer neither bind nor stream
  management; carbons and stream management work on the session.
- HT-SHA-256-ENDP logs in with the token bound to the TLS certificate and
  the server proves it knows the token too; the same token with -NONE,
  with another channel's binding data, without a user-agent id, or from
  another client fails; invalidate='true' works once and kills it.
- A second login of the same client (user-agent id) gets the same
  resource and replaces the first session.
- A new password revokes the tokens given out before; removing the
  account removes them too.
- Malformed requests (no mechanism, an overlong user-agent id, a FAST
  mechanism not offered, a token message without its proof) fail in
  SASL2's format without ending the stream; a <response/> with no
  exchange under way ends it."""
import asyncio
import base64
import hashlib
import hmac
import re

import theke
from theke import check

NS_SASL2 = "urn:xmpp:sasl:2"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND2 = "urn:xmpp:bind:0"
NS_SM = "urn:xmpp:sm:3"
NS_FAST = "urn:xmpp:fast:0"


def b64(data):
    return base64.b64encode(data).decode()


def end_point(r):
    return hashlib.sha256(r.sock.getpeercert(binary_form=True)).digest()


def authenticate(r, mech, initial, inner="", agent="agent-1"):
    """One SASL2 exchange of one message; returns the outcome's XML."""
    ua = ("<user-agent id='%s'><software>wire</software></user-agent>"
          % agent) if agent else ""
    r.send("<authenticate xmlns='%s' mechanism='%s'><initial-response>%s"
           "</initial-response>%s%s</authenticate>"
           % (NS_SASL2, mech, b64(initial), ua, inner))
    return r.read_until(r"<success[^>]*>.*?</success>|"
                        r"<failure[^>]*>.*?</failure>", 10,
                        "SASL2 outcome").decode()


def plain(user, pw):
    return b"\0" + user.encode() + b"\0" + pw.encode()


def ht(token, label, cb=b""):
    return hmac.new(token.encode(), label.encode() + cb,
                    hashlib.sha256).digest()


def fast_login(srv, token, mech, cb_of=None, agent="agent-1", inner=""):
    """A new TLS stream logging in with a token; returns (raw, outcome)."""
    r, _ = theke.tls_stream(srv)
    cb = cb_of(r) if cb_of else b""
    out = authenticate(r, mech, b"alice\0" + ht(token, "Initiator", cb),
                       "<fast xmlns='%s'%s/>" % (NS_FAST, inner), agent)
    return r, out, cb


def failure_condition(out):
    m = re.search(r"<failure xmlns=['\"]%s['\"]>\s*<([a-z-]+) xmlns=['\"]%s"
                  % (NS_SASL2, NS_SASL), out)
    return m.group(1) if m else None


async def main(srv):
    pw = srv.users["alice"]
    alice2 = await srv.client("alice", resource="desk")

    r, feats = theke.tls_stream(srv)
    auth = re.search(r"<authentication xmlns=['\"]%s['\"]>.*?</authentication>"
                     % NS_SASL2, feats)
    check(auth, "no SASL2 in the features: %s" % feats)
    auth = auth.group(0)
    for mech in ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1",
                 "PLAIN"):
        check("<mechanism>%s</mechanism>" % mech in auth,
              "%s not in SASL2: %s" % (mech, auth))
    for var in ("urn:xmpp:carbons:2", "urn:xmpp:csi:0", NS_SM):
        check(re.search(r"<bind xmlns=['\"]%s['\"]>.*<feature var=['\"]%s"
                        % (NS_BIND2, var), auth),
              "Bind 2 without %s: %s" % (var, auth))
    check(re.search(r"<sm xmlns=['\"]%s['\"]" % NS_SM, auth),
          "no inline stream management: %s" % auth)
    for mech in ("HT-SHA-256-EXPR", "HT-SHA-256-ENDP", "HT-SHA-256-NONE"):
        check(re.search(r"<fast xmlns=['\"]%s['\"]>.*<mechanism>%s<"
                        % (NS_FAST, mech), auth),
              "FAST without %s: %s" % (mech, auth))
    check("<mechanisms xmlns='%s'>" % NS_SASL in feats,
          "RFC 6120 SASL withdrawn: %s" % feats)

    out = authenticate(r, "PLAIN", plain("alice", "wrong"))
    check(failure_condition(out) == "not-authorized",
          "wrong password: %s" % out)
    inner = ("<bind xmlns='%s'><tag>raw</tag>"
             "<enable xmlns='urn:xmpp:carbons:2'/>"
             "<enable xmlns='%s' resume='true'/>"
             "<inactive xmlns='urn:xmpp:csi:0'/></bind>"
             "<request-token xmlns='%s' mechanism='HT-SHA-256-ENDP'/>"
             % (NS_BIND2, NS_SM, NS_FAST))
    out = await theke.in_thread(authenticate, r, "PLAIN", plain("alice", pw),
                                inner)
    m = re.search(r"<authorization-identifier>([^<]+)<", out)
    check(m and re.fullmatch(r"alice@localhost/raw/[0-9a-f]{16}", m.group(1)),
          "authorization identifier: %s" % out)
    jid = m.group(1)
    check(re.search(r"<bound xmlns=['\"]%s['\"]>(?:(?!</bound>).)*"
                    r"<enabled xmlns=['\"]%s['\"][^>]*resume=['\"]true"
                    % (NS_BIND2, NS_SM), out),
          "no <enabled/> in <bound/>: %s" % out)
    tok = re.search(r"<token xmlns=['\"]%s['\"][^>]*" % NS_FAST, out)
    check(tok, "no token: %s" % out)
    token = re.search(r"token=['\"]([^'\"]+)", tok.group(0)).group(1)
    check(re.search(r"expiry=['\"]\d{4}-\d\d-\d\dT", tok.group(0)),
          "token without expiry: %s" % tok.group(0))
    after = r.read_until(r"</stream:features>", 5, "features after SASL2")
    after = after.decode()
    check("xmpp-bind" not in after and "<sm " not in after and
          "authentication" not in after,
          "bind, sm or SASL offered again: %s" % after)
    log = srv.log_text()
    check("client inactive" in log, "the inactive state was not taken")
    # Carbons are on: what the desk sends to bob is copied here.
    alice2.chat(srv.jid("bob"), "from the desk")
    copy = await theke.in_thread(r.read_until, r"<sent xmlns=['\"]urn:xmpp:"
                                 r"carbons:2['\"]>.*?from the desk", 10,
                                 "the carbon")
    check(copy, "no carbon")
    r.send("<r xmlns='%s'/>" % NS_SM)
    a = await theke.in_thread(r.read_until, r"<a xmlns=['\"]%s['\"][^>]*>"
                              % NS_SM, 5, "an ack")
    check(b"h='0'" in a or b'h="0"' in a, "ack: %s" % a)

    # The token, bound to this certificate.
    r2, out, cb = await theke.in_thread(fast_login, srv, token,
                                        "HT-SHA-256-ENDP", end_point)
    check("<success" in out, "ENDP token login: %s" % out)
    extra = re.search(r"<additional-data>([^<]+)<", out)
    check(extra and base64.b64decode(extra.group(1)) ==
          ht(token, "Responder", cb), "the server's proof: %s" % out)
    check(re.search(r"<authorization-identifier>alice@localhost<", out),
          "without Bind 2 the identifier is the bare JID: %s" % out)
    feats2 = r2.read_until(r"</stream:features>", 5, "features").decode()
    check("xmpp-bind" in feats2, "no bind offered after SASL2 alone")
    r2.close()
    # Bound to its mechanism, its channel and its client.
    for mech, cb_of, agent, why in (
            ("HT-SHA-256-NONE", None, "agent-1", "another mechanism"),
            ("HT-SHA-256-ENDP", lambda r: b"x" * 32, "agent-1",
             "another channel"),
            ("HT-SHA-256-ENDP", end_point, None, "no user-agent"),
            ("HT-SHA-256-ENDP", end_point, "agent-2", "another client")):
        r2, out, _ = await theke.in_thread(fast_login, srv, token, mech,
                                           cb_of, agent)
        check(failure_condition(out) == "not-authorized",
              "token with %s: %s" % (why, out))
        r2.close()
    # Invalidated: once more, then never.
    r2, out, _ = await theke.in_thread(fast_login, srv, token,
                                       "HT-SHA-256-ENDP", end_point,
                                       "agent-1", " invalidate='true'")
    check("<success" in out, "login that invalidates: %s" % out)
    r2.close()
    r2, out, _ = await theke.in_thread(fast_login, srv, token,
                                       "HT-SHA-256-ENDP", end_point)
    check(failure_condition(out) == "not-authorized",
          "an invalidated token worked: %s" % out)
    r2.close()

    # The same client again: the same resource, the old session goes.
    r2, _ = theke.tls_stream(srv)
    out = await theke.in_thread(
        authenticate, r2, "PLAIN", plain("alice", pw),
        "<bind xmlns='%s'><tag>raw</tag></bind>" % NS_BIND2)
    check("<authorization-identifier>%s<" % jid in out,
          "same client, same resource: %s" % out)
    # <bound/> tells the state of the archive (alice's desk wrote to bob).
    check(re.search(r"<bound xmlns=['\"]%s['\"]>(?:(?!</bound>).)*"
                    r"<metadata xmlns=['\"]"
                    r"urn:xmpp:mam:2['\"]><start id=['\"][^'\"]+['\"] "
                    r"timestamp=['\"]\d{4}-[^>]*/><end id=" % NS_BIND2, out),
          "no archive metadata in <bound/>: %s" % out)
    await theke.in_thread(r.expect_stream_error, "conflict", 5)
    r2.close()

    # A new password revokes the tokens.
    r3, _ = theke.tls_stream(srv)
    out = await theke.in_thread(
        authenticate, r3, "PLAIN", plain("alice", pw),
        "<bind xmlns='%s'/><request-token xmlns='%s' "
        "mechanism='HT-SHA-256-NONE'/>" % (NS_BIND2, NS_FAST), "agent-3")
    token = re.search(r"<token [^>]*token=['\"]([^'\"]+)", out).group(1)
    r2, out, _ = await theke.in_thread(fast_login, srv, token,
                                       "HT-SHA-256-NONE", None, "agent-3")
    check("<success" in out, "the new token: %s" % out)
    r2.close()
    r3.send("<iq type='set' id='pw'><query xmlns='jabber:iq:register'>"
            "<username>alice</username><password>changed-pw</password>"
            "</query></iq>")
    answer = await theke.in_thread(r3.read_until, r"<iq[^>]*\bid=['\"]pw"
                                   r"['\"][^>]*>", 10, "password changed")
    check(b"type='result'" in answer, "password change: %s" % answer)
    r2, out, _ = await theke.in_thread(fast_login, srv, token,
                                       "HT-SHA-256-NONE", None, "agent-3")
    check(failure_condition(out) == "not-authorized",
          "a token outlived the password: %s" % out)
    r2.close()
    r3.close()

    # Malformed requests fail in SASL2's format and the stream goes on.
    r0, _ = theke.tls_stream(srv)
    r0.send("<authenticate xmlns='%s'><initial-response>AA==</initial-response>"
            "</authenticate>" % NS_SASL2)
    out = r0.read_until(r"<failure[^>]*>.*?</failure>", 10,
                        "no mechanism").decode()
    check(failure_condition(out) == "malformed-request",
          "no mechanism: %s" % out)
    out = authenticate(r0, "PLAIN", plain("alice", "changed-pw"),
                       agent="x" * 200)
    check(failure_condition(out) == "malformed-request",
          "an overlong user-agent id: %s" % out)
    out = authenticate(r0, "HT-SHA-256-UNIQ", b"alice\0" + b"x" * 32,
                       "<fast xmlns='%s'/>" % NS_FAST)
    check(failure_condition(out) == "invalid-mechanism",
          "a FAST mechanism not offered: %s" % out)
    out = authenticate(r0, "HT-SHA-256-NONE", b"alice-without-proof")
    check(failure_condition(out) == "malformed-request",
          "a FAST message without its proof: %s" % out)
    await alice2.close()
    out = await theke.in_thread(
        authenticate, r0, "PLAIN", plain("alice", "changed-pw"),
        "<bind xmlns='%s'/><request-token xmlns='%s' "
        "mechanism='HT-SHA-256-NONE'/>" % (NS_BIND2, NS_FAST), "agent-9")
    check("<success" in out, "the stream after malformed requests: %s" % out)
    # Tokens go with the account.
    token = re.search(r"<token [^>]*token=['\"]([^'\"]+)", out).group(1)
    r0.read_until(r"</stream:features>", 5, "features after SASL2")
    r0.send("<iq type='set' id='rm'><query xmlns='jabber:iq:register'>"
            "<remove/></query></iq>")
    answer = await theke.in_thread(r0.read_until, r"<iq[^>]*\bid=['\"]rm"
                                   r"['\"][^>]*>", 10, "account removed")
    check(b"type='result'" in answer, "account removal: %s" % answer)
    r0.close()
    r2, out, _ = await theke.in_thread(fast_login, srv, token,
                                       "HT-SHA-256-NONE", None, "agent-9")
    check(failure_condition(out) == "not-authorized",
          "a token outlived its account: %s" % out)
    r2.close()
    # A response with no exchange under way ends the stream.
    r0, _ = theke.tls_stream(srv)
    r0.send("<response xmlns='%s'>AA==</response>" % NS_SASL2)
    r0.expect_stream_error("policy-violation", 5)
    r0.close()


theke.run(main, users=["alice", "bob"])
