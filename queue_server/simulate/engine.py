"""The discrete-event loop: citizens arrive, windows call, serve, recall, pause.

Time moves only here: the hall's ManualClock is set to each event's time before the server
is asked anything. Windows press "next" as soon as they are free (after `react` seconds when
they stood idle), so the queue is worked as the staff would with the caller panel.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Protocol

from queue_server.clock import ManualClock
from queue_server.config import HallConfig
from queue_server.domain import eta
from queue_server.simulate.arrivals import Arrival
from queue_server.simulate.driver import Told
from queue_server.simulate.spec import HandlingModel, Staff


class Server(Protocol):
    async def issue(self, service: str, cls: str) -> Told: ...
    async def next(self, window: str) -> str: ...
    async def finish(self, window: str) -> None: ...
    async def recall(self, window: str) -> bool: ...
    async def pause(self, window: str) -> None: ...
    async def resume(self, window: str) -> None: ...


@dataclass(slots=True)
class Record:
    """One ticket's life, as measured."""

    service: str
    cls: str
    issued_ms: int
    told: Told
    oracle: int  # minutes an estimator knowing the true mean handling time would say
    plain: int  # "ahead × true mean ÷ windows"
    called_ms: int | None = None
    overtaken_ms: int = 0  # how much later the latest ticket called before it had joined
    counted: bool = True  # False during a steady run's warm-up

    @property
    def wait_min(self) -> float:
        """Minutes from issue to the first call (0 until called)."""
        return ((self.called_ms or self.issued_ms) - self.issued_ms) / 60_000


@dataclass(slots=True)
class WindowSim:
    id: str
    services: set[str]
    ticket: str = ""  # at the window (called, maybe not come yet)
    paused: bool = False
    pause_due: bool = False  # pause once the current citizen is done
    reacting: bool = False
    recalls: int = 0
    behaviour: str = "show"  # of the current citizen: show | late | absent


