"""Raw HTTP and WebSocket clients for the interop tests of theked's HTTP
server (tests/interop/7N-*.py).

HttpRaw sends bytes as written and parses responses itself, so a test can
send what no HTTP library would (oversized heads, bad request lines,
pipelined requests). WsRaw does the RFC 6455 handshake and frames by hand
(masked or not, fragmented, oversized) and speaks RFC 7395 on top.
"""

import base64
import hashlib
import os
import re
import socket
import struct
import time

import theke
from theke import check, fail, short

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers      # {lower-case name: value}
        self.body = body            # bytes

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<HTTP %d %s %r %s>" % (self.status, self.reason,
                                        self.headers, short(self.body, 200))


class HttpRaw:
    """A hand-driven HTTP connection to theked's http (or https) port."""

    def __init__(self, srv, tls=False, timeout=10):
        port = srv.https_port if tls else srv.http_port
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            self.sock = theke.no_verify_context().wrap_socket(
                self.sock, server_hostname=srv.domain)
        self.buf = b""
        self.eof = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def try_send(self, data):
        try:
            self.send(data)
            return True
        except OSError:
            return False

    def _fill(self, deadline, what):
        left = deadline - time.monotonic()
        if left <= 0:
            fail("%s: nothing within the time; received %s" % (
                what, short(self.buf)))
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            fail("%s: nothing within the time; received %s" % (
                what, short(self.buf)))
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            fail("%s: connection closed; received %s" % (
                what, short(self.buf)))
        self.buf += chunk

    def read_response(self, timeout=10, head=False, what="HTTP response"):
        """One response; its body by Content-Length (none for HEAD)."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline, what)
        head_text, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head_text.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3}) (.*)$", lines[0])
        check(m is not None, "%s: bad status line %r" % (what, lines[0]))
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(m.group(1))
        length = 0
        if not head and status != 101 and status >= 200:
            check("content-length" in headers,
                  "%s: no Content-Length in %r" % (what, headers))
            length = int(headers["content-length"])
        while len(self.buf) < length:
            self._fill(deadline, what + " body")
        body, self.buf = self.buf[:length], self.buf[length:]
        return Response(status, m.group(2), headers, body)

    def closed_by_server(self, timeout=5):
        """True when the server closes (EOF) within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                self.eof = True
                return True
            if not chunk:
                self.eof = True
                return True
            self.buf += chunk

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def request(method, path, headers=(), body=b"", host="localhost",
            version="HTTP/1.1"):
    """The bytes of a request."""
    if isinstance(body, str):
        body = body.encode()
    lines = ["%s %s %s" % (method, path, version), "Host: %s" % host]
    lines += ["%s: %s" % h for h in headers]
    if body:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def get(srv, path, tls=False, headers=()):
    """A GET on a fresh connection; returns the Response."""
    h = HttpRaw(srv, tls=tls)
    try:
        h.send(request("GET", path, headers=headers))
        return h.read_response(what="GET " + path)
    finally:
        h.close()


# ---------------------------------------------------------------------------
# WebSocket
# ---------------------------------------------------------------------------

