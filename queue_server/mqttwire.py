"""MQTT 3.1.1 packets a publishing client needs, as bytes (OASIS MQTT 3.1.1, section 2-3).

Pure functions, no I/O: CONNECT, PUBLISH, PINGREQ, DISCONNECT out; CONNACK, PUBACK,
PINGRESP, SUBACK in. `Reader` splits a byte stream into packets (partial packets wait for
more bytes, several may arrive in one read). Used by queue_server.outlink.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAX_REMAINING = 268_435_455
"""The largest remaining length four varint bytes can say (spec 2.2.3)."""

CONNECT, CONNACK, PUBLISH, PUBACK = 0x10, 0x20, 0x30, 0x40
SUBACK, PINGREQ, PINGRESP, DISCONNECT = 0x90, 0xC0, 0xD0, 0xE0

PINGREQ_PACKET = bytes((PINGREQ, 0))
DISCONNECT_PACKET = bytes((DISCONNECT, 0))

CONNACK_CODES = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}

_U16 = struct.Struct(">H")


class MalformedPacket(ValueError):
    """The broker sent bytes that are not MQTT 3.1.1; the message is one line."""


@dataclass(frozen=True, slots=True)
class Will:
    """The message the broker publishes for us when the connection ends without DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def encode_length(n: int) -> bytes:
    """The remaining-length varint: 7 bits a byte, low first, high bit = more (spec 2.2.3)."""
    if not 0 <= n <= MAX_REMAINING:
        raise ValueError(f"MQTT remaining length {n} is out of 0..{MAX_REMAINING}")
    if n < 128:  # acknowledgements, calls
        return bytes((n,))
    if n < 16_384:  # notices, snapshots
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def decode_length(buf: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """(remaining length, position after it) read at `pos`, or None if its bytes are not all
    here yet. More than four bytes is malformed."""
    value, shift = 0, 0
    for i in range(pos, min(pos + 4, len(buf))):
        byte = buf[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i + 1
        shift += 7
    if len(buf) - pos >= 4:
        raise MalformedPacket("MQTT remaining length longer than four bytes")
    return None


def _string(s: str | bytes) -> bytes:
    data = s.encode() if isinstance(s, str) else s
    if len(data) > 0xFFFF:
        raise ValueError(f"MQTT string of {len(data)} bytes is longer than 65535")
    return _U16.pack(len(data)) + data


def connect(
    client_id: str,
    *,
    username: str | None = None,
    password: str | None = None,
    keepalive: int = 15,
    will: Will | None = None,
    clean_session: bool = True,
) -> bytes:
    """A CONNECT packet (spec 3.1)."""
    flags = 0x02 if clean_session else 0
    payload = _string(client_id)
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += _string(will.topic) + _string(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
    if password is not None:
        flags |= 0x40
        payload += _string(password)
    body = _string("MQTT") + bytes((4, flags)) + _U16.pack(keepalive) + payload
    return bytes((CONNECT,)) + encode_length(len(body)) + body


def publish_into(
    out: bytearray, topic: bytes, payload: bytes, qos: int, retain: bool, mid: int
) -> None:
    """Append a PUBLISH packet (spec 3.3) to `out`; `topic` is UTF-8 already. `mid` is the
    packet id, used only with QoS 1 or 2."""
    rest = 2 + len(topic) + len(payload) + (2 if qos else 0)
    out.append(PUBLISH | (qos << 1) | (1 if retain else 0))
    out += encode_length(rest)
    out += _U16.pack(len(topic))
    out += topic
    if qos:
        out += _U16.pack(mid)
    out += payload


def publish(topic: str, payload: bytes, qos: int = 0, retain: bool = False, mid: int = 0) -> bytes:
    """One PUBLISH packet as bytes (see `publish_into`)."""
    out = bytearray()
    publish_into(out, topic.encode(), payload, qos, retain, mid)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Packet:
    """One packet read: its first byte (type and flags) and its body after the length."""

    kind: int
    body: bytes

    @property
    def type(self) -> int:
        return self.kind & 0xF0


class Reader:
    """Splits the bytes from the broker into packets."""

    def __init__(self, max_length: int = 1 << 20) -> None:
        self._buf = bytearray()
        self._max = max_length  # the broker sends us only small acknowledgements

    @property
    def empty(self) -> bool:
        """No partial packet is waiting for more bytes."""
        return not self._buf

    def feed(self, data: bytes) -> list[Packet]:
        """The whole packets now complete, in order; the rest waits for more bytes."""
        buf = self._buf
        buf += data
        out: list[Packet] = []
        pos, end = 0, len(buf)
        while end - pos >= 2:
            got = decode_length(buf, pos + 1)
            if got is None:
                break
            length, start = got
            if length > self._max:
                raise MalformedPacket(f"MQTT packet of {length} bytes from the broker")
            if end - start < length:
                break
            out.append(Packet(buf[pos], bytes(buf[start : start + length])))
            pos = start + length
        del buf[:pos]
        return out


_PUBACKS = struct.Struct(">BBH")


def pubacks(data: bytes) -> list[int] | None:
    """The packet ids if `data` is whole PUBACKs only (what the broker sends while we publish),
    else None (then `Reader.feed` parses it). One struct pass, no Packet per acknowledgement."""
    if not data or len(data) % 4:
        return None
    mids = []
    for kind, length, mid in _PUBACKS.iter_unpack(data):
        if kind != PUBACK or length != 2:
            return None
        mids.append(mid)
    return mids


def packet_id(body: bytes) -> int:
    """The packet id at the start of a PUBACK or SUBACK body."""
    if len(body) < 2:
        raise MalformedPacket(f"MQTT acknowledgement of {len(body)} bytes")
    mid: int = _U16.unpack_from(body)[0]
    return mid


def connack_code(body: bytes) -> int:
    """CONNACK's return code (spec 3.2.2.3): 0 accepted, else see CONNACK_CODES."""
    if len(body) != 2:
        raise MalformedPacket(f"MQTT CONNACK of {len(body)} bytes")
    return body[1]
