"""External components (XEP-0114): a slixmpp component serves its own
domain through theked; clients reach it and it reaches them; wrong
secrets, unknown domains and forged senders are refused."""

import asyncio
import hashlib
import re

from slixmpp.componentxmpp import ComponentXMPP
from slixmpp.exceptions import IqError

import theke
from theke import check, fail

SECRET = "s3cret-for-echo"
PORT = theke.free_ports(1)[0]


class Echo(ComponentXMPP):
    """Answers every chat message with the same body."""

    def __init__(self):
        super().__init__("echo.localhost", SECRET, "127.0.0.1", PORT)
        self.started = asyncio.Event()
        self.received = theke.Inbox("component messages")
        self.add_event_handler("session_start",
                               lambda _: self.started.set())
        self.add_event_handler("message", self.on_message)

    def on_message(self, msg):
        self.received.put(msg)
        if msg["type"] in ("chat", "normal") and msg["body"]:
            reply = msg.reply("echo: " + msg["body"])
            reply["from"] = msg["to"]
            reply.send()


def raw_component(srv, domain):
    """A raw connection with a component stream header for domain; returns
    (connection, stream id)."""
    r = theke.Raw(srv, port=PORT)
    r.send("<stream:stream xmlns='jabber:component:accept' "
           "xmlns:stream='http://etherx.jabber.org/streams' to='%s'>" % domain)
    data = r.read_until(rb"<stream:stream[^>]*>", 5, "component stream header")
    m = re.search(rb"id='([^']+)'", data)
    return r, (m.group(1).decode() if m else None)


def handshake(stream_id, secret):
    return "<handshake>%s</handshake>" % hashlib.sha1(
        (stream_id + secret).encode()).hexdigest()


async def main(srv):
    # An unknown domain, then a wrong secret: refused.
    r = theke.Raw(srv, port=PORT)
    r.send("<stream:stream xmlns='jabber:component:accept' "
           "xmlns:stream='http://etherx.jabber.org/streams' "
           "to='nobody.localhost'>")
    r.expect_stream_error("host-unknown")
    r, sid = raw_component(srv, "echo.localhost")
    check(sid, "no stream id in the component stream header")
    r.send(handshake(sid, "wrong"))
    r.expect_stream_error("not-authorized")

    alice = await srv.client("alice")

    # While the component is away, its domain answers for it.
    try:
        await alice.plugin["xep_0030"].get_info(jid="echo.localhost",
                                                timeout=10)
        fail("disco#info to an offline component succeeded")
    except IqError as e:
        check(e.iq["error"]["condition"] == "service-unavailable",
              "offline component: expected service-unavailable, got %s"
              % e.iq["error"]["condition"])

    echo = Echo()
    echo.connect()
    await asyncio.wait_for(echo.started.wait(), 10)

    # Client to component and back.
    alice.chat("bot@echo.localhost", "hello component")
    got = await echo.received.get(
        lambda m: m["body"] == "hello component", timeout=10)
    check(str(got["from"]) == srv.jid("alice") + "/" + alice.boundjid.resource,
          "component saw 'from' %s" % got["from"])
    reply = await alice.messages.get(theke.body_is("echo: hello component"),
                                      timeout=10)
    check(str(reply["from"]) == "bot@echo.localhost",
          "reply from %s" % reply["from"])

    # The server lists the component among its services.
    items = await alice.plugin["xep_0030"].get_items(jid=srv.domain,
                                                     timeout=10)
    jids = [i[0] for i in items["disco_items"]["items"]]
    check("echo.localhost" in jids, "disco#items of the server: %s" % jids)

    # A second connection with the right secret replaces the first.
    r2, sid2 = raw_component(srv, "echo.localhost")
    r2.send(handshake(sid2, SECRET))
    r2.read_until(rb"<handshake\s*/>", 5, "handshake answer")
    # It may not speak for another domain.
    r2.send("<message from='mallory@localhost' to='alice@localhost'>"
            "<body>forged</body></message>")
    r2.expect_stream_error("invalid-from")
    await alice.messages.none(theke.body_is("forged"), wait=0.5,
                              what="a forged message must not arrive")
    echo.disconnect()


theke.run(main, users=["alice"],
          config={"component_listen": "127.0.0.1:%d" % PORT,
                  "component": "echo.localhost " + SECRET})
