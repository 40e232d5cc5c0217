#!/usr/bin/python3
"""WebSocket handshakes and frames that break the rules are refused.

Without the subprotocol xmpp the upgrade gets 400, without Upgrade 426,
with another WebSocket version 426 naming 13, with a bad key 400. After
the upgrade: an unmasked frame closes with 1002, reserved bits with 1002,
a frame over the stanza limit with 1009 (judged from its header), a binary
message with 1003, invalid UTF-8 with 1007, a fragmented control frame
with 1002; a ping gets its pong; an element before <open/> is a stream
error. Other clients are served throughout."""
import re

import theke
import theke_http as th
from theke import check


def refused_handshakes(srv):
    cases = [
        (dict(protocol=None), 400, "no subprotocol"),
        (dict(protocol="mqtt"), 400, "another subprotocol"),
        (dict(version="8"), 426, "WebSocket version 8"),
        (dict(key="not-a-key"), 400, "bad key"),
    ]
    for kw, status, what in cases:
        h = th.HttpRaw(srv)
        data, _ = th.handshake_request(srv, **kw)
        h.send(data)
        r = h.read_response(what=what)
        check(r.status == status, "%s: %r, want %d" % (what, r, status))
        if what == "no subprotocol":
            check(b"xmpp" in r.body, "the 400 does not say why: %r" % r)
        if status == 426 and "version" in what:
            check(r.header("sec-websocket-version") == "13",
                  "426 without Sec-WebSocket-Version: 13: %r" % r)
        h.close()
    r = th.get(srv, "/xmpp-websocket")
    check(r.status == 426 and r.header("upgrade") == "websocket",
          "plain GET of the endpoint: %r" % r)


def bad_frames(srv):
    cases = [
        (th.frame(th.OP_TEXT, "<open/>", mask=False), 1002, "unmasked"),
        (th.frame(th.OP_TEXT, "<open/>", rsv=4), 1002, "reserved bit"),
        (th.frame(th.OP_TEXT, b"", length=17000), 1009,
         "17000-byte frame before login (16 KiB limit)"),
        (th.frame(th.OP_BINARY, b"\x00\x01"), 1003, "binary message"),
        (th.frame(th.OP_TEXT, b"<open \xff\xfe/>"), 1007, "invalid UTF-8"),
        (th.frame(th.OP_PING, b"x", fin=False), 1002, "fragmented ping"),
        (th.frame(th.OP_CONT, b"x"), 1002, "continuation first"),
        (th.frame(0x3, b"x"), 1002, "reserved opcode"),
    ]
    for data, code, what in cases:
        w = th.WsRaw(srv)
        w.send(data)
        w.expect_close(code)
        check(w.closed_by_server(10), "%s: connection left open" % what)
        w.close()


def ping_and_fragments(srv):
    w = th.WsRaw(srv)
    w.send_frame(th.OP_PING, b"are you there")
    op, fin, payload = w.read_frame(what="pong")
    check(op == th.OP_PONG and payload == b"are you there",
          "ping answered with opcode %d %r" % (op, payload))
    # <open/> in three fragments with a ping between them.
    text = "<open xmlns='%s' to='%s' version='1.0'/>" % (th.NS_FRAMING,
                                                         srv.domain)
    w.send_frame(th.OP_TEXT, text[:10], fin=False)
    w.send_frame(th.OP_PING, b"mid")
    w.send_frame(th.OP_CONT, text[10:20], fin=False)
    w.send_frame(th.OP_CONT, text[20:])
    op, _, payload = w.read_frame(what="pong between fragments")
    check(op == th.OP_PONG and payload == b"mid", "no pong between fragments")
    opened = w.read_text(what="<open/> answer")
    check(opened.startswith("<open "), "fragmented <open/> answered %s" %
          opened)
    feats = w.read_text(what="features")
    check("<starttls" not in feats, "STARTTLS offered over WebSocket: %s" %
          feats)
    check("<mechanisms" not in feats,
          "login offered over unencrypted ws:// with "
          "c2s_require_encryption: %s" % feats)
    w.close()


def before_open(srv):
    w = th.WsRaw(srv)
    w.send_text("<iq xmlns='jabber:client' type='get' id='x'/>")
    texts = w.expect_close(1000)
    joined = "".join(texts)
    check(re.search(r"<stream:error xmlns:stream=[^>]*>\s*<bad-format", joined)
          is not None, "no bad-format stream error: %r" % texts)
    check(texts[-1].startswith("<close "), "no <close/> after the error: %r"
          % texts)
    w.close()


def not_well_formed(srv):
    w = th.WsRaw(srv)
    w.open_stream()
    # An element that does not end within its message.
    w.send_text("<auth xmlns='%s' mechanism='PLAIN'>" % theke.NS_SASL)
    texts = w.expect_close(1000)
    check(any("<not-well-formed" in t for t in texts),
          "unfinished element: %r" % texts)
    w.close()


async def main(srv):
    chat = await theke.bystanders(srv)
    for f in (refused_handshakes, bad_frames, ping_and_fragments, before_open,
              not_well_formed):
        await theke.in_thread(f, srv)
    await chat.stop(min_rounds=3)


theke.run(main, users=["carol", "dave"])
