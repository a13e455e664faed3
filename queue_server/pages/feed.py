"""Live ticket pages: one fan-out per hall, fed by what every server process changes.

Every open status page registers its ticket here. The feed follows the hall's seq in Redis
(every change of every server process bumps it), so a call made at another process updates
these pages too. After a change, one round reads the calling order of each watched
service once (`HallStore.places`): a queued ticket's place is its index there, whatever the
number of pages. Only tickets that left their queue (called, missed, cancelled, transferred)
are read one by one. Each page gets the newest view; a slow page simply gets the newest one
next (never a backlog). Changes that arrive while a round runs are coalesced into the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from queue_server.link import backoff
from queue_server.views import TicketView

if TYPE_CHECKING:
    from queue_server.hall import Hall

log = logging.getLogger(__name__)
BATCH = 64  # single-ticket status reads in flight per round
MIN_INTERVAL = 0.05  # seconds between rounds: many changes in a burst cost one round
POLL = 0.05  # seconds between reads of the hall's seq while pages are open
QUEUED = ("waiting", "transferred")


class Watcher:
    """One open page: the newest view of its ticket, and a flag that a newer one came."""

    def __init__(self, first: TicketView) -> None:
        self.view = first
        self.closed = False  # the server is shutting down
        self.fresh = asyncio.Event()
        self.fresh.set()  # the page gets the view it subscribed with at once

    def offer(self, view: TicketView) -> None:
        if view != self.view:
            self.view = view
            self.fresh.set()

    async def next(self) -> TicketView | None:
        """The newest view once there is a newer one; None when the server shuts down."""
        await self.fresh.wait()
        self.fresh.clear()
        return None if self.closed else self.view

    def close(self) -> None:
        self.closed = True
        self.fresh.set()


class HallFeed:
    def __init__(self, hall: Hall, min_interval: float = MIN_INTERVAL) -> None:
        self.hall = hall
        self.min_interval = min_interval
        self.watchers: dict[str, set[Watcher]] = {}
        self.views: dict[str, TicketView] = {}  # the newest view of each watched ticket
        self._changed = asyncio.Event()
        self._joined = False  # a page joined since the last read of the seq
        self._tasks: list[asyncio.Task[None]] = []

    def changed(self) -> None:
        if self.watchers:
            self._changed.set()

    @contextlib.asynccontextmanager
    async def watch(self, ticket: str, first: TicketView) -> AsyncIterator[Watcher]:
        w = Watcher(first)
        self.watchers.setdefault(ticket, set()).add(w)
        self.views.setdefault(ticket, first)
        self._joined = True
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name=f"pages-feed-{self.hall.id}"),
                asyncio.create_task(self._follow(), name=f"pages-events-{self.hall.id}"),
            ]
        try:
            yield w
        finally:
            left = self.watchers.get(ticket)
            if left is not None:
                left.discard(w)
                if not left:
                    del self.watchers[ticket]
                    self.views.pop(ticket, None)

    def close(self) -> None:
        """Let every open page's handler end (at shutdown, before handlers are waited for)."""
        for watchers in self.watchers.values():
            for w in watchers:
                w.close()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _follow(self) -> None:
        """Every change of the hall, from any server process: the hall's seq, which every
        change bumps, read every POLL seconds while pages are open (one GET; a blocking
        XREAD would hold a pooled connection and meet the pool's read timeout)."""
        last, failures = None, 0
        while True:
            await asyncio.sleep(POLL if not failures else backoff(failures))
            if not self.watchers:
                continue
            try:
                seq = await self.hall.store.seq()
            except (RedisError, OSError) as exc:
                if failures == 0:
                    log.warning("hall %s: live pages cannot follow changes: %s", self.hall.id, exc)
                failures += 1
                continue
            if failures:
                log.info("hall %s: live pages follow changes again", self.hall.id)
                failures = 0
            # a page that joined since the last read may have read its ticket before a change
            # this process saw: one more round covers it (coalesced: at most one per POLL)
            if seq != last or self._joined:
                self._joined = False
                last = seq
                self.changed()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._changed.wait()
            self._changed.clear()
            started = loop.time()
            try:
                await self._round()
            except (RedisError, OSError) as exc:  # the next change tries again
                log.warning("hall %s: live pages not updated: %s", self.hall.id, exc)
            await asyncio.sleep(max(0.0, self.min_interval - (loop.time() - started)))

    async def _round(self) -> None:
        hall = self.hall
        await hall.fresh_live()
        views = dict(self.views)
        services = sorted({v.service for v in views.values() if v.state in QUEUED})
        order = await hall.store.places(services)
        ranks = {s: {t: i for i, t in enumerate(ids)} for s, ids in order.items()}
        estimates: dict[tuple[str, int], Any] = {}
        reread: list[str] = []
        for tid, view in views.items():
            place = ranks.get(view.service, {}).get(tid) if view.state in QUEUED else None
            if place is None:  # it left its queue (or was never in it): read it whole
                reread.append(tid)
                continue
            key = (view.service, place)
            if key not in estimates:
                estimates[key] = hall.live.estimate(view.service, place)
            est = estimates[key]
            self._offer(
                tid,
                dataclasses.replace(
                    view,
                    ahead=place,
                    eta_minutes=est.minutes if est else None,
                    eta_range=(est.low, est.high) if est else None,
                    eta_after_close=bool(est and est.after_close),
                ),
            )
        for i in range(0, len(reread), BATCH):
            chunk = reread[i : i + BATCH]
            found = await asyncio.gather(*(hall.store.status(t) for t in chunk))
            for tid, got in zip(chunk, found, strict=True):
                if got is not None:
                    self._offer(tid, hall.ticket_view(tid, got[0], got[1]))

    def _offer(self, tid: str, view: TicketView) -> None:
        watchers = self.watchers.get(tid)
        if not watchers:
            return
        self.views[tid] = view
        for w in watchers:
            w.offer(view)
