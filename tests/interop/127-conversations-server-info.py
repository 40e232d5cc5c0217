#!/usr/bin/python3
"""What Conversations shows on its server-info screen, checked the way it
checks: stream features (roster versioning, client state indication,
stream management), the domain's disco#info (carbons, blocking, external
services), the account's disco#info (archive, push, PEP with
publish-options) and an upload service announcing max-file-size."""
import re

import theke
from theke import check


async def main(srv):
    r, feats = theke.tls_stream(srv)
    r.auth_plain("alice", theke.password("alice"))
    feats = r.open_stream()
    for ns, what in (("urn:xmpp:features:rosterver", "roster versioning"),
                     ("urn:xmpp:csi:0", "client state indication"),
                     ("urn:xmpp:sm:3", "stream management")):
        check(ns in feats, "%s (%s) not in the stream features: %s"
              % (what, ns, feats))
    r.close()

    c = await srv.client("alice")
    disco = c.plugin["xep_0030"]
    host = (await disco.get_info(jid=srv.domain, timeout=10))["disco_info"]
    for ns in ("urn:xmpp:carbons:2", "urn:xmpp:blocking",
               "urn:xmpp:extdisco:2"):
        check(ns in host["features"], "%s not on the domain: %s"
              % (ns, host["features"]))
    acct = (await disco.get_info(jid=srv.jid("alice"),
                                 timeout=10))["disco_info"]
    for ns in ("urn:xmpp:mam:2", "urn:xmpp:push:0",
               "http://jabber.org/protocol/pubsub#publish-options"):
        check(ns in acct["features"], "%s not on the account: %s"
              % (ns, acct["features"]))
    check(("pubsub", "pep") in [(i[0], i[1]) for i in acct["identities"]],
          "no pubsub/pep identity on the account: %s" % acct["identities"])

    items = await disco.get_items(jid=srv.domain, timeout=10)
    uploads = []
    for jid, _, _ in items["disco_items"]["items"]:
        info = (await disco.get_info(jid=jid, timeout=10))["disco_info"]
        if "urn:xmpp:http:upload:0" in info["features"]:
            uploads.append(info)
    check(uploads, "no upload service among %s" % items)
    check(re.search(r"max-file-size", str(uploads[0])),
          "the upload service gives no max-file-size: %s" % uploads[0])


theke.run(main, users=["alice"],
          config={"external_services": "stun:127.0.0.1:3478"})
