#!/usr/bin/python3
"""A wrong password or unknown account gets <not-authorized/>.

RFC 6120 §6.5.10.  The answer must be the same for an unknown account
as for a wrong password, and the right password still works afterwards.
"""
import asyncio

import theke
from theke import check


async def scram_fails(srv, user, pw):
    c = theke.Client(srv, srv.jid(user) + "/x", pw, sasl_mech="SCRAM-SHA-256-PLUS")
    try:
        await c.login(timeout=20)
        theke.fail("%s logged in with a wrong password" % user)
    except theke.TestFailure as e:
        if "logged in with" in str(e):
            raise
    f = c.auth_failures.items
    check(f, "no SASL <failure/> received for %s (%s)" % (user, f))
    cond = f[0]["condition"]
    check(cond == "not-authorized",
          "SCRAM-SHA-256-PLUS with a bad password for %s: <%s/>, wanted "
          "<not-authorized/>: %s" % (user, cond, f[0]))
    c.abort()


async def main(srv):
    await scram_fails(srv, "alice", "not-the-password")
    await scram_fails(srv, "nobody", "whatever")

    r = theke.Raw(srv)
    r.open_stream()
    r.starttls()
    r.open_stream()
    out = await asyncio.get_running_loop().run_in_executor(
        None, r.auth_plain, "alice", "wrong", 15)
    check(out == "not-authorized", "PLAIN, wrong password: %s" % out)
    r.close()

    c = await srv.client("alice", timeout=20)
    await c.ping_server()
    await c.close()


theke.run(main, users=["alice"])
