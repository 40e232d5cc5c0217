#!/usr/bin/python3
"""External service discovery (XEP-0215) with TURN credentials.

The configured STUN and TURN services are listed with their ports and
transports (defaults from RFC 7064/7065); TURN entries carry restricted
credentials in coturn's shared-secret scheme, which the test recomputes:
username 'EXPIRY:alice@localhost' with EXPIRY turn_credential_ttl ahead,
password base64(HMAC-SHA1(secret, username)). A type filter, a
credentials request and an unknown host behave; the feature is on the
server's disco#info; a bad service URI stops the server naming the key.
"""
import base64
import datetime
import hashlib
import hmac
import os
import subprocess
import time

import theke
from theke import check

NS = "urn:xmpp:extdisco:2"
SECRET = "s3cret-for-turn"
TTL = 600
SERVICES = ("stun:stun.example.net turn:turn.example.net?transport=udp "
            "turn:turn.example.net?transport=tcp turns:turn.example.net:5350 "
            "stun:[2001:db8::1]:3479")


def services_of(res, wrapper="services"):
    el = res.xml.find("{%s}%s" % (NS, wrapper))
    check(el is not None, "no <%s/> in %s" % (wrapper, res))
    return [dict(s.attrib) for s in el.findall("{%s}service" % NS)]


def check_credentials(s, user):
    check(s.get("restricted") in ("1", "true"), "not restricted: %s" % s)
    name, pw = s.get("username"), s.get("password")
    check(name and pw, "no credentials in %s" % s)
    expiry, _, who = name.partition(":")
    check(who == user, "username %r is not EXPIRY:%s" % (name, user))
    now = time.time()
    check(now + TTL - 60 <= int(expiry) <= now + TTL + 60,
          "expiry %s is not about %d s ahead" % (expiry, TTL))
    want = base64.b64encode(hmac.new(SECRET.encode(), name.encode(),
                                     hashlib.sha1).digest()).decode()
    check(pw == want, "password %r, coturn expects %r" % (pw, want))
    stamp = datetime.datetime.strptime(s.get("expires"),
                                       "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    check(int(stamp) == int(expiry), "expires %s != username expiry %s" % (
        s.get("expires"), expiry))


async def main(srv):
    c = await srv.client("alice")
    kind, res = await c.iq("<query xmlns='http://jabber.org/protocol/"
                           "disco#info'/>", ito=srv.domain)
    check(NS in [f.get("var") for f in res.xml.iter(
        "{http://jabber.org/protocol/disco#info}feature")],
        "no %s on the server" % NS)

    kind, res = await c.iq("<services xmlns='%s'/>" % NS, ito=srv.domain)
    check(kind == "result", "services: %s" % res)
    got = services_of(res)
    plain = [(s["type"], s["host"], s["port"], s["transport"]) for s in got]
    check(plain == [("stun", "stun.example.net", "3478", "udp"),
                    ("turn", "turn.example.net", "3478", "udp"),
                    ("turn", "turn.example.net", "3478", "tcp"),
                    ("turns", "turn.example.net", "5350", "tcp"),
                    ("stun", "2001:db8::1", "3479", "udp")],
          "services: %s" % plain)
    for s in got:
        if s["type"].startswith("turn"):
            check_credentials(s, srv.jid("alice"))
        else:
            check("password" not in s and "restricted" not in s,
                  "STUN with credentials: %s" % s)

    kind, res = await c.iq("<services xmlns='%s' type='stun'/>" % NS,
                           ito=srv.domain)
    check([s["type"] for s in services_of(res)] == ["stun", "stun"],
          "type filter: %s" % res)

    kind, res = await c.iq("<credentials xmlns='%s'><service type='turns' "
                           "host='turn.example.net'/></credentials>" % NS,
                           ito=srv.domain)
    check(kind == "result", "credentials: %s" % res)
    got = services_of(res, "credentials")
    check(len(got) == 1 and got[0]["port"] == "5350", "credentials: %s" % got)
    check_credentials(got[0], srv.jid("alice"))

    kind, res = await c.iq("<credentials xmlns='%s'><service type='turn' "
                           "host='elsewhere.example'/></credentials>" % NS,
                           ito=srv.domain)
    check(kind == "error" and res["error"]["condition"] == "item-not-found",
          "unknown host: %s" % res)

    # A bad URI stops the server with a message naming the key.
    path = os.path.join(srv.dir, "bad.conf")
    for bad in ("turn:bad host", "ftp:files.example.net",
                "stun:stun.example.net?transport=tcp",
                "turns:turn.example.net?transport=udp",
                "turn:turn.example.net:0", "turn:turn.example.net:70000",
                "turn:[2001:db8::1", "stun:"):
        conf = srv.config_text().replace(SERVICES, bad)
        conf = conf.replace("c2s = 127.0.0.1:%d" % srv.c2s_port,
                            "c2s = 127.0.0.1:%d" % theke.free_ports(1)[0])
        conf = conf.replace("c2s_tls = 127.0.0.1:%d" % srv.tls_port,
                            "c2s_tls = off")
        check(bad in conf, "bad config not written for %r" % bad)
        with open(path, "w") as f:
            f.write(conf)
        r = subprocess.run([theke.THEKED, "-c", path], capture_output=True,
                           text=True, timeout=10, cwd=srv.dir)
        theke.check_no_sanitizer(r.stderr, "theked")
        check(r.returncode != 0 and "external_services" in r.stderr,
              "external_services = %r: status %d, %r" % (
                  bad, r.returncode, r.stderr))


theke.run(main, users=["alice"],
          config={"external_services": '"%s"' % SERVICES,
                  "turn_secret": SECRET, "turn_credential_ttl": TTL})
