"""Harness for the interop tests: one private theked per test.

A test script does

    import theke

    async def main(srv):
        alice = await srv.client("alice")
        ...

    theke.run(main, users=["alice", "bob"], config={"max_offline": 10})

run() allocates loopback ports, writes a config into a fresh temporary
directory, starts theked from $THEKE_BUILD (default "build", relative to
the repository root), adds the users with thekectl, runs the coroutine,
checks that a fresh client can still log in and ping the server, stops
the server with SIGTERM and checks that it exits with status 0 and, for a
sanitizer build, that it reported nothing.  A test fails by raising; the
message and the tail of the server's log are printed and the exit status
is 1.  A watchdog ends every test within TEST_DEADLINE seconds (or the
deadline the test asks for).

Clients are slixmpp (Debian's python3-slixmpp, run with /usr/bin/python3)
and raw sockets (class Raw) for what a well-behaved client never sends.
"""

import asyncio
import base64
import faulthandler
import logging
import os
import re
import resource
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("THEKE_BUILD", "build")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
THEKED = os.path.join(BUILD, "theked")
THEKECTL = os.path.join(BUILD, "thekectl")

TEST_DEADLINE = 55          # seconds for a whole test script
START_TIMEOUT = 10          # seconds for theked to accept connections
STOP_TIMEOUT = 10           # seconds for theked to exit after SIGTERM
PASSWORD = "pass-%s-word"   # default password pattern, %s is the user

NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:")

log = logging.getLogger("theke-test")


class TestFailure(AssertionError):
    pass


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def password(user):
    return PASSWORD % user


def free_ports(n):
    """Return n distinct loopback TCP ports that were free a moment ago."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def no_verify_context():
    """A TLS client context that accepts the server's self-signed cert."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def check_no_sanitizer(text, what):
    for mark in SANITIZER_MARKS:
        i = text.find(mark)
        if i >= 0:
            fail("sanitizer report in %s:\n%s" % (
                what, text[max(0, i - 200):i + 3000]))


