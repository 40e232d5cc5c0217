#!/usr/bin/python3
"""Stanzas before login are not routed: a message or a bind sent before
SASL ends the stream with a stream error (RFC 6120 §6.4.x: not-authorized,
or policy-violation before TLS), and nothing reaches the addressee."""
import theke
from theke import check


def case_before_tls(srv):
    r = theke.Raw(srv)
    r.open_stream()
    r.send("<message to='%s' type='chat'><body>sneaky 1</body></message>"
           % srv.jid("bob"))
    r.expect_stream_error("not-authorized", 5, also=("policy-violation",))


def case_after_tls(srv):
    r = theke.Raw(srv)
    r.open_stream()
    r.starttls()
    r.open_stream()
    r.send("<message to='%s' type='chat'><body>sneaky 2</body></message>"
           % srv.jid("bob"))
    r.expect_stream_error("not-authorized", 5)


def case_bind_before_auth(srv):
    r = theke.Raw(srv)
    r.open_stream()
    r.starttls()
    r.open_stream()
    r.send("<iq type='set' id='b'><bind xmlns='%s'><resource>x</resource>"
           "</bind></iq>" % theke.NS_BIND)
    r.expect_stream_error("not-authorized", 5)


async def main(srv):
    bob = await srv.client("bob")
    chat = await theke.bystanders(srv)
    for case in (case_before_tls, case_after_tls, case_bind_before_auth):
        try:
            await theke.in_thread(case, srv)
        except theke.TestFailure as e:
            theke.fail("%s: %s" % (case.__name__, e))
    await bob.messages.none(lambda m: m["body"].startswith("sneaky"), 1.0,
                            "message sent before login delivered")
    await chat.stop(min_rounds=2)


theke.run(main, users=["bob", "carol", "dave"])
