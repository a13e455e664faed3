"""The queue server's own MQTT 3.1.1 publishing client, on asyncio.Protocol (uvloop in the server).

Why not aiomqtt (paho) here, when a well-kept library is preferred: the server only publishes,
and paho's per-message Python cost was the measured bottleneck. Per message paho takes locks,
builds an MQTTMessageInfo, does one send() syscall per packet, and on every PUBACK walks its
in-flight list (so the server kept 100 in flight). Measured on a quiet machine: the relay
replayed an outbox at 5.5-6.4k msg/s with a paho floor of 11-13k msg/s, and paho was ~20% of
the server's CPU when issuing tickets with phones. Here a publish appends its bytes to a buffer
written once per loop turn, and a PUBACK is one dict pop.

What it does: CONNECT (client id, user/password, keepalive, last will, clean session) and a
checked CONNACK; PUBLISH QoS 0 and 1 with thousands in flight (packet ids 1..65535 recycled,
mid -> callback); PINGREQ when idle; the link is declared dead after 1.5 keepalive periods
without a packet from the broker. Subscribing is not needed by the server: client programs
keep aiomqtt (queue_server.link).

Any loss of the connection (reset, broker stopped, keepalive timeout, a packet we do not
expect) ends the link: every awaiting `publish` and `wait_closed` raise `OutlinkError`, and the
callbacks of unacknowledged `send`s are never called (the relay replays those).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any, cast

from queue_server import mqttwire as wire
from queue_server.link import MqttTarget
from queue_server.mqttwire import Will

__all__ = ["Outlink", "OutlinkError", "Will"]

log = logging.getLogger(__name__)

MAX_MID = 0xFFFF
WRITE_FIRST_AT_ONCE = True
"""Write the first packet of a loop turn at once, not at the end of the turn (see `_emit`)."""


class OutlinkError(Exception):
    """The broker link failed, was refused or ended; the message is one line."""


class Outlink(asyncio.Protocol):
    """One publishing connection to the broker. Use as ``async with Outlink(...) as link``;
    it is its connection's asyncio protocol too."""

    def __init__(
        self,
        target: MqttTarget,
        client_id: str,
        *,
        will: Will | None = None,
        keepalive: int = 15,
        timeout: float = 5.0,
        max_in_flight: int = 20_000,
    ) -> None:
        if not 1 <= max_in_flight < MAX_MID:
            raise ValueError(f"max_in_flight {max_in_flight} is out of 1..{MAX_MID - 1}")
        self.target = target
        self.client_id = client_id
        self.will = will
        self.keepalive = keepalive
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._reader = wire.Reader()
        self._waiting: dict[int, Callable[[], None]] = {}  # mid -> on PUBACK
        self._mid = 0
        self._out: bytearray | None = None  # bytes of this loop turn, None: no flush due
        self._paused = False
        self._connack: asyncio.Future[int] = self._loop.create_future()
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._error: OutlinkError | None = None
        self._room = asyncio.Event()  # set while fewer than max_in_flight are unacknowledged
        self._room.set()
        self._sent = self._heard = False  # since the last keepalive tick
        self._silent_ticks = 0
        self._ticker: asyncio.TimerHandle | None = None

    # -- connecting and closing ------------------------------------------------------------

    async def __aenter__(self) -> Outlink:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def connect(self) -> None:
        where = f"{self.target.host}:{self.target.port}"
        try:
            async with asyncio.timeout(self.timeout):
                await self._loop.create_connection(lambda: self, self.target.host, self.target.port)
                self._write_now(
                    wire.connect(
                        self.client_id,
                        username=self.target.username,
                        password=self.target.password,
                        keepalive=self.keepalive,
                        will=self.will,
                    )
                )
                code = await asyncio.shield(self._connack)
        except OutlinkError:
            self._abort()
            raise
        except TimeoutError:
            self._abort()
            raise OutlinkError(f"MQTT {where}: no answer within {self.timeout:g} s") from None
        except OSError as exc:
            self._abort()
            raise OutlinkError(f"MQTT {where}: {exc.strerror or exc}") from None
        if code:
            self._abort()
            why = wire.CONNACK_CODES.get(code, f"return code {code}")
            raise OutlinkError(f"MQTT {where} refused the connection: {why}")
        self._ticker = self._loop.call_later(self.keepalive / 2, self._tick)

    async def aclose(self) -> None:
        """DISCONNECT (so the broker does not publish the will) and close."""
        if self._transport is not None and self._error is None:
            self._write_now(wire.DISCONNECT_PACKET)
            self._fail(OutlinkError("the link was closed"))
        self._abort()

    def _abort(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._transport is not None:
            self._transport.close()
        self._fail(OutlinkError("the link was closed"))

    @property
    def is_open(self) -> bool:
        return self._error is None and self._connack.done()

    async def wait_closed(self) -> None:
        """Returns never: raises OutlinkError when the link ends, for whatever reason."""
        await asyncio.shield(self._closed)
        raise self._error or OutlinkError("the link was closed")

    # -- publishing ------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self._waiting)

    def send(self, topic: str, payload: bytes, done: Callable[[], None]) -> bool:
        """Publish at QoS 1 without waiting; `done()` runs on the PUBACK. False (nothing sent)
        when the link is down or `max_in_flight` are unacknowledged: try again later."""
        if self._error is not None or len(self._waiting) >= self.max_in_flight:
            return False
        mid = self._next_mid()
        self._waiting[mid] = done
        if len(self._waiting) >= self.max_in_flight:
            self._room.clear()
        self._emit(topic, payload, 1, False, mid)
        return True

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Publish; with QoS 1 return on the PUBACK. Waits while `max_in_flight` are
        unacknowledged. Raises OutlinkError if the link ends first."""
        if qos not in (0, 1):
            raise ValueError(f"QoS {qos}: this client publishes at QoS 0 or 1")
        while True:
            if self._error is not None:
                raise self._error
            if qos == 0 or len(self._waiting) < self.max_in_flight:
                break
            await self._room.wait()
        if qos == 0:
            self._emit(topic, payload, 0, retain, 0)
            return
        acked: asyncio.Future[None] = self._loop.create_future()

        def done() -> None:
            if not acked.done():
                acked.set_result(None)

        mid = self._next_mid()
        self._waiting[mid] = done
        if len(self._waiting) >= self.max_in_flight:
            self._room.clear()
        self._emit(topic, payload, 1, retain, mid)
        closed = self._closed
        await asyncio.wait((acked, closed), return_when=asyncio.FIRST_COMPLETED)
        if not acked.done():
            acked.cancel()
            raise self._error or OutlinkError("the link was closed")

    def _next_mid(self) -> int:
        mid = self._mid
        while True:  # ends: fewer than MAX_MID are in flight
            mid = mid + 1 if mid < MAX_MID else 1
            if mid not in self._waiting:
                self._mid = mid
                return mid

    # -- writing: one transport.write per loop turn ----------------------------------------

    def _emit(self, topic: str, payload: bytes, qos: int, retain: bool, mid: int) -> None:
        """The first packet of a loop turn is written at once (a lone call waits for nothing);
        the rest of the turn's packets go to a buffer written once at the end of the turn
        (call_soon), so a burst is one write and one syscall."""
        out = self._out
        if out is not None:
            wire.publish_into(out, topic.encode(), payload, qos, retain, mid)
            return
        self._out = bytearray()
        if self._paused or not WRITE_FIRST_AT_ONCE:
            wire.publish_into(self._out, topic.encode(), payload, qos, retain, mid)
        elif self._transport is not None:
            packet = bytearray()
            wire.publish_into(packet, topic.encode(), payload, qos, retain, mid)
            self._sent = True
            self._transport.write(packet)
        if not self._paused:
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        out = self._out
        if self._paused or out is None:
            return
        self._out = None
        if out and self._transport is not None and self._error is None:
            self._sent = True
            self._transport.write(out)

    def _write_now(self, packet: bytes) -> None:
        """A control packet, after whatever is buffered, paused or not."""
        if self._transport is None:
            return
        out, self._out = self._out, None
        self._sent = True
        self._transport.write(bytes(out or b"") + packet)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._flush()

    # -- reading ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        sock: Any = transport.get_extra_info("socket")
        if sock is not None:  # a call must not wait for Nagle
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def eof_received(self) -> bool:
        self._fail(OutlinkError("the broker closed the connection"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f"connection lost: {exc}" if exc else "the broker closed the connection"
        self._fail(OutlinkError(reason))

    def data_received(self, data: bytes) -> None:
        self._heard = True
        mids = wire.pubacks(data) if self._reader.empty else None
        if mids is not None:  # the usual read while publishing: acknowledgements only
            self._acked(mids)
            return
        try:
            packets = self._reader.feed(data)
        except wire.MalformedPacket as exc:
            self._bad(str(exc))
            return
        for p in packets:
            kind = p.type
            if kind == wire.PUBACK:
                self._acked((wire.packet_id(p.body),))
            elif kind == wire.CONNACK and not self._connack.done():
                try:
                    self._connack.set_result(wire.connack_code(p.body))
                except wire.MalformedPacket as exc:
                    self._bad(str(exc))
                    return
            elif kind in (wire.PINGRESP, wire.SUBACK):
                pass
            else:
                self._bad(f"unexpected MQTT packet type {kind >> 4} from the broker")
                return

    def _acked(self, mids: Iterable[int]) -> None:
        waiting = self._waiting
        for mid in mids:
            done = waiting.pop(mid, None)
            if done is not None:
                try:
                    done()
                except Exception:  # a caller's bug must not end the link
                    log.exception("MQTT: a PUBACK callback failed")
        if not self._room.is_set() and len(waiting) < self.max_in_flight:
            self._room.set()

    def _bad(self, why: str) -> None:
        log.error("MQTT %s:%s: %s; closing the link", self.target.host, self.target.port, why)
        self._fail(OutlinkError(why))
        self._abort()

    # -- keepalive -------------------------------------------------------------------------

    def _tick(self) -> None:
        """Every keepalive/2: PINGREQ if we sent or heard nothing; dead after 1.5 keepalive
        periods (3 ticks) without a packet from the broker."""
        if self._error is not None:
            return
        self._silent_ticks = 0 if self._heard else self._silent_ticks + 1
        if self._silent_ticks >= 3:
            self._fail(OutlinkError(f"no packet from the broker for {1.5 * self.keepalive:g} s"))
            self._abort()
            return
        if not self._sent or not self._heard:
            self._write_now(wire.PINGREQ_PACKET)
        self._sent = self._heard = False
        self._ticker = self._loop.call_later(self.keepalive / 2, self._tick)

    # -- the end ---------------------------------------------------------------------------

    def _fail(self, error: OutlinkError) -> None:
        """The link is over: wake every waiter (once)."""
        if self._error is not None:
            return
        self._error = error
        self._waiting.clear()
        self._room.set()  # waiting publishers see the error
        if not self._connack.done():
            self._connack.set_exception(error)
            self._connack.exception()  # retrieved: no "never retrieved" warning if unawaited
        if not self._closed.done():
            self._closed.set_result(None)