def short(data, limit=600):
    """Printable excerpt of received bytes for failure messages."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if len(data) > limit:
        data = data[:limit // 2] + " [...] " + data[-limit // 2:]
    return repr(data)


# ---------------------------------------------------------------------------
# The server process
# ---------------------------------------------------------------------------

class Server:
    """One theked in its own temporary directory."""

    def __init__(self, domain="localhost", config=None, fd_limit=None):
        self.domain = domain
        self.fd_limit = fd_limit
        self.dir = tempfile.mkdtemp(prefix="theke-interop-")
        self.data_dir = os.path.join(self.dir, "data")
        os.mkdir(self.data_dir)
        self.conf_path = os.path.join(self.dir, "theke.conf")
        self.log_path = os.path.join(self.dir, "theked.log")
        self.extra = dict(config or {})
        self.proc = None
        self.logf = None
        self.starts = 0
        self.c2s_port = self.tls_port = None
        self.http_port = self.https_port = None
        self.users = {}
        self.clients = []

    # -- config ------------------------------------------------------------

    def config_text(self):
        conf = {
            "domain": self.domain,
            "data_dir": self.data_dir,
            "c2s": "127.0.0.1:%d" % self.c2s_port,
            "c2s_tls": "127.0.0.1:%d" % self.tls_port,
            "http": "127.0.0.1:%d" % self.http_port,
            "https": "127.0.0.1:%d" % self.https_port,
            "log_level": "debug",
            "registration": "closed",
            # Keep account creation fast; the value is still a real
            # PBKDF2 count.
            "scram_iterations": "4096",
        }
        conf.update({k: str(v) for k, v in self.extra.items()})
        lines = ["# written by tests/interop/theke.py"]
        lines += ["%s = %s" % (k, v) for k, v in conf.items()]
        return "\n".join(lines) + "\n"

    def write_config(self):
        with open(self.conf_path, "w") as f:
            f.write(self.config_text())

    # -- process -----------------------------------------------------------

    def start(self):
        """Start theked; keep data_dir (and ports) on a restart."""
        check(os.access(THEKED, os.X_OK), "no server binary at %s" % THEKED)
        for attempt in range(3):
            if self.c2s_port is None or attempt > 0:
                (self.c2s_port, self.tls_port, self.http_port,
                 self.https_port) = free_ports(4)
            self.write_config()
            self.starts += 1
            self.logf = open(self.log_path, "ab")
            self.logf.write(b"---- start %d ----\n" % self.starts)
            self.logf.flush()
            env = dict(os.environ)
            # A small quarantine keeps a sanitizer build's memory use
            # comparable to the plain build's (see 57-bad-slow-reader).
            env.setdefault("ASAN_OPTIONS", "quarantine_size_mb=4")
            limit = self.fd_limit

            def set_limits():
                if limit:
                    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
            self.proc = subprocess.Popen(
                [THEKED, "-c", self.conf_path], cwd=self.dir, env=env,
                stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
                preexec_fn=set_limits)
            err = self.wait_listening(self.c2s_port)
            if err is None:
                err = self.wait_listening(self.tls_port)
            for key, port in (("http", self.http_port),
                              ("https", self.https_port)):
                if err is None and str(self.extra.get(key, "on")) != "off":
                    err = self.wait_listening(port)
            if err is None:
                return
            if self.proc.poll() is not None and \
                    "in use" in self.log_tail(2000).lower():
                continue        # lost a port race with another test
            self.kill()
            fail("theked did not start: %s\n%s" % (err, self.log_tail()))
        fail("theked could not bind free ports\n%s" % self.log_tail())

    def wait_listening(self, port):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                return "exited with status %d during start-up" % rc
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                s.close()
                return None
            except OSError:
                time.sleep(0.05)
        return "port %d not accepting connections after %d s" % (
            port, START_TIMEOUT)

    def stop(self, check_status=True):
        """SIGTERM; the server must exit 0 within STOP_TIMEOUT seconds."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is not None:
            rc = proc.returncode
            self.logf.close()
            if check_status:
                fail("theked had already exited with status %s\n%s" %
                     (rc, self.log_tail()))
            return
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.logf.close()
            fail("theked did not exit within %d s of SIGTERM\n%s" %
                 (STOP_TIMEOUT, self.log_tail()))
        self.logf.close()
        if check_status:
            check(rc == 0, "theked exited with status %d after SIGTERM\n%s"
                  % (rc, self.log_tail()))
            self.check_sanitizer()

    def restart(self):
        self.stop()
        self.start()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if self.logf is not None and not self.logf.closed:
            self.logf.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, chars=4000):
        text = self.log_text()
        return "---- theked log (last %d chars) ----\n%s" % (
            chars, text[-chars:])

    def check_sanitizer(self):
        check_no_sanitizer(self.log_text(), "theked's log")

    def cleanup(self):
        for c in self.clients:
            try:
                c.abort()
            except Exception:
                pass
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- thekectl ----------------------------------------------------------

    def ctl(self, *args, input=None, conf=None):
        """Run thekectl; returns CompletedProcess (text).  Fails only on a
        sanitizer report."""
        r = subprocess.run([THEKECTL, "-c", conf or self.conf_path] +
                           list(args), input=input, capture_output=True,
                           text=True, timeout=20, cwd=self.dir)
        check_no_sanitizer(r.stderr, "thekectl %s" % " ".join(args))
        return r

    def jid(self, user):
        return "%s@%s" % (user, self.domain)

    def add_user(self, user, pw=None):
        pw = password(user) if pw is None else pw
        r = self.ctl("user", "add", self.jid(user), pw)
        check(r.returncode == 0, "thekectl user add %s failed (%d): %s" %
              (self.jid(user), r.returncode, r.stderr.strip()))
        self.users[user] = pw
        return pw

    # -- clients -----------------------------------------------------------

    async def client(self, user, resource=None, pw=None, direct_tls=False,
                     presence=True, roster=True, priority=None,
                     sasl_mech=None, timeout=15):
        """A logged-in slixmpp client (session started)."""
        jid = self.jid(user) + ("/" + resource if resource else "")
        if pw is None:
            pw = self.users.get(user, password(user))
        c = Client(self, jid, pw, direct_tls=direct_tls, sasl_mech=sasl_mech)
        await c.login(timeout=timeout)
        if roster:
            await c.get_roster(timeout=10)
        if presence:
            if priority is None:
                c.send_presence()
            else:
                c.send_presence(ppriority=priority)
        return c

    async def check_alive(self, what="after the test"):
        """A fresh client logs in and pings the server."""
        check(self.alive(), "theked is not running %s (exit status %s)\n%s"
              % (what, self.proc and self.proc.poll(), self.log_tail()))
        c = None
        try:
            c = await self.client("probe", presence=False, roster=False,
                                  timeout=15)
            await c.ping_server(timeout=10)
        except TestFailure as e:
            fail("server no longer answers %s: %s" % (what, e))
        finally:
            if c is not None:
                await c.close()


