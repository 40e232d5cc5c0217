#!/usr/bin/python3
"""With registration = closed no account can be created in-band: the
feature is not announced and a register set is refused."""
import re

import theke
from theke import check

NS_REG = "jabber:iq:register"


async def main(srv):
    r = theke.Raw(srv)
    r.open_stream()
    r.starttls()
    feats = r.open_stream()
    check("iq-register" not in feats,
          "iq-register announced with registration closed: %s" % feats)
    r.send("<iq type='set' id='s1'><query xmlns='%s'><username>intruder"
           "</username><password>x</password></query></iq>" % NS_REG)
    data = r.read_to_eof(5)
    if data is None:
        data = r.read_until(r"<iq[^>]*id=['\"]s1['\"].*?</iq>", 5,
                            "answer to register set").decode()
        check(re.search(r"type=['\"]error['\"]", data) and
              re.search(r"<(not-allowed|service-unavailable|forbidden|"
                        r"registration-required) ", data),
              "register set with registration closed: %s" % data)
    else:
        check(b"type='result'" not in data and b'type="result"' not in data,
              "register set answered with result: %s" % theke.short(data))
    r.close()
    listed = srv.ctl("user", "list").stdout.split()
    check(srv.jid("intruder") not in listed,
          "account created with registration closed: %r" % listed)


theke.run(main, users=[], config={"registration": "closed"})
