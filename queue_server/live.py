"""What requests need from the hall's live state without reading Redis each time: the ETA
inputs (handling times, open windows and their services) and which windows serve what.

Refreshed from every snapshot the publisher reads (so under load it costs nothing) and, when
older than `max_age` seconds of the hall's clock, before a request that needs it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from queue_server import opening
from queue_server.clock import Clock
from queue_server.config import HallConfig
from queue_server.domain import eta
from queue_server.domain.hours import closing_at, local
from queue_server.domain.priority import MINUTE_MS
from queue_server.snapshots import offsets_of, pairs

MAX_AGE = 2.0


class LiveCache:
    def __init__(
        self, config: HallConfig, clock: Clock, max_age: float = MAX_AGE, pace: bool = True
    ) -> None:
        self.config = config
        self.pace = pace  # weigh windows by their own pace today (False: the simulator compares)
        self.clock = clock
        self.max_age = max_age
        self._read_at = float("-inf")
        # service -> windows serving it; from the config until the first read of the live rules
        self.serving: dict[str, set[str]] = {
            s.id: {w.id for w in config.windows if s.id in w.services} for s in config.services
        }
        self._handling = {
            s.id: eta.Handling.prior(s.avg_minutes * MINUTE_MS) for s in config.services
        }
        self._capacity: dict[str, float] = {s.id: 1.0 for s in config.services}
        self._free: dict[str, int] = {s.id: 0 for s in config.services}
        self.rejoin_minutes = config.queue.rejoin_minutes
        # (service, ahead) -> estimate, for one refresh and one second: the relay estimates
        # every "ticket taken" notice, issuing every ticket
        self._memo: dict[tuple[str, int], eta.Estimate | None] = {}
        self._memo_at = float("-inf")
        # the local day last seen (its start and end) and its closing time, epoch seconds
        self._closing: tuple[float, float, float | None] = (0.0, 0.0, None)

    @property
    def stale(self) -> bool:
        return self.clock.now() - self._read_at > self.max_age

    def refresh(self, snap: dict[str, Any]) -> None:
        self._read_at = self.clock.now()
        self._memo.clear()
        offsets = offsets_of(snap)
        self.serving = {
            s.id: {w for w, offs in offsets.items() if s.id in offs} for s in self.config.services
        }
        self.rejoin_minutes = float(snap.get("rejoin_ms", 0)) / MINUTE_MS
        # a window outside its own hours serves nobody now (opening.py)
        shut = opening.closed_windows(self.config, self.clock.now())
        open_windows = {w["id"] for w in snap["windows"] if not w["paused"]} - shut
        idle = {w["id"] for w in snap["windows"] if not w.get("current")} & open_windows
        handle = pairs(snap["handle"])
        pace = eta.window_pace(today_of(snap)) if self.pace else None
        for s in self.config.services:
            self._handling[s.id] = handling_of(handle, s.id, s.avg_minutes * MINUTE_MS)
            self._capacity[s.id] = eta.capacity(s.id, offsets, open_windows, pace)
            self._free[s.id] = eta.free_windows(s.id, offsets, idle)

    def windows_serving(self, *services: str) -> set[str]:
        """Windows whose panels show these services' queues, as managers last assigned them."""
        out: set[str] = set()
        for s in services:
            out |= self.serving.get(s, set())
        return out

    def estimate(self, service: str, ahead: int) -> eta.Estimate | None:
        """The wait of a ticket with `ahead` tickets before it (None: no window is open for its
        service): minutes, a range holding about 90% of waits, and whether it is due after
        today's closing time. The one place the server estimates a wait."""
        now = self.clock.now()
        if not 0 <= now - self._memo_at < 1.0 or len(self._memo) > 4096:
            self._memo.clear()
            self._memo_at = now
        key = (service, ahead)
        if key in self._memo:
            return self._memo[key]
        handling = self._handling.get(service)
        if handling is None:
            return None
        found = self._memo[key] = eta.estimate(
            ahead,
            handling,
            self._capacity.get(service, 0.0),
            self._free.get(service, 0),
            self._minutes_to_close(now),
        )
        return found

    def _minutes_to_close(self, now: float) -> float | None:
        """hours.minutes_to_close, with the day's closing time looked up once a day: while
        `now` is within the local day last seen, it is plain arithmetic on epoch seconds."""
        start, end, close = self._closing
        if not start <= now < end:
            here = local(now, self.config.hall.timezone)
            midnight = datetime.combine(here.date(), time(), here.tzinfo)
            closing = closing_at(self.config.hours, here)
            self._closing = start, end, close = (
                midnight.timestamp(),
                datetime.combine(here.date() + timedelta(days=1), time(), here.tzinfo).timestamp(),
                closing.timestamp() if closing is not None else None,
            )
        if close is None:
            return None
        left = (close - now) / 60
        return left if left > 0 else None

    def wait_minutes(self, service: str, ahead: int) -> int | None:
        found = self.estimate(service, ahead)
        return found.minutes if found else None


def today_of(snap: dict[str, Any]) -> dict[str, tuple[int, float]]:
    """Per window, (tickets served, summed handling ms) today, from a snapshot."""
    out: dict[str, tuple[int, float]] = {}
    for w in snap["windows"]:
        today = w.get("today")
        if isinstance(today, dict):
            out[w["id"]] = (int(today.get("served") or 0), float(today.get("handle_ms") or 0))
    return out


def handling_of(handle: dict[str, str], service: str, prior_ms: float) -> eta.Handling:
    """A service's learned handling time from the hall's `handle` hash: the mean under the
    service id, its mean square and count under "<id>:sq" and "<id>:n" (common.lua)."""
    mean = float(handle.get(service, 0) or 0)
    if mean <= 0:
        return eta.Handling.prior(prior_ms)
    return eta.Handling(
        mean,
        float(handle.get(f"{service}:sq", 0) or 0),
        float(handle.get(f"{service}:n", eta.PRIOR_WEIGHT)),
    )