# ---------------------------------------------------------------------------
# slixmpp client
# ---------------------------------------------------------------------------

class Inbox:
    """Stanzas received of one kind, taken out by predicate."""

    def __init__(self, name):
        self.name = name
        self.items = []
        self.event = asyncio.Event()

    def put(self, item):
        self.items.append(item)
        self.event.set()

    def take_all(self, pred=lambda x: True):
        got = [x for x in self.items if pred(x)]
        self.items = [x for x in self.items if not pred(x)]
        return got

    async def get(self, pred=lambda x: True, timeout=10, what=None):
        deadline = time.monotonic() + timeout
        while True:
            for i, x in enumerate(self.items):
                if pred(x):
                    del self.items[i]
                    return x
            left = deadline - time.monotonic()
            if left <= 0:
                fail("%s: nothing matching within %.1f s; %s received:\n  %s"
                     % (what or "waiting for " + self.name, timeout,
                        self.name,
                        "\n  ".join(str(x) for x in self.items) or "nothing"))
            self.event.clear()
            try:
                await asyncio.wait_for(self.event.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def none(self, pred=lambda x: True, wait=1.0, what=None):
        """Assert nothing matching arrives within `wait` seconds."""
        await asyncio.sleep(wait)
        got = [x for x in self.items if pred(x)]
        check(not got, "%s: unexpected %s:\n  %s" % (
            what or "expected no " + self.name, self.name,
            "\n  ".join(str(x) for x in got)))


class Client(slixmpp.ClientXMPP):
    """slixmpp client pinned to the test server, without cert checks.

    Subscription requests are not answered automatically, so the tests see
    every step; received stanzas land in Inboxes.
    """

    def __init__(self, srv, jid, pw, direct_tls=False, sasl_mech=None,
                 no_tls=False):
        super().__init__(jid, pw, sasl_mech=sasl_mech)
        self.srv = srv
        self.direct_tls = direct_tls
        self.no_tls = no_tls
        self.ssl_context = no_verify_context()
        self.use_ipv6 = False
        self.use_aiodns = False
        self.whitespace_keepalive = False
        self.auto_authorize = None
        self.auto_subscribe = False
        self.messages = Inbox("messages")
        self.errors = Inbox("error messages")
        self.presences = Inbox("presences")
        self.pushes = Inbox("roster pushes")
        self.stream_errors = Inbox("stream errors")
        self.auth_failures = Inbox("SASL failures")
        self.closed = asyncio.Event()
        self.progress = []      # negotiation steps reached, for messages
        for ev in ("connected", "tls_success", "auth_success",
                   "session_bind", "session_start"):
            self.add_event_handler(
                ev, lambda _, ev=ev: self.progress.append(ev))
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0092")
        self.register_plugin("xep_0199", {"keepalive": False})
        self.add_event_handler("message", self.messages.put)
        self.add_event_handler("message_error", self.errors.put)
        self.add_event_handler("presence", self.presences.put)
        self.add_event_handler("roster_update", self._push)
        self.add_event_handler("stream_error", self.stream_errors.put)
        self.add_event_handler("failed_auth", self.auth_failures.put)
        self.add_event_handler("disconnected", lambda _: self.closed.set())
        srv.clients.append(self)

    def abort(self):
        # slixmpp's abort() trips over a TLS transport that is already
        # half torn down; the connection is gone either way.
        try:
            super().abort()
        except (AttributeError, OSError):
            pass

    def _push(self, iq):
        if iq["type"] == "set":
            self.pushes.put(iq)

    async def get_dns_records(self, domain, port=None):
        port = self.srv.tls_port if self.direct_tls else self.srv.c2s_port
        return [(self.srv.domain, "127.0.0.1", port)]

    async def login(self, timeout=15):
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def ok(_):
            if not done.done():
                done.set_result(None)

        def bad(why):
            def f(arg):
                if not done.done():
                    done.set_exception(TestFailure("%s: %s" % (why, arg)))
            return f

        self.add_event_handler("session_start", ok)
        self.add_event_handler("failed_auth", bad("SASL failure"))
        self.add_event_handler("failed_all_auth",
                               bad("no SASL mechanism left"))
        self.add_event_handler("connection_failed", bad("connection failed"))
        self.add_event_handler("stream_error", bad("stream error"))
        self.add_event_handler("disconnected", bad("disconnected"))
        port = self.srv.tls_port if self.direct_tls else self.srv.c2s_port
        self.connect(address=(self.srv.domain, port),
                     use_ssl=self.direct_tls, force_starttls=True,
                     disable_starttls=self.direct_tls or self.no_tls)
        try:
            await asyncio.wait_for(done, timeout)
        except asyncio.TimeoutError:
            self.abort()
            fail("%s: no session within %d s" % (self.boundjid, timeout))
        except TestFailure as e:
            self.abort()
            fail("%s could not log in: %s (steps done: %s)" % (
                self.boundjid.bare, e, ", ".join(self.progress) or "none"))
        if not self.no_tls:
            check(self.tls_version() is not None,
                  "%s logged in without TLS" % self.boundjid)

    def tls_version(self):
        if self.transport is None:
            return None
        obj = self.transport.get_extra_info("ssl_object")
        return obj.version() if obj is not None else None

    def mechanism(self):
        mech = self["feature_mechanisms"].mech
        return mech.name if mech is not None else None

    async def ping_server(self, timeout=10):
        iq = self.make_iq_get(queryxmlns=None, ito=self.srv.domain)
        iq.append(ET.Element("{urn:xmpp:ping}ping"))
        t0 = time.monotonic()
        try:
            await iq.send(timeout=timeout)
        except IqError as e:
            fail("ping to %s answered with error: %s" % (
                self.srv.domain, e.iq))
        except IqTimeout:
            fail("ping to %s: no answer within %d s" % (
                self.srv.domain, timeout))
        return time.monotonic() - t0

    async def iq(self, payload, ito=None, itype="get", timeout=10):
        """Send an iq with an XML payload (string); returns (type, iq)."""
        iq = self.Iq()
        iq["type"] = itype
        if ito is not None:
            iq["to"] = ito
        iq.append(ET.fromstring(payload))
        try:
            res = await iq.send(timeout=timeout)
            return "result", res
        except IqError as e:
            return "error", e.iq
        except IqTimeout:
            fail("no answer within %d s to %s" % (timeout, iq))

    def chat(self, to, body, mtype="chat"):
        self.send_message(mto=to, mbody=body, mtype=mtype)

    async def close(self, timeout=5):
        """Close the stream cleanly (</stream:stream>)."""
        if self.transport is None:
            return
        self.disconnect(wait=1)
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except asyncio.TimeoutError:
            self.abort()

    def cut(self):
        """Drop the TCP connection without closing the stream."""
        if self.transport is not None:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                # RST rather than FIN: the peer sees the connection die.
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    b"\x01\x00\x00\x00\x00\x00\x00\x00")
                except OSError:
                    pass
            self.transport.abort()


