#!/usr/bin/python3
"""Bad HTTP input gets a clear status and never holds the server up.

An oversized head gets 431, a long target 414, a malformed request line
400, an unknown HTTP version 505, a body over http_max_body 413 (from its
Content-Length, before it is sent), a head dribbled past http_timeout 408;
each of these connections is closed. An idle keep-alive connection is
closed after http_timeout. Two clients keep chatting meanwhile."""
import time

import theke
import theke_http as th
from theke import check

HTTP_TIMEOUT = 3
MAX_BODY = 4096


def expect_error(srv, data, status, what):
    h = th.HttpRaw(srv)
    h.try_send(data)
    r = h.read_response(what=what)
    check(r.status == status, "%s: got %r, want %d" % (what, r, status))
    check(r.header("connection") == "close",
          "%s: answer does not say Connection: close" % what)
    check(h.closed_by_server(5), "%s: connection left open" % what)
    h.close()


def bad_requests(srv):
    big = [("X-Pad-%d" % i, "y" * 200) for i in range(60)]
    expect_error(srv, th.request("GET", "/.well-known/host-meta", headers=big),
                 431, "12 KiB of headers")
    expect_error(srv, th.request("GET", "/" + "a" * 9000), 414,
                 "9000-byte target")
    expect_error(srv, b"GET\r\n\r\n", 400, "request line without target")
    expect_error(srv, b"HELLO WORLD\r\n\r\n", 400, "nonsense request line")
    expect_error(srv, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0")
    expect_error(srv, th.request("POST", "/.well-known/host-meta",
                                 headers=[("Content-Length",
                                           str(MAX_BODY + 1))]),
                 413, "body over http_max_body")
    expect_error(srv, th.request("GET", "/",
                                 headers=[("Expect", "something")]),
                 417, "unknown expectation")


def slow_head(srv):
    h = th.HttpRaw(srv)
    t0 = time.monotonic()
    h.send(b"GET /.well-known/host-meta HTTP/1.1\r\nHost: x\r\n")
    r = None
    while time.monotonic() - t0 < HTTP_TIMEOUT + 8:
        if not h.try_send(b"X"):
            break
        if h.closed_by_server(0.5):
            break
    dt = time.monotonic() - t0
    check(h.eof, "dribbled head not cut after %.1f s" % dt)
    check(dt < HTTP_TIMEOUT + 4, "dribbled head cut only after %.1f s" % dt)
    check(h.buf.startswith(b"HTTP/1.1 408 "), "no 408 before the close: %s"
          % theke.short(h.buf))
    del r


def idle_keepalive(srv):
    h = th.HttpRaw(srv)
    h.send(th.request("GET", "/.well-known/host-meta"))
    r = h.read_response(what="first request")
    check(r.status == 200, "first request: %r" % r)
    t0 = time.monotonic()
    check(h.closed_by_server(HTTP_TIMEOUT + 5),
          "idle keep-alive connection still open after %.1f s" % (
              time.monotonic() - t0))
    check(h.buf == b"", "idle close sent data: %s" % theke.short(h.buf))
    h.close()


async def main(srv):
    chat = await theke.bystanders(srv)
    await theke.asyncio.gather(theke.in_thread(bad_requests, srv),
                               theke.in_thread(slow_head, srv),
                               theke.in_thread(idle_keepalive, srv))
    # The server still serves HTTP.
    r = await theke.in_thread(th.get, srv, "/.well-known/host-meta")
    check(r.status == 200, "host-meta after the bad requests: %r" % r)
    await chat.stop(min_rounds=5)


theke.run(main, users=["carol", "dave"],
          config={"http_timeout": HTTP_TIMEOUT, "http_max_body": MAX_BODY})
