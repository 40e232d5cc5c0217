#!/usr/bin/python3
"""A WebSocket session is an ordinary session.

Over wss:// a raw RFC 7395 client logs in with PLAIN, binds and chats
with a slixmpp client on TCP both ways, gets roster and presence like any
session; over ws:// login is offered only because the test allows
plaintext on loopback (c2s_require_encryption = false). <close/> is
answered with <close/> and a close frame 1000; a second login with the
same resource replaces the first with a conflict stream error. No -PLUS
mechanism is offered: a browser cannot bind to the TLS under its
WebSocket."""
import re

import theke
import theke_http as th
from theke import check


def ws_chat(srv, tls, resource):
    w = th.WsRaw(srv, tls=tls)
    feats = w.open_stream()
    check("<mechanisms" in feats and "PLAIN" in feats,
          "no PLAIN over %s: %s" % ("wss" if tls else "ws", feats))
    check("<starttls" not in feats, "STARTTLS over WebSocket: %s" % feats)
    check("-PLUS<" not in feats and "sasl-channel-binding" not in feats,
          "channel binding offered over WebSocket: %s" % feats)
    outcome = w.auth_plain("alice", srv.users["alice"])
    check(outcome == "success", "PLAIN: %s" % outcome)
    feats = w.open_stream()
    check("<bind" in feats, "no bind after login: %s" % feats)
    jid = w.bind(resource)
    check(jid == "alice@localhost/" + resource, "bound %s" % jid)
    w.send_text("<presence xmlns='jabber:client'/>")
    w.send_text("<message xmlns='jabber:client' to='bob@localhost' "
                "type='chat'><body>from %s</body></message>" % resource)
    return w, jid


def ws_receive(w, body):
    t = w.read_until_text(re.escape(body), what="message %r" % body)
    check(t.startswith("<message") and "xmlns='jabber:client'" in t,
          "message without its namespace: %s" % t)
    return t


def ws_close(w):
    w.send_text("<close xmlns='%s'/>" % th.NS_FRAMING)
    texts = w.expect_close(1000)
    check(any(t.startswith("<close ") for t in texts),
          "<close/> not answered with <close/>: %r" % texts)
    w.send_frame(th.OP_CLOSE, b"\x03\xe8")
    check(w.closed_by_server(10), "connection open after the close handshake")
    w.close()


async def main(srv):
    bob = await srv.client("bob", resource="tcp")
    for tls, res in ((True, "wss"), (False, "ws")):
        w, jid = await theke.in_thread(ws_chat, srv, tls, res)
        m = await bob.messages.get(theke.body_is("from " + res), 10,
                                   "bob waiting for the %s message" % res)
        check(str(m["from"]) == jid, "from=%s, want %s" % (m["from"], jid))
        bob.chat(jid, "back to " + res)
        await theke.in_thread(ws_receive, w, "back to " + res)
        # Replaced by a new session with the same resource.
        if res == "ws":
            w2, _ = await theke.in_thread(ws_chat, srv, tls, res)
            texts = await theke.in_thread(w.expect_close, 1000)
            check(any("<conflict" in t for t in texts),
                  "old session not told of the conflict: %r" % texts)
            w.close()
            w = w2
        await theke.in_thread(ws_close, w)


theke.run(main, users=["alice", "bob"],
          config={"c2s_require_encryption": "false"})