def body_is(body):
    return lambda m: m["body"] == body


def from_is(jid):
    jid = str(jid)
    return lambda s: str(s["from"]) == jid or s["from"].bare == jid


async def exchange(a, b, text="hello", timeout=10):
    """a and b chat both ways; both must get the other's message."""
    nonce = "%s %f" % (text, time.monotonic())
    a.chat(b.boundjid.full, "a->b " + nonce)
    b.chat(a.boundjid.full, "b->a " + nonce)
    m = await b.messages.get(body_is("a->b " + nonce), timeout,
                             "%s waiting for a chat message from %s" %
                             (b.boundjid, a.boundjid))
    check(m["from"] == a.boundjid, "message from %s carries from=%s" %
          (a.boundjid, m["from"]))
    await a.messages.get(body_is("b->a " + nonce), timeout,
                         "%s waiting for a chat message from %s" %
                         (a.boundjid, b.boundjid))


NS_ROSTER = "jabber:iq:roster"
SUB_TYPES = ("subscribe", "subscribed", "unsubscribe", "unsubscribed")


def roster_items(stanza):
    """{bare jid: {attr: value, 'groups': [...]}} from a roster query."""
    out = {}
    q = stanza.xml.find("{%s}query" % NS_ROSTER)
    if q is None:
        return out
    for item in q.findall("{%s}item" % NS_ROSTER):
        d = dict(item.attrib)
        d.setdefault("subscription", "none")
        d["groups"] = sorted((g.text or "") for g in
                             item.findall("{%s}group" % NS_ROSTER))
        out[d.get("jid")] = d
    return out


