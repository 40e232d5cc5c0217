#!/usr/bin/python3
"""Behind a TLS-terminating reverse proxy on loopback (http_trust_proxy).

A WebSocket upgrade that the proxy marks X-Forwarded-Proto: https counts
as encrypted: login is offered although c2s_require_encryption is on
and the hop from the proxy is plain ws://; without the header it is
not. X-Forwarded-For names the client in the log. Without
http_trust_proxy the same headers change nothing (second server)."""
import theke
import theke_http as th
from theke import check


def upgrade(srv, forwarded):
    w = th.WsRaw(srv, extra=forwarded)
    feats = w.open_stream()
    w.close()
    return feats


def through_proxy(srv, trusted):
    https = [("X-Forwarded-Proto", "https"),
             ("X-Forwarded-For", "198.51.100.7, 203.0.113.9")]
    feats = upgrade(srv, https)
    check(("<mechanisms" in feats) == trusted,
          "X-Forwarded-Proto: https with http_trust_proxy=%s: features %s"
          % (trusted, feats))
    log = srv.log_text()
    check(("websocket session from 203.0.113.9" in log) == trusted,
          "X-Forwarded-For with http_trust_proxy=%s: client address %s in "
          "the log" % (trusted, "not" if trusted else "nevertheless"))
    feats = upgrade(srv, [("X-Forwarded-Proto", "http")])
    check("<mechanisms" not in feats,
          "login offered to a client that reached the proxy over http: %s"
          % feats)


async def trusted(srv):
    await theke.in_thread(through_proxy, srv, True)
    # Logging in through the proxy works end to end.
    w = await theke.in_thread(
        th.WsRaw, srv, False, 10, [("X-Forwarded-Proto", "https")])
    jid = await theke.in_thread(w.login, "alice", "proxied")
    check(jid == "alice@localhost/proxied", "bound %s" % jid)
    w.close()
    # The same headers from a proxy we were not told to trust.
    other = theke.Server()
    try:
        other.start()
        await theke.in_thread(through_proxy, other, False)
        other.stop()
    finally:
        other.cleanup()


theke.run(trusted, users=["alice"], config={"http_trust_proxy": "true"})
