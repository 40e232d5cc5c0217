#!/usr/bin/python3
"""In-band registration (XEP-0077) with registration = open.

After STARTTLS the features announce iq-register; a get returns the
form with username and password; a set creates the account, which can
then log in; registering a taken name gives <conflict/>.
"""
import re

import theke
from theke import check

NS_REG = "jabber:iq:register"


def reg_iq(r, id, body, itype="set"):
    r.send("<iq type='%s' id='%s'><query xmlns='%s'>%s</query></iq>" % (
        itype, id, NS_REG, body))
    return r.read_until(r"<iq[^>]*id=['\"]%s['\"].*?</iq>|"
                        r"<iq[^>]*id=['\"]%s['\"][^>]*/>" % (id, id), 10,
                        "answer to register %s" % id).decode()


async def main(srv):
    r, feats = theke.tls_stream(srv)
    check("http://jabber.org/features/iq-register" in feats,
          "iq-register not announced with registration open: %s" % feats)
    data = reg_iq(r, "g1", "", "get")
    check("type='result'" in data or 'type="result"' in data,
          "register get: %s" % data)
    check("<username" in data and "<password" in data,
          "register form lacks username/password: %s" % data)
    data = reg_iq(r, "s1", "<username>newbie</username>"
                  "<password>n-secret</password>")
    check(re.search(r"type=['\"]result['\"]", data),
          "register set: %s" % data)
    r.close()

    r, _ = theke.tls_stream(srv)
    data = reg_iq(r, "s2", "<username>newbie</username>"
                  "<password>other</password>")
    check(re.search(r"type=['\"]error['\"]", data) and "<conflict" in data,
          "registering a taken name: %s" % data)
    data = reg_iq(r, "s3", "<username>bad name@x</username>"
                  "<password>p</password>")
    check(re.search(r"type=['\"]error['\"]", data),
          "registering an invalid username: %s" % data)
    r.close()

    listed = srv.ctl("user", "list").stdout.split()
    check(srv.jid("newbie") in listed, "user list: %r" % listed)
    srv.users["newbie"] = "n-secret"
    c = await srv.client("newbie")
    await c.ping_server()


theke.run(main, users=[], config={"registration": "open"})
