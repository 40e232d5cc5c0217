#!/usr/bin/python3
"""A logged-in client that stops reading and sending (a half-open TCP
connection) does not disturb others while messages for it pile up, and
is closed after idle_timeout plus the grace for the server's ping."""
import socket
import time

import theke
from theke import check

IDLE = 4
PING_GRACE = 30


async def main(srv):
    chat = await theke.bystanders(srv)
    bob = await srv.client("bob", resource="b")

    def login():
        r = theke.Raw(srv)
        r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        return r, r.login("alice", resource="gone")
    r, jid = await theke.in_thread(login)
    # From now on alice neither reads nor writes.
    t0 = time.monotonic()
    for i in range(300):
        bob.chat(jid, "pile %d %s" % (i, "p" * 1000))
        if i % 50 == 0:
            await theke.asyncio.sleep(0.1)
    await bob.ping_server(timeout=10)
    chat.assert_ok()
    while time.monotonic() - t0 < IDLE + 2:
        await theke.asyncio.sleep(0.2)
    chat.assert_ok()
    # The server must give up on alice's connection after it stayed silent
    # for idle_timeout and then left the server's ping unanswered (theked
    # allows 30 s for the answer).
    left = IDLE + PING_GRACE + 6 - (time.monotonic() - t0)
    data = await theke.in_thread(r.read_to_eof, left)
    dt = time.monotonic() - t0
    check(data is not None, "silent connection still open %.0f s after it "
          "went quiet (idle_timeout %d s, ping grace %d s)" % (
              dt, IDLE, PING_GRACE))
    check(b"urn:xmpp:ping" in data, "no ping before the close: %s" %
          theke.short(data[-2000:]))
    await chat.stop(min_rounds=10)
    await bob.ping_server()


theke.run(main, users=["alice", "bob", "carol", "dave"],
          config={"idle_timeout": IDLE})
