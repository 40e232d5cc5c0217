#!/usr/bin/python3
"""PEP node affiliations (XEP-0060 §8.9, §5.7), node creation with a
configuration (§8.1.3) and the pubsub features PEP does not have.

alice creates a whitelist node with <create/> and <configure/>: bob, her
contact, may not read it until she lists him as a member; then he reads
it and is notified of new items. carol, no contact, listed as a member,
reads it and is notified too; both, online, get the last item as soon
as they are listed. An outcast may not read even an open
node. alice reads the node's affiliations (hers first, as owner); bob
asks for his own. Removing bob's affiliation closes the node to him
again, and so does deleting carol's account (a new account of the same
name is no member). A purge empties a node and tells its readers. Explicit
subscriptions answer <feature-not-implemented/> with
<unsupported feature='subscribe'/>.
"""
import theke
from theke import check
from peplib import (NS, NS_OWNER, NS_ERRORS, NS_STANZAS, form, publish_ok,
                    items, item_list, only_condition, pep_client, event_for)

W, O = "urn:example:w", "urn:example:o"


def payload(n):
    return "<v xmlns='urn:example'>%s</v>" % n


async def set_affs(a, node, affs, to=None):
    return await a.iq("<pubsub xmlns='%s'><affiliations node='%s'>%s"
                      "</affiliations></pubsub>" % (NS_OWNER, node, "".join(
                          "<affiliation jid='%s' affiliation='%s'/>" % x
                          for x in affs)), ito=to, itype="set")


