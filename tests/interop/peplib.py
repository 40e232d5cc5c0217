"""Helpers for the PEP tests (XEP-0163 over XEP-0060).

pep_client() logs in a slixmpp client with the pubsub, PEP and entity
capabilities plugins, announces NODE+notify for the given nodes in its
caps and only then sends its available presence, the way Conversations
and Gajim do; received notifications land in c.events.
"""
import xml.etree.ElementTree as ET

import theke
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath
from theke import check

NS = "http://jabber.org/protocol/pubsub"
NS_EVENT = NS + "#event"
NS_OWNER = NS + "#owner"
NS_ERRORS = NS + "#errors"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_DATA = "jabber:x:data"
PUBLISH_OPTIONS = NS + "#publish-options"


async def pep_client(srv, user, resource, notify=(), presence=True):
    c = await srv.client(user, resource=resource, presence=False)
    for p in ("xep_0004", "xep_0060", "xep_0115", "xep_0163"):
        c.register_plugin(p)
    c.events = theke.Inbox("pubsub events of %s/%s" % (user, resource))
    c.register_handler(Callback(
        "pubsub events", MatchXPath(
            "{jabber:client}message/{%s}event" % NS_EVENT), c.events.put))
    if notify:
        c["xep_0163"].add_interest(list(notify))
        await c["xep_0115"].update_caps(broadcast=False)
    if presence:
        c.send_presence()
    return c


def form(fields, ftype="submit", form_type=PUBLISH_OPTIONS):
    """A data form as XML text; fields is a list of (var, value)."""
    out = ["<x xmlns='%s' type='%s'>" % (NS_DATA, ftype)]
    if form_type:
        out.append("<field var='FORM_TYPE' type='hidden'><value>%s</value>"
                   "</field>" % form_type)
    for var, value in fields:
        vals = value if isinstance(value, list) else [value]
        out.append("<field var='%s'>%s</field>" % (var, "".join(
            "<value>%s</value>" % v for v in vals)))
    out.append("</x>")
    return "".join(out)


async def publish(c, node, item_id, payload, options=None, to=None):
    """Publishes; returns (type, iq)."""
    po = ""
    if options is not None:
        po = "<publish-options>%s</publish-options>" % form(options)
    xml = ("<pubsub xmlns='%s'><publish node='%s'><item id='%s'>%s</item>"
           "</publish>%s</pubsub>" % (NS, node, item_id, payload, po))
    return await c.iq(xml, ito=to, itype="set")


async def publish_ok(c, node, item_id, payload, options=None):
    kind, res = await publish(c, node, item_id, payload, options)
    check(kind == "result", "%s: publish to %s refused: %s" % (
        c.boundjid, node, res))
    pub = res.xml.find("{%s}pubsub/{%s}publish" % (NS, NS))
    check(pub is not None and pub.get("node") == node and
          pub.find("{%s}item" % NS).get("id") == item_id,
          "publish result does not name node and item: %s" % res)
    return res


async def items(c, owner, node, max_items=None, ids=()):
    """Items of owner's node: returns (type, iq)."""
    attrs = " max_items='%d'" % max_items if max_items else ""
    xml = "<pubsub xmlns='%s'><items node='%s'%s>%s</items></pubsub>" % (
        NS, node, attrs, "".join("<item id='%s'/>" % i for i in ids))
    return await c.iq(xml, ito=owner)


def item_list(res):
    """[(id, payload element)] of an items result or event."""
    out = []
    for it in res.xml.iter():
        if it.tag in ("{%s}item" % NS, "{%s}item" % NS_EVENT):
            kids = list(it)
            out.append((it.get("id"), kids[0] if kids else None))
    return out


def error_conditions(res):
    """Every child element name of <error/>, namespaced as
    '{ns}name', so that extra conditions can be asserted absent."""
    err = res.xml.find("{jabber:client}error")
    check(err is not None, "no <error/> in %s" % res)
    return sorted(child.tag for child in err)


def only_condition(res, cond, app=None):
    want = ["{%s}%s" % (NS_STANZAS, cond)]
    if app:
        want.append("{%s}%s" % (NS_ERRORS, app))
    got = error_conditions(res)
    check(got == sorted(want), "error conditions %s, want %s: %s" % (
        got, sorted(want), res))


def event_for(node, item_id=None, kind="item", frm=None):
    """Predicate on c.events: an event of node about item_id."""
    def pred(m):
        if frm is not None and m["from"].bare != str(frm):
            return False
        ev = m.xml.find("{%s}event" % NS_EVENT)
        for el in ev:
            if el.get("node") != node:
                continue
            if kind in ("delete", "purge") and \
                    el.tag == "{%s}%s" % (NS_EVENT, kind):
                return True
            for it in el:
                if it.tag == "{%s}%s" % (NS_EVENT, kind) and (
                        item_id is None or it.get("id") == item_id):
                    return True
        return False
    return pred
