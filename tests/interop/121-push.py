"""Push notifications (XEP-0357) to an app server connected as a
component (XEP-0114): enable, a publish per offline message with the
client's publish-options and without sender or body, registrations the
app server refuses are dropped, disable."""

import asyncio

from slixmpp import Iq
from slixmpp.componentxmpp import ComponentXMPP
from slixmpp.exceptions import IqError
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

import theke
from theke import check, fail

SECRET = "app-server-secret"
PORT = theke.free_ports(1)[0]
NS_PUSH = "urn:xmpp:push:0"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_DATA = "jabber:x:data"


class AppServer(ComponentXMPP):
    """Records publishes; refuses those for node 'forgotten'."""

    def __init__(self):
        super().__init__("push.localhost", SECRET, "127.0.0.1", PORT)
        self.started = asyncio.Event()
        self.publishes = theke.Inbox("publishes")
        self.add_event_handler("session_start",
                               lambda _: self.started.set())
        self.register_handler(Callback(
            "publish", MatchXPath("{%s}iq/{%s}pubsub" % (self.default_ns,
                                                         NS_PUBSUB)),
            self.on_publish))

    def on_publish(self, iq):
        pub = iq.xml.find("{%s}pubsub/{%s}publish" % (NS_PUBSUB, NS_PUBSUB))
        node = pub.get("node") if pub is not None else None
        self.publishes.put((node, iq))
        if node == "forgotten":
            err = iq.reply()
            err["type"] = "error"
            err["error"]["type"] = "cancel"
            err["error"]["condition"] = "item-not-found"
            err.send()
        else:
            iq.reply().send()


def enable_iq(client, node, secret=None, jid="push.localhost", to=None):
    iq = client.make_iq_set()
    if to:
        iq["to"] = to
    x = ""
    if secret:
        x = ("<x xmlns='%s' type='submit'><field var='FORM_TYPE'><value>"
             "http://jabber.org/protocol/pubsub#publish-options</value>"
             "</field><field var='secret'><value>%s</value></field></x>"
             % (NS_DATA, secret))
    iq.set_payload(ET.fromstring(
        "<enable xmlns='%s' jid='%s' node='%s'>%s</enable>"
        % (NS_PUSH, jid, node, x)))
    return iq


def form_values(xml):
    """{var: [values]} of the first data form under xml."""
    x = xml.find(".//{%s}x" % NS_DATA)
    out = {}
    if x is None:
        return out
    for f in x.findall("{%s}field" % NS_DATA):
        out[f.get("var")] = [v.text or "" for v in
                             f.findall("{%s}value" % NS_DATA)]
    return out


async def main(srv):
    app = AppServer()
    app.connect()
    await asyncio.wait_for(app.started.wait(), 10)

    alice = await srv.client("alice")
    bob = await srv.client("bob")

    info = await alice.plugin["xep_0030"].get_info(jid=srv.jid("alice"),
                                                   timeout=10)
    check(NS_PUSH in info["disco_info"]["features"],
          "urn:xmpp:push:0 missing from the account's disco#info")

    await enable_iq(alice, "device-1", secret="s-1").send(timeout=10)
    await enable_iq(alice, "forgotten").send(timeout=10)

    # Only the owner may enable push for an account.
    try:
        await enable_iq(bob, "evil", to=srv.jid("alice")).send(timeout=10)
        fail("bob enabled push on alice's account")
    except IqError as e:
        check(e.iq["error"]["condition"] == "forbidden",
              "enable for another account: %s" % e.iq["error"]["condition"])

    # Online: no notification.
    bob.chat(srv.jid("alice"), "while online")
    await alice.messages.get(theke.body_is("while online"), timeout=10)
    await app.publishes.none(wait=0.5, what="no push while alice is online")

    # Offline: one publish per registration, saying only "a message".
    alice.abort()
    await asyncio.wait_for(alice.closed.wait(), 10)
    await asyncio.sleep(0.3)
    bob.chat(srv.jid("alice"), "secret body text")
    node, iq = await app.publishes.get(lambda p: p[0] == "device-1",
                                       timeout=10)
    check(str(iq["from"]) == srv.jid("alice"),
          "publish from %s, expected the bare JID" % iq["from"])
    note = iq.xml.find(".//{%s}notification" % NS_PUSH)
    check(note is not None, "no notification element: %s" % iq)
    summary = form_values(note)
    check(summary.get("FORM_TYPE") == ["urn:xmpp:push:summary"] and
          summary.get("message-count") == ["1"],
          "notification form: %s" % summary)
    text = ET.tostring(iq.xml, encoding="unicode")
    check("secret body text" not in text and "bob" not in text,
          "the notification leaks the message: %s" % text)
    opts = iq.xml.find(".//{%s}publish-options" % NS_PUBSUB)
    check(opts is not None and form_values(opts).get("secret") == ["s-1"],
          "publish-options missing or wrong: %s" % text)
    await app.publishes.get(lambda p: p[0] == "forgotten", timeout=10)

    # A chat state alone wakes nobody.
    st = bob.make_message(mto=srv.jid("alice"), mtype="chat")
    st.append(ET.fromstring(
        "<composing xmlns='http://jabber.org/protocol/chatstates'/>"))
    st.send()
    await app.publishes.none(wait=0.5, what="no push for a chat state")

    # The refused registration is gone; the other still works.
    bob.chat(srv.jid("alice"), "second")
    await app.publishes.get(lambda p: p[0] == "device-1", timeout=10)
    await app.publishes.none(lambda p: p[0] == "forgotten", wait=0.5,
                             what="the refused registration was kept")

    # Disable: no more pushes.
    alice2 = await srv.client("alice", resource="again", presence=False)
    iq = alice2.make_iq_set()
    iq.set_payload(ET.fromstring(
        "<disable xmlns='%s' jid='push.localhost'/>" % NS_PUSH))
    await iq.send(timeout=10)
    alice2.abort()
    await asyncio.wait_for(alice2.closed.wait(), 10)
    await asyncio.sleep(0.3)
    bob.chat(srv.jid("alice"), "third")
    await app.publishes.none(wait=1.0, what="push after disable")

    # A session that stream management keeps asleep after its connection
    # broke gets a push for a message, which waits for its resumption.
    phone = await theke.sm_client(srv, "alice", "phone")
    await enable_iq(phone, "device-2", secret="s-2").send(timeout=10)
    phone.cut()
    await asyncio.sleep(0.5)
    bob.chat(srv.jid("alice") + "/phone", "while asleep")
    node, iq = await app.publishes.get(lambda p: p[0] == "device-2",
                                       timeout=10)
    check("while asleep" not in ET.tostring(iq.xml, encoding="unicode"),
          "the push leaks the body")
    # The session is not resumed: the message goes to offline storage
    # when it ends, without a second push.
    await app.publishes.none(lambda p: p[0] == "device-2", wait=4.0,
                             what="a second push for the same message")
    app.disconnect()


theke.run(main, users=["alice", "bob"],
          config={"component_listen": "127.0.0.1:%d" % PORT,
                  "component": "push.localhost " + SECRET,
                  "sm_resume_timeout": 2})
