#!/usr/bin/python3
"""The HTTP server answers like a well-behaved HTTP/1.1 server.

host-meta (XEP-0156) in XML and JSON names the WebSocket endpoint with
CORS allowed, over http and https; HEAD has the headers without the body;
unknown paths get 404, wrong methods 405 with Allow; one connection serves
several requests (keep-alive); pipelined requests are answered in order;
HTTP/1.0 without keep-alive is closed after its answer."""
import json
import xml.etree.ElementTree as ET

import theke
import theke_http as th
from theke import check

REL = "urn:xmpp:alt-connections:websocket"
XRD = "{http://docs.oasis-open.org/ns/xri/xrd-1.0}"


def host_meta(srv):
    for tls in (False, True):
        r = th.get(srv, "/.well-known/host-meta", tls=tls)
        check(r.status == 200, "host-meta: %r" % r)
        check(r.header("content-type") == "application/xrd+xml",
              "host-meta content type %r" % r.header("content-type"))
        check(r.header("access-control-allow-origin") == "*",
              "host-meta without CORS: %r" % r.headers)
        links = ET.fromstring(r.body).findall(XRD + "Link")
        hrefs = [l.get("href") for l in links if l.get("rel") == REL]
        want = "wss://localhost:%d/xmpp-websocket" % srv.https_port
        check(hrefs == [want], "host-meta WebSocket links %r, want %r" % (
            hrefs, want))

        r = th.get(srv, "/.well-known/host-meta.json", tls=tls)
        check(r.status == 200, "host-meta.json: %r" % r)
        check(r.header("content-type") == "application/json",
              "host-meta.json content type %r" % r.header("content-type"))
        check(r.header("access-control-allow-origin") == "*",
              "host-meta.json without CORS")
        links = json.loads(r.body)["links"]
        check([l["href"] for l in links if l["rel"] == REL] == [want],
              "host-meta.json links %r" % links)


def keep_alive_and_errors(srv):
    h = th.HttpRaw(srv)
    h.send(th.request("HEAD", "/.well-known/host-meta"))
    r = h.read_response(head=True, what="HEAD host-meta")
    check(r.status == 200 and int(r.header("content-length")) > 0,
          "HEAD: %r" % r)
    h.send(th.request("GET", "/no/such/thing"))
    r = h.read_response(what="GET unknown path")
    check(r.status == 404, "unknown path: %r" % r)
    h.send(th.request("POST", "/.well-known/host-meta", body="x=1"))
    r = h.read_response(what="POST host-meta")
    check(r.status == 405, "POST host-meta: %r" % r)
    allow = {m.strip() for m in (r.header("allow") or "").split(",")}
    check(allow == {"GET", "HEAD"}, "Allow: %r" % r.header("allow"))
    h.send(th.request("GET", "/.well-known/host-meta?x=1"))
    r = h.read_response(what="GET with a query")
    check(r.status == 200, "host-meta with a query: %r" % r)
    check(r.header("connection") != "close", "keep-alive refused: %r" % r)
    h.close()


def pipelined(srv):
    h = th.HttpRaw(srv)
    paths = ["/.well-known/host-meta.json", "/nothing", "/.well-known/host-meta",
             "/.well-known/host-meta.json"]
    h.send(b"".join(th.request("GET", p) for p in paths))
    got = [h.read_response(what="pipelined answer %d" % i)
           for i in range(len(paths))]
    statuses = [r.status for r in got]
    check(statuses == [200, 404, 200, 200],
          "pipelined statuses %r" % statuses)
    check(got[0].header("content-type") == "application/json" and
          got[2].header("content-type") == "application/xrd+xml" and
          got[3].header("content-type") == "application/json",
          "pipelined answers out of order: %r" % got)
    h.close()


def http10(srv):
    h = th.HttpRaw(srv)
    h.send(th.request("GET", "/.well-known/host-meta", version="HTTP/1.0"))
    r = h.read_response(what="HTTP/1.0 request")
    check(r.status == 200, "HTTP/1.0: %r" % r)
    check(h.closed_by_server(5), "HTTP/1.0 connection left open")
    h.close()
    h = th.HttpRaw(srv)
    h.send(th.request("GET", "/.well-known/host-meta",
                      headers=[("Connection", "close")]))
    r = h.read_response(what="Connection: close")
    check(r.header("connection") == "close", "no Connection: close: %r" % r)
    check(h.closed_by_server(5), "connection left open after close")
    h.close()


async def main(srv):
    await theke.in_thread(host_meta, srv)
    await theke.in_thread(keep_alive_and_errors, srv)
    await theke.in_thread(pipelined, srv)
    await theke.in_thread(http10, srv)


theke.run(main)
