#!/usr/bin/python3
"""Avatars kept in step between PEP and the vCard (XEP-0398), and the
avatar hash the server puts into presence (XEP-0153).

alice's account announces urn:xmpp:pep-vcard-conversion:0. Her client
publishes an avatar over PEP (XEP-0084, data then metadata): her vCard
then holds the image, bob (her contact) reads it there, and her next
presence carries its SHA-1, also when her client put a stale hash in it.
She then sets a vCard with another photo (no TYPE): bob, who wants
metadata notifications, is told of the new avatar (its type taken from
the image) and fetches the same bytes from PEP. Empty metadata
(avatar disabled) removes the vCard's photo, and presence says so.
"""
import base64
import hashlib

import theke
from theke import check
from slixmpp.xmlstream import ET
from peplib import (pep_client, publish_ok, items, item_list, event_for)

AV_DATA = "urn:xmpp:avatar:data"
AV_META = "urn:xmpp:avatar:metadata"
NS_VCARD = "vcard-temp"
NS_UPDATE = "vcard-temp:x:update"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(255, -1, -1)) * 8


def photo_of(p):
    x = p.xml.find("{%s}x/{%s}photo" % (NS_UPDATE, NS_UPDATE))
    return None if x is None else (x.text or "")


async def vcard(c, to=None):
    kind, res = await c.iq("<vCard xmlns='%s'/>" % NS_VCARD, ito=to)
    check(kind == "result", "vCard get: %s" % res)
    return res.xml.find("{%s}vCard" % NS_VCARD)


async def main(srv):
    alice = srv.jid("alice")
    a = await pep_client(srv, "alice", "a", [AV_META])
    b = await pep_client(srv, "bob", "b", [AV_META])
    await theke.befriend(a, b)

    kind, res = await a.iq("<query xmlns='http://jabber.org/protocol/"
                           "disco#info'/>", ito=alice)
    check("urn:xmpp:pep-vcard-conversion:0" in str(res),
          "no pep-vcard-conversion feature: %s" % res)

    # PEP to vCard.
    sha = hashlib.sha1(PNG).hexdigest()
    await publish_ok(a, AV_DATA, sha, "<data xmlns='%s'>%s</data>" % (
        AV_DATA, base64.b64encode(PNG).decode()))
    await publish_ok(a, AV_META, sha,
                     "<metadata xmlns='%s'><info bytes='%d' id='%s' "
                     "type='image/png' url='https://example.com/a.png'/>"
                     "<info bytes='%d' id='%s' type='image/png'/>"
                     "</metadata>" % (AV_META, len(PNG), "0" * 40, len(PNG),
                                      sha))
    await b.events.get(event_for(AV_META, sha, frm=alice), 10,
                       "bob waiting for alice's metadata")
    for who in (a, b):
        vc = await vcard(who, alice if who is b else None)
        binval = vc.find("{%s}PHOTO/{%s}BINVAL" % (NS_VCARD, NS_VCARD))
        ptype = vc.find("{%s}PHOTO/{%s}TYPE" % (NS_VCARD, NS_VCARD))
        check(binval is not None and
              base64.b64decode("".join(binval.text.split())) == PNG and
              ptype is not None and ptype.text == "image/png",
              "%s reads alice's vCard without the PEP avatar: %s" % (
                  who.boundjid, ET.tostring(vc)))
    stale = ET.fromstring("<x xmlns='%s'><photo>%s</photo></x>" % (
        NS_UPDATE, "f" * 40))
    p = a.make_presence(pstatus="new avatar")
    p.append(stale)
    p.send()
    got = await b.presences.get(
        lambda p: p["status"] == "new avatar", 10,
        "bob waiting for alice's presence")
    check(photo_of(got) == sha, "presence hash %r, want %s" % (
        photo_of(got), sha))

    # vCard to PEP.
    sha2 = hashlib.sha1(JPEG).hexdigest()
    kind, res = await a.iq(
        "<vCard xmlns='%s'><FN>Alice</FN><PHOTO><BINVAL>%s</BINVAL>"
        "</PHOTO></vCard>" % (NS_VCARD, base64.b64encode(JPEG).decode()),
        itype="set")
    check(kind == "result", "vCard set: %s" % res)
    m = await b.events.get(event_for(AV_META, sha2, frm=alice), 10,
                           "bob waiting for the metadata of the vCard photo")
    info = m.xml.find(".//{%s}info" % AV_META)
    check(info is not None and info.get("type") == "image/jpeg" and
          info.get("bytes") == str(len(JPEG)),
          "metadata of the vCard photo: %s" % m)
    kind, res = await items(b, alice, AV_DATA, ids=[sha2])
    got = item_list(res)
    check(kind == "result" and len(got) == 1 and
          base64.b64decode(got[0][1].text) == JPEG,
          "avatar data from the vCard: %s" % res)
    vc = await vcard(a)
    check(vc.find("{%s}FN" % NS_VCARD) is not None,
          "the vCard lost its other fields")

    # Avatar disabled.
    await publish_ok(a, AV_META, "off", "<metadata xmlns='%s'/>" % AV_META)
    vc = await vcard(b, alice)
    check(vc.find("{%s}PHOTO" % NS_VCARD) is None and
          vc.find("{%s}FN" % NS_VCARD) is not None,
          "vCard after the avatar was disabled: %s" % ET.tostring(vc))
    a.send_presence(pstatus="no avatar")
    got = await b.presences.get(lambda p: p["status"] == "no avatar", 10,
                                "bob waiting for alice's presence")
    check(photo_of(got) == "", "presence hash %r, want empty" %
          photo_of(got))


theke.run(main, users=["alice", "bob"])
