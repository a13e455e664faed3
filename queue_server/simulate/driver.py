"""The simulator's only door into the server: the real use cases on a real Redis.

Everything the engine does to the hall goes through `Driver`, so a change in the server's
use-case layer is adapted here alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from redis.asyncio import Redis

from queue_server.api import models as m
from queue_server.clock import ManualClock
from queue_server.config import HallConfig
from queue_server.errors import ApiError
from queue_server.hall import Hall
from queue_server.store.hall_store import HallStore
from queue_server.store.keys import prefix
from queue_server.store.scripts import register


class NullSink:
    """Announcements go nowhere: the simulator measures the queue, not MQTT."""

    def send(self, topic: str, payload: bytes) -> None:
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


class SimError(RuntimeError):
    """The server refused what the simulated staff did: a simulator bug, said in one line."""


class Driver:
    def __init__(self, hall: Hall, redis: Redis) -> None:
        self.hall = hall
        self.redis = redis

    @classmethod
    async def start(cls, config: HallConfig, redis: Redis, clock: ManualClock) -> Driver:
        store = HallStore(redis, register(redis), config, clock)
        await store.seed()
        return cls(Hall(config, store, NullSink(), clock), redis)

    async def _act(self, window: str, action: str) -> m.WindowResult:
        try:
            return await self.hall.act(window, action, None)
        except ApiError as exc:
            raise SimError(f"window {window} {action}: {exc.code} {exc.message}") from None

    async def issue(self, service: str, cls: str) -> Told:
        # The current Hall ages its ETA inputs by the machine's clock, not the hall's: make it
        # reread them, as a server whose requests are seconds apart would.
        self.hall._eta_read = -math.inf
        req = m.IssueRequest.model_validate({"service": service, "class": cls})
        try:
            out = await self.hall.issue(req, staff=True)
        except ApiError as exc:
            raise SimError(f"issue {service}/{cls}: {exc.code} {exc.message}") from None
        return Told(out.id, out.ahead or 0, out.eta_minutes)

    async def next(self, window: str) -> str:
        """Finish the window's ticket and call the next; the ticket called or ""."""
        out = await self._act(window, "next")
        return out.ticket.id if out.ticket else ""

    async def finish(self, window: str) -> None:
        await self._act(window, "finish")

    async def recall(self, window: str) -> bool:
        """Call the current citizen again; True if that made them a no-show."""
        out = await self._act(window, "recall")
        return out.ticket is not None and out.ticket.state == "missed"

    async def pause(self, window: str) -> None:
        await self._act(window, "pause")

    async def resume(self, window: str) -> None:
        await self._act(window, "resume")

    async def learned_handling_ms(self, service: str) -> float:
        raw = await self.redis.hget(prefix(self.hall.id) + "handle", service)
        return float(raw or 0)

    async def cleanup(self) -> None:
        """Remove the hall's keys (it ran under a private hall id)."""
        keys = [k async for k in self.redis.scan_iter(match=prefix(self.hall.id) + "*")]
        for i in range(0, len(keys), 500):
            await self.redis.delete(*keys[i : i + 500])
