#!/usr/bin/python3
"""Message archive (XEP-0313) with paging (XEP-0059) and stanza ids
(XEP-0359).

Both directions of a chat are archived in both accounts; each live
message carries <stanza-id by='bob@localhost'/> whose id is the one the
archive gives it (a stanza-id forged by the sender is replaced); chat
states alone, <no-store/> and headlines are not archived. Pages go
forward (after) and backward (before, an empty <before/> for the last
page) with first/last, count and complete; the filters with (bare and
full JID), start, end, after-id, before-id and ids; flip-page; an
unknown cursor is item-not-found; another account's archive is
forbidden; MAM and stanza ids are on the account's disco#info; slixmpp's
own MAM iterator reads the archive both ways.
"""
import datetime
import xml.etree.ElementTree as ET

import theke
from theke import check
import mamlib
from mamlib import form, rsm, query, stanza_id

N = 25


async def main(srv):
    alice = await srv.client("alice", resource="a")
    bob = await srv.client("bob", resource="b")
    bob_bare = srv.jid("bob")

    # Account disco#info advertises MAM and stanza ids.
    kind, res = await bob.iq("<query xmlns='http://jabber.org/protocol/"
                             "disco#info'/>", ito=bob_bare)
    feats = [f.get("var") for f in res.xml.iter(
        "{http://jabber.org/protocol/disco#info}feature")]
    for f in ("urn:xmpp:mam:2", "urn:xmpp:mam:2#extended", "urn:xmpp:sid:0"):
        check(f in feats, "%s missing on the account: %s" % (f, feats))

    # N messages alice -> bob, every third answered by bob.
    live = {}       # body -> stanza id seen by bob
    for i in range(N):
        alice.chat(str(bob.boundjid), "m%02d" % i)
        m = await bob.messages.get(theke.body_is("m%02d" % i), 10)
        sid = stanza_id(m, bob_bare)
        check(sid, "live message without stanza-id by %s: %s" % (bob_bare, m))
        check(stanza_id(m, srv.jid("alice")) is None,
              "the sender's archive id reached bob: %s" % m)
        live["m%02d" % i] = sid
        if i % 3 == 0:
            bob.chat(str(alice.boundjid), "r%02d" % i)
            r = await alice.messages.get(theke.body_is("r%02d" % i), 10)
            check(stanza_id(r, srv.jid("alice")),
                  "reply to alice without stanza-id: %s" % r)
    check(len(set(live.values())) == N, "stanza ids repeat: %s" % live)

    # A stanza-id claiming to be bob's (or alice's), sent by alice, does
    # not survive.
    msg = alice.make_message(mto=str(bob.boundjid), mbody="forged",
                             mtype="chat")
    ET.SubElement(msg.xml, "{urn:xmpp:sid:0}stanza-id",
                  {"by": bob_bare, "id": "forged-id"})
    ET.SubElement(msg.xml, "{urn:xmpp:sid:0}stanza-id",
                  {"by": srv.jid("alice"), "id": "forged-too"})
    msg.send()
    m = await bob.messages.get(theke.body_is("forged"), 10)
    sid = stanza_id(m, bob_bare)
    check(sid and sid != "forged-id", "forged stanza-id kept: %s" % m)
    check(stanza_id(m, srv.jid("alice")) is None,
          "a stanza-id by alice reached bob: %s" % m)
    live["forged"] = sid

    # Not archived: a chat state alone, <no-store/>, a headline.
    st = alice.make_message(mto=str(bob.boundjid), mtype="chat")
    ET.SubElement(st.xml, "{http://jabber.org/protocol/chatstates}composing")
    st.send()
    ns = alice.make_message(mto=str(bob.boundjid), mbody="nostore",
                            mtype="chat")
    ET.SubElement(ns.xml, "{urn:xmpp:hints}no-store")
    ns.send()
    np = alice.make_message(mto=str(bob.boundjid), mbody="noperm",
                            mtype="chat")
    ET.SubElement(np.xml, "{urn:xmpp:hints}no-permanent-store")
    np.send()
    alice.chat(str(bob.boundjid), "headline", mtype="headline")
    for body in ("nostore", "noperm"):
        m = await bob.messages.get(theke.body_is(body), 10)
        check(stanza_id(m, bob_bare) is None,
              "a %s message got a stanza-id: %s" % (body, m))
    await bob.messages.get(theke.body_is("headline"), 10)

    replies = len(range(0, N, 3))
    total = N + replies + 1

    # Forward paging, 10 at a time.
    pages, after = [], None
    while True:
        p = await query(bob, rsm_xml=rsm(max=10, after=after))
        check(p.count == total, "count %s, wanted %d" % (p.count, total))
        pages.append(p)
        if p.complete:
            break
        check(len(p.items) == 10, "a middle page has %d items" %
              len(p.items))
        after = p.last
        check(len(pages) < 10, "forward paging does not end")
    items = [x for p in pages for x in p.items]
    check(len(items) == total, "forward paging gave %d of %d" % (
        len(items), total))
    bodies = [m.find("{jabber:client}body").text for _, _, m in items]
    incoming = [b for b in bodies if b.startswith("m") or b == "forged"]
    check(incoming == ["m%02d" % i for i in range(N)] + ["forged"],
          "archive order/content wrong: %s" % bodies)
    by_body = {b: i for b, (i, _, _) in zip(bodies, items)}
    for body, sid in live.items():
        check(by_body.get(body) == sid, "live stanza-id %s of %r is not "
              "the archive id %s" % (sid, body, by_body.get(body)))
    check("nostore" not in bodies and "noperm" not in bodies and
          "headline" not in bodies,
          "unarchivable messages archived: %s" % bodies)
    for _, _, m in items:
        if m.find("{jabber:client}body").text.startswith("r"):
            check(m.get("from") == str(bob.boundjid) and
                  m.get("to") == str(alice.boundjid),
                  "outgoing message archived as %s" % ET.tostring(m))
    all_ids = [i for i, _, _ in items]

    # Backward paging from the end: <before/>, then before=first.
    pages, before = [], ""
    while True:
        p = await query(bob, rsm_xml=rsm(max=10, before=before))
        pages.append(p)
        if p.complete:
            break
        before = p.first
        check(len(pages) < 10, "backward paging does not end")
    check(pages[0].ids == all_ids[-10:], "last page %s, wanted %s" % (
        pages[0].ids, all_ids[-10:]))
    back = [i for p in reversed(pages) for i in p.ids]
    check(back == all_ids, "backward paging differs: %s vs %s" % (
        back, all_ids))

    # flip-page gives the same page newest first.
    p = await query(bob, rsm_xml=rsm(max=5, before=""),
                    extra="<flip-page/>")
    check(p.ids == list(reversed(all_ids[-5:])), "flip-page: %s" % p.ids)

    # with: bare JID (alice's), full JID (alice/a matches, alice/x not).
    p = await query(bob, form(with_=srv.jid("alice")), rsm(max=100))
    check(p.complete and len(p.items) == total and p.count == total,
          "with=alice bare: %d items" % len(p.items))
    p = await query(bob, form(with_=srv.jid("carol")), rsm(max=100))
    check(p.items == [] and p.complete and p.count == 0,
          "with=carol: %s" % p.ids)
    p = await query(bob, form(with_=str(alice.boundjid)))
    check(len(p.items) == total, "with=alice/a: %d" % len(p.items))
    p = await query(bob, form(with_=srv.jid("alice") + "/x"))
    check(len(p.items) == 0, "with=alice/x: %d" % len(p.items))

    # after-id / before-id select a range; combined with RSM max.
    p = await query(bob, form(after_id=all_ids[4], before_id=all_ids[9]))
    check(p.ids == all_ids[5:9], "after-id/before-id: %s" % p.ids)
    check(p.count == 4, "count of the range: %s" % p.count)
    p = await query(bob, form(after_id=all_ids[4]), rsm(max=3))
    check(p.ids == all_ids[5:8] and not p.complete,
          "after-id with max: %s" % p.ids)

    # Every field and RSM element at once.
    p = await query(bob, form(with_=srv.jid("alice"),
                              start="2000-01-01T00:00:00Z",
                              end="2100-01-01T00:00:00Z",
                              after_id=all_ids[0], before_id=all_ids[9]),
                    rsm(max=3, before=all_ids[8]))
    check(p.ids == all_ids[5:8] and not p.complete,
          "all filters at once: %s" % p.ids)

    # ids: exactly those, in archive order.
    want = [all_ids[7], all_ids[2], all_ids[11]]
    p = await query(bob, form(ids=want))
    check(p.ids == [all_ids[2], all_ids[7], all_ids[11]],
          "ids: %s" % p.ids)

    # start/end by the archive's own timestamps.
    stamps = [s for _, s, _ in items]
    p = await query(bob, form(start=stamps[3], end=stamps[6]),
                    rsm(max=100))
    got = set(p.ids)
    check(set(all_ids[3:7]) <= got, "start/end lost items: %s" % p.ids)
    for i, s, _ in p.items:
        check(stamps[3] <= s <= stamps[6], "item %s at %s outside [%s, %s]"
              % (i, s, stamps[3], stamps[6]))
    p = await query(bob, form(start="2100-01-01T00:00:00Z"))
    check(p.items == [] and p.complete, "start in the future: %s" % p.ids)
    p = await query(bob, form(end="2000-01-01T00:00:00+01:00"))
    check(p.items == [], "end in the past: %s" % p.ids)

    # max=0 counts only.
    p = await query(bob, rsm_xml=rsm(max=0))
    check(p.items == [] and p.count == total and not p.complete,
          "max=0: %s %s %s" % (p.ids, p.count, p.complete))

    # Errors.
    await query(bob, rsm_xml=rsm(after="no-such-id"),
                expect_error="item-not-found")
    await query(bob, form(start="yesterday"), expect_error="bad-request")
    await query(bob, form(colour="blue"), expect_error="bad-request")
    await query(alice, to=bob_bare, expect_error="forbidden")

    # alice's archive holds the same conversation from her side.
    a_items = await mamlib.everything(alice)
    a_bodies = [m.find("{jabber:client}body").text for _, _, m in a_items]
    check(a_bodies[:2] == ["m00", "r00"] and len(a_items) == total,
          "alice's archive: %s" % a_bodies)

    # The form and slixmpp's own MAM client.
    kind, res = await bob.iq("<query xmlns='urn:xmpp:mam:2'/>")
    check(kind == "result", "form get: %s" % res)
    fields = [f.get("var") for f in res.xml.iter("{jabber:x:data}field")]
    for f in ("FORM_TYPE", "with", "start", "end", "before-id", "after-id",
              "ids"):
        check(f in fields, "field %s missing from the form: %s" % (
            f, fields))
    bob.register_plugin("xep_0059")
    bob.register_plugin("xep_0313")
    seen = []
    async for m in bob["xep_0313"].iterate(rsm={"max": 7}):
        seen.append(m["mam_result"]["id"])
    check(seen == all_ids, "slixmpp forward iteration: %d items" % len(seen))
    seen = []
    async for m in bob["xep_0313"].iterate(rsm={"max": 7}, reverse=True):
        seen.append(m["mam_result"]["id"])
    check(seen == list(reversed(all_ids)),
          "slixmpp reverse iteration: %d items" % len(seen))
    start = datetime.datetime.now(datetime.timezone.utc) - \
        datetime.timedelta(hours=1)
    seen = []
    async for m in bob["xep_0313"].iterate(
            with_jid=alice.boundjid.bare, start=start, rsm={"max": 50}):
        seen.append(m["mam_result"]["id"])
    check(seen == all_ids, "slixmpp with+start: %d items" % len(seen))

    # Metadata (start and end of the archive).
    kind, res = await bob.iq("<metadata xmlns='urn:xmpp:mam:2'/>")
    md = res.xml.find("{urn:xmpp:mam:2}metadata")
    check(md is not None and md.find("{urn:xmpp:mam:2}start").get("id") ==
          all_ids[0] and md.find("{urn:xmpp:mam:2}end").get("id") ==
          all_ids[-1], "metadata: %s" % res)

    # XEP-0334 <store/>: a message without a body is archived too (not
    # awaited at bob: slixmpp reports messages with a body only).
    kept = alice.make_message(mto=str(bob.boundjid), mtype="chat")
    ET.SubElement(kept.xml, "{urn:example:receipt}ok")
    ET.SubElement(kept.xml, "{urn:xmpp:hints}store")
    kept.send()
    await alice.ping_server()   # the server has taken the message
    p = await query(bob, rsm_xml=rsm(max=1, before=""))
    check(p.count == total + 1 and len(p.items) == 1 and
          p.items[0][2].find("{urn:xmpp:hints}store") is not None and
          p.items[0][2].find("{jabber:client}body") is None,
          "a <store/> message: count %s, archive end %s"
          % (p.count, [ET.tostring(m) for _, _, m in p.items]))

    # An offline message is archived too and arrives with its stanza-id.
    await bob.close()
    alice.chat(bob_bare, "while away")
    await alice.ping_server()   # the server has taken the message
    bob2 = await srv.client("bob", resource="b2")
    m = await bob2.messages.get(theke.body_is("while away"), 10)
    sid = stanza_id(m, bob_bare)
    p = await query(bob2, rsm_xml=rsm(max=1, before=""))
    check(sid and p.ids == [sid], "offline message id %s, archive end %s"
          % (sid, p.ids))


theke.run(main, users=["alice", "bob", "carol"])