@dataclass
class Engine:
    hall: HallConfig
    server: Server
    clock: ManualClock
    rng: random.Random
    handling: HandlingModel
    means: dict[str, float]  # true mean handling minutes per service
    staff: Staff = field(default_factory=Staff)
    records: dict[str, Record] = field(default_factory=dict)
    _heap: list[tuple[int, int, str, str, Arrival | None]] = field(default_factory=list)
    _n: int = 0
    _last_join: dict[str, int] = field(default_factory=dict)  # per service, in call order

    def __post_init__(self) -> None:
        self.windows = {w.id: WindowSim(w.id, set(w.services)) for w in self.hall.windows}
        self._offsets = {
            w.id: {s: round(o * 60_000) for s, o in w.services.items()} for w in self.hall.windows
        }
        self._handle: dict[str, int] = {}  # ticket -> handling ms

    # -- scheduling ------------------------------------------------------------------------

    def _at(self, t_ms: int, kind: str, window: str = "", arrival: Arrival | None = None) -> None:
        self._n += 1
        heapq.heappush(self._heap, (t_ms, self._n, kind, window, arrival))

    def add_arrivals(self, arrivals: list[Arrival], counted_from_ms: int = 0) -> None:
        self._counted_from = counted_from_ms
        for a in arrivals:
            self._at(a.t_ms, "arrive", arrival=a)

    def add_pauses(self, start_ms: int, end_ms: int) -> None:
        """Each window pauses now and then while the hall is open."""
        if self.staff.pauses_per_hour <= 0:
            return
        per_ms = self.staff.pauses_per_hour / 3_600_000
        for w in self.windows:
            t = start_ms + round(self.rng.expovariate(per_ms))
            while t < end_ms:
                self._at(t, "pause", w)
                t += round(self.rng.expovariate(per_ms))

    async def run(self) -> None:
        while self._heap:
            t, _, kind, window, arrival = heapq.heappop(self._heap)
            self.clock.set(t / 1000)
            if arrival is not None:
                await self._arrive(t, arrival)
            elif kind == "react":
                self.windows[window].reacting = False
                if not self.windows[window].ticket and not self.windows[window].paused:
                    await self._call(t, window)
            elif kind == "done":
                await self._done(t, window)
            elif kind == "recall":
                await self._recall(t, window)
            elif kind == "pause":
                await self._pause(t, window)
            elif kind == "resume":
                self.windows[window].paused = False
                await self.server.resume(window)
                await self._call(t, window)

    # -- events ----------------------------------------------------------------------------

    def _idle(self) -> set[str]:
        return {w.id for w in self.windows.values() if not w.ticket and not w.paused}

    async def _arrive(self, t: int, a: Arrival) -> None:
        idle = self._idle()
        open_windows = {w.id for w in self.windows.values() if not w.paused}
        told = await self.server.issue(a.service, a.cls)
        cap = eta.capacity(a.service, self._offsets, open_windows)
        free = eta.free_windows(a.service, self._offsets, idle)
        mean = self.means[a.service] * 60_000
        cv = 1.0 if self.handling.kind != "lognormal" else self.handling.cv
        known = eta.Handling.exact(mean, cv)
        oracle = eta.estimate(told.ahead, known, cap, free)
        plain = eta.wait_minutes(told.ahead, mean, cap)
        self.records[told.ticket] = Record(
            a.service,
            a.cls,
            t,
            told,
            oracle.minutes if oracle else -1,
            plain if plain is not None else -1,
            counted=t >= self._counted_from,
        )
        self._handle[told.ticket] = a.handling_ms or 1
        for wid in sorted(idle):
            w = self.windows[wid]
            if a.service not in w.services or w.ticket or w.reacting:
                continue
            if self.staff.react > 0:
                w.reacting = True
                self._at(t + round(self.rng.expovariate(1 / self.staff.react) * 1000), "react", wid)
            elif await self._call(t, wid):
                break

    async def _call(self, t: int, window: str) -> bool:
        """Press next (finishing the current ticket); schedule what the citizen does."""
        w = self.windows[window]
        tid = await self.server.next(window)
        w.ticket, w.recalls = tid, 0
        if not tid:
            return False
        rec = self.records[tid]
        if rec.called_ms is None:
            rec.called_ms = t
            last = self._last_join.get(rec.service, 0)
            rec.overtaken_ms = max(0, last - rec.issued_ms)
            self._last_join[rec.service] = max(last, rec.issued_ms)
        r = self.rng.random()
        if r < self.staff.no_show:
            w.behaviour = "absent"
        elif r < self.staff.no_show + self.staff.late:
            w.behaviour = "late"
        else:
            w.behaviour = "show"
        if w.behaviour == "show":
            self._at(t + self._handle[tid], "done", window)
        else:
            self._at(t + round(self.staff.recall_after * 1000), "recall", window)
        return True

    async def _recall(self, t: int, window: str) -> None:
        w = self.windows[window]
        missed = await self.server.recall(window)
        w.recalls += 1
        if missed:
            w.ticket = ""
            await self._free(t, window)
        elif w.behaviour == "late":
            self._at(t + self._handle[w.ticket], "done", window)
        else:
            self._at(t + round(self.staff.recall_after * 1000), "recall", window)

    async def _done(self, t: int, window: str) -> None:
        w = self.windows[window]
        if w.pause_due:
            await self.server.finish(window)
            w.ticket = ""
        await self._free(t, window)

    async def _free(self, t: int, window: str) -> None:
        """The window has no one to serve: pause if due, else call the next."""
        w = self.windows[window]
        if w.pause_due:
            w.pause_due = False
            await self._pause(t, window)
        else:
            await self._call(t, window)

    async def _pause(self, t: int, window: str) -> None:
        w = self.windows[window]
        if w.paused:
            return
        if w.ticket:
            w.pause_due = True
            return
        w.paused = True
        await self.server.pause(window)
        minutes = self.rng.expovariate(1 / self.staff.pause_minutes)
        self._at(t + round(minutes * 60_000), "resume", window)