def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """One client frame; length overrides the length field (lies)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
    return head + key + masked


def handshake_request(srv, path="/xmpp-websocket", protocol="xmpp",
                      key=None, version="13", extra=()):
    key = key or base64.b64encode(os.urandom(16)).decode()
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
               ("Sec-WebSocket-Key", key),
               ("Sec-WebSocket-Version", version)]
    if protocol:
        headers.append(("Sec-WebSocket-Protocol", protocol))
    headers += list(extra)
    return request("GET", path, headers=headers), key


def accept_for(key):
    return base64.b64encode(hashlib.sha1(
        (key + WS_GUID).encode()).digest()).decode()


class WsRaw(HttpRaw):
    """A WebSocket connection with the xmpp subprotocol, driven by hand."""

    def __init__(self, srv, tls=False, timeout=10, extra=()):
        super().__init__(srv, tls=tls, timeout=timeout)
        self.srv = srv
        data, key = handshake_request(srv, extra=extra)
        self.send(data)
        r = self.read_response(what="WebSocket handshake")
        check(r.status == 101, "WebSocket handshake answered %r" % r)
        check(r.header("sec-websocket-accept") == accept_for(key),
              "wrong Sec-WebSocket-Accept in %r" % r)
        check(r.header("sec-websocket-protocol") == "xmpp",
              "subprotocol not confirmed: %r" % r)

    def send_frame(self, *args, **kw):
        self.send(frame(*args, **kw))

    def send_text(self, text):
        self.send_frame(OP_TEXT, text)

    def read_frame(self, timeout=10, what="WebSocket frame"):
        """(opcode, fin, payload) of the next server frame."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 2:
                b0, b1 = self.buf[0], self.buf[1]
                check(not b1 & 0x80, "%s: masked frame from the server"
                      % what)
                n, at = b1 & 0x7F, 2
                if n == 126 and len(self.buf) >= 4:
                    n, at = struct.unpack("!H", self.buf[2:4])[0], 4
                elif n == 127 and len(self.buf) >= 10:
                    n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
                if n < 126 or at > 2:
                    if len(self.buf) >= at + n:
                        payload = self.buf[at:at + n]
                        self.buf = self.buf[at + n:]
                        return b0 & 0x0F, bool(b0 & 0x80), payload
            self._fill(deadline, what)

    def read_text(self, timeout=10, what="text message"):
        """The next text message (pings answered, pongs skipped)."""
        while True:
            op, fin, payload = self.read_frame(timeout, what)
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                fail("%s: close frame %s instead" % (what, close_info(
                    payload)))
            check(op == OP_TEXT and fin, "%s: frame opcode %d fin %s" % (
                what, op, fin))
            return payload.decode()

    def read_until_text(self, pattern, timeout=10, what=None):
        """Text messages until one matches regex pattern; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            t = self.read_text(max(0.1, deadline - time.monotonic()),
                               what or "message matching %r" % pattern)
            if re.search(pattern, t, re.S):
                return t

    def expect_close(self, code, timeout=10):
        """The server's next frames end with a close frame carrying code;
        returns the text messages before it."""
        texts = []
        deadline = time.monotonic() + timeout
        while True:
            op, fin, payload = self.read_frame(
                max(0.1, deadline - time.monotonic()),
                "close frame %d" % code)
            if op == OP_CLOSE:
                got = close_info(payload)[0]
                check(got == code, "close code %s, expected %d (%s)" % (
                    got, code, close_info(payload)))
                return texts
            if op == OP_TEXT:
                texts.append(payload.decode())

    def open_stream(self):
        """<open/>; returns the features message."""
        self.send_text("<open xmlns='%s' to='%s' version='1.0'/>" % (
            NS_FRAMING, self.srv.domain))
        opened = self.read_text(what="<open/> answer")
        check(re.match(r"<open [^>]*xmlns='%s'" % NS_FRAMING, opened)
              is not None, "not an <open/>: %s" % opened)
        feats = self.read_text(what="stream features")
        check(feats.startswith("<stream:features xmlns:stream="),
              "features do not declare the stream prefix: %s" % feats)
        return feats

    def auth_plain(self, user, pw):
        token = base64.b64encode(("\0%s\0%s" % (user, pw)).encode()).decode()
        self.send_text("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (
            theke.NS_SASL, token))
        t = self.read_text(what="SASL outcome")
        return "success" if t.startswith("<success") else t

    def bind(self, resource):
        self.send_text("<iq xmlns='jabber:client' type='set' id='b1'>"
                       "<bind xmlns='%s'><resource>%s</resource></bind></iq>"
                       % (theke.NS_BIND, resource))
        t = self.read_until_text(r"id='b1'", what="bind result")
        m = re.search(r"<jid>([^<]+)</jid>", t)
        check(m is not None, "bind failed: %s" % t)
        check("xmlns='jabber:client'" in t,
              "stanza without its namespace over WebSocket: %s" % t)
        return m.group(1)

    def login(self, user, resource="ws"):
        self.open_stream()
        outcome = self.auth_plain(user, self.srv.users[user])
        check(outcome == "success", "PLAIN over WebSocket: %s" % outcome)
        self.open_stream()
        return self.bind(resource)


def close_info(payload):
    if len(payload) >= 2:
        return struct.unpack("!H", payload[:2])[0], payload[2:].decode(
            "utf-8", "replace")
    return None, ""
