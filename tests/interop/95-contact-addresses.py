#!/usr/bin/python3
"""Contact addresses (XEP-0157) in the server's disco#info.

The configured abuse, admin and support addresses appear in an extended
form (XEP-0128) with FORM_TYPE http://jabber.org/network/serverinfo,
one value per address, and no field for the kinds left unset. A value
that is not a URI stops the server, naming the key.
"""
import os
import subprocess

import theke
from theke import check

NS_INFO = "http://jabber.org/protocol/disco#info"
NS_DATA = "jabber:x:data"
ABUSE = "mailto:abuse@example.com xmpp:abuse@localhost"
ADMIN = "xmpp:admin@localhost"
SUPPORT = "https://example.com/support"


async def main(srv):
    c = await srv.client("alice")
    c.register_plugin("xep_0128")
    info = await c["xep_0030"].get_info(jid=srv.domain)
    forms = info["disco_info"].xml.findall("{%s}x" % NS_DATA)
    found = None
    for x in forms:
        fields = {f.get("var"): [v.text for v in f.findall(
            "{%s}value" % NS_DATA)] for f in x.findall("{%s}field" % NS_DATA)}
        if fields.get("FORM_TYPE") == ["http://jabber.org/network/serverinfo"]:
            check(found is None, "two serverinfo forms")
            found = fields
            check(x.get("type") == "result", "form type %s" % x.get("type"))
    check(found is not None, "no serverinfo form in %s" % info)
    check(found.get("abuse-addresses") == ABUSE.split(),
          "abuse: %s" % found.get("abuse-addresses"))
    check(found.get("admin-addresses") == [ADMIN], "admin: %s" % found)
    check(found.get("support-addresses") == [SUPPORT], "support: %s" % found)
    check("security-addresses" not in found and
          "sales-addresses" not in found, "unset kinds present: %s" % found)
    # slixmpp's own reading of the extended info.
    ext = info["disco_info"]["form"]
    check(ext["values"].get("FORM_TYPE") in (
        "http://jabber.org/network/serverinfo",
        ["http://jabber.org/network/serverinfo"]),
        "slixmpp reads %s" % ext["values"])

    # An account's disco#info has no server form.
    kind, res = await c.iq("<query xmlns='%s'/>" % NS_INFO,
                           ito=srv.jid("alice"))
    check(res.xml.find(".//{%s}x" % NS_DATA) is None,
          "form on an account: %s" % res)

    conf = srv.config_text().replace(ADMIN, "admin-at-example")
    conf = conf.replace("c2s = 127.0.0.1:%d" % srv.c2s_port,
                        "c2s = 127.0.0.1:%d" % theke.free_ports(1)[0])
    conf = conf.replace("c2s_tls = 127.0.0.1:%d" % srv.tls_port,
                        "c2s_tls = off")
    path = os.path.join(srv.dir, "bad.conf")
    with open(path, "w") as f:
        f.write(conf)
    r = subprocess.run([theke.THEKED, "-c", path], capture_output=True,
                       text=True, timeout=10, cwd=srv.dir)
    check(r.returncode != 0 and "contact_admin" in r.stderr,
          "bad contact_admin: status %d, %r" % (r.returncode, r.stderr))


theke.run(main, users=["alice"],
          config={"contact_abuse": '"%s"' % ABUSE, "contact_admin": ADMIN,
                  "contact_support": SUPPORT})
