"""The MQTT link every client program shares: connect, subscribe, reconnect, decode, resync.

Display, window panel and SMS gateway import this module and ``protocol`` and nothing else
from the server (an import-linter contract says so). Imports only the standard library,
aiomqtt and the protocol.

A ``Link`` keeps one broker connection for one hall. It subscribes to the hall topics it was
given (checking the broker's reason codes: aiomqtt does not raise on a refused subscription),
decodes each payload with ``protocol.decode`` (a bad payload is logged in one line and
skipped), and hands ``Message``s to the program's callback. When the link drops it reports
``online=False``, reconnects with jittered backoff capped at ``max_backoff`` seconds and
subscribes again; the retained topics then resync the program. MQTT keepalive notices a dead
link (a router that silently dropped it) within 1.5 keepalive periods.

``CallOrder`` turns the ``seq`` of ``calls`` into decisions: new, duplicate, or a gap that did
not fill within a grace period (then the program resyncs from the retained ``board``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt

from queue_server.protocol import PREFIX, ProtocolError, Status, decode, encode, topic_status

log = logging.getLogger(__name__)

MAX_BACKOFF = 5.0
"""Longest wait between reconnection attempts, in seconds."""


class LinkError(ValueError):
    """A bad broker URL; the message is one line."""


@dataclass(frozen=True, slots=True)
class MqttTarget:
    host: str
    port: int
    username: str | None
    password: str | None


def parse_mqtt_url(url: str, name: str = "HALLCALL_MQTT_URL") -> MqttTarget:
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise LinkError(f"{name}: {url!r} is not mqtt://[user:pass@]host:port")
    try:
        port = parts.port or 1883
    except ValueError as exc:
        raise LinkError(f"{name}: bad port in {url!r}") from exc
    return MqttTarget(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def backoff(attempt: int, cap: float = MAX_BACKOFF) -> float:
    """Seconds before reconnection attempt `attempt` (0-based): doubling from 0.25 s, capped,
    with jitter so a hall of screens does not reconnect in lockstep."""
    delay: float = min(cap, 0.25 * 2.0 ** min(attempt, 16))
    return delay * random.uniform(0.5, 1.0)  # noqa: S311


def client_for(
    target: MqttTarget,
    identifier: str,
    *,
    will: aiomqtt.Will | None = None,
    keepalive: int = 15,
    clean_session: bool | None = None,
    max_inflight: int | None = None,
) -> aiomqtt.Client:
    """An aiomqtt client with hallcall's defaults (5 s timeouts, 15 s keepalive)."""
    return aiomqtt.Client(
        target.host,
        target.port,
        username=target.username,
        password=target.password,
        identifier=identifier,
        will=will,
        keepalive=keepalive,
        timeout=5,
        clean_session=clean_session,
        max_inflight_messages=max_inflight,
    )


@dataclass(frozen=True, slots=True)
class Message:
    """A decoded hallcall message. `kind` is the topic after ``hallcall/{hall}/``: "calls",
    "board", "hall", "notify", "windows/3", "status/server"."""

    hall: str
    kind: str
    body: dict[str, Any]
    retained: bool
    mid: int = 0
    qos: int = 0


OnMessage = Callable[[Message], Awaitable[None]]
OnState = Callable[[bool], None]


