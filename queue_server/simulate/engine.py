"""The discrete-event loop: citizens arrive, windows call, serve, recall, pause.

Time moves only here: the hall's ManualClock is set to each event's time before the server
is asked anything. Windows press "next" as soon as they are free (after `react` seconds when
they stood idle), so the queue is worked as the staff would with the caller panel.
"""

from __future__ import annotations

import functools
import heapq
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from queue_server.clock import ManualClock
from queue_server.config import HallConfig
from queue_server.domain import eta
from queue_server.simulate.arrivals import Arrival
from queue_server.simulate.batch import SimError
from queue_server.simulate.driver import Told
from queue_server.simulate.spec import HandlingModel, Staff

T = TypeVar("T")


class Server(Protocol):
    """The hall, asked in order; answers come to `then` by the next `flush` (driver.py)."""

    async def issue(self, service: str, cls: str, then: Callable[[Told], None]) -> None: ...
    async def next(self, window: str, then: Callable[[str], None]) -> None: ...
    async def finish(self, window: str) -> None: ...
    async def recall(self, window: str, then: Callable[[bool], None]) -> None: ...
    async def pause(self, window: str) -> None: ...
    async def resume(self, window: str) -> None: ...
    async def flush(self) -> None: ...


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
    day: int = 0  # which of the simulated days (0, 1, …)

    @property
    def wait_min(self) -> float:
        """Minutes from issue to the first call (0 until called)."""
        return ((self.called_ms or self.issued_ms) - self.issued_ms) / 60_000


