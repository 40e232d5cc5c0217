#!/usr/bin/python3
"""Stream management (XEP-0198) over WebSocket: a WebSocket session is
an ordinary session to mod_sm too.

A raw RFC 7395 client enables resumption, receives a message it does
not acknowledge, loses its TCP connection (no <close/>, no close frame),
and while it is away another message comes. A new WebSocket connection
resumes the session with h=0: both messages arrive, in order, each as a
message of its own carrying xmlns='jabber:client', and the session goes
on (a ping is answered, bob's next message arrives once)."""
import re

import theke
import theke_http as th
from theke import check

NS_SM = "urn:xmpp:sm:3"


def bodies(texts):
    return [m for t in texts for m in re.findall(r"<body>([^<]*)</body>", t)]


def enable(srv):
    w = th.WsRaw(srv, tls=True)
    jid = w.login("alice", resource="web")
    w.send_text("<enable xmlns='%s' resume='true'/>" % NS_SM)
    t = w.read_until_text(r"<enabled ", what="<enabled/>")
    m = re.search(r"\bid='([^']+)'", t)
    check(m is not None and "resume='true'" in t, "enabled: %s" % t)
    return w, jid, m.group(1)


def wait_body(w, body):
    t = w.read_until_text(re.escape(body), what="message %r" % body)
    check("xmlns='jabber:client'" in t, "no namespace: %s" % t)


def resume(srv, previd):
    w = th.WsRaw(srv, tls=True)
    w.open_stream()
    check(w.auth_plain("alice", srv.users["alice"]) == "success",
          "login for resumption failed")
    feats = w.open_stream()
    check("<sm xmlns='%s'" % NS_SM in feats, "no stream management offered "
          "over WebSocket: %s" % feats)
    w.send_text("<resume xmlns='%s' previd='%s' h='0'/>" % (NS_SM, previd))
    t = w.read_until_text(r"<resumed |<failed ", what="<resumed/>")
    check(t.startswith("<resumed "), "resumption refused: %s" % t)
    got = []
    while len(bodies(got)) < 2:
        got.append(w.read_text(what="messages sent again"))
    return w, bodies(got)


def goes_on(w, srv):
    w.send_text("<iq xmlns='jabber:client' type='get' id='p1' to='%s'>"
                "<ping xmlns='urn:xmpp:ping'/></iq>" % srv.domain)
    w.read_until_text(r"id='p1'", what="ping answer after resuming")


async def main(srv):
    bob = await srv.client("bob", resource="tcp")
    w, jid, previd = await theke.in_thread(enable, srv)
    bob.chat(jid, "before the cut")
    await theke.in_thread(wait_body, w, "before the cut")
    w.close()
    # The server notices the hang-up; the session waits to be resumed.
    await bob.ping_server()
    bob.chat(jid, "while away")
    await bob.ping_server()
    w, got = await theke.in_thread(resume, srv, previd)
    check(got == ["before the cut", "while away"],
          "after resuming over WebSocket: %r" % got)
    await theke.in_thread(goes_on, w, srv)
    bob.chat(jid, "after")
    await theke.in_thread(wait_body, w, "after")
    w.close()


theke.run(main, users=["alice", "bob"])