async def main(srv):
    alice, bob, carol = srv.jid("alice"), srv.jid("bob"), srv.jid("carol")
    a = await pep_client(srv, "alice", "a", [W, O])
    b = await pep_client(srv, "bob", "b", [W, O])
    c = await pep_client(srv, "carol", "c", [W, O])
    d = await pep_client(srv, "dave", "d", [W, O])
    await theke.befriend(a, b)

    kind, res = await a.iq(
        "<pubsub xmlns='%s'><create node='%s'/><configure>%s</configure>"
        "</pubsub>" % (NS, W, form([("pubsub#access_model", "whitelist"),
                                    ("pubsub#max_items", "10")],
                                   form_type=NS + "#node_config")),
        itype="set")
    check(kind == "result", "create with configuration: %s" % res)
    kind, res = await a.iq("<pubsub xmlns='%s'><create node='%s'/></pubsub>"
                           % (NS, W), itype="set")
    only_condition(res, "conflict")
    kind, res = await a.iq("<pubsub xmlns='%s'><configure node='%s'/>"
                           "</pubsub>" % (NS_OWNER, W))
    check(kind == "result" and "<value>whitelist</value>" in str(res),
          "created node's configuration: %s" % res)
    await publish_ok(a, W, "w1", payload("w1"))
    kind, res = await items(b, alice, W)
    only_condition(res, "not-allowed", "closed-node")

    kind, res = await set_affs(a, W, [(bob, "member"), (carol, "member")])
    check(kind == "result", "setting members: %s" % res)
    # Online members with +notify get the last item at once.
    for who in (b, c):
        await who.events.get(event_for(W, "w1", frm=alice), 10,
                             "new member %s waiting for w1" % who.boundjid)
    for who in (b, c):
        kind, res = await items(who, alice, W)
        check(kind == "result" and [i for i, _ in item_list(res)] == ["w1"],
              "member %s reading W: %s" % (who.boundjid, res))
    await publish_ok(a, W, "w2", payload("w2"))
    for who in (b, c):
        await who.events.get(event_for(W, "w2", frm=alice), 10,
                             "member %s waiting for w2" % who.boundjid)
    kind, res = await items(d, alice, W)
    only_condition(res, "not-allowed", "closed-node")

    kind, res = await a.iq("<pubsub xmlns='%s'><affiliations node='%s'/>"
                           "</pubsub>" % (NS_OWNER, W))
    got = [(x.get("jid"), x.get("affiliation")) for x in res.xml.iter(
        "{%s}affiliation" % NS_OWNER)]
    check(kind == "result" and got[0] == (alice, "owner") and
          sorted(got[1:]) == [(bob, "member"), (carol, "member")],
          "affiliations of W: %s" % res)
    kind, res = await b.iq("<pubsub xmlns='%s'><affiliations/></pubsub>"
                           % NS, ito=alice)
    got = [(x.get("node"), x.get("affiliation")) for x in res.xml.iter(
        "{%s}affiliation" % NS)]
    check(kind == "result" and got == [(W, "member")],
          "bob's affiliations with alice's nodes: %s" % res)

    # Outcasts may not read an open node; bad affiliations change nothing.
    await publish_ok(a, O, "o1", payload("o1"),
                     [("pubsub#access_model", "open")])
    kind, res = await items(d, alice, O)
    check(kind == "result", "dave reading the open node: %s" % res)
    kind, res = await set_affs(a, O, [(srv.jid("dave"), "outcast")])
    check(kind == "result", "outcast: %s" % res)
    kind, res = await items(d, alice, O)
    check(kind == "error", "an outcast read the open node: %s" % res)
    await publish_ok(a, O, "o2", payload("o2"))
    await b.events.get(event_for(O, "o2", frm=alice), 10,
                       "bob waiting for o2")
    for affs, cond in (([(bob, "none"), (alice, "member")], "not-acceptable"),
                       ([(bob, "none"), ("@bad", "member")], "bad-request"),
                       ([(bob, "friend")], "not-acceptable")):
        kind, res = await set_affs(a, W, affs)
        check(kind == "error", "affiliations %s accepted: %s" % (affs, res))
        only_condition(res, cond)
    kind, res = await items(b, alice, W)
    check(kind == "result", "bob is still a member: %s" % res)
    kind, res = await set_affs(b, W, [(bob, "member")], to=alice)
    only_condition(res, "forbidden")

    kind, res = await set_affs(a, W, [(bob, "none")])
    check(kind == "result", "removing bob: %s" % res)
    kind, res = await items(b, alice, W)
    only_condition(res, "not-allowed", "closed-node")
    await publish_ok(a, W, "w3", payload("w3"))
    await c.events.get(event_for(W, "w3", frm=alice), 10,
                       "carol waiting for w3")
    await b.events.none(event_for(W, "w3"), 0.5, "bob, no member, got w3")
    await d.events.none(lambda m: True, 0.1, "dave got events")

    # An account deleted and made again under the same name is no
    # member: the affiliation went with the old account.
    await c.close()
    r = srv.ctl("user", "del", carol)
    check(r.returncode == 0, "thekectl user del: %s" % r.stderr)
    srv.add_user("carol")
    c = await pep_client(srv, "carol", "c2", [W])
    kind, res = await items(c, alice, W)
    only_condition(res, "not-allowed", "closed-node")
    kind, res = await a.iq("<pubsub xmlns='%s'><affiliations node='%s'/>"
                           "</pubsub>" % (NS_OWNER, W))
    check(carol not in str(res), "carol still listed: %s" % res)

    # Purge: the items go, the node stays, readers are told.
    kind, res = await a.iq("<pubsub xmlns='%s'><purge node='%s'/></pubsub>"
                           % (NS_OWNER, O), itype="set")
    check(kind == "result", "purge: %s" % res)
    await b.events.get(event_for(O, kind="purge"), 10,
                       "bob waiting for the purge")
    kind, res = await items(b, alice, O)
    check(kind == "result" and item_list(res) == [],
          "items after the purge: %s" % res)

    kind, res = await b.iq("<pubsub xmlns='%s'><subscribe node='%s' jid='%s'/>"
                           "</pubsub>" % (NS, O, bob), ito=alice,
                           itype="set")
    check(kind == "error", "subscribe: %s" % res)
    err = res.xml.find("{jabber:client}error")
    un = err.find("{%s}unsupported" % NS_ERRORS)
    check(err.find("{%s}feature-not-implemented" % NS_STANZAS) is not None
          and un is not None and un.get("feature") == "subscribe",
          "subscribe answered %s" % res)


theke.run(main, users=["alice", "bob", "carol", "dave"])