@dataclass(slots=True)
class WindowSim:
    id: str
    services: set[str]
    serving: int = -1  # the arrival at the window (called, maybe not come yet); -1: none
    paused: bool = False
    pause_due: bool = False  # pause once the current citizen is done
    reacting: bool = False
    recalls: int = 0
    behaviour: str = "show"  # of the current citizen: show | late | absent

    @property
    def busy(self) -> bool:
        return self.serving >= 0


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
    _day: int = -1  # of the arrivals added last
    _last_join: dict[str, int] = field(default_factory=dict)  # per service, in call order

    def __post_init__(self) -> None:
        self.windows = {w.id: WindowSim(w.id, set(w.services)) for w in self.hall.windows}
        self._offsets = {
            w.id: {s: round(o * 60_000) for s, o in w.services.items()} for w in self.hall.windows
        }
        # the engine's own view of the queue, by arrival (in issue order): who waits in each
        # service and class, and the ticket ids the server gave them
        self._arrivals: list[Arrival] = []
        self._tids: list[str] = []
        self._index: dict[str, int] = {}
        self._waiting: dict[str, dict[str, deque[int]]] = {}
        self._pace = {w: 1 / f for w, f in self.staff.slower.items()}

    # -- scheduling ------------------------------------------------------------------------

    def _at(self, t_ms: int, kind: str, window: str = "", arrival: Arrival | None = None) -> None:
        self._n += 1
        heapq.heappush(self._heap, (t_ms, self._n, kind, window, arrival))

    def add_arrivals(self, arrivals: list[Arrival], counted_from_ms: int = 0) -> None:
        """The next day's arrivals (run one day at a time)."""
        self._day += 1
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
                if not self.windows[window].busy and not self.windows[window].paused:
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
        await self.server.flush()

    # -- events ----------------------------------------------------------------------------

    def _idle(self) -> set[str]:
        return {w.id for w in self.windows.values() if not w.busy and not w.paused}

    async def _arrive(self, t: int, a: Arrival) -> None:
        idle = self._idle()
        open_windows = {w.id for w in self.windows.values() if not w.paused}
        # the oracle knows each window's true pace too
        cap = eta.capacity(a.service, self._offsets, open_windows, self._pace)
        free = eta.free_windows(a.service, self._offsets, idle)
        k, day = len(self._arrivals), self._day
        self._arrivals.append(a)
        self._tids.append("")
        self._waiting.setdefault(a.service, {}).setdefault(a.cls, deque()).append(k)

        def issued(told: Told) -> None:
            mean = self.means[a.service] * 60_000
            cv = 1.0 if self.handling.kind != "lognormal" else self.handling.cv
            oracle = eta.estimate(told.ahead, eta.Handling.exact(mean, cv), cap, free)
            plain = eta.wait_minutes(told.ahead, mean, cap)
            self.records[told.ticket] = Record(
                a.service,
                a.cls,
                t,
                told,
                oracle.minutes if oracle else -1,
                plain if plain is not None else -1,
                counted=t >= self._counted_from,
                day=day,
            )
            self._tids[k] = told.ticket
            self._index[told.ticket] = k

        await self.server.issue(a.service, a.cls, issued)
        for wid in sorted(idle):
            w = self.windows[wid]
            if a.service not in w.services or w.busy or w.reacting:
                continue
            if self.staff.react > 0:
                w.reacting = True
                self._at(t + round(self.rng.expovariate(1 / self.staff.react) * 1000), "react", wid)
            elif await self._call(t, wid):
                break

    async def _ask(self, ask: Callable[[Callable[[T], None]], Awaitable[None]]) -> T:
        """An answer the engine needs before going on: sent now, with all queued before it."""
        box: list[T] = []
        await ask(box.append)
        await self.server.flush()
        return box[0]

    def _predict(self, window: str) -> int | None:
        """The arrival the server will call at `window` (-1: none), when the engine can tell:
        no one of its services waits, or one service and class does (FIFO within a class).
        None when several do: the server's priority rules decide, the engine asks."""
        queues = [
            q for s in self.windows[window].services for q in self._waiting.get(s, {}).values() if q
        ]
        if not queues:
            return -1
        return queues[0][0] if len(queues) == 1 else None

    async def _call(self, t: int, window: str) -> bool:
        """Press next (finishing the current ticket); schedule what the citizen does.

        The server decides who is called. When the engine can tell in advance, it goes on
        without waiting (the call is sent with the next batch) and checks the answer then."""
        w = self.windows[window]
        k = self._predict(window)
        if k is None:
            tid = await self._ask(functools.partial(self.server.next, window))
            k = self._index[tid] if tid else -1
            self._called(t, k)
        else:
            await self.server.next(window, functools.partial(self._check, t, k, window))
        w.serving, w.recalls = k, 0
        if k < 0:
            return False
        a = self._arrivals[k]
        self._waiting[a.service][a.cls].remove(k)
        r = self.rng.random()
        if r < self.staff.no_show:
            w.behaviour = "absent"
        elif r < self.staff.no_show + self.staff.late:
            w.behaviour = "late"
        else:
            w.behaviour = "show"
        if w.behaviour == "show":
            self._at(t + self._handling(a, window), "done", window)
        else:
            self._at(t + round(self.staff.recall_after * 1000), "recall", window)
        return True

    def _handling(self, a: Arrival, window: str) -> int:
        """How long the citizen takes at this window (ms)."""
        return max(round((a.handling_ms or 1) * self.staff.slower.get(window, 1.0)), 1)

    def _check(self, t: int, k: int, window: str, tid: str) -> None:
        """The server's answer to a call the engine foresaw."""
        want = self._tids[k] if k >= 0 else ""
        if tid != want:
            raise SimError(
                f"window {window} at {t} ms: the server called {tid or 'no one'}, "
                f"the simulator's queue said {want or 'no one'}"
            )
        self._called(t, k)

    def _called(self, t: int, k: int) -> None:
        if k < 0:
            return
        rec = self.records[self._tids[k]]
        if rec.called_ms is None:
            rec.called_ms = t
            last = self._last_join.get(rec.service, 0)
            rec.overtaken_ms = max(0, last - rec.issued_ms)
            self._last_join[rec.service] = max(last, rec.issued_ms)

    async def _recall(self, t: int, window: str) -> None:
        w = self.windows[window]
        missed = await self._ask(functools.partial(self.server.recall, window))
        w.recalls += 1
        if missed:
            w.serving = -1
            await self._free(t, window)
        elif w.behaviour == "late":
            self._at(t + self._handling(self._arrivals[w.serving], window), "done", window)
        else:
            self._at(t + round(self.staff.recall_after * 1000), "recall", window)

    async def _done(self, t: int, window: str) -> None:
        w = self.windows[window]
        if w.pause_due:
            await self.server.finish(window)
            w.serving = -1
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
        if w.busy:
            w.pause_due = True
            return
        w.paused = True
        await self.server.pause(window)
        minutes = self.rng.expovariate(1 / self.staff.pause_minutes)
        self._at(t + round(minutes * 60_000), "resume", window)
