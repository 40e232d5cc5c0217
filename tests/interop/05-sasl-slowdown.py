#!/usr/bin/python3
"""Repeated wrong passwords are answered later and later.

The delay must not hold up anybody else: another client's ping stays
fast while the failures are being delayed.
"""
import asyncio
import time

import theke
from theke import check


def attempt(srv, pw):
    r = theke.Raw(srv)
    r.open_stream()
    r.starttls()
    r.open_stream()
    t0 = time.monotonic()
    out = r.auth_plain("alice", pw, timeout=20)
    dt = time.monotonic() - t0
    r.close()
    return out, dt


async def main(srv):
    bob = await srv.client("bob")
    loop = asyncio.get_running_loop()
    times = []
    for i in range(5):
        fut = loop.run_in_executor(None, attempt, srv, "wrong%d" % i)
        # Meanwhile another session is served promptly.
        while not fut.done():
            rtt = await bob.ping_server(timeout=5)
            check(rtt < 1.0, "ping took %.2f s while a failed login was "
                  "being delayed" % rtt)
            await asyncio.sleep(0.1)
        out, dt = await fut
        check(out == "not-authorized", "attempt %d: %s" % (i, out))
        times.append(dt)
    check(max(times[2:]) > times[0] + 0.5,
          "failure answers were not slowed down: %s" %
          ", ".join("%.2f s" % t for t in times))
    await bob.close()


theke.run(main, users=["alice", "bob"])