async def fetch_roster(c, timeout=10):
    """The roster as the server has it now (a plain roster get)."""
    iq = c.Iq()
    iq["type"] = "get"
    iq.append(ET.Element("{%s}query" % NS_ROSTER))
    try:
        res = await iq.send(timeout=timeout)
    except IqError as e:
        fail("%s: roster get answered with error: %s" % (c.boundjid, e.iq))
    except IqTimeout:
        fail("%s: no answer to roster get within %d s" % (
            c.boundjid, timeout))
    return roster_items(res)


def is_available(p):
    return p["type"] not in ("unavailable", "error", "probe") + SUB_TYPES


def presence_is(ptype, frm):
    """Predicate: presence of type ptype ('available' for any available
    presence) from frm (a full JID, or a bare JID matching any resource)."""
    frm = str(frm)

    def pred(p):
        if ptype == "available":
            if not is_available(p):
                return False
        elif p["type"] != ptype:
            return False
        return str(p["from"]) == frm or (
            "/" not in frm and p["from"].bare == frm)
    return pred


async def push_for(c, jid, pred=lambda item: True, timeout=10, what=None):
    """Wait for a roster push to c about jid whose item satisfies pred."""
    jid = str(jid)

    def match(iq):
        item = roster_items(iq).get(jid)
        return item is not None and pred(item)
    iq = await c.pushes.get(match, timeout, what or "%s waiting for a roster "
                            "push about %s" % (c.boundjid, jid))
    check(str(iq["from"]) in ("", c.boundjid.bare),
          "roster push with foreign from=%s" % iq["from"])
    return roster_items(iq)[jid]


def sub_is(sub, ask=None):
    return lambda item: item.get("subscription") == sub and \
        item.get("ask") == ask


async def befriend(a, b, timeout=10):
    """Mutual subscription between a and b (both online)."""
    for x, y in ((a, b), (b, a)):
        x.send_presence(pto=y.boundjid.bare, ptype="subscribe")
        await y.presences.get(presence_is("subscribe", x.boundjid.bare),
                              timeout, "%s waiting for subscribe from %s" %
                              (y.boundjid, x.boundjid.bare))
        y.send_presence(pto=x.boundjid.bare, ptype="subscribed")
        await x.presences.get(presence_is("subscribed", y.boundjid.bare),
                              timeout, "%s waiting for subscribed from %s" %
                              (x.boundjid, y.boundjid.bare))
    for x, y in ((a, b), (b, a)):
        items = await fetch_roster(x)
        item = items.get(y.boundjid.bare)
        check(item is not None and item["subscription"] == "both",
              "after mutual subscription %s has %s in its roster as %s" %
              (x.boundjid.bare, y.boundjid.bare, item))


