#!/usr/bin/python3
"""A client that never reads while another account floods it is
disconnected (or the flood throttled); the server's memory stays bounded
and other clients keep chatting."""
import re
import socket
import time

import theke
from theke import check

FLOOD = 15000           # messages
SIZE = 2000             # bytes of body each: about 30 MB in all
MAX_GROWTH_KIB = 20 * 1024
NEVER_ARCHIVE = "<prefs xmlns='urn:xmpp:mam:2' default='never'/>"


async def main(srv):
    chat = await theke.bystanders(srv)
    bob = await srv.client("bob", resource="flood")

    # The archive would keep the flood too: its memory is the store's
    # page cache and write buffer, bounded by their own settings (about
    # 20 MiB), not by this client's reading. Neither account archives
    # here, so what is measured is what the deaf connection costs.
    kind, res = await bob.iq(NEVER_ARCHIVE, itype="set")
    check(kind == "result", "bob's archive preferences: %s" % res)

    def login():
        r = theke.Raw(srv)
        r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        jid = r.login("alice", resource="deaf")
        r.send("<iq type='set' id='never'>%s</iq>" % NEVER_ARCHIVE)
        got = r.read_until(r"<iq[^>]*\bid=['\"]never['\"][^>]*>", 10,
                           "alice's archive preferences")
        check(re.search(rb"type=['\"]result", got.split(b"<iq")[-1]),
              "alice's archive preferences: %r" % got)
        return r, jid
    r, jid = await theke.in_thread(login)
    pid = srv.proc.pid
    rss0 = theke.rss_kib(pid)
    peak = rss0
    body = "f" * SIZE
    t0 = time.monotonic()
    for i in range(FLOOD):
        bob.chat(jid, "%d %s" % (i, body))
        if i % 100 == 0:
            await theke.asyncio.sleep(0.05)
            peak = max(peak, theke.rss_kib(pid))
            chat.assert_ok()
    # Let the flood drain through the server (or be refused by it).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        peak = max(peak, theke.rss_kib(pid))
        chat.assert_ok()
        if bob.transport is None or bob.waiting_queue.empty():
            break
        await theke.asyncio.sleep(0.2)
    await theke.asyncio.sleep(2)
    peak = max(peak, theke.rss_kib(pid))
    check(peak - rss0 < MAX_GROWTH_KIB,
          "theked grew by %d KiB while a client did not read a %d KB flood"
          % (peak - rss0, FLOOD * SIZE // 1000))
    await chat.stop(min_rounds=5)
    # Now read what reached the deaf client: either the server closed
    # the connection, or (throttled) the flood is still coming.
    unsent = bob.transport.get_write_buffer_size() if bob.transport else 0
    # A tiny receive window drains very slowly; open it first.
    r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    data = await theke.in_thread(r.read_to_eof, 10)
    state = "closed" if data is not None else "still open"
    got = (data if data is not None else r.buf).count(b"<message")
    print("deaf client: connection %s after %.0f s, %d messages read at "
          "the end; flooder's unsent bytes %d, errors back %d; theked RSS "
          "%d -> %d KiB" % (state, time.monotonic() - t0, got, unsent,
                            len(bob.errors.items), rss0, peak))
    check(data is not None or unsent > 0,
          "the deaf client was neither disconnected nor the flood held "
          "back: connection open, flooder's data all taken, %d of %d "
          "messages reached the deaf client at the end" % (got, FLOOD))


theke.run(main, users=["alice", "bob", "carol", "dave"])
