#!/usr/bin/python3
"""Archive retention (archive_retention_days).

Messages are archived, then half of them are made three days old in the
database while the server is stopped. With archive_retention_days = 0
they all survive a restart; with 1 the old ones are purged soon after
start and the recent ones stay.
"""
import asyncio
import os
import sqlite3
import time

import theke
from theke import check, fail
from mamlib import query, rsm

DAY_MS = 86400 * 1000


async def bodies(srv, user="bob"):
    c = await srv.client(user, resource="q%f" % time.monotonic())
    p = await query(c, rsm_xml=rsm(max=100))
    await c.close()
    return p.bodies


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob = await srv.client("bob", resource="b")
    for i in range(10):
        alice.chat(str(bob.boundjid), "old%d" % i if i < 5 else "new%d" % i)
    await bob.messages.get(theke.body_is("new9"), 10)
    await alice.close()
    await bob.close()

    srv.extra["archive_retention_days"] = 0
    srv.stop()
    db = sqlite3.connect(os.path.join(srv.data_dir, "theke.db"))
    # A message is stored once for both archives (archive_msg); the
    # retention purge goes by its time (the entries' own times are packed
    # in the accounts' chunks and only answer queries by time).
    old = ("SELECT seq FROM archive_msg WHERE "
           "CAST(xml AS TEXT) LIKE '%<body>old%'")
    m = db.execute("UPDATE archive_msg SET ts = ts - 3 * ? WHERE seq IN (%s)"
                   % old, (DAY_MS,)).rowcount
    db.commit()
    db.close()
    check(m == 5, "aged %d messages, wanted 5 (each stored once)" % m)
    srv.start()
    # The purge would run two seconds after start; wait past that.
    await asyncio.sleep(3)
    got = await bodies(srv)
    check(len(got) == 10, "retention 0 lost messages: %s" % got)

    srv.extra["archive_retention_days"] = 1
    srv.restart()
    deadline = time.monotonic() + 20
    while True:
        got = await bodies(srv)
        if got == ["new%d" % i for i in range(5, 10)]:
            got = await bodies(srv, "alice")
            check(got == ["new%d" % i for i in range(5, 10)],
                  "alice's archive holds %s" % got)
            break
        check(all(b.startswith("old") or b.startswith("new") for b in got),
              "archive holds %s" % got)
        if time.monotonic() > deadline:
            fail("old messages not purged: %s" % got)
        await asyncio.sleep(0.5)


theke.run(main, users=["alice", "bob"])
