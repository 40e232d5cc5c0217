#!/usr/bin/python3
"""Slow-loris: stanzas dribbled one byte per 100 ms.

Before login the connection is closed by auth_timeout (3 s here) even
though bytes keep arriving; after login a dribbled stanza is assembled
and delivered; neither holds up the other clients."""
import time

import theke
from theke import check

AUTH_TIMEOUT = 3


def drip_before_login(srv):
    t0 = time.monotonic()
    r = theke.Raw(srv)
    r.send(theke.stream_header(srv.domain))
    stanza = ("<iq type='get' id='slow'><query xmlns='jabber:iq:version' "
              "pad='%s'/></iq>" % ("s" * 400))
    for b in stanza.encode():
        if not r.try_send(bytes([b])):
            break
        if r.read_to_eof(0.1) is not None:
            break
        if time.monotonic() - t0 > AUTH_TIMEOUT + 8:
            break
    dt = time.monotonic() - t0
    check(r.eof, "dribbling connection not closed after %.1f s "
          "(auth_timeout %d s)" % (dt, AUTH_TIMEOUT))
    check(dt < AUTH_TIMEOUT + 3, "dribbling connection closed only after "
          "%.1f s (auth_timeout %d s)" % (dt, AUTH_TIMEOUT))


def drip_after_login(srv):
    r = theke.Raw(srv)
    r.login("alice", resource="slow", presence=False)
    msg = "<message to='%s' type='chat'><body>dribbled</body></message>" % (
        srv.jid("bob"))
    for b in msg.encode():
        r.send(bytes([b]))
        time.sleep(0.1)
    return r


async def main(srv):
    chat = await theke.bystanders(srv)
    bob = await srv.client("bob", resource="b")
    before, after = await theke.asyncio.gather(
        theke.in_thread(drip_before_login, srv),
        theke.in_thread(drip_after_login, srv))
    await bob.messages.get(theke.body_is("dribbled"), 10,
                           "bob waiting for the dribbled message")
    after.close()
    await chat.stop(min_rounds=10)


theke.run(main, users=["alice", "bob", "carol", "dave"],
          config={"auth_timeout": AUTH_TIMEOUT})
