#!/usr/bin/python3
"""Archive pages are bounded (XEP-0313 with XEP-0059).

A client asking for more than the server's cap (250) gets at most the
cap, with complete='false' and a cursor to go on; a page of large
messages stops at about twice max_stanza_size of XML, so a query never
floods the client's connection; paging on from <last/> still reaches
every message exactly once.
"""
import theke
from theke import check
from mamlib import query, rsm

CAP = 250


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob = await srv.client("bob", resource="b")
    n = CAP + 20
    for i in range(n):
        alice.chat(str(bob.boundjid), "n%03d" % i)
    await bob.messages.get(theke.body_is("n%03d" % (n - 1)), 20)

    p = await query(bob, rsm_xml=rsm(max=1000), timeout=20)
    check(len(p.items) == CAP and not p.complete and p.count == n,
          "max=1000 gave %d items, complete=%s, count=%s" % (
              len(p.items), p.complete, p.count))
    rest = await query(bob, rsm_xml=rsm(max=1000, after=p.last), timeout=20)
    check(len(rest.items) == n - CAP and rest.complete,
          "second page: %d items, complete=%s" % (len(rest.items),
                                                   rest.complete))
    check(p.bodies + rest.bodies == ["n%03d" % i for i in range(n)],
          "pages do not add up to the archive")

    # Large messages: 8 of about 100 KB; a page holds about 512 KiB.
    carol = await srv.client("carol", resource="c")
    big = "x" * 100000
    for i in range(8):
        bob.chat(str(carol.boundjid), "big%d %s" % (i, big))
    await carol.messages.get(lambda m: m["body"].startswith("big7 "), 20)
    got, after, pages = [], None, 0
    while True:
        p = await query(carol, rsm_xml=rsm(max=8, after=after), timeout=20)
        pages += 1
        check(len(p.items) >= 1, "an empty page before the end")
        size = sum(len(b or "") for b in p.bodies)
        check(size < 700000, "a page of %d bytes of bodies" % size)
        got += [b.split()[0] for b in p.bodies]
        if p.complete:
            break
        after = p.last
        check(pages < 10, "paging does not end")
    check(pages >= 2, "8 messages of 100 KB came in one page")
    check(got == ["big%d" % i for i in range(8)], "large pages: %s" % got)


theke.run(main, users=["alice", "bob", "carol"])
