#!/usr/bin/python3
"""A PLAIN password is checked off the event loop. While the check runs
the stream waits: a client that hangs up, aborts or pipelines another
<response/> gets a clear answer (or none), the server stays up, and the
next PLAIN login still succeeds."""
import base64

import theke
from theke import check


def plain_token(user, pw):
    return base64.b64encode(("\0%s\0%s" % (user, pw)).encode()).decode()


def tls_stream(srv):
    r = theke.Raw(srv)
    r.open_stream()
    r.starttls()
    r.open_stream()
    return r


async def main(srv):
    token = plain_token("alice", theke.password("alice"))
    auth = "<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (
        theke.NS_SASL, token)

    def abandon():
        # Hang up while the password is being hashed, many times over.
        for _ in range(30):
            r = tls_stream(srv)
            r.send(auth)
            r.close()
    await theke.in_thread(abandon)

    def abort_while_pending():
        r = tls_stream(srv)
        r.send(auth + "<abort xmlns='%s'/>" % theke.NS_SASL)
        data = r.read_until(r"<failure[^>]*>.*?</failure>", 10,
                            "answer to <abort/>").decode()
        check("<aborted" in data, "abort answered with %s" % data)
        # The stream is usable: a fresh attempt succeeds.
        out = r.auth_plain("alice", theke.password("alice"))
        check(out == "success", "PLAIN after abort: %s" % out)
        r.close()
    await theke.in_thread(abort_while_pending)

    def response_while_pending():
        r = tls_stream(srv)
        r.send(auth + "<response xmlns='%s'/>" % theke.NS_SASL)
        data = r.read_to_eof(10)
        check(data is not None, "stream not closed after a <response/> "
              "to a PLAIN check under way")
        check(theke.stream_error(data) == "policy-violation",
              "expected policy-violation, got %s" % theke.short(data))
    await theke.in_thread(response_while_pending)

    def wrong_then_right():
        r = tls_stream(srv)
        out = r.auth_plain("alice", "not her password")
        check(out == "not-authorized", "wrong password answered %s" % out)
        r.close()
        r = tls_stream(srv)
        out = r.auth_plain("alice", theke.password("alice"))
        check(out == "success", "right password answered %s" % out)
        r.close()
    await theke.in_thread(wrong_then_right)


theke.run(main, users=["alice"])
