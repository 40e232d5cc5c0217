#!/usr/bin/python3
"""Stanzas over max_stanza_size end the stream with <policy-violation/>.

With max_stanza_size = 10000 the post-login features announce
<max-bytes>10000</max-bytes> (XEP-0478); a 9000-byte message is
delivered; a 20000-byte one, an endless start tag, and a 40000-byte
stanza before login each end that stream with <policy-violation/>,
while two other clients keep chatting.
"""
import re

import theke
from theke import check

LIMIT = 10000


def logged_in(srv):
    r = theke.Raw(srv)
    r.open_stream()
    r.starttls()
    r.open_stream()
    check(r.auth_plain("alice", theke.password("alice")) == "success",
          "alice's PLAIN login failed")
    feats = r.open_stream()
    m = re.search(r"<limits[^>]*urn:xmpp:stream-limits:0[^>]*>.*?"
                  r"<max-bytes>(\d+)</max-bytes>", feats, re.S)
    check(m and int(m.group(1)) == LIMIT,
          "features after login do not announce max-bytes %d: %s" % (
              LIMIT, feats))
    r.bind("raw")
    return r


def big_message(srv, size):
    head = "<message to='%s' type='chat'><body>" % srv.jid("bob")
    tail = "</body></message>"
    return head + "x" * (size - len(head) - len(tail)) + tail


def oversized_after_login(srv):
    r = logged_in(srv)
    r.send(big_message(srv, 9000))
    r.send_until_answer(big_message(srv, 2 * LIMIT))
    r.expect_stream_error("policy-violation", 5)
    r.close()


def endless_start_tag(srv):
    r = logged_in(srv)
    r.send("<message to='%s' a='" % srv.jid("bob"))
    r.send_until_answer("y" * 4 * LIMIT)
    r.expect_stream_error("policy-violation", 5)
    r.close()


def oversized_before_login(srv):
    r = theke.Raw(srv)
    r.open_stream()
    r.send_until_answer("<iq type='get' id='big'><query "
                        "xmlns='jabber:iq:version'><x>" + "z" * 40000 +
                        "</x></query></iq>")
    r.expect_stream_error("policy-violation", 5)
    r.close()


async def main(srv):
    bob = await srv.client("bob", resource="b")
    chat = await theke.bystanders(srv)
    await theke.in_thread(oversized_after_login, srv)
    m = await bob.messages.get(lambda m: len(m["body"]) > 8000, 10,
                               "bob waiting for the 9000-byte message")
    await bob.messages.none(lambda m: len(m["body"]) > 10000, 0.5,
                            "over-size message delivered")
    await theke.in_thread(endless_start_tag, srv)
    await theke.in_thread(oversized_before_login, srv)
    await chat.stop(min_rounds=3)


theke.run(main, users=["alice", "bob", "carol", "dave"],
          config={"max_stanza_size": LIMIT})
