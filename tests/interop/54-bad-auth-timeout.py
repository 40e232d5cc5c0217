#!/usr/bin/python3
"""Connections that do not log in within auth_timeout (2 s here) are
closed: silent TCP, an opened stream, and a stream after STARTTLS.
Logged-in clients are not affected by the timeout."""
import time

import theke
from theke import check

AUTH_TIMEOUT = 2


def wait_closed(r, t0, what):
    data = r.read_to_eof(AUTH_TIMEOUT + 6)
    dt = time.monotonic() - t0
    check(data is not None, "%s: still open %.1f s after connecting "
          "(auth_timeout %d s)" % (what, dt, AUTH_TIMEOUT))
    check(dt >= AUTH_TIMEOUT - 0.5, "%s: closed after only %.1f s" % (
        what, dt))
    cond = theke.stream_error(data)
    check(cond in (None, "connection-timeout", "policy-violation"),
          "%s: closed with <%s/>: %s" % (what, cond, theke.short(data)))
    return dt


def case_silent_tcp(srv):
    t0 = time.monotonic()
    r = theke.Raw(srv)
    return wait_closed(r, t0, "silent TCP connection")


def case_open_stream(srv):
    t0 = time.monotonic()
    r = theke.Raw(srv)
    r.open_stream()
    return wait_closed(r, t0, "stream opened, no STARTTLS")


def case_after_starttls(srv):
    t0 = time.monotonic()
    r = theke.Raw(srv)
    r.open_stream()
    r.starttls()
    r.open_stream()
    return wait_closed(r, t0, "STARTTLS done, no SASL")


def case_direct_tls(srv):
    t0 = time.monotonic()
    r = theke.Raw(srv, direct_tls=True)
    return wait_closed(r, t0, "direct TLS, nothing sent")


def case_tls_port_no_handshake(srv):
    t0 = time.monotonic()
    r = theke.Raw(srv, port=srv.tls_port)
    return wait_closed(r, t0, "direct TLS port, no handshake")


async def main(srv):
    chat = await theke.bystanders(srv)
    t0 = time.monotonic()
    cases = [theke.in_thread(c, srv) for c in (
        case_silent_tcp, case_open_stream, case_after_starttls,
        case_direct_tls, case_tls_port_no_handshake)]
    results = await theke.asyncio.gather(*cases, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    # The bystanders logged in long ago and have chatted past the timeout.
    while time.monotonic() - t0 < 2 * AUTH_TIMEOUT + 1:
        await theke.asyncio.sleep(0.2)
    await chat.stop(min_rounds=5)


theke.run(main, users=["carol", "dave"],
          config={"auth_timeout": AUTH_TIMEOUT})