class Chatter:
    """Two logged-in clients keep chatting in the background.

    Used by the bad-input tests to show that others are served while one
    connection misbehaves: every round trip must complete within `limit`
    seconds.
    """

    def __init__(self, a, b, limit=3.0, interval=0.2):
        self.a, self.b = a, b
        self.limit = limit
        self.interval = interval
        self.rounds = 0
        self.worst = 0.0
        self.error = None
        self.task = None
        self.stopping = False

    def start(self):
        self.task = asyncio.ensure_future(self._run())
        return self

    async def _run(self):
        try:
            while not self.stopping:
                t0 = time.monotonic()
                await exchange(self.a, self.b, "round %d" % self.rounds,
                               timeout=self.limit)
                dt = time.monotonic() - t0
                self.worst = max(self.worst, dt)
                self.rounds += 1
                await asyncio.sleep(self.interval)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.error = e

    def assert_ok(self):
        if self.error is not None:
            fail("the other clients stopped chatting after %d rounds: %s"
                 % (self.rounds, self.error))

    async def stop(self, min_rounds=1):
        """Stop after at least min_rounds round trips (waiting for them if
        the misbehaving part was quick); fail if chatting broke."""
        deadline = time.monotonic() + min_rounds * (self.limit +
                                                    self.interval)
        while self.rounds < min_rounds and self.error is None and \
                time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.assert_ok()
        # Python 3.11's wait_for() can swallow a cancellation that meets
        # a completing wait, so the loop also checks a flag, and the wait
        # for it is bounded.
        self.stopping = True
        self.task.cancel()
        await asyncio.wait([self.task], timeout=2 * self.limit)
        self.assert_ok()
        check(self.rounds >= min_rounds,
              "the other clients completed only %d chat rounds (wanted %d)"
              % (self.rounds, min_rounds))


# ---------------------------------------------------------------------------
# Raw sockets
# ---------------------------------------------------------------------------

def stream_header(to, version=True, lang=None):
    return ("<?xml version='1.0'?><stream:stream to='%s' "
            "xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams'%s%s>" % (
                to, " version='1.0'" if version else "",
                " xml:lang='%s'" % lang if lang else ""))


