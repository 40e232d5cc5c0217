#!/usr/bin/python3
"""vcard-temp (XEP-0054), its avatar hash in presence (XEP-0153) and
Private XML Storage (XEP-0049).

alice sets a vCard with a photo and reads it back; her available
presence then carries the photo's SHA-1; her contact bob reads her vCard,
carol (no subscription) may not; without a vCard a get answers an empty
one. Private storage keeps one element per namespace for the account
alone and refuses jabber:* namespaces.
"""
import base64
import hashlib

from slixmpp.exceptions import IqError
from slixmpp.xmlstream import ET

import theke
from theke import check, fail

NS_VCARD = "vcard-temp"
NS_UPDATE = "vcard-temp:x:update"
NS_PRIVATE = "jabber:iq:private"
PHOTO = bytes(range(256)) * 4


async def iq(c, kind, payload, to=None):
    i = c.make_iq_get(ito=to) if kind == "get" else c.make_iq_set(ito=to)
    i.append(ET.fromstring(payload))
    return await i.send(timeout=10)


async def main(srv):
    alice = await srv.client("alice")
    bob = await srv.client("bob")
    carol = await srv.client("carol")
    await theke.befriend(alice, bob)

    # No vCard yet: an empty one.
    res = await iq(alice, "get", "<vCard xmlns='%s'/>" % NS_VCARD)
    vc = res.xml.find("{%s}vCard" % NS_VCARD)
    check(vc is not None and len(vc) == 0, "empty vCard expected: %s" % res)

    b64 = base64.b64encode(PHOTO).decode()
    # Clients wrap the base64 in lines.
    wrapped = "\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
    await iq(alice, "set",
             "<vCard xmlns='%s'><FN>Alice's Bakery</FN><PHOTO><TYPE>"
             "image/png</TYPE><BINVAL>%s</BINVAL></PHOTO></vCard>"
             % (NS_VCARD, wrapped))
    res = await iq(alice, "get", "<vCard xmlns='%s'/>" % NS_VCARD)
    fn = res.xml.find("{%s}vCard/{%s}FN" % (NS_VCARD, NS_VCARD))
    check(fn is not None and fn.text == "Alice's Bakery",
          "own vCard read back: %s" % res)

    res = await iq(bob, "get", "<vCard xmlns='%s'/>" % NS_VCARD,
                   to=srv.jid("alice"))
    binval = res.xml.find(".//{%s}BINVAL" % NS_VCARD)
    check(binval is not None and
          base64.b64decode("".join(binval.text.split())) == PHOTO,
          "bob's copy of alice's photo differs")
    try:
        await iq(carol, "get", "<vCard xmlns='%s'/>" % NS_VCARD,
                 to=srv.jid("alice"))
        fail("carol, no contact, read alice's vCard")
    except IqError as e:
        check(e.iq["error"]["condition"] == "forbidden",
              "carol: %s" % e.iq["error"]["condition"])
    try:
        await iq(bob, "set", "<vCard xmlns='%s'><FN>x</FN></vCard>"
                 % NS_VCARD, to=srv.jid("alice"))
        fail("bob set alice's vCard")
    except IqError as e:
        check(e.iq["error"]["condition"] == "forbidden",
              "bob setting alice's vCard: %s" % e.iq["error"]["condition"])

    # XEP-0153: the hash comes with alice's next available presence.
    alice.send_presence(pstatus="fresh bread")
    want = hashlib.sha1(PHOTO).hexdigest()

    def has_hash(p):
        x = p.xml.find("{%s}x/{%s}photo" % (NS_UPDATE, NS_UPDATE))
        return (str(p["from"].bare) == srv.jid("alice") and
                p["status"] == "fresh bread" and x is not None and
                x.text == want)
    await bob.presences.get(has_hash, timeout=10,
                            what="alice's presence with the photo hash")

    # Private XML storage.
    await iq(alice, "set",
             "<query xmlns='%s'><storage xmlns='storage:rosternotes'>"
             "<note jid='bob@localhost'>likes rye</note></storage></query>"
             % NS_PRIVATE)
    res = await iq(alice, "get", "<query xmlns='%s'><storage xmlns="
                   "'storage:rosternotes'/></query>" % NS_PRIVATE)
    note = res.xml.find(".//{storage:rosternotes}note")
    check(note is not None and note.text == "likes rye",
          "private storage read back: %s" % res)
    res = await iq(alice, "get", "<query xmlns='%s'><storage xmlns="
                   "'storage:bookmarks'/></query>" % NS_PRIVATE)
    empty = res.xml.find(".//{storage:bookmarks}storage")
    check(empty is not None and len(empty) == 0,
          "nothing stored gives the empty element: %s" % res)
    for who, payload, cond in (
            (alice, "<query xmlns='%s'><x xmlns='jabber:iq:roster'/>"
             "</query>" % NS_PRIVATE, "not-acceptable"),
            (bob, "<query xmlns='%s'><storage xmlns='storage:rosternotes'/>"
             "</query>" % NS_PRIVATE, "forbidden")):
        try:
            await iq(who, "get", payload,
                     to=srv.jid("alice") if who is bob else None)
            fail("private storage answered %s" % payload)
        except IqError as e:
            check(e.iq["error"]["condition"] == cond,
                  "%s: %s" % (payload, e.iq["error"]["condition"]))


theke.run(main, users=["alice", "bob", "carol"])
