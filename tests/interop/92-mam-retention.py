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

import lz4.block

import theke
from theke import check, fail
from mamlib import query, rsm

DAY_MS = 86400 * 1000


# The blocks of archived messages (src/store/archive_block.h): per
# message the seq difference, the zigzag time, the two holders and the
# text, each string after its length, all numbers LEB128 varints.
def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def put_varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def unpack(stored):
    """The body of a block as stored: as it is, or after 0x80 0x00 its
    length and the body compressed as an LZ4 block."""
    if stored[:2] != b"\x80\x00":
        return stored, False
    raw, i = varint(stored, 2)
    return lz4.block.decompress(stored[i:], uncompressed_size=raw), True


def age_block(body, pred, by_ms):
    """The body with the time of each message whose text pred accepts
    moved by_ms back, and how many were."""
    out, i, n = bytearray(), 0, 0
    while i < len(body):
        delta, i = varint(body, i)
        zz, i = varint(body, i)
        ts = (zz >> 1) ^ -(zz & 1)
        fields = []
        for _ in range(3):
            ln, j = varint(body, i)
            fields.append(body[j:j + ln])
            i = j + ln
        if pred(fields[2]):
            ts -= by_ms
            n += 1
        out += put_varint(delta) + put_varint((ts << 1) ^ (ts >> 63))
        for f in fields:
            out += put_varint(len(f)) + f
    return bytes(out), n


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
    # A message is stored once for both archives (in a block of
    # messages); the retention purge goes by its time (the entries' own
    # times are packed in the accounts' chunks and only answer queries by
    # time).
    m = packed = 0
    rows = db.execute("SELECT first_seq, body FROM archive_msg_block")
    for first, stored in rows.fetchall():
        body, was_packed = unpack(stored)
        packed += was_packed
        # Written back as it is: blocks from before compression read too.
        aged, n = age_block(body, lambda xml: b"<body>old" in xml,
                            3 * DAY_MS)
        if n:
            db.execute("UPDATE archive_msg_block SET body = ?"
                       " WHERE first_seq = ?", (aged, first))
            m += n
    db.commit()
    db.close()
    check(m == 5, "aged %d messages, wanted 5 (each stored once)" % m)
    check(packed > 0, "no block was stored compressed")
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
