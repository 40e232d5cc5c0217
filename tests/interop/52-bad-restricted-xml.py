#!/usr/bin/python3
"""DTDs, entity declarations (billion laughs), processing instructions
and comments are refused (RFC 6120 §11.1: <restricted-xml/>, or
<not-well-formed/>), at once, without the server slowing down."""
import time

import theke
from theke import check

LAUGHS = ("<?xml version='1.0'?><!DOCTYPE stream:stream [" +
          "<!ENTITY lol 'lol'>" +
          "".join("<!ENTITY lol%d '%s'>" % (i, ("&lol%s;" % (
              i - 1 if i > 1 else "")) * 10) for i in range(1, 10)) +
          "]>")


def expect_refused(r, what):
    t0 = time.monotonic()
    r.expect_stream_error("restricted-xml", 5, also=("not-well-formed",))
    dt = time.monotonic() - t0
    check(dt < 2.0, "%s: refused only after %.1f s" % (what, dt))


def case_billion_laughs(srv):
    r = theke.Raw(srv)
    r.send(LAUGHS + theke.stream_header(srv.domain) + "<x>&lol9;</x>")
    expect_refused(r, "billion laughs")


def case_entity_after_login(srv):
    r = theke.Raw(srv)
    r.login("alice", presence=False)
    r.send("<message to='%s'><body>&lol9;</body></message>" %
           srv.jid("bob"))
    expect_refused(r, "undeclared entity")


def case_internal_dtd_after_login(srv):
    r = theke.Raw(srv)
    r.login("alice", presence=False)
    r.send("<!DOCTYPE x [<!ENTITY a 'b'>]><message/>")
    expect_refused(r, "DTD inside the stream")


def case_pi(srv):
    r = theke.Raw(srv)
    r.login("alice", presence=False)
    r.send("<?evil instruction?>")
    expect_refused(r, "processing instruction")


def case_comment(srv):
    r = theke.Raw(srv)
    r.login("alice", presence=False)
    r.send("<message to='%s'><!-- hidden --><body>c</body></message>" %
           srv.jid("bob"))
    expect_refused(r, "comment")


def case_external_entity(srv):
    r = theke.Raw(srv)
    r.send("<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY xxe "
           "SYSTEM 'file:///etc/passwd'>]>" + theke.stream_header(srv.domain)
           + "<x>&xxe;</x>")
    data = r.read_to_eof(5)
    check(data is not None, "external entity: connection left open")
    check(b"root:" not in data, "external entity expanded: %s" %
          theke.short(data))
    check(theke.stream_error(data) in ("restricted-xml", "not-well-formed"),
          "external entity: %s" % theke.short(data))


async def main(srv):
    bob = await srv.client("bob", resource="b")
    chat = await theke.bystanders(srv, limit=2.0)
    for case in (case_billion_laughs, case_entity_after_login,
                 case_internal_dtd_after_login, case_pi, case_comment,
                 case_external_entity):
        try:
            await theke.in_thread(case, srv)
        except theke.TestFailure as e:
            theke.fail("%s: %s" % (case.__name__, e))
        chat.assert_ok()
    await bob.messages.none(wait=0.3, what="refused message delivered")
    await chat.stop(min_rounds=3)
    check(chat.worst < 2.0, "a chat round trip took %.1f s" % chat.worst)


theke.run(main, users=["alice", "bob", "carol", "dave"])
