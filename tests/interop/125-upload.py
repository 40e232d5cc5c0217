#!/usr/bin/python3
"""HTTP File Upload (XEP-0363) on upload.DOMAIN.

The server lists the service; its disco#info gives max-file-size; a slot
request answers PUT and GET URLs; the PUT must match the announced size
and type and works once; GET serves the file with its content type,
safe headers and byte ranges; too large a file, a full quota, unknown
tokens and expired files are refused; files expire.
"""
import asyncio
import http.client
import os
import sqlite3
import urllib.parse
from xml.sax.saxutils import quoteattr

from slixmpp.exceptions import IqError
from slixmpp.xmlstream import ET

import theke
from theke import check, fail

NS_UPLOAD = "urn:xmpp:http:upload:0"
MAX = 100000


async def request_slot(c, name, size, ctype="text/plain"):
    iq = c.make_iq_get(ito="upload.localhost")
    iq.append(ET.fromstring(
        "<request xmlns='%s' filename=%s size='%d' content-type='%s'/>"
        % (NS_UPLOAD, quoteattr(name), size, ctype)))
    res = await iq.send(timeout=10)
    slot = res.xml.find("{%s}slot" % NS_UPLOAD)
    put = slot.find("{%s}put" % NS_UPLOAD).get("url")
    get = slot.find("{%s}get" % NS_UPLOAD).get("url")
    return put, get


def fetch(method, url, body=None, headers=None):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(
            "127.0.0.1", u.port, timeout=10,
            context=theke.no_verify_context())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", u.port, timeout=10)
    conn.request(method, u.path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r, data


async def run_http(*args, **kw):
    return await asyncio.get_running_loop().run_in_executor(
        None, lambda: fetch(*args, **kw))


async def main(srv):
    c = await srv.client("alice")
    items = await c.plugin["xep_0030"].get_items(jid=srv.domain, timeout=10)
    jids = [i[0] for i in items["disco_items"]["items"]]
    check("upload.localhost" in jids, "no upload service in %s" % jids)
    info = await c.plugin["xep_0030"].get_info(jid="upload.localhost",
                                               timeout=10)
    check(NS_UPLOAD in info["disco_info"]["features"],
          "upload feature missing: %s" % info)
    text = ET.tostring(info.xml, encoding="unicode")
    check("max-file-size" in text and str(MAX) in text,
          "no max-file-size %d in %s" % (MAX, text))

    data = os.urandom(5000)
    put, get = await request_slot(c, "notes & plan.txt", len(data))
    check(put == get and "/upload/" in put, "slot URLs %s %s" % (put, get))
    r, _ = await run_http("PUT", put, body=data[:10],
                          headers={"Content-Type": "text/plain"})
    check(r.status == 413, "PUT of the wrong size: %d" % r.status)
    r, _ = await run_http("PUT", put, body=data,
                          headers={"Content-Type": "text/plain"})
    check(r.status == 201, "PUT: %d" % r.status)
    r, _ = await run_http("PUT", put, body=data,
                          headers={"Content-Type": "text/plain"})
    check(r.status == 409, "second PUT: %d" % r.status)

    r, body = await run_http("GET", get)
    check(r.status == 200 and body == data, "GET: %d, %d bytes"
          % (r.status, len(body)))
    check(r.getheader("Content-Type") == "text/plain",
          "content type %s" % r.getheader("Content-Type"))
    check(r.getheader("X-Content-Type-Options") == "nosniff",
          "no nosniff header")
    r, body = await run_http("GET", get, headers={"Range": "bytes=10-19"})
    check(r.status == 206 and body == data[10:20] and
          r.getheader("Content-Range") == "bytes 10-19/5000",
          "range: %d %s %r" % (r.status, r.getheader("Content-Range"),
                               body[:20]))
    r, body = await run_http("GET", get, headers={"Range": "bytes=-100"})
    check(r.status == 206 and body == data[-100:], "suffix range: %d"
          % r.status)
    r, _ = await run_http("GET", get, headers={"Range": "bytes=9000-"})
    check(r.status == 416, "unsatisfiable range: %d" % r.status)
    r, _ = await run_http("OPTIONS", get)
    check(r.status == 204 and
          r.getheader("Access-Control-Allow-Origin") == "*",
          "CORS preflight: %d" % r.status)
    bad = get.replace(get.split("/")[-2], "A" * 32)
    r, _ = await run_http("GET", bad)
    check(r.status == 404, "unknown token: %d" % r.status)

    # Too large, then over the quota (slots count as soon as given).
    try:
        await request_slot(c, "big.bin", MAX + 1)
        fail("a slot for a file over max-file-size")
    except IqError as e:
        check(e.iq["error"]["condition"] == "not-acceptable",
              "too large: %s" % e.iq["error"]["condition"])
        check("file-too-large" in str(e.iq), "no file-too-large: %s" % e.iq)
    await request_slot(c, "a.bin", MAX)
    try:
        await request_slot(c, "b.bin", MAX)
        fail("a slot over the quota")
    except IqError as e:
        check(e.iq["error"]["condition"] == "resource-constraint",
              "over quota: %s" % e.iq["error"]["condition"])

    # Expiry: make the file old, restart (the first check runs at once).
    db = sqlite3.connect(os.path.join(srv.data_dir, "theke.db"), timeout=30)
    with db:
        db.execute("UPDATE uploads SET created_at = created_at - 86400 * 10")
    db.close()
    token = get.split("/")[-2]
    check(os.path.exists(os.path.join(srv.data_dir, "upload", token)),
          "the file is not under data_dir/upload")
    for cl in list(srv.clients):
        cl.abort()
    srv.restart()
    for _ in range(50):
        if not os.path.exists(os.path.join(srv.data_dir, "upload", token)):
            break
        await asyncio.sleep(0.1)
    r, _ = await run_http("GET", get)
    check(r.status == 404, "an expired file is still served: %d" % r.status)
    check(not os.path.exists(os.path.join(srv.data_dir, "upload", token)),
          "an expired file is still on disk")


theke.run(main, users=["alice"],
          config={"upload_max_file_size": MAX,
                  "upload_quota": MAX + 6000,
                  "upload_expire_days": 7})
