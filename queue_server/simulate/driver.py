"""The simulator's only door into the server: the real use cases on a real Redis.

Everything the engine does to the hall goes through `Driver`, so a change in the server's
use-case layer is adapted here alone.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from redis.asyncio import Redis

from queue_server.announcer import Announcer
from queue_server.clock import ManualClock
from queue_server.config import HallConfig
from queue_server.domain.phones import phone_key
from queue_server.domain.priority import MINUTE_MS
from queue_server.errors import Refused
from queue_server.hall import Hall
from queue_server.live import LiveCache
from queue_server.store import keys
from queue_server.store.hall_store import Entry, HallStore, policy_from_config
from queue_server.store.scripts import register


class Outlet:
    """Announcements go nowhere (the simulator measures the queue, not MQTT). A marked change
    is remembered: as the publisher would, the next request first rereads the live state."""

    def __init__(self) -> None:
        self.changed = True

    def publish_now(self, entries: list[Entry]) -> None:
        pass

    def mark(self, windows: Iterable[str] | None = None) -> None:
        self.changed = True


@dataclass(frozen=True, slots=True)
class Told:
    """What the server told a citizen when the ticket was issued."""

    ticket: str
    ahead: int
    minutes: int | None
    low: int | None = None
    high: int | None = None
    after_close: bool = False


class SimError(RuntimeError):
    """The server refused what the simulated staff did: a simulator bug, said in one line."""


class Driver:
    def __init__(self, hall: Hall, outlet: Outlet, redis: Redis) -> None:
        self.hall = hall
        self.outlet = outlet
        self.redis = redis

    @classmethod
    async def start(cls, config: HallConfig, redis: Redis, clock: ManualClock) -> Driver:
        store = HallStore(redis, register(redis), config, clock)
        await store.seed()
        live = LiveCache(config, clock)
        outlet = Outlet()
        announcer = Announcer(config, live, "zh")
        # simulated citizens give no phone numbers: the per-phone key is never asked for
        key = functools.partial(phone_key, secrets.token_bytes(16), config.id)
        hall = Hall(config, store, live, announcer, outlet, clock, phone_key=key)
        return cls(hall, outlet, redis)

    async def _act(self, window: str, action: str) -> str:
        try:
            out = await self.hall.act(window, action)
        except Refused as exc:
            raise SimError(f"window {window} {action}: {exc.code} {exc.message}") from None
        return out.ticket.id if out.ticket and out.ticket.state != "missed" else ""

    async def issue(self, service: str, cls: str) -> Told:
        if self.outlet.changed:  # what the publisher's snapshot after a change does
            self.outlet.changed = False
            self.hall.live.refresh(await self.hall.store.snapshot(0))
        try:
            out = (await self.hall.issue(service, cls, "kiosk", staff=True)).ticket
        except Refused as exc:
            raise SimError(f"issue {service}/{cls}: {exc.code} {exc.message}") from None
        low, high = out.eta_range or (None, None)
        return Told(out.id, out.ahead or 0, out.eta_minutes, low, high, out.eta_after_close)

    async def next(self, window: str) -> str:
        """Finish the window's ticket and call the next; the ticket called or ""."""
        return await self._act(window, "next")

    async def finish(self, window: str) -> None:
        await self._act(window, "finish")

    async def recall(self, window: str) -> bool:
        """Call the current citizen again; True if that made them a no-show."""
        try:
            out = await self.hall.act(window, "recall")
        except Refused as exc:
            raise SimError(f"window {window} recall: {exc.code} {exc.message}") from None
        return out.ticket is not None and out.ticket.state == "missed"

    async def pause(self, window: str) -> None:
        await self._act(window, "pause")

    async def resume(self, window: str) -> None:
        await self._act(window, "resume")

    async def learned_handling_ms(self, service: str) -> float:
        raw = await self.redis.hget(keys.handle_times(self.hall.id), service)
        return float(raw or 0)

    async def cleanup(self) -> None:
        """Remove the hall's keys (it ran under a private hall id)."""
        found = [k async for k in self.redis.scan_iter(match=keys.prefix(self.hall.id) + "*")]
        for i in range(0, len(found), 500):
            await self.redis.delete(*found[i : i + 500])


def starvation_bound_min(config: HallConfig) -> float:
    """The hall file's bound on overtaking, in minutes."""
    return policy_from_config(config).bound_ms() / MINUTE_MS
