#!/usr/bin/python3
"""FAST tokens (XEP-0484) per account are bounded: every client id may
ask for a token, so an account holds at most 64 token slots and the one
that expires first makes room. Sixty-five clients of one account each
get a token over SASL2; afterwards exactly one of the sixty-five tokens
no longer logs in, and the newest one does."""
import base64
import hashlib
import hmac
import re

import theke
from theke import check

NS_SASL2 = "urn:xmpp:sasl:2"
NS_FAST = "urn:xmpp:fast:0"
CLIENTS = 65


def b64(data):
    return base64.b64encode(data).decode()


def authenticate(srv, mech, initial, inner, agent):
    r, _ = theke.tls_stream(srv)
    r.send("<authenticate xmlns='%s' mechanism='%s'><initial-response>%s"
           "</initial-response><user-agent id='%s'/>%s</authenticate>"
           % (NS_SASL2, mech, b64(initial), agent, inner))
    out = r.read_until(r"<success[^>]*>.*?</success>|"
                       r"<failure[^>]*>.*?</failure>", 15,
                       "SASL2 outcome").decode()
    r.close()
    return out


def get_tokens(srv):
    pw = srv.users["carol"].encode()
    tokens = []
    for i in range(CLIENTS):
        out = authenticate(srv, "PLAIN", b"\0carol\0" + pw,
                           "<request-token xmlns='%s' mechanism="
                           "'HT-SHA-256-NONE'/>" % NS_FAST, "agent-%d" % i)
        m = re.search(r"<token [^>]*token=['\"]([^'\"]+)", out)
        check(m, "no token for client %d: %s" % (i, out))
        tokens.append(m.group(1))
    return tokens


def logs_in(srv, token, i):
    proof = hmac.new(token.encode(), b"Initiator", hashlib.sha256).digest()
    out = authenticate(srv, "HT-SHA-256-NONE", b"carol\0" + proof,
                       "<fast xmlns='%s'/>" % NS_FAST, "agent-%d" % i)
    return "<success" in out


async def main(srv):
    tokens = await theke.in_thread(get_tokens, srv)
    working = []
    for i, token in enumerate(tokens):
        working.append(await theke.in_thread(logs_in, srv, token, i))
    check(working.count(False) == 1,
          "%d of %d tokens refused, not 1" % (working.count(False), CLIENTS))
    check(working[-1], "the newest token was dropped")


theke.run(main, users=["carol"])