def stream_error(data):
    """The defined condition of the stream error in data, or None."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    m = re.search(r"<(?:[\w-]+:)?error[\s>/](.*?)</(?:[\w-]+:)?error>",
                  data, re.S)
    if m is None:
        return None
    for cm in re.finditer(r"<([A-Za-z-]+)\s[^>]*xmlns=(['\"])" +
                          re.escape(NS_STREAMS) + r"\2", m.group(1)):
        if cm.group(1) != "text":
            return cm.group(1)
    return None


class Raw:
    """A hand-driven client connection."""

    def __init__(self, srv, port=None, direct_tls=False, timeout=5):
        self.srv = srv
        port = port or (srv.tls_port if direct_tls else srv.c2s_port)
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if direct_tls:
            self.sock = no_verify_context().wrap_socket(
                self.sock, server_hostname=srv.domain)
        self.buf = b""
        self.eof = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def try_send(self, data):
        """send() that reports a closed connection instead of raising."""
        try:
            self.send(data)
            return True
        except (OSError, ssl.SSLError):
            return False

    def send_until_answer(self, data, chunk=4096, pause=0.01):
        """Send data in chunks, stopping early once the server has sent
        something back or closed; returns the number of bytes sent."""
        if isinstance(data, str):
            data = data.encode()
        sent = 0
        while sent < len(data):
            if not self.try_send(data[sent:sent + chunk]):
                break
            sent += chunk
            r, _, _ = select.select([self.sock], [], [], pause)
            if r or (isinstance(self.sock, ssl.SSLSocket) and
                     self.sock.pending()):
                break
        return min(sent, len(data))

    def _recv(self, limit):
        self.sock.settimeout(max(0.01, limit))
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return None
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            chunk = b""
        if not chunk:
            self.eof = True
        return chunk

    def read_until(self, pattern, timeout=5, what=None):
        """Read until regex `pattern` (str or bytes) matches the unread
        data; returns the data up to the end of the match and keeps the
        rest.  Fails on timeout or EOF."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        rx = re.compile(pattern, re.S)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                out, self.buf = self.buf[:m.end()], self.buf[m.end():]
                return out
            if self.eof:
                fail("%s: connection closed before %r; received %s" % (
                    what or "read", pattern, short(self.buf)))
            left = deadline - time.monotonic()
            if left <= 0:
                fail("%s: no %r within %.1f s; received %s" % (
                    what or "read", pattern, timeout, short(self.buf)))
            chunk = self._recv(left)
            if chunk:
                self.buf += chunk

    def read_to_eof(self, timeout=5):
        """All data until the server closes; None if it did not close."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            chunk = self._recv(left)
            if chunk:
                self.buf += chunk
        out, self.buf = self.buf, b""
        return out

    def expect_stream_error(self, condition, timeout=5, also=()):
        """The server sends <stream:error> with `condition` (or one of
        `also`) and closes the connection."""
        data = self.read_to_eof(timeout)
        if data is None:
            fail("expected stream error <%s/> and close within %.1f s; "
                 "connection still open, received %s" % (
                     condition, timeout, short(self.buf)))
        got = stream_error(data)
        check(got == condition or got in also,
              "expected stream error <%s/>, got %s; received %s" % (
                  condition, "<%s/>" % got if got else "no stream error",
                  short(data)))
        check(re.search(rb"</stream:stream>\s*$", data) is not None,
              "stream error not followed by </stream:stream>: %s" %
              short(data))
        return data

    def open_stream(self, to=None, timeout=5):
        """Send a stream header; returns the <stream:features/> text."""
        self.send(stream_header(to or self.srv.domain))
        data = self.read_until(rb"</stream:features>|<stream:features\s*/>",
                               timeout, "stream features")
        return data.decode("utf-8", "replace")

    def starttls(self, timeout=5):
        self.send("<starttls xmlns='%s'/>" % NS_TLS)
        self.read_until(r"<proceed[^>]*/>", timeout, "STARTTLS proceed")
        check(self.buf == b"", "data after <proceed/>: %s" % short(self.buf))
        self.sock.settimeout(timeout)
        self.sock = no_verify_context().wrap_socket(
            self.sock, server_hostname=self.srv.domain)

    def auth_plain(self, user, pw, timeout=10):
        """SASL PLAIN; returns 'success' or the failure condition."""
        token = base64.b64encode(("\0%s\0%s" % (user, pw)).encode()).decode()
        self.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (
            NS_SASL, token))
        data = self.read_until(r"<success[^>]*(/>|>.*?</success>)|"
                               r"<failure[^>]*>.*?</failure>",
                               timeout, "SASL outcome").decode()
        if "<success" in data:
            return "success"
        m = re.search(r"<failure[^>]*>\s*<([a-z-]+)", data)
        return m.group(1) if m else data

    def bind(self, resource=None, timeout=5):
        res = "<resource>%s</resource>" % resource if resource else ""
        self.send("<iq type='set' id='bind1'><bind xmlns='%s'>%s</bind></iq>"
                  % (NS_BIND, res))
        data = self.read_until(r"<iq[^>]*id=['\"]bind1['\"].*?</iq>",
                               timeout, "bind result").decode()
        m = re.search(r"<jid>([^<]+)</jid>", data)
        check(m is not None, "bind failed: %s" % data)
        return m.group(1)

    def login(self, user, pw=None, resource=None, presence=True):
        """STARTTLS, PLAIN, bind; returns the bound full JID."""
        pw = self.srv.users.get(user, password(user)) if pw is None else pw
        feats = self.open_stream()
        check("starttls" in feats, "no STARTTLS offered: %s" % feats)
        self.starttls()
        self.open_stream()
        outcome = self.auth_plain(user, pw)
        check(outcome == "success", "PLAIN login of %s: %s" % (user, outcome))
        self.open_stream()
        jid = self.bind(resource)
        if presence:
            self.send("<presence/>")
        return jid

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


async def in_thread(fn, *args):
    """Run blocking raw-socket code while the event loop keeps serving the
    slixmpp clients."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def tls_stream(srv):
    """A Raw connection after STARTTLS and the stream restart; returns it
    and the text of the features on the secure stream."""
    r = Raw(srv)
    r.open_stream()
    r.starttls()
    feats = r.open_stream()
    return r, feats


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def sm_client(srv, user, resource, window=1):
    """A logged-in slixmpp client with stream management (XEP-0198) on,
    resumable, its roster fetched and presence sent.  c.bodies lists
    every message body it received, in order (Inbox.get takes them out
    of c.messages)."""
    c = Client(srv, "%s/%s" % (srv.jid(user), resource), srv.users[user])
    c.register_plugin("xep_0198", {"window": window})
    c.bodies = []
    c.add_event_handler("message", lambda m: c.bodies.append(m["body"]))
    enabled = asyncio.Event()
    c.add_event_handler("sm_enabled", lambda _: enabled.set())
    await c.login()
    try:
        await asyncio.wait_for(enabled.wait(), 10)
    except asyncio.TimeoutError:
        fail("%s: stream management not enabled within 10 s" % c.boundjid)
    await c.get_roster(timeout=10)
    c.send_presence()
    return c