class Link:
    """One program's connection to the broker for one hall (see the module docstring).

    `topics` are suffixes under ``hallcall/{hall}/`` ("calls", "board", "windows/3", "#").
    `program` names the retained ``status/{program}`` topic this link keeps online/offline
    (its last will says offline). The ACL lets a program publish only under its own broker
    user, so it is "<user>/<name>": "hallcall-display/tv-1", "hallcall-sms/gateway"; None
    for no status.
    With `persistent` the broker keeps the subscription and queues QoS 1 messages while the
    link is down (fixed client id, clean_session off). With `manual_ack` a message is
    acknowledged only when the callback returns, so a crash before that makes the broker
    send it again. `in_flight` > 1 lets that many callbacks run at once (a program that
    commits in batches, like the SMS gateway's outbox); acknowledgements still go out in
    arrival order, each after its own callback and every earlier one returned.
    """

    def __init__(
        self,
        target: MqttTarget,
        hall: str,
        topics: Iterable[str],
        on_message: OnMessage,
        *,
        on_state: OnState | None = None,
        program: str | None = None,
        client_id: str | None = None,
        persistent: bool = False,
        manual_ack: bool = False,
        keepalive: int = 15,
        max_backoff: float = MAX_BACKOFF,
        in_flight: int = 1,
    ) -> None:
        if persistent and not client_id:
            raise ValueError("a persistent link needs a fixed client id")
        self.target = target
        self.hall = hall
        self.topics = [f"{PREFIX}/{hall}/{t}" for t in topics]
        self.online = False
        self._on_message = on_message
        self._on_state = on_state
        self._program = program
        self._client_id = client_id or f"hallcall-{program or 'client'}-{uuid.uuid4().hex[:8]}"
        self._persistent = persistent
        self._manual_ack = manual_ack
        self._keepalive = keepalive
        self._max_backoff = max_backoff
        self._in_flight = max(1, in_flight)
        self._stopped = asyncio.Event()
        self._prefix = f"{PREFIX}/{hall}/"
        self.client: aiomqtt.Client | None = None

    def stop(self) -> None:
        self._stopped.set()

    async def run(self) -> None:
        """Until stop(): connect, subscribe, deliver; reconnect with backoff when it drops."""
        attempt = 0
        while not self._stopped.is_set():
            linked = False
            try:
                async with self._connect() as client:
                    linked = True
                    attempt = 0
                    await self._subscribe(client)
                    self._set_online(True, client)
                    await self._pump(client)
            except aiomqtt.MqttError as exc:
                delay = backoff(attempt, self._max_backoff)
                attempt += 1
                level = logging.WARNING if linked or attempt == 1 else logging.DEBUG
                log.log(
                    level,
                    "MQTT %s:%s for hall %s: %s; retrying in %.1fs",
                    self.target.host,
                    self.target.port,
                    self.hall,
                    exc,
                    delay,
                )
            finally:
                self._set_online(False, None)
            if not self._stopped.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff(attempt, self._max_backoff)):
                        await self._stopped.wait()

    def _connect(self) -> aiomqtt.Client:
        will = None
        if self._program:
            offline = encode(Status(online=False, time=0.0, client=self._program))
            will = aiomqtt.Will(self._status_topic, offline, qos=1, retain=True)
        client = client_for(
            self.target,
            self._client_id,
            will=will,
            keepalive=self._keepalive,
            clean_session=False if self._persistent else None,
        )
        if self._manual_ack:
            client._client.manual_ack_set(True)
        return client

    @property
    def _status_topic(self) -> str:
        return topic_status(self.hall, self._program or "client")

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        for topic in self.topics:
            granted = await client.subscribe(topic, qos=1)
            codes = granted if isinstance(granted, list | tuple) else [granted]
            if any(getattr(rc, "value", rc) >= 0x80 for rc in codes):
                raise aiomqtt.MqttError(f"the broker refused the subscription to {topic}")
        if self._program:
            online = encode(Status(online=True, time=time.time(), client=self._program))
            await client.publish(self._status_topic, online, qos=1, retain=True)

    async def _pump(self, client: aiomqtt.Client) -> None:
        messages = asyncio.create_task(self._messages(client))
        stop = asyncio.create_task(self._stopped.wait())
        try:
            await asyncio.wait({messages, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not messages.done():
                messages.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await messages
        if not messages.cancelled():
            messages.result()  # MqttError when the link dropped
        if self._program:  # a clean stop: say offline now rather than by the will
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                offline = encode(Status(online=False, time=time.time(), client=self._program))
                await client.publish(self._status_topic, offline, qos=1, retain=True, timeout=1)

    async def _messages(self, client: aiomqtt.Client) -> None:
        if self._in_flight > 1:
            await self._messages_together(client)
            return
        async for msg in client.messages:
            await self._handle(msg)
            self._ack(client, msg)

    async def _messages_together(self, client: aiomqtt.Client) -> None:
        """Up to `in_flight` callbacks at once; acknowledged in arrival order. A callback's
        error ends the link (MqttError: it reconnects), and the broker sends again what was
        not acknowledged."""
        room = asyncio.Semaphore(self._in_flight)
        order: asyncio.Queue[tuple[aiomqtt.Message, asyncio.Task[None]]] = asyncio.Queue()

        async def handle(msg: aiomqtt.Message) -> None:
            try:
                await self._handle(msg)
            finally:
                room.release()

        async def read() -> None:
            async for msg in client.messages:
                await room.acquire()
                order.put_nowait((msg, asyncio.create_task(handle(msg))))

        async def acknowledge() -> None:
            while True:
                msg, task = await order.get()
                await task
                self._ack(client, msg)

        reader, acker = asyncio.create_task(read()), asyncio.create_task(acknowledge())
        try:
            done, _ = await asyncio.wait({reader, acker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            left = [reader, acker]
            while not order.empty():
                left.append(order.get_nowait()[1])
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)
        for task in done:
            task.result()

    def _ack(self, client: aiomqtt.Client, msg: aiomqtt.Message) -> None:
        if self._manual_ack and msg.qos > 0:
            client._client.ack(msg.mid, msg.qos)

    async def _handle(self, msg: aiomqtt.Message) -> None:
        topic = str(msg.topic)
        payload = msg.payload if isinstance(msg.payload, bytes | bytearray) else b""
        try:
            body = decode(bytes(payload))
        except ProtocolError as exc:
            log.warning("ignored a message on %s: %s", topic, exc)
        else:
            kind = topic.removeprefix(self._prefix)
            await self._on_message(
                Message(self.hall, kind, body, bool(msg.retain), msg.mid, msg.qos)
            )

    def _set_online(self, up: bool, client: aiomqtt.Client | None) -> None:
        self.client = client
        if up != self.online:
            self.online = up
            if self._on_state is not None:
                self._on_state(up)


@dataclass
class CallOrder:
    """Dedupes calls by ``seq`` and notices gaps that stay open.

    Calls from several server processes can reach the broker slightly out of order, so a
    missing seq is given `grace` seconds to arrive before the program resyncs from ``board``.
    """

    grace: float = 1.0
    high: int = 0  # every seq up to here was seen (or resynced)
    _above: set[int] = field(default_factory=set)
    _gap_since: float | None = None

    def accept(self, seq: int, now: float | None = None) -> bool:
        """True for a call not seen before; False for a duplicate."""
        if seq <= self.high or seq in self._above:
            return False
        self._above.add(seq)
        while self.high + 1 in self._above:
            self.high += 1
            self._above.discard(self.high)
        if self._above and self._gap_since is None:
            self._gap_since = time.monotonic() if now is None else now
        elif not self._above:
            self._gap_since = None
        return True

    def gap_open(self, now: float | None = None) -> bool:
        """True when a missing seq has stayed missing for longer than the grace period."""
        if self._gap_since is None:
            return False
        now = time.monotonic() if now is None else now
        return now - self._gap_since > self.grace

    def resync(self, call_seq: int) -> None:
        """The board says every call up to `call_seq` is accounted for."""
        if call_seq >= self.high:
            self.high = call_seq
            self._above = {s for s in self._above if s > call_seq}
            while self.high + 1 in self._above:
                self.high += 1
                self._above.discard(self.high)
            self._gap_since = time.monotonic() if self._above else None
