#!/usr/bin/python3
"""PEP, avatars, vCards and private storage through slixmpp's own
plugins, as a client application would call them (XEP-0060, XEP-0163,
XEP-0084, XEP-0054, XEP-0153, XEP-0049, XEP-0048, XEP-0223).

alice publishes an avatar with xep_0084 (data, then metadata): bob's
client raises avatar_metadata_publish and retrieve_avatar() gives the
image; xep_0054's get_vcard() on alice shows it too (XEP-0398). alice
then sets another avatar the vCard way (xep_0153.set_avatar): bob is
told over PEP and sees its hash in her presence. Bookmarks stored with
xep_0048 in private storage (xep_0049) read back, and appear on the
XEP-0402 node; xep_0223 stores private data over PEP, which bob may not
read.
"""
import asyncio
import hashlib

import theke
from theke import check
from slixmpp.exceptions import IqError
from slixmpp.plugins.xep_0048.stanza import Bookmarks
from slixmpp.plugins.xep_0049.stanza import PrivateXML
from slixmpp.plugins.xep_0084.stanza import MetaData
from slixmpp.xmlstream import ElementBase, register_stanza_plugin
from peplib import pep_client

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 6
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(200)) * 6
PLUGINS = ("xep_0084", "xep_0054", "xep_0153", "xep_0049", "xep_0048",
           "xep_0223")


class Note(ElementBase):
    name = "note"
    namespace = "urn:example:notes"
    plugin_attrib = "note"
    interfaces = {"text"}
    sub_interfaces = interfaces


async def main(srv):
    alice = srv.jid("alice")
    a = await pep_client(srv, "alice", "a", [MetaData.namespace])
    b = await pep_client(srv, "bob", "b", [MetaData.namespace])
    for c in (a, b):
        for p in PLUGINS:
            c.register_plugin(p)
    await theke.befriend(a, b)
    metas = theke.Inbox("avatar metadata events")
    b.add_event_handler("avatar_metadata_publish", metas.put)

    # XEP-0084 with the plugin.
    sha = hashlib.sha1(PNG).hexdigest()
    await a["xep_0084"].publish_avatar(PNG, timeout=10)
    await a["xep_0084"].publish_avatar_metadata(
        items=[{"id": sha, "type": "image/png", "bytes": len(PNG)}],
        timeout=10)
    m = await metas.get(lambda m: m["pubsub_event"]["items"]["item"]["id"]
                        == sha, 10, "bob waiting for avatar metadata")
    res = await b["xep_0084"].retrieve_avatar(alice, sha, timeout=10)
    data = res["pubsub"]["items"]["item"]["avatar_data"]["value"]
    check(data == PNG, "retrieve_avatar gave %d other bytes" % len(data))
    vc = await b["xep_0054"].get_vcard(alice, cached=False, timeout=10)
    check(vc["vcard_temp"]["PHOTO"]["BINVAL"] == PNG,
          "alice's vCard does not hold her PEP avatar")

    # XEP-0153 with the plugin: vCard first, PEP follows.
    sha2 = hashlib.sha1(JPEG).hexdigest()
    await a["xep_0153"].set_avatar(avatar=JPEG, mtype="image/jpeg",
                                   timeout=10)
    m = await metas.get(lambda m: m["pubsub_event"]["items"]["item"]["id"]
                        == sha2, 10, "bob waiting for the vCard avatar")
    info = m["pubsub_event"]["items"]["item"]["avatar_metadata"]["info"]
    check(info["type"] == "image/jpeg" and int(info["bytes"]) == len(JPEG),
          "metadata of the vCard avatar: %s" % m)
    p = await b.presences.get(
        lambda p: p["from"].bare == alice and
        p["vcard_temp_update"]["photo"] == sha2, 10,
        "bob waiting for alice's presence with the new hash")
    check(p is not None, "no presence")

    # XEP-0048 bookmarks in private storage (XEP-0049).
    bm = Bookmarks()
    bm.add_conference("room@muc.example", "al", name="Room", autojoin=True)
    bm.add_url("https://shop.example/", name="Shop")
    await a["xep_0048"].set_bookmarks(bm, method="xep_0049", timeout=10)
    res = await a["xep_0048"].get_bookmarks(method="xep_0049", timeout=10)
    confs = res["private"]["bookmarks"]["conferences"]
    check(len(confs) == 1 and confs[0]["jid"] == "room@muc.example" and
          confs[0]["nick"] == "al" and confs[0]["autojoin"],
          "bookmarks read back: %s" % res)
    check(len(res["private"]["bookmarks"]["urls"]) == 1,
          "the URL bookmark was lost: %s" % res)
    res = await a["xep_0060"].get_items(alice, "urn:xmpp:bookmarks:1",
                                        timeout=10)
    ids = [i["id"] for i in res["pubsub"]["items"]]
    check(ids == ["room@muc.example"], "XEP-0402 items: %s" % ids)

    # XEP-0223 private data over PEP.
    register_stanza_plugin(PrivateXML, Note)
    note = Note()
    note["text"] = "call the baker"
    await a["xep_0223"].store(note, node=Note.namespace, id="current",
                              timeout=10)
    res = await a["xep_0223"].retrieve(Note.namespace, timeout=10)
    got = res.xml.find(".//{%s}note/{%s}text" % (Note.namespace,
                                                   Note.namespace))
    check(got is not None and got.text == "call the baker",
          "private PEP data read back: %s" % res)
    try:
        await b["xep_0060"].get_items(alice, Note.namespace, timeout=10)
        check(False, "bob read alice's private PEP data")
    except IqError as e:
        check(e.iq["error"]["condition"] == "not-allowed",
              "bob reading private data: %s" % e.iq["error"]["condition"])
    await asyncio.sleep(0)


theke.run(main, users=["alice", "bob"])
