"""MQTT publisher of one hall: calls and notices as they happen, retained snapshots coalesced.

Publishing happens after the Redis change committed, in this task, never in the HTTP request:
the request only appends to a bounded backlog. While the broker is away the backlog keeps the
newest messages, HTTP keeps answering, and on reconnect fresh snapshots are republished. A last
will marks the server offline on ``status/{instance}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

import aiomqtt

from queue_server import metrics
from queue_server.link import MqttTarget
from queue_server.protocol import Status, encode, topic_status

log = logging.getLogger(__name__)

Snapshot = Callable[[set[str] | None], Awaitable[tuple[int, list[tuple[str, bytes]]]]]
"""Builds the retained messages for the given windows (None: all) and the board, with the
hall seq they reflect."""


class HallPublisher:
    def __init__(
        self,
        hall: str,
        target: MqttTarget,
        snapshot: Snapshot,
        current_seq: Callable[[], Awaitable[int]],
        instance: str = "server",
        min_interval: float = 0.05,
        max_backlog: int = 10_000,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.hall = hall
        self.target = target
        self.instance = instance
        self.connected = False
        self._snapshot = snapshot
        self._current_seq = current_seq
        self._min_interval = min_interval
        self._backlog: deque[tuple[str, bytes]] = deque(maxlen=max_backlog)
        self._wake = asyncio.Event()
        self._dirty = asyncio.Event()
        self._dirty_windows: set[str] | None = set()  # None: every window
        self._now = clock or (lambda: asyncio.get_running_loop().time())
        self._status_topic = topic_status(hall, instance)
        self._stopping = False
        self._linked = False  # this session reached the broker
        self._stopped = asyncio.Event()

    # -- called by request handlers (never block) ------------------------------------------

    def send(self, topic: str, payload: bytes) -> None:
        if len(self._backlog) == self._backlog.maxlen:
            metrics.MQTT_DROPPED.labels(self.hall).inc()
        self._backlog.append((topic, payload))
        metrics.MQTT_BACKLOG.labels(self.hall).set(len(self._backlog))
        self._wake.set()

    def mark(self, windows: Iterable[str] | None = None) -> None:
        """Snapshots are stale: the board and these windows' panels (None: all)."""
        if windows is None or self._dirty_windows is None:
            self._dirty_windows = None
        else:
            self._dirty_windows.update(windows)
        self._dirty.set()

    def stop(self) -> None:
        """Ask the loops to end. Cancelling alone is not enough: on Python 3.11 a publish that
        completes as the cancel arrives swallows it (asyncio.wait_for, gh-86296)."""
        self._stopping = True
        self._stopped.set()
        self._dirty.set()
        self._wake.set()

    # -- the connection --------------------------------------------------------------------

    async def run(self) -> None:
        attempt = 0
        while not self._stopping:
            self._linked = False
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                self._set_connected(False)
                if self._linked:  # it was up: a fresh drop starts the backoff over
                    attempt = 0
                delay = min(30.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311
                attempt = min(attempt + 1, 10)
                log.warning(
                    "hall %s: MQTT broker %s:%s unavailable (%s); retrying in %.1fs",
                    self.hall,
                    self.target.host,
                    self.target.port,
                    exc,
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._stopped.wait()

    def _set_connected(self, up: bool) -> None:
        self.connected = up
        metrics.MQTT_CONNECTED.labels(self.hall).set(1 if up else 0)

    async def _session(self) -> None:
        offline = encode(Status(online=False, time=0.0, client=self.instance))
        async with aiomqtt.Client(
            self.target.host,
            self.target.port,
            username=self.target.username,
            password=self.target.password,
            identifier=f"hallcall-{self.instance}-{self.hall}-{uuid.uuid4().hex[:8]}",
            will=aiomqtt.Will(self._status_topic, offline, qos=1, retain=True),
            keepalive=15,
            timeout=5,
        ) as client:
            self._linked = True
            self._set_connected(True)
            log.info(
                "hall %s: connected to MQTT %s:%s", self.hall, self.target.host, self.target.port
            )
            online = encode(Status(online=True, time=time.time(), client=self.instance))
            await client.publish(self._status_topic, online, qos=1, retain=True)
            self.mark(None)  # whatever changed while away: republish fresh snapshots
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._send_loop(client))
                    tg.create_task(self._snapshot_loop(client))
                    tg.create_task(self._watch(client))
            except* aiomqtt.MqttError as group:
                raise group.exceptions[0] from None
            finally:
                self._set_connected(False)
                with contextlib.suppress(Exception):
                    stopped = encode(Status(online=False, time=time.time(), client=self.instance))
                    await asyncio.wait_for(
                        client.publish(self._status_topic, stopped, qos=1, retain=True), 1.0
                    )

    async def _watch(self, client: aiomqtt.Client) -> None:
        """Notice a lost connection at once, not at the next publish: we subscribe to nothing,
        so the message iterator only ends, with MqttError, when the link drops."""
        stopping = asyncio.create_task(self._stopped.wait())
        messages = asyncio.create_task(self._first_message(client))
        try:
            await asyncio.wait({stopping, messages}, return_when=asyncio.FIRST_COMPLETED)
            if messages.done():
                messages.result()  # raises MqttError when the link dropped
        finally:
            stopping.cancel()
            messages.cancel()

    @staticmethod
    async def _first_message(client: aiomqtt.Client) -> None:
        async for _ in client.messages:
            return

    async def _send_loop(self, client: aiomqtt.Client) -> None:
        while True:
            self._wake.clear()
            # on stop too: calls and notices already made still go out (the app bounds the
            # wait); only then does the loop end
            while self._backlog:
                topic, payload = self._backlog[0]
                await client.publish(topic, payload, qos=1)
                self._backlog.popleft()  # only once the broker has it: at-least-once
                metrics.MQTT_BACKLOG.labels(self.hall).set(len(self._backlog))
            if self._stopping:
                return
            await self._wake.wait()

    async def _snapshot_loop(self, client: aiomqtt.Client) -> None:
        while not self._stopping:
            await self._dirty.wait()
            self._dirty.clear()
            if self._stopping:
                return
            windows, self._dirty_windows = self._dirty_windows, set()
            try:
                seq, messages = await self._snapshot(windows)
            except Exception as exc:  # Redis away: keep the marks and try again
                log.warning("hall %s: cannot read snapshot: %s", self.hall, exc)
                self.mark(windows)
                await asyncio.sleep(1.0)
                continue
            # one at a time: a call published meanwhile never queues behind a burst of panels
            # in the broker link's in-flight window (measured: all at once made calls 5x slower)
            for topic, payload in messages:
                await client.publish(topic, payload, qos=1, retain=True)
            metrics.SNAPSHOTS.labels(self.hall).inc()
            # Another server process may have changed the hall after our read and published
            # before us; if so, publish again so the retained board is the newest.
            with contextlib.suppress(Exception):
                if await self._current_seq() > seq:
                    self.mark(windows)
            await asyncio.sleep(self._min_interval)  # coalesce bursts of changes
