#!/usr/bin/python3
"""thekectl user add/list/passwd/del against a running server.

Errors are one line on stderr and a non-zero exit status.  Deleting an
account removes it from other accounts' rosters and its credentials.
"""
import theke
from theke import check, fetch_roster


def ok(r, what):
    check(r.returncode == 0, "%s: exit status %d, stderr %r" % (
        what, r.returncode, r.stderr))
    return r


def err(r, what):
    check(r.returncode != 0, "%s succeeded (stdout %r)" % (what, r.stdout))
    lines = r.stderr.strip("\n").split("\n")
    check(len(lines) == 1 and lines[0].strip(),
          "%s: stderr should be one line, got %r" % (what, r.stderr))
    return r


async def main(srv):
    D = srv.domain
    ok(srv.ctl("user", "add", "carol@" + D, "c-secret"), "user add")
    srv.users["carol"] = "c-secret"
    listed = ok(srv.ctl("user", "list"), "user list").stdout.split()
    for u in ("alice", "bob", "carol", "probe"):
        check(srv.jid(u) in listed, "user list lacks %s: %r" % (
            srv.jid(u), listed))

    err(srv.ctl("user", "add", "carol@" + D, "again"), "adding carol twice")
    err(srv.ctl("user", "add", "not a jid", "x"), "adding an invalid JID")
    err(srv.ctl("user", "add", "dave@other.example", "x"),
        "adding an account of another domain")
    err(srv.ctl("user", "del", "nobody@" + D), "deleting a missing account")
    err(srv.ctl("user", "passwd", "nobody@" + D, "x"),
        "passwd of a missing account")
    err(srv.ctl("user", "frobnicate"), "an unknown subcommand")

    carol = await srv.client("carol", resource="c")
    await carol.close()

    # import: good lines become accounts, each bad line is named and
    # skipped, and the exit status says something was skipped.
    lines = ["erin@%s e-secret" % D, "", "# a comment",
             "frank@%s  f secret with spaces" % D, "nopassword@%s" % D,
             "carol@%s again" % D, "gina@other.example x"]
    r = srv.ctl("user", "import", input="\n".join(lines) + "\n")
    check(r.returncode != 0, "import with bad lines exited 0")
    for n in (5, 6, 7):
        check("line %d: " % n in r.stderr,
              "import did not report line %d: %r" % (n, r.stderr))
    check("2 accounts created, 3 lines skipped" in r.stderr,
          "import summary: %r" % r.stderr)
    srv.users["erin"] = "e-secret"
    srv.users["frank"] = "f secret with spaces"
    for u in ("erin", "frank"):
        c = await srv.client(u, resource="imp")
        await c.close()
    listed = ok(srv.ctl("user", "list"), "user list").stdout.split()
    check("nopassword@" + D not in listed, "nopassword was created")

    # passwd: the new password works, the old one does not.
    ok(srv.ctl("user", "passwd", "carol@" + D, "c-new"), "user passwd")
    bad = theke.Client(srv, "carol@%s/x" % D, "c-secret",
                       sasl_mech="SCRAM-SHA-256-PLUS")
    try:
        await bad.login(timeout=15)
        theke.fail("carol logged in with her old password after passwd")
    except theke.TestFailure as e:
        if "old password" in str(e):
            raise
    bad.abort()
    srv.users["carol"] = "c-new"
    carol = await srv.client("carol", resource="c")
    await carol.close()
    # Password from stdin with "-".
    ok(srv.ctl("user", "passwd", "carol@" + D, "-", input="c-stdin\n"),
       "user passwd from stdin")
    srv.users["carol"] = "c-stdin"
    carol = await srv.client("carol", resource="c")
    await carol.close()

    # del removes bob from alice's roster.
    alice = await srv.client("alice", resource="a")
    bob = await srv.client("bob", resource="b")
    await theke.befriend(alice, bob)
    await alice.close()
    await bob.close()
    ok(srv.ctl("user", "del", srv.jid("bob")), "user del bob")
    listed = ok(srv.ctl("user", "list"), "user list").stdout.split()
    check(srv.jid("bob") not in listed, "bob still listed: %r" % listed)
    alice = await srv.client("alice", resource="a2")
    items = await fetch_roster(alice)
    check(srv.jid("bob") not in items,
          "alice's roster still has the deleted bob: %s" % items)
    # The deleted account can no longer log in.
    try:
        await srv.client("bob", resource="again", timeout=15)
        theke.fail("a deleted account logged in")
    except theke.TestFailure as e:
        if "deleted account" in str(e):
            raise
    # Messages to the deleted account bounce.
    msg = alice.make_message(mto=srv.jid("bob"), mbody="gone?",
                             mtype="chat")
    msg["id"] = "to-deleted"
    msg.send()
    e = await alice.errors.get(lambda m: m["id"] == "to-deleted", 10)
    check(e["error"]["condition"] == "service-unavailable", "%s" % e)


theke.run(main, users=["alice", "bob"])
