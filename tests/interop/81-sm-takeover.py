#!/usr/bin/python3
"""XEP-0198 driven by hand: <sm/> is offered after login, <enable/>
before bind fails, acks count stanzas both ways, a second connection
resumes the session while the first is still open (the first gets
<conflict/> and is closed) and receives exactly the stanzas the client
had not confirmed; a resume with an unknown id or another account's id
fails with <item-not-found/>, after which the client binds anew."""
import re

import theke
from theke import Raw, check, in_thread

NS_SM = "urn:xmpp:sm:3"


def authed(srv, user):
    """A raw connection of user after SASL, with the features checked."""
    r = Raw(srv)
    r.open_stream()
    r.starttls()
    r.open_stream()
    check(r.auth_plain(user, srv.users[user]) == "success",
          "%s could not log in" % user)
    feats = r.open_stream()
    check(re.search(r"<sm xmlns=['\"]%s['\"]" % NS_SM, feats),
          "no <sm xmlns='%s'/> in the features after login: %s" %
          (NS_SM, feats))
    return r


def nonza(r, name, what):
    data = r.read_until(r"<%s [^>]*xmlns=['\"]%s['\"][^>]*?(/>|>.*?</%s>)"
                        % (name, NS_SM, name), 10, what).decode()
    return data[data.rindex("<%s " % name):]


def attr(xml, name):
    m = re.search(r"\s%s=['\"]([^'\"]*)['\"]" % name, xml)
    return m.group(1) if m else None


def ack_count(r, what):
    r.send("<r xmlns='%s'/>" % NS_SM)
    return int(attr(nonza(r, "a", what), "h"))


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob_full = srv.jid("bob") + "/phone"

    def first_connection():
        a = authed(srv, "bob")
        a.send("<enable xmlns='%s' resume='true'/>" % NS_SM)
        failed = nonza(a, "failed", "enable before bind")
        check("unexpected-request" in failed,
              "enable before bind: %s" % failed)
        a.bind("phone")
        a.send("<enable xmlns='%s' resume='true'/>" % NS_SM)
        enabled = nonza(a, "enabled", "enable after bind")
        check(attr(enabled, "resume") in ("true", "1") and attr(enabled, "id"),
              "enable with resume: %s" % enabled)
        check(int(attr(enabled, "max") or 0) > 0, "no max in %s" % enabled)
        check(ack_count(a, "ack before any stanza") == 0,
              "h is not 0 before any stanza")
        return a, attr(enabled, "id")

    a, smid = await in_thread(first_connection)
    for i in (1, 2):
        alice.chat(bob_full, "m%d" % i)
    await in_thread(a.read_until, "m2</body>", 10, "m1 and m2")
    # The client confirms m1 only, then m3 arrives on the wire too.
    a.send("<a xmlns='%s' h='1'/>" % NS_SM)
    alice.chat(bob_full, "m3")
    await in_thread(a.read_until, "m3</body>", 10, "m3")

    def resume_elsewhere():
        b = authed(srv, "bob")
        # It says it handled m1 and m2: only m3 comes again.
        b.send("<resume xmlns='%s' previd='%s' h='2'/>" % (NS_SM, smid))
        resumed = nonza(b, "resumed", "resume on a second connection")
        check(attr(resumed, "previd") == smid, "resumed: %s" % resumed)
        check(attr(resumed, "h") == "0",
              "the server handled no stanza of the client yet: %s" % resumed)
        return b

    b = await in_thread(resume_elsewhere)
    await in_thread(a.expect_stream_error, "conflict", 10)
    data = (await in_thread(b.read_until, "m3</body>", 10,
                            "m3 again after resumption")).decode()
    check("m1<" not in data and "m2<" not in data,
          "confirmed stanzas sent again: %s" % data)
    alice.chat(bob_full, "m4")
    data = (await in_thread(b.read_until, "m4</body>", 10,
                            "m4 on the resumed session")).decode()
    check(data.count("m3<") == 0, "m3 twice: %s" % data)

    def counts():
        # Stanzas from the client are counted: one iq.
        b.send("<iq type='get' id='p1' to='%s'><ping xmlns='urn:xmpp:ping'/>"
               "</iq>" % srv.domain)
        b.read_until(r"<iq[^>]*id=['\"]p1['\"]", 10, "ping answer")
        check(ack_count(b, "ack after one iq") == 1,
              "h after one iq from the client is not 1")
        # The client's h may cover what it got (m3, m4, the pong).
        b.send("<a xmlns='%s' h='5'/>" % NS_SM)

    await in_thread(counts)

    def failed_resumes():
        c = authed(srv, "bob")
        c.send("<resume xmlns='%s' previd='no-such-id' h='0'/>" % NS_SM)
        failed = nonza(c, "failed", "resume with an unknown id")
        check("item-not-found" in failed, "unknown id: %s" % failed)
        jid = c.bind("tablet")
        check(jid == srv.jid("bob") + "/tablet", "bound %s" % jid)
        d = authed(srv, "carol")
        d.send("<resume xmlns='%s' previd='%s' h='0'/>" % (NS_SM, smid))
        failed = nonza(d, "failed", "resume of another account's session")
        check("item-not-found" in failed,
              "another account's session: %s" % failed)
        return c, d

    c, d = await in_thread(failed_resumes)
    alice.chat(srv.jid("bob") + "/tablet", "to the tablet")
    await in_thread(c.read_until, "to the tablet</body>", 10,
                    "a message after binding anew")
    alice.chat(bob_full, "m5")
    await in_thread(b.read_until, "m5</body>", 10,
                    "the resumed session after the failed attempts")
    for r in (b, c, d):
        r.close()


theke.run(main, users=["alice", "bob", "carol"])
