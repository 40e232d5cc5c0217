#!/usr/bin/python3
"""Archive preferences (XEP-0313 §6).

The default is 'always' with empty lists; a set is answered with the
preferences as stored and read back the same; a JID on the never list is
not archived (and its live messages carry no stanza-id) while others
are; default 'roster' archives only contacts in the roster unless listed
in always; default 'never' archives nothing but the always list; bad
preferences are refused.
"""
import theke
from theke import check
from mamlib import NS_MAM, query, rsm, stanza_id


def prefs_of(res):
    p = res.xml.find("{%s}prefs" % NS_MAM)
    check(p is not None, "no <prefs/> in %s" % res)

    def jids(name):
        e = p.find("{%s}%s" % (NS_MAM, name))
        return sorted(j.text for j in e.findall("{%s}jid" % NS_MAM)) \
            if e is not None else []
    return p.get("default"), jids("always"), jids("never")


async def set_prefs(c, default, always=(), never=()):
    xml = "<prefs xmlns='%s' default='%s'><always>%s</always><never>%s" \
          "</never></prefs>" % (
              NS_MAM, default,
              "".join("<jid>%s</jid>" % j for j in always),
              "".join("<jid>%s</jid>" % j for j in never))
    kind, res = await c.iq(xml, itype="set")
    check(kind == "result", "prefs set %s: %s" % (xml, res))
    return prefs_of(res)


async def archived(c, sender, to, body, by):
    """sender sends body to c; returns whether it landed in c's archive
    (and checks the live stanza-id says the same)."""
    sender.chat(to, body)
    m = await c.messages.get(theke.body_is(body), 10)
    live = stanza_id(m, by)
    p = await query(c, rsm_xml=rsm(max=1, before=""))
    got = bool(p.items) and p.bodies[-1] == body
    check(got == (live is not None and p.ids[-1] == live),
          "live stanza-id %s disagrees with the archive %s for %r" % (
              live, p.ids, body))
    return got


async def main(srv):
    bob = await srv.client("bob", resource="b")
    alice = await srv.client("alice", resource="a")
    carol = await srv.client("carol", resource="c")
    to, by = str(bob.boundjid), srv.jid("bob")

    kind, res = await bob.iq("<prefs xmlns='%s'/>" % NS_MAM)
    check(kind == "result" and prefs_of(res) == ("always", [], []),
          "default prefs: %s" % res)
    check(await archived(bob, alice, to, "a1", by), "default: not archived")

    got = await set_prefs(bob, "always", never=[srv.jid("alice")])
    check(got == ("always", [], [srv.jid("alice")]), "set answered %s" % (
        got,))
    kind, res = await bob.iq("<prefs xmlns='%s'/>" % NS_MAM)
    check(prefs_of(res) == got, "prefs read back %s" % (prefs_of(res),))
    check(not await archived(bob, alice, to, "a2", by),
          "never-listed alice archived")
    check(await archived(bob, carol, to, "c1", by), "carol not archived")

    # roster: carol is in bob's roster, alice is not but is on always.
    await theke.befriend(bob, carol)
    await set_prefs(bob, "roster", always=[srv.jid("alice")])
    check(await archived(bob, carol, to, "c2", by),
          "roster contact not archived")
    check(await archived(bob, alice, to, "a3", by),
          "always-listed alice not archived")
    await set_prefs(bob, "roster")
    check(not await archived(bob, alice, to, "a4", by),
          "non-contact archived under 'roster'")

    # never, with carol on always.
    await set_prefs(bob, "never", always=[srv.jid("carol")])
    check(not await archived(bob, alice, to, "a5", by), "archived under never")
    check(await archived(bob, carol, to, "c3", by), "always-listed carol")
    # Outgoing messages follow the same preferences.
    bob.chat(str(alice.boundjid), "to alice")
    await alice.messages.get(theke.body_is("to alice"), 10)
    p = await query(bob, rsm_xml=rsm(max=1, before=""))
    check(p.bodies == ["c3"], "outgoing under never archived: %s" %
          p.bodies)

    # Bad preferences.
    for bad in ("<prefs xmlns='%s' default='sometimes'/>" % NS_MAM,
                "<prefs xmlns='%s'/>" % NS_MAM):
        kind, res = await bob.iq(bad, itype="set")
        check(kind == "error" and res["error"]["condition"] == "bad-request",
              "%s answered %s" % (bad, res))
    kind, res = await bob.iq("<prefs xmlns='%s' default='always'><always>"
                             "<jid>@@</jid></always></prefs>" % NS_MAM,
                             itype="set")
    check(kind == "error", "a malformed JID accepted: %s" % res)
    # Another account's preferences are not ours to read.
    kind, res = await alice.iq("<prefs xmlns='%s'/>" % NS_MAM, ito=by)
    check(kind == "error" and res["error"]["condition"] == "forbidden",
          "alice read bob's prefs: %s" % res)


theke.run(main, users=["alice", "bob", "carol"])
