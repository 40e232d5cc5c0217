#!/usr/bin/python3
"""SIGTERM with clients connected: streams are closed, exit status 0,
and the data is there after the next start."""
import signal

import theke
from theke import check


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob = await srv.client("bob", resource="b")
    alice.chat(srv.jid("carol"), "stored before shutdown")
    await alice.ping_server()
    r = theke.Raw(srv)
    r.login("alice", resource="raw")
    r.read_until(r"<presence", 5, "own presence on the raw stream")
    unauth = theke.Raw(srv)
    unauth.open_stream()

    proc = srv.proc
    proc.send_signal(signal.SIGTERM)
    data = r.read_to_eof(10)
    check(data is not None, "raw client not disconnected on SIGTERM")
    check(b"</stream:stream>" in data,
          "stream not closed with </stream:stream> on shutdown: %s" %
          theke.short(data))
    cond = theke.stream_error(data)
    check(cond in (None, "system-shutdown"),
          "shutdown stream error <%s/>: %s" % (cond, theke.short(data)))
    check(unauth.read_to_eof(10) is not None,
          "unauthenticated connection left open on SIGTERM")
    for c in (alice, bob):
        try:
            await theke.asyncio.wait_for(c.closed.wait(), 10)
        except theke.asyncio.TimeoutError:
            theke.fail("%s still connected 10 s after SIGTERM" % c.boundjid)
    try:
        rc = proc.wait(10)
    except Exception:
        theke.fail("theked still running 10 s after SIGTERM")
    check(rc == 0, "exit status %d after SIGTERM\n%s" % (rc, srv.log_tail()))
    srv.logf.close()
    srv.proc = None
    srv.check_sanitizer()

    srv.start()
    carol = await srv.client("carol")
    await carol.messages.get(theke.body_is("stored before shutdown"), 10)


theke.run(main, users=["alice", "bob", "carol"])
