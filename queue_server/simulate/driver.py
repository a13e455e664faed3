"""The simulator's only door into the server: the real use cases on a real Redis.

Everything the engine does to the hall goes through `Driver`, so a change in the server's
use-case layer is adapted here alone.
"""

from __future__ import annotations

import functools
import math
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from queue_server.announcer import Announcer
from queue_server.clock import ManualClock
from queue_server.config import HallConfig
from queue_server.domain.phones import phone_key
from queue_server.domain.priority import MINUTE_MS
from queue_server.hall import Hall
from queue_server.live import LiveCache
from queue_server.simulate.batch import Batch
from queue_server.store import keys
from queue_server.store.hall_store import Entry, HallStore, policy_from_config
from queue_server.store.scripts import register
from queue_server.views import IssuedView, WindowOutcome


class Outlet:
    """Announcements go nowhere (the simulator measures the queue, not MQTT)."""

    def publish_now(self, entries: list[Entry]) -> None:
        pass

    def mark(self, windows: Iterable[str] | None = None) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Told:
    """What the server told a citizen when the ticket was issued."""

    ticket: str
    ahead: int
    minutes: int | None
    low: int | None = None
    high: int | None = None
    after_close: bool = False


class Driver:
    """Each method starts a real use case; its answer goes to `then` once `flush` has sent the
    queued calls (batch.py). Every change marks the live state as changed: as the publisher
    would, the next issue first rereads it (a snapshot queued just before the issue)."""

    def __init__(self, hall: Hall, batch: Batch, redis: Redis) -> None:
        self.hall = hall
        self.batch = batch
        self.redis = redis
        self._changed = True  # since the live cache was last refreshed
        self._base: dict[str, Any] | None = None  # the first snapshot

    @classmethod
    async def start(
        cls, config: HallConfig, redis: Redis, clock: ManualClock, pace: bool = True
    ) -> Driver:
        batch = Batch(redis, clock)
        store = HallStore(redis, await batch.load(register(redis)), config, clock)
        await batch.start(store.seed(), lambda _: None, "seed")
        await batch.flush()
        # the driver refreshes the live cache itself, from a snapshot after every change
        live = LiveCache(config, clock, max_age=math.inf, pace=pace)
        announcer = Announcer(config, live, "zh")
        # simulated citizens give no phone numbers: the per-phone key is never asked for
        key = functools.partial(phone_key, secrets.token_bytes(16), config.id)
        hall = Hall(config, store, live, announcer, Outlet(), clock, phone_key=key)
        return cls(hall, batch, redis)

    async def flush(self) -> None:
        await self.batch.flush()

    async def refresh_live(self) -> None:
        """What the publisher's snapshot after a change gives the live cache. The first is a
        full snapshot; later ones read only what can change in a simulation (learned handling
        times, which windows are paused or busy: rules and assignments stay as seeded), which
        costs Redis a tenth of a snapshot. tests/test_simulate.py checks they agree."""
        if self._base is None:
            await self.batch.start(self.hall.store.snapshot(0), self._first_snapshot, "snapshot")
            return
        base = self._base
        h = self.hall.id
        got: list[Any] = []

        def done(reply: Any) -> None:
            got.append(reply)
            if len(got) == len(base["windows"]) + 1:
                snap = light_snapshot(base, got[0], got[1:], self.hall.store.day())
                self.hall.live.refresh(snap)

        await self.batch.read(done, "HGETALL", keys.handle_times(h))
        for w in base["windows"]:
            await self.batch.read(done, "HMGET", keys.window(h, w["id"]), *WINDOW_FIELDS)

    def _first_snapshot(self, snap: dict[str, Any]) -> None:
        self._base = snap
        self.hall.live.refresh(snap)

    async def issue(self, service: str, cls: str, then: Callable[[Told], None]) -> None:
        if self._changed:
            self._changed = False
            await self.refresh_live()

        def told(view: IssuedView) -> None:
            out = view.ticket
            low, high = out.eta_range or (None, None)
            then(Told(out.id, out.ahead or 0, out.eta_minutes, low, high, out.eta_after_close))

        coro = self.hall.issue(service, cls, "kiosk", staff=True)
        await self.batch.start(coro, told, f"issue {service}/{cls}")

    async def _act(self, window: str, action: str, then: Callable[[WindowOutcome], None]) -> None:
        self._changed = True  # an issue alone changes nothing the live cache holds
        await self.batch.start(self.hall.act(window, action), then, f"window {window} {action}")

    async def next(self, window: str, then: Callable[[str], None]) -> None:
        """Finish the window's ticket and call the next; `then` gets the ticket called or ""."""
        await self._act(window, "next", lambda out: then(_called(out)))

    async def finish(self, window: str) -> None:
        await self._act(window, "finish", _ignore)

    async def recall(self, window: str, then: Callable[[bool], None]) -> None:
        """Call the current citizen again; `then` gets True if that made them a no-show."""
        await self._act(
            window,
            "recall",
            lambda out: then(out.ticket is not None and out.ticket.state == "missed"),
        )

    async def pause(self, window: str) -> None:
        await self._act(window, "pause", _ignore)

    async def resume(self, window: str) -> None:
        await self._act(window, "resume", _ignore)

    async def learned_handling_ms(self, service: str) -> float:
        await self.flush()
        raw = await self.redis.hget(keys.handle_times(self.hall.id), service)
        return float(raw or 0)

    async def cleanup(self) -> None:
        """Remove the hall's keys (it ran under a private hall id)."""
        found = [k async for k in self.redis.scan_iter(match=keys.prefix(self.hall.id) + "*")]
        for i in range(0, len(found), 500):
            await self.redis.delete(*found[i : i + 500])


WINDOW_FIELDS = ("paused", "current", "day", "served", "handle_ms")


def light_snapshot(
    base: dict[str, Any], handle: Any, windows: list[Any], day: str
) -> dict[str, Any]:
    """A snapshot with what the live cache reads: `base`'s windows and rules, with learned
    handling times (HGETALL) and each window's WINDOW_FIELDS (HMGET) as now."""
    out = []
    for w, (paused, current, on, served, handle_ms) in zip(base["windows"], windows, strict=True):
        now = {**w, "paused": paused == "1", "current": {"ticket": current} if current else None}
        now.pop("today", None)
        if on == day:
            now["today"] = {"served": int(served or 0), "handle_ms": int(handle_ms or 0)}
        out.append(now)
    flat = [x for kv in handle.items() for x in kv] if isinstance(handle, dict) else handle
    return {**base, "handle": flat, "windows": out}


def _called(out: WindowOutcome) -> str:
    return out.ticket.id if out.ticket and out.ticket.state != "missed" else ""


def _ignore(_: object) -> None:
    pass


def starvation_bound_min(config: HallConfig) -> float:
    """The hall file's bound on overtaking, in minutes."""
    return policy_from_config(config).bound_ms() / MINUTE_MS
