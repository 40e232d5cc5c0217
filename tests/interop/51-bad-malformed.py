#!/usr/bin/python3
"""Malformed XML ends the stream with <not-well-formed/> (RFC 6120
§4.9.3.13), before and after login, while others keep chatting."""
import theke
from theke import check


def logged_in(srv):
    r = theke.Raw(srv)
    r.login("alice", presence=False)
    return r


def case_mismatched_tag(srv):
    r = logged_in(srv)
    r.send("<message to='%s'><body>x</bodyy></message>" % srv.jid("bob"))
    r.expect_stream_error("not-well-formed", 5)


def case_garbage_before_login(srv):
    r = theke.Raw(srv)
    r.open_stream()
    r.send("<foo><<</foo>")
    r.expect_stream_error("not-well-formed", 5)


def case_bad_utf8(srv):
    r = logged_in(srv)
    r.send(b"<message to='" + srv.jid("bob").encode() +
           b"'><body>\xff\xfe\xc3</body></message>")
    r.expect_stream_error("not-well-formed", 5)


def case_unbound_prefix(srv):
    r = logged_in(srv)
    r.send("<x:message to='%s'/>" % srv.jid("bob"))
    r.expect_stream_error("not-well-formed", 5,
                          also=("invalid-namespace", "invalid-xml"))


def case_garbage_header(srv):
    r = theke.Raw(srv)
    r.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    data = r.read_to_eof(5)
    check(data is not None, "HTTP request on the c2s port left open")
    check(theke.stream_error(data) in (None, "not-well-formed",
                                       "invalid-namespace", "bad-format"),
          "HTTP request on the c2s port: %s" % theke.short(data))


async def main(srv):
    bob = await srv.client("bob", resource="b")
    chat = await theke.bystanders(srv)
    for case in (case_mismatched_tag, case_garbage_before_login,
                 case_bad_utf8, case_unbound_prefix, case_garbage_header):
        try:
            await theke.in_thread(case, srv)
        except theke.TestFailure as e:
            theke.fail("%s: %s" % (case.__name__, e))
        chat.assert_ok()
    await bob.messages.none(wait=0.3, what="malformed message delivered")
    await chat.stop(min_rounds=3)


theke.run(main, users=["alice", "bob", "carol", "dave"])
