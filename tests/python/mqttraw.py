"""A tiny MQTT 3.1 / 3.1.1 / 5.0 packet builder and reader for raw-socket tests.

Nothing here validates what it builds: tests use it to send exactly the bytes they want,
including malformed ones, and to read back exactly what the broker sends.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

# Packet types
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = (
    8, 9, 10, 11, 12, 13, 14, 15)
TYPE_NAMES = {
    1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL",
    7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
    12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH",
}

# Protocol levels
V31, V311, V5 = 3, 4, 5

# Property identifiers (MQTT 5.0, 2.2.2.2)
PAYLOAD_FORMAT_INDICATOR = 0x01
MESSAGE_EXPIRY_INTERVAL = 0x02
CONTENT_TYPE = 0x03
RESPONSE_TOPIC = 0x08
CORRELATION_DATA = 0x09
SUBSCRIPTION_IDENTIFIER = 0x0B
SESSION_EXPIRY_INTERVAL = 0x11
ASSIGNED_CLIENT_IDENTIFIER = 0x12
SERVER_KEEP_ALIVE = 0x13
AUTHENTICATION_METHOD = 0x15
AUTHENTICATION_DATA = 0x16
REQUEST_PROBLEM_INFORMATION = 0x17
WILL_DELAY_INTERVAL = 0x18
REQUEST_RESPONSE_INFORMATION = 0x19
RESPONSE_INFORMATION = 0x1A
SERVER_REFERENCE = 0x1C
REASON_STRING = 0x1F
RECEIVE_MAXIMUM = 0x21
TOPIC_ALIAS_MAXIMUM = 0x22
TOPIC_ALIAS = 0x23
MAXIMUM_QOS = 0x24
RETAIN_AVAILABLE = 0x25
USER_PROPERTY = 0x26
MAXIMUM_PACKET_SIZE = 0x27
WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28
SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
SHARED_SUBSCRIPTION_AVAILABLE = 0x2A

PROPERTY_TYPES = {
    0x01: "byte", 0x02: "u32", 0x03: "str", 0x08: "str", 0x09: "bin", 0x0B: "varint",
    0x11: "u32", 0x12: "str", 0x13: "u16", 0x15: "str", 0x16: "bin", 0x17: "byte",
    0x18: "u32", 0x19: "byte", 0x1A: "str", 0x1C: "str", 0x1F: "str", 0x21: "u16",
    0x22: "u16", 0x23: "u16", 0x24: "byte", 0x25: "byte", 0x26: "pair", 0x27: "u32",
    0x28: "byte", 0x29: "byte", 0x2A: "byte",
}
# Properties that may legitimately appear more than once; parsed into lists.
MULTI_PROPERTIES = {USER_PROPERTY, SUBSCRIPTION_IDENTIFIER}


class ProtocolViolation(Exception):
    """The broker sent bytes this reader cannot parse."""


class Closed(Exception):
    """The connection was closed by the peer."""


# ---------------------------------------------------------------- encoding

def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def u16(n: int) -> bytes:
    return struct.pack("!H", n)


def u32(n: int) -> bytes:
    return struct.pack("!I", n)


def utf8(s: str | bytes) -> bytes:
    """A length-prefixed string; bytes are sent as is (so invalid UTF-8 can be sent)."""
    b = s.encode("utf-8") if isinstance(s, str) else s
    return u16(len(b)) + b


binary = utf8


def encode_property(pid: int, value: Any) -> bytes:
    kind = PROPERTY_TYPES[pid]
    out = bytes([pid])
    if kind == "byte":
        return out + bytes([value])
    if kind == "u16":
        return out + u16(value)
    if kind == "u32":
        return out + u32(value)
    if kind == "varint":
        return out + varint(value)
    if kind in ("str", "bin"):
        return out + utf8(value)
    if kind == "pair":
        k, v = value
        return out + utf8(k) + utf8(v)
    raise ValueError(kind)


def encode_properties(props: dict | Iterable | None) -> bytes:
    """Properties as a dict {id: value} (a list value for repeatable ones) or as a list of
    (id, value) pairs, which may repeat any property (to build protocol errors)."""
    if not props:
        return varint(0)
    items: list[tuple[int, Any]] = []
    if isinstance(props, dict):
        for pid, value in props.items():
            if pid in MULTI_PROPERTIES and isinstance(value, list):
                items.extend((pid, v) for v in value)
            else:
                items.append((pid, value))
    else:
        items = list(props)
    data = b"".join(encode_property(pid, v) for pid, v in items)
    return varint(len(data)) + data


def packet(ptype: int, flags: int, body: bytes) -> bytes:
    return bytes([(ptype << 4) | (flags & 0x0F)]) + varint(len(body)) + body


def connect(client_id: str | bytes = "", version: int = V5, clean: bool = True,
            keepalive: int = 60, props: dict | list | None = None, will: dict | None = None,
            username: str | None = None, password: bytes | None = None,
            protocol_name: str | None = None, level: int | None = None,
            reserved_flag: bool = False) -> bytes:
    """will: {"topic", "payload", "qos", "retain", "props"}."""
    name = protocol_name or ("MQIsdp" if version == V31 else "MQTT")
    flags = 0
    if clean:
        flags |= 0x02
    if will:
        flags |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
    if password is not None:
        flags |= 0x40
    if username is not None:
        flags |= 0x80
    if reserved_flag:
        flags |= 0x01
    body = utf8(name) + bytes([level if level is not None else version, flags]) + u16(keepalive)
    if version == V5:
        body += encode_properties(props)
    body += utf8(client_id)
    if will:
        if version == V5:
            body += encode_properties(will.get("props"))
        body += utf8(will["topic"]) + binary(will.get("payload", b""))
    if username is not None:
        body += utf8(username)
    if password is not None:
        body += binary(password)
    return packet(CONNECT, 0, body)


def publish(topic: str | bytes, payload: bytes | str = b"", qos: int = 0, retain: bool = False,
            dup: bool = False, pid: int | None = None, props: dict | list | None = None,
            version: int = V5) -> bytes:
    if isinstance(payload, str):
        payload = payload.encode()
    flags = (0x08 if dup else 0) | ((qos & 3) << 1) | (0x01 if retain else 0)
    body = utf8(topic)
    if qos > 0:
        body += u16(pid if pid is not None else 1)
    if version == V5:
        body += encode_properties(props)
    return packet(PUBLISH, flags, body + payload)


def ack(ptype: int, pid: int, reason: int | None = None, props: dict | None = None) -> bytes:
    body = u16(pid)
    if reason is not None or props:
        body += bytes([reason or 0])
        if props:
            body += encode_properties(props)
    return packet(ptype, 0x02 if ptype == PUBREL else 0, body)


def puback(pid, reason=None):
    return ack(PUBACK, pid, reason)


def pubrec(pid, reason=None):
    return ack(PUBREC, pid, reason)


def pubrel(pid, reason=None):
    return ack(PUBREL, pid, reason)


def pubcomp(pid, reason=None):
    return ack(PUBCOMP, pid, reason)


def sub_options(qos: int = 0, no_local: bool = False, retain_as_published: bool = False,
                retain_handling: int = 0) -> int:
    return qos | (0x04 if no_local else 0) | (0x08 if retain_as_published else 0) | (retain_handling << 4)


def subscribe(pid: int, filters: list[tuple[str | bytes, int]], props: dict | list | None = None,
              version: int = V5) -> bytes:
    """filters: [(filter, options byte)]; for 3.1.1 the options byte is the requested QoS."""
    body = u16(pid)
    if version == V5:
        body += encode_properties(props)
    for f, opts in filters:
        body += utf8(f) + bytes([opts])
    return packet(SUBSCRIBE, 0x02, body)


def unsubscribe(pid: int, filters: list[str], props: dict | None = None, version: int = V5) -> bytes:
    body = u16(pid)
    if version == V5:
        body += encode_properties(props)
    for f in filters:
        body += utf8(f)
    return packet(UNSUBSCRIBE, 0x02, body)


def pingreq() -> bytes:
    return packet(PINGREQ, 0, b"")


def disconnect(reason: int | None = None, props: dict | None = None, version: int = V5) -> bytes:
    if version != V5 or (reason is None and not props):
        return packet(DISCONNECT, 0, b"")
    body = bytes([reason or 0])
    if props:
        body += encode_properties(props)
    return packet(DISCONNECT, 0, body)


# ---------------------------------------------------------------- decoding

class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ProtocolViolation(f"packet too short: need {n} at {self.pos} of {len(self.data)}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def byte(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack("!H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("!I", self.take(4))[0]

    def varint(self) -> int:
        mult, value = 1, 0
        for _ in range(4):
            b = self.byte()
            value += (b & 0x7F) * mult
            if not b & 0x80:
                return value
            mult *= 128
        raise ProtocolViolation("variable byte integer longer than 4 bytes")

    def binary(self) -> bytes:
        return self.take(self.u16())

    def string(self) -> str:
        return self.binary().decode("utf-8")

    def properties(self) -> dict:
        length = self.varint()
        sub = _Reader(self.take(length))
        props: dict[int, Any] = {}
        while sub.left():
            pid = sub.varint()
            kind = PROPERTY_TYPES.get(pid)
            if kind is None:
                raise ProtocolViolation(f"unknown property 0x{pid:02x}")
            value: Any
            if kind == "byte":
                value = sub.byte()
            elif kind == "u16":
                value = sub.u16()
            elif kind == "u32":
                value = sub.u32()
            elif kind == "varint":
                value = sub.varint()
            elif kind == "str":
                value = sub.string()
            elif kind == "bin":
                value = sub.binary()
            else:
                value = (sub.string(), sub.string())
            if pid in MULTI_PROPERTIES:
                props.setdefault(pid, []).append(value)
            elif pid in props:
                raise ProtocolViolation(f"property 0x{pid:02x} sent twice")
            else:
                props[pid] = value
        return props


@dataclass
class Packet:
    type: int
    flags: int
    body: bytes
    # parsed fields (those that apply to the type)
    rc: int = 0
    session_present: bool = False
    props: dict = field(default_factory=dict)
    topic: str = ""
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    dup: bool = False
    pid: int | None = None
    codes: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return TYPE_NAMES.get(self.type, f"type{self.type}")

    def __repr__(self) -> str:
        extra = ""
        if self.type == PUBLISH:
            extra = f" topic={self.topic!r} qos={self.qos} retain={self.retain} dup={self.dup} pid={self.pid} payload={self.payload[:40]!r}"
        elif self.type in (CONNACK, DISCONNECT, PUBACK, PUBREC, PUBREL, PUBCOMP):
            extra = f" rc=0x{self.rc:02x}" + (f" pid={self.pid}" if self.pid is not None else "")
        elif self.type in (SUBACK, UNSUBACK):
            extra = f" pid={self.pid} codes={[hex(c) for c in self.codes]}"
        if self.props:
            extra += f" props={self.props}"
        return f"<{self.name}{extra}>"


def parse(ptype: int, flags: int, body: bytes, version: int) -> Packet:
    p = Packet(ptype, flags, body)
    r = _Reader(body)
    v5 = version == V5
    if ptype == CONNACK:
        p.session_present = bool(r.byte() & 1)
        p.rc = r.byte()
        if v5 and r.left():
            p.props = r.properties()
    elif ptype == PUBLISH:
        p.qos = (flags >> 1) & 3
        p.retain = bool(flags & 1)
        p.dup = bool(flags & 8)
        p.topic = r.string()
        if p.qos:
            p.pid = r.u16()
        if v5:
            p.props = r.properties()
        p.payload = r.take(r.left())
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        p.pid = r.u16()
        if r.left():
            p.rc = r.byte()
        if v5 and r.left():
            p.props = r.properties()
    elif ptype in (SUBACK, UNSUBACK):
        p.pid = r.u16()
        if v5:
            p.props = r.properties()
        p.codes = list(r.take(r.left()))
    elif ptype in (DISCONNECT, AUTH):
        if r.left():
            p.rc = r.byte()
        if v5 and r.left():
            p.props = r.properties()
    return p


class RawClient:
    """One TCP connection speaking raw MQTT bytes."""

    def __init__(self, host: str, port: int, version: int = V5, timeout: float = 5.0):
        self.version = version
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.closed = False

    # -- sending
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def try_send(self, data: bytes) -> bool:
        """Send, tolerating a connection the broker already closed."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    # -- receiving
    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from the broker in time")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no data from the broker in time") from None
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            chunk = b""
        if not chunk:
            self.closed = True
            raise Closed("connection closed by the broker")
        self.buf += chunk

    def _try_frame(self) -> Packet | None:
        if len(self.buf) < 2:
            return None
        mult, length, i = 1, 0, 1
        while True:
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            length += (b & 0x7F) * mult
            i += 1
            if not b & 0x80:
                break
            mult *= 128
            if i > 4:
                raise ProtocolViolation("remaining length longer than 4 bytes")
        if len(self.buf) < i + length:
            return None
        first = self.buf[0]
        body = self.buf[i:i + length]
        self.buf = self.buf[i + length:]
        return parse(first >> 4, first & 0x0F, body, self.version)

    def recv(self, timeout: float = 5.0) -> Packet:
        """The next packet; TimeoutError if none in time, Closed if the broker closed."""
        deadline = time.monotonic() + timeout
        while True:
            p = self._try_frame()
            if p is not None:
                return p
            if self.closed:
                raise Closed("connection closed by the broker")
            self._fill(deadline)

    def expect(self, ptype: int, timeout: float = 5.0, skip_pingresp: bool = True) -> Packet:
        while True:
            p = self.recv(timeout)
            if skip_pingresp and p.type == PINGRESP and ptype != PINGRESP:
                continue
            if p.type != ptype:
                raise AssertionError(f"expected {TYPE_NAMES[ptype]}, got {p!r}")
            return p

    def recv_publishes(self, n: int, timeout: float = 5.0) -> list[Packet]:
        """Exactly the next n PUBLISH packets (anything else is an error)."""
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            try:
                out.append(self.expect(PUBLISH, max(0.01, deadline - time.monotonic())))
            except TimeoutError:
                raise AssertionError(f"got {len(out)} PUBLISH of {n} in {timeout}s: {out}") from None
        return out

    def expect_silence(self, duration: float) -> None:
        """Nothing arrives for `duration` seconds (a PINGRESP is tolerated)."""
        deadline = time.monotonic() + duration
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                p = self.recv(left)
            except TimeoutError:
                return
            if p.type != PINGRESP:
                raise AssertionError(f"expected nothing, got {p!r}")

    def read_until_closed(self, timeout: float = 5.0) -> list[Packet]:
        """All packets received until the broker closes; AssertionError if it stays open."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            try:
                got.append(self.recv(max(0.0, deadline - time.monotonic()) or 0.001))
            except Closed:
                return got
            except TimeoutError:
                raise AssertionError(
                    f"the broker did not close the connection within {timeout}s; got {got}") from None
            except ProtocolViolation:
                # unparseable garbage after an error: keep waiting for the close
                self.buf = b""

    def connect(self, client_id: str | bytes = "", timeout: float = 5.0, **kw) -> Packet:
        """Send CONNECT and return the CONNACK (not asserting success)."""
        kw.setdefault("version", self.version)
        self.send(connect(client_id, **kw))
        return self.expect(CONNACK, timeout)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    def abort(self) -> None:
        """Drop the connection at once (RST where possible): no DISCONNECT."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()
