"""Live ticket pages: one fan-out per hall.

Every open status page registers its ticket here. After a change in the hall (the hall's
outlet is teed to `changed`), one task per hall reads the watched tickets' states once each,
in batches, however many pages show the same ticket, and hands each page the newest view; a
page that is slow to read simply gets the newest one next (never a backlog). Changes that
arrive while a round runs are coalesced into the next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from queue_server.store.hall_store import Entry
from queue_server.views import TicketView

if TYPE_CHECKING:
    from queue_server.hall import Hall, Outlet

log = logging.getLogger(__name__)
BATCH = 64  # status reads in flight per round
MIN_INTERVAL = 0.1  # seconds between rounds: many changes in a burst cost one round


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
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def changed(self) -> None:
        if self.watchers:
            self._changed.set()

    @contextlib.asynccontextmanager
    async def watch(self, ticket: str, first: TicketView) -> AsyncIterator[Watcher]:
        w = Watcher(first)
        self.watchers.setdefault(ticket, set()).add(w)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"pages-feed-{self.hall.id}")
        try:
            yield w
        finally:
            left = self.watchers.get(ticket)
            if left is not None:
                left.discard(w)
                if not left:
                    del self.watchers[ticket]

    def close(self) -> None:
        """Let every open page's handler end (at shutdown, before handlers are waited for)."""
        for watchers in self.watchers.values():
            for w in watchers:
                w.close()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

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
        tickets = list(self.watchers)
        for i in range(0, len(tickets), BATCH):
            chunk = tickets[i : i + BATCH]
            found = await asyncio.gather(*(self.hall.store.status(t) for t in chunk))
            for tid, got in zip(chunk, found, strict=True):
                if got is None:
                    continue
                view = self.hall.ticket_view(tid, got[0], got[1])
                for w in self.watchers.get(tid, ()):
                    w.offer(view)


class TeeOutlet:
    """The hall's outlet, also telling the feed that something changed."""

    def __init__(self, inner: Outlet, feed: HallFeed) -> None:
        self.inner = inner
        self.feed = feed

    def publish_now(self, entries: list[Entry]) -> None:
        self.inner.publish_now(entries)

    def mark(self, windows: Iterable[str] | None = None) -> None:
        self.inner.mark(windows)
        self.feed.changed()
