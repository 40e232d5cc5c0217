#!/usr/bin/python3
"""A stream header for a domain we do not serve gets <host-unknown/>
(RFC 6120 §4.9.3.6), on both listeners, after the server's own stream
header; a header with the wrong stream namespace gets
<invalid-namespace/> (§4.9.3.10)."""
import theke
from theke import check


def case_starttls_port(srv):
    r = theke.Raw(srv)
    r.send(theke.stream_header("wrong.example"))
    data = r.expect_stream_error("host-unknown", 5)
    check(b"<stream:stream" in data, "no stream header before the error: "
          "%s" % theke.short(data))


def case_direct_tls_port(srv):
    r = theke.Raw(srv, direct_tls=True)
    r.send(theke.stream_header("wrong.example"))
    r.expect_stream_error("host-unknown", 5)


def case_after_starttls(srv):
    r = theke.Raw(srv)
    r.open_stream()
    r.starttls()
    r.send(theke.stream_header("other.example"))
    r.expect_stream_error("host-unknown", 5)


def case_bad_namespace(srv):
    r = theke.Raw(srv)
    r.send("<?xml version='1.0'?><stream:stream to='%s' "
           "xmlns='jabber:client' xmlns:stream='urn:example:not-streams' "
           "version='1.0'>" % srv.domain)
    r.expect_stream_error("invalid-namespace", 5)


async def main(srv):
    chat = await theke.bystanders(srv)
    for case in (case_starttls_port, case_direct_tls_port,
                 case_after_starttls, case_bad_namespace):
        try:
            await theke.in_thread(case, srv)
        except theke.TestFailure as e:
            theke.fail("%s: %s" % (case.__name__, e))
    await chat.stop(min_rounds=2)


theke.run(main, users=["carol", "dave"])
