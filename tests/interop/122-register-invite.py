#!/usr/bin/python3
"""Registration by invitation (registration = invite; XEP-0401, XEP-0445).

The stream features announce urn:xmpp:ibr-token:0 and urn:xmpp:invite;
without a token registration is refused; `thekectl invite` makes a
single-use token that a stream presents with <preauth/> before XEP-0077
registration; an inviter's token makes the two accounts mutual contacts;
a token for a named user registers only that name; bad tokens and bad
thekectl arguments are refused.
"""
import re

import theke
from theke import check

NS_REG = "jabber:iq:register"


def answer(r, id):
    return r.read_until(r"<iq[^>]*id=['\"]%s['\"].*?</iq>|"
                        r"<iq[^>]*id=['\"]%s['\"][^>]*/>" % (id, id), 10,
                        "answer to %s" % id).decode()


def preauth(r, id, token):
    r.send("<iq type='set' id='%s'><preauth xmlns='urn:xmpp:pars:0' "
           "token='%s'/></iq>" % (id, token))
    return answer(r, id)


def register(r, id, user, pw):
    r.send("<iq type='set' id='%s'><query xmlns='%s'><username>%s</username>"
           "<password>%s</password></query></iq>" % (id, NS_REG, user, pw))
    return answer(r, id)


def is_result(data):
    return re.search(r"type=['\"]result['\"]", data) is not None


def error_is(data, cond):
    return re.search(r"type=['\"]error['\"]", data) is not None and \
        ("<%s " % cond in data or "<%s/" % cond in data)


def invite(srv, *args):
    r = srv.ctl("invite", *args)
    check(r.returncode == 0, "thekectl invite %s: %s" % (args, r.stderr))
    m = re.search(r"^token:\s+(\S+)$", r.stdout, re.M)
    check(m, "no token in: %s" % r.stdout)
    return m.group(1), r.stdout


async def main(srv):
    r, feats = theke.tls_stream(srv)
    for feature in ("urn:xmpp:ibr-token:0", "urn:xmpp:invite",
                    "http://jabber.org/features/iq-register"):
        check(feature in feats, "%s not announced: %s" % (feature, feats))
    data = register(r, "r0", "sneaky", "pw")
    check(error_is(data, "not-allowed"),
          "registration without an invitation: %s" % data)
    data = preauth(r, "p0", "no-such-token")
    check(error_is(data, "forbidden"), "unknown token: %s" % data)
    r.close()

    # An invitation from alice, who is online and sees the new contact.
    alice = await srv.client("alice")
    token, out = invite(srv, "--from", srv.jid("alice"))
    check("xmpp:%s?roster;preauth=%s;ibr=y" % (srv.jid("alice"), token) in out,
          "invitation link: %s" % out)
    r, _ = theke.tls_stream(srv)
    check(is_result(preauth(r, "p1", token)), "valid token refused")
    data = register(r, "r1", "newbie", "n-secret")
    check(is_result(data), "registration with a token: %s" % data)
    r.close()
    srv.users["newbie"] = "n-secret"
    push = await alice.pushes.get(
        lambda iq: srv.jid("newbie") in theke.roster_items(iq),
        timeout=10, what="alice's roster push for the invited account")
    item = theke.roster_items(push)[srv.jid("newbie")]
    check(item.get("subscription") == "both",
          "alice's item for newbie: %s" % item)
    newbie = await srv.client("newbie")
    roster = await theke.fetch_roster(newbie)
    check(roster.get(srv.jid("alice"), {}).get("subscription") == "both",
          "newbie's roster: %s" % roster)

    # Used up.
    r, _ = theke.tls_stream(srv)
    data = preauth(r, "p2", token)
    check(error_is(data, "forbidden"), "a used token again: %s" % data)
    r.close()

    # A token for one name registers that name only.
    token, out = invite(srv, "--user", "carol", "--days", "1")
    check("xmpp:%s?register;preauth=%s" % (srv.domain, token) in out,
          "invitation link: %s" % out)
    r, _ = theke.tls_stream(srv)
    check(is_result(preauth(r, "p3", token)), "token for carol refused")
    data = register(r, "r3", "dave", "pw")
    check(error_is(data, "not-acceptable"),
          "another name with carol's token: %s" % data)
    check(is_result(register(r, "r4", "carol", "c-secret")),
          "carol with her token")
    r.close()
    srv.users["carol"] = "c-secret"
    await srv.client("carol", presence=False)

    # thekectl refuses what makes no sense.
    bad = srv.ctl("invite", "--days", "0")
    check(bad.returncode == 2 and "--days" in bad.stderr,
          "--days 0: %s %s" % (bad.returncode, bad.stderr))
    bad = srv.ctl("invite", "--from", srv.jid("nobody"))
    check(bad.returncode == 1 and "no such account" in bad.stderr,
          "--from an unknown account: %s %s" % (bad.returncode, bad.stderr))
    bad = srv.ctl("invite", "--user", "carol")
    check(bad.returncode == 1 and "already exists" in bad.stderr,
          "--user an existing account: %s %s" % (bad.returncode, bad.stderr))


theke.run(main, users=["alice"], config={"registration": "invite"})
