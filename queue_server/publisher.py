"""The MQTT link of one hall in the server: retained snapshots coalesced, the outbox relay, and
the server's online/offline status (a last will on ``status/{instance}``).

On every (re)connection: the status, then a full round of snapshots (board, every panel, the
hall's settings), then the relay replays its outboxes and turns the fast path on. Reconnecting
uses jittered backoff capped at 5 s (queue_server.link.backoff).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable

from queue_server import metrics
from queue_server.link import MqttTarget, backoff
from queue_server.outage import Outage
from queue_server.outlink import Outlink, OutlinkError, Will
from queue_server.protocol import Status, encode, topic_status
from queue_server.relay import Relay
from queue_server.store.hall_store import Entry

log = logging.getLogger(__name__)

Snapshot = Callable[[set[str] | None], Awaitable[tuple[int, list[tuple[str, bytes]]]]]
"""Builds the retained messages for the given windows (None: all, and the hall's settings)
and the board, with the hall seq they reflect."""

MAX_IN_FLIGHT = 20_000
"""QoS 1 publishes unacknowledged at once (a PUBACK is one dict pop in queue_server.outlink):
room for a replayed burst, bounded so an unanswering broker cannot grow it without end. The
relay's sweep sends again what the cap refused."""


class HallPublisher:
    def __init__(
        self,
        hall: str,
        target: MqttTarget,
        relay: Relay,
        instance: str = "server",
        min_interval: float = 0.05,
        outage: Outage | None = None,
    ) -> None:
        self.hall = hall
        self._outage = outage or Outage("Redis", log)  # shared with the routes by the app
        self.target = target
        self.relay = relay
        self.instance = instance
        self.connected = False
        self._snapshot: Snapshot | None = None
        self._current_seq: Callable[[], Awaitable[int]] | None = None
        self._min_interval = min_interval
        self._dirty = asyncio.Event()
        self._dirty_windows: set[str] | None = set()  # None: every window
        self._status_topic = topic_status(hall, instance)
        self._stopping = False
        self._stopped = asyncio.Event()

    def bind(self, snapshot: Snapshot, current_seq: Callable[[], Awaitable[int]]) -> None:
        """Where snapshots come from (the hall's use cases), set once they exist."""
        self._snapshot, self._current_seq = snapshot, current_seq

    # -- called by the use cases (never block) ---------------------------------------------

    def publish_now(self, entries: list[Entry]) -> None:
        """A change's outbox entries, published at once (the relay's fast path)."""
        self.relay.publish_now(entries)

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

    # -- the connection --------------------------------------------------------------------

    async def run(self) -> None:
        attempt = 0
        leases = asyncio.create_task(self.relay.keep_leases())
        try:
            while not self._stopping:
                linked = False
                try:
                    async with self._client() as client:
                        linked, attempt = True, 0
                        await self._session(client)
                except OutlinkError as exc:
                    delay = backoff(attempt)
                    attempt += 1
                    if linked or attempt == 1:
                        log.warning(
                            "hall %s: MQTT broker %s:%s unavailable (%s); retrying",
                            self.hall,
                            self.target.host,
                            self.target.port,
                            exc,
                        )
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await self._stopped.wait()
                finally:
                    self._set_connected(False)
                    self.relay.disconnected()
        finally:
            await self.relay.release()
            leases.cancel()

    def _client(self) -> Outlink:
        offline = encode(Status(online=False, time=0.0, client=self.instance))
        return Outlink(
            self.target,
            f"hallcall-{self.instance}-{self.hall}-{uuid.uuid4().hex[:8]}",
            will=Will(self._status_topic, offline, qos=1, retain=True),
            max_in_flight=MAX_IN_FLIGHT,
        )

    def _set_connected(self, up: bool) -> None:
        self.connected = up
        metrics.MQTT_CONNECTED.labels(self.hall).set(1 if up else 0)

    async def _session(self, client: Outlink) -> None:
        self._set_connected(True)
        log.info("hall %s: connected to MQTT %s:%s", self.hall, self.target.host, self.target.port)
        online = encode(Status(online=True, time=time.time(), client=self.instance))
        await client.publish(self._status_topic, online, qos=1, retain=True)
        self.relay.connected(client)
        # whatever changed while away: fresh snapshots first, then the outboxes
        self._dirty_windows = set()
        await self._publish_snapshots(client, None)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._snapshot_loop(client))
                tg.create_task(self._relay_loop())
                tg.create_task(self._watch(client))
        except* OutlinkError as group:
            raise group.exceptions[0] from None
        finally:
            if self._stopping:
                await self.relay.drain()
            self._set_connected(False)
            self.relay.disconnected()
            with contextlib.suppress(Exception):
                stopped = encode(Status(online=False, time=time.time(), client=self.instance))
                await asyncio.wait_for(
                    client.publish(self._status_topic, stopped, qos=1, retain=True), 1.0
                )

    async def _relay_loop(self) -> None:
        stopping = asyncio.create_task(self._stopped.wait())
        relaying = asyncio.create_task(self.relay.run(self._outage))
        try:
            await asyncio.wait({stopping, relaying}, return_when=asyncio.FIRST_COMPLETED)
            if relaying.done():
                relaying.result()
        finally:
            stopping.cancel()
            relaying.cancel()

    async def _watch(self, client: Outlink) -> None:
        """Notice a lost connection at once, not at the next publish."""
        stopping = asyncio.create_task(self._stopped.wait())
        closed = asyncio.create_task(client.wait_closed())
        try:
            await asyncio.wait({stopping, closed}, return_when=asyncio.FIRST_COMPLETED)
            if closed.done():
                closed.result()  # raises OutlinkError: the link dropped
        finally:
            stopping.cancel()
            closed.cancel()

    async def _publish_snapshots(self, client: Outlink, windows: set[str] | None) -> bool:
        if self._snapshot is None or self._current_seq is None:
            raise RuntimeError("HallPublisher.bind() was not called")
        try:
            seq, messages = await self._snapshot(windows)
        except Exception as exc:  # Redis away: keep the marks and try again
            self._outage.failed(exc, f"hall {self.hall}: snapshot")
            self.mark(windows)
            return False
        # all at once, in order (the link writes them in one go and waits for the PUBACKs)
        await asyncio.gather(
            *(client.publish(topic, payload, qos=1, retain=True) for topic, payload in messages)
        )
        metrics.SNAPSHOTS.labels(self.hall).inc()
        self._outage.ok()
        # Another server process may have changed the hall after our read and published
        # before us; if so, publish again so the retained board is the newest.
        with contextlib.suppress(Exception):
            if await self._current_seq() > seq:
                self.mark(windows)
        return True

    async def _snapshot_loop(self, client: Outlink) -> None:
        while not self._stopping:
            await self._until_dirty(client)
            self._dirty.clear()
            if self._stopping:
                return
            windows, self._dirty_windows = self._dirty_windows, set()
            if not await self._publish_snapshots(client, windows):
                await asyncio.sleep(1.0)
                continue
            await asyncio.sleep(self._min_interval)  # coalesce bursts of changes

    async def _until_dirty(self, client: Outlink) -> None:
        """Wait for marks; raise OutlinkError if the link ends first. The TaskGroup's cancel
        alone was not enough: seen lost once the broker stopped cleanly (most likely swallowed
        by an awaited Redis read, as in `stop`), this loop then waited for marks until the
        server stopped, and the link stayed "up" meanwhile."""
        dirty = asyncio.create_task(self._dirty.wait())
        closed = asyncio.create_task(client.wait_closed())
        try:
            await asyncio.wait({dirty, closed}, return_when=asyncio.FIRST_COMPLETED)
            if closed.done():
                closed.result()  # raises OutlinkError
        finally:
            dirty.cancel()
            closed.cancel()
