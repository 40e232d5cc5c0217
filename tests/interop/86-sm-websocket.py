#!/usr/bin/python3
"""XEP-0198 across transports: stream management is offered over
WebSocket (RFC 7395) like over TCP; a session enabled over WebSocket
whose connection drops is resumed over TCP, and back: the stanzas sent
again arrive once, in order, and over WebSocket each declares
jabber:client as a framed element must."""
import re

import theke
import theke_http as th
from theke import Raw, check, in_thread

NS_SM = "urn:xmpp:sm:3"


def attr(xml, name):
    m = re.search(r"\s%s=['\"]([^'\"]*)['\"]" % name, xml)
    return m.group(1) if m else None


def ws_authed(srv):
    w = th.WsRaw(srv, tls=True)
    w.open_stream()
    check(w.auth_plain("bob", srv.users["bob"]) == "success", "PLAIN")
    feats = w.open_stream()
    check("xmlns='%s'" % NS_SM in feats,
          "no stream management over WebSocket: %s" % feats)
    return w


def ws_enable(srv):
    w = ws_authed(srv)
    w.bind("web")
    w.send_text("<enable xmlns='%s' resume='true'/>" % NS_SM)
    enabled = w.read_until_text(r"^<enabled ", what="enabled")
    return w, attr(enabled, "id")


def tcp_resume(srv, smid, h):
    r = Raw(srv)
    r.open_stream()
    r.starttls()
    r.open_stream()
    check(r.auth_plain("bob", srv.users["bob"]) == "success", "PLAIN")
    r.open_stream()
    r.send("<resume xmlns='%s' previd='%s' h='%d'/>" % (NS_SM, smid, h))
    r.read_until(r"<resumed [^>]*/>", 10, "resumed over TCP")
    return r


def ws_resume(srv, smid, h):
    w = ws_authed(srv)
    w.send_text("<resume xmlns='%s' previd='%s' h='%d'/>" % (NS_SM, smid, h))
    w.read_until_text(r"^<resumed ", what="resumed over WebSocket")
    return w


async def main(srv):
    alice = await srv.client("alice", resource="a")
    full = srv.jid("bob") + "/web"
    w, smid = await in_thread(ws_enable, srv)
    alice.chat(full, "one")
    await in_thread(w.read_until_text, "one</body>", 10, "one")
    w.sock.close()                  # no close frame: the connection died
    alice.chat(full, "two")
    alice.chat(full, "three")
    await alice.ping_server()

    r = await in_thread(tcp_resume, srv, smid, 1)
    data = (await in_thread(r.read_until, "three</body>", 10,
                            "two and three over TCP")).decode()
    check(data.count("<body>") == 2 and data.index("two<") <
          data.index("three<"), "resent over TCP: %s" % data)
    r.close()
    alice.chat(full, "four")
    await alice.ping_server()

    w2 = await in_thread(ws_resume, srv, smid, 3)
    t = await in_thread(w2.read_until_text, "<body>", 10, "four")
    check("four</body>" in t and "xmlns='jabber:client'" in t,
          "resent over WebSocket: %s" % t)
    alice.chat(full, "five")
    t = await in_thread(w2.read_until_text, "<body>", 10, "five")
    check("five</body>" in t, "after four came %s" % t)
    w2.close()


theke.run(main, users=["alice", "bob"])