def sm_raw(srv, user, resource):
    """A raw connection of user, bound to resource, with stream
    management enabled (without resumption) and no presence sent."""
    r = Raw(srv)
    r.login(user, resource=resource, presence=False)
    r.send("<enable xmlns='urn:xmpp:sm:3'/>")
    r.read_until(r"<enabled [^>]*/>", 10, "stream management enabled")
    return r


def sm_try_resume(srv, user, previd, h=0):
    """A raw connection of user asks to resume previd; returns the
    server's <resumed/> or <failed/> answer as text."""
    r = Raw(srv)
    try:
        r.open_stream()
        r.starttls()
        r.open_stream()
        check(r.auth_plain(user, srv.users[user]) == "success",
              "%s could not log in" % user)
        r.open_stream()
        r.send("<resume xmlns='urn:xmpp:sm:3' previd='%s' h='%d'/>" %
               (previd, h))
        return r.read_until(r"<resumed [^>]*/>|</failed>|<failed[^>]*/>",
                            10, "answer to <resume/>").decode()
    finally:
        r.close()


async def bystanders(srv, a="carol", b="dave", limit=3.0):
    """Two logged-in clients chatting in the background (a Chatter)."""
    ca = await srv.client(a, resource="bystander")
    cb = await srv.client(b, resource="bystander")
    return Chatter(ca, cb, limit=limit).start()


# ---------------------------------------------------------------------------
# Running a test
# ---------------------------------------------------------------------------

def run(main, users=(), config=None, domain="localhost", alive_check=True,
        fd_limit=None, deadline=TEST_DEADLINE):
    """Run one test: see the module comment.  A test that drives a heavy
    client (a browser) may ask for a longer deadline; it must stay below
    run-interop.sh's TEST_TIMEOUT."""
    name = os.path.basename(sys.argv[0])
    level = logging.DEBUG if os.environ.get("THEKE_TEST_DEBUG") else \
        logging.CRITICAL
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(message)s")
    def watchdog(signum, frame):
        raise TestFailure("test did not finish within %d s" % deadline)
    signal.signal(signal.SIGALRM, watchdog)
    signal.alarm(deadline)
    # Where every thread was, should the watchdog fire.
    faulthandler.dump_traceback_later(deadline - 1, exit=False)
    srv = Server(domain=domain, config=config, fd_limit=fd_limit)
    ok = False
    try:
        srv.start()
        for u in list(users) + ["probe"]:
            srv.add_user(u)

        async def body():
            await main(srv)
            if alive_check:
                await srv.check_alive()
            for c in list(srv.clients):
                c.abort()
        asyncio.run(body())
        srv.stop()
        ok = True
    except Exception as e:
        print("FAIL %s: %s" % (name, e), flush=True)
        if not isinstance(e, TestFailure):
            traceback.print_exc()
        if os.environ.get("THEKE_TEST_DEBUG"):
            traceback.print_exc()
        if srv.proc is not None and srv.proc.poll() is not None:
            print("theked exited with status %d" % srv.proc.returncode)
        print(srv.log_tail(), flush=True)
    finally:
        signal.alarm(0)
        faulthandler.cancel_dump_traceback_later()
        if os.environ.get("THEKE_TEST_KEEP"):
            srv.kill()
            print("kept %s" % srv.dir)
        else:
            srv.cleanup()
    if ok:
        print("PASS %s" % name, flush=True)
        sys.exit(0)
    sys.exit(1)
