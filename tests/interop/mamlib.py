"""Helpers for the message archive tests (XEP-0313 with XEP-0059 paging).

query() sends one raw MAM query and returns the archived messages that
came back for it plus the <fin/> element, so a test can check every
detail the way Gajim and Dino read them (first/last, complete, count).
"""
import asyncio
import time
import xml.etree.ElementTree as ET

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

import theke
from theke import check, fail

NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_FWD = "urn:xmpp:forward:0"
NS_DELAY = "urn:xmpp:delay"
NS_SID = "urn:xmpp:sid:0"
NS_DATA = "jabber:x:data"
NS_CLIENT = "jabber:client"

_counter = [0]


def form(**fields):
    """A MAM query form; list values give several <value/>s."""
    out = ["<x xmlns='%s' type='submit'><field var='FORM_TYPE' "
           "type='hidden'><value>%s</value></field>" % (NS_DATA, NS_MAM)]
    for var, val in fields.items():
        var = var.rstrip("_").replace("_", "-")
        vals = val if isinstance(val, list) else [val]
        out.append("<field var='%s'>%s</field>" % (
            var, "".join("<value>%s</value>" % v for v in vals)))
    out.append("</x>")
    return "".join(out)


def rsm(max=None, after=None, before=None):
    out = ["<set xmlns='%s'>" % NS_RSM]
    if max is not None:
        out.append("<max>%d</max>" % max)
    if after is not None:
        out.append("<after>%s</after>" % after)
    if before is not None:
        out.append("<before>%s</before>" % before if before else "<before/>")
    out.append("</set>")
    return "".join(out)


class Page:
    def __init__(self, items, fin):
        self.items = items          # [(id, stamp, inner message element)]
        self.fin = fin
        s = fin.find("{%s}set" % NS_RSM)
        self.set = s
        f = s.find("{%s}first" % NS_RSM) if s is not None else None
        la = s.find("{%s}last" % NS_RSM) if s is not None else None
        c = s.find("{%s}count" % NS_RSM) if s is not None else None
        self.first = f.text if f is not None else None
        self.first_index = f.get("index") if f is not None else None
        self.last = la.text if la is not None else None
        self.count = int(c.text) if c is not None else None
        self.complete = fin.get("complete") in ("true", "1")

    @property
    def ids(self):
        return [i for i, _, _ in self.items]

    @property
    def bodies(self):
        out = []
        for _, _, m in self.items:
            b = m.find("{%s}body" % NS_CLIENT)
            out.append(b.text if b is not None else None)
        return out


def results_inbox(c):
    """An Inbox of c for MAM result messages (slixmpp's 'message' event
    only covers messages with a body)."""
    box = getattr(c, "mam_results", None)
    if box is None:
        box = c.mam_results = theke.Inbox("MAM results")
        c.register_handler(Callback(
            "MAM results %s" % c.boundjid,
            MatchXPath("{%s}message/{%s}result" % (NS_CLIENT, NS_MAM)),
            box.put))
    return box


def result_of(m, queryid):
    r = m.xml.find("{%s}result" % NS_MAM)
    return r is not None and r.get("queryid") == queryid


async def query(c, form_xml="", rsm_xml="", extra="", to=None,
                expect_error=None, timeout=10):
    """One MAM query by client c; returns a Page, or the error condition
    when expect_error is set."""
    box = results_inbox(c)
    _counter[0] += 1
    qid = "q%d-%f" % (_counter[0], time.monotonic())
    payload = "<query xmlns='%s' queryid='%s'>%s%s%s</query>" % (
        NS_MAM, qid, form_xml, rsm_xml, extra)
    kind, res = await c.iq(payload, ito=to, itype="set", timeout=timeout)
    if expect_error is not None:
        check(kind == "error", "query %s: wanted error %s, got %s" % (
            payload, expect_error, res))
        cond = res["error"]["condition"]
        check(cond == expect_error, "query %s: wanted %s, got %s" % (
            payload, expect_error, res))
        return cond
    check(kind == "result", "query %s answered with %s" % (payload, res))
    fin = res.xml.find("{%s}fin" % NS_MAM)
    check(fin is not None, "no <fin/> in %s" % res)
    page = Page([], fin)
    # The results precede the iq result on the same stream; give the
    # client's event handlers the chance to file them.
    deadline = time.monotonic() + timeout
    while True:
        got = box.take_all(lambda m: result_of(m, qid))
        for m in got:
            r = m.xml.find("{%s}result" % NS_MAM)
            fwd = r.find("{%s}forwarded" % NS_FWD)
            check(fwd is not None, "result without <forwarded/>: %s" % m)
            d = fwd.find("{%s}delay" % NS_DELAY)
            check(d is not None and d.get("stamp"),
                  "result without a delay stamp: %s" % m)
            inner = fwd.find("{%s}message" % NS_CLIENT)
            check(inner is not None, "result without a message: %s" % m)
            page.items.append((r.get("id"), d.get("stamp"), inner))
        if page.last is None or (page.items and
                                 page.items[-1][0] == page.last):
            break
        if time.monotonic() > deadline:
            fail("query %s: results incomplete (last %s, got %s)" % (
                payload, page.last, page.ids))
        await asyncio.sleep(0.05)
    if page.items:
        check(page.first == page.items[0][0] and
              page.last == page.items[-1][0],
              "first/last %s/%s do not match the results %s" % (
                  page.first, page.last, page.ids))
    else:
        check(page.first is None and page.last is None,
              "first/last on an empty page: %s" % ET.tostring(fin))
    return page


async def everything(c, **fields):
    """All of c's archive matching fields, paging forward by 100."""
    out, after = [], None
    while True:
        p = await query(c, form(**fields), rsm(max=100, after=after))
        out += p.items
        if p.complete or not p.items:
            return out
        after = p.last


def stanza_id(m, by):
    """The stanza-id a message carries for `by`, or None."""
    ids = [e for e in m.xml.findall("{%s}stanza-id" % NS_SID)
           if e.get("by") == by]
    check(len(ids) <= 1, "several stanza-ids by %s: %s" % (by, m))
    return ids[0].get("id") if ids else None
