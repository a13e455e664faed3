"""The appointments' periodic work in the server: every few seconds one process (it holds the
hall's lease, as relay.py's outboxes do) sends due reminders and counts no-shows. The work
itself is once per booking whoever does it (appt_sweep.lua); the lease only keeps the other
processes from doing the reads for nothing."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator

from aiohttp import web
from redis.exceptions import RedisError

from queue_server.api.routes import HALLS
from queue_server.appointments import Appointments
from queue_server.store import keys
from queue_server.store.scripts import source

log = logging.getLogger(__name__)
EVERY = 5.0  # seconds between sweeps: reminders are due to the minute, no-shows to the hour
LEASE_MS = 15_000

APPOINTMENTS: web.AppKey[dict[str, Appointments]] = web.AppKey("appointments")


class Sweeper:
    """Sweeps one hall's appointments while it holds the lease."""

    def __init__(self, appts: Appointments, instance: str = "server") -> None:
        self.appts = appts
        self.holder = f"{instance}-{secrets.token_hex(4)}"
        redis = appts.store.redis
        self._lease = redis.register_script(source("lease"))
        self._key = keys.appointments_lease(appts.hall.id)

    async def tick(self) -> tuple[int, int] | None:
        """One round: (reminders, no-shows) if this process holds the lease, else None."""
        held = await self._lease(keys=[self._key], args=[self.holder, LEASE_MS, "renew"])
        if not held:
            return None
        return await self.appts.sweep()

    async def run(self, every: float = EVERY) -> None:
        while True:
            try:
                await self.tick()
            except (RedisError, OSError) as exc:  # Redis away: the next round tries again
                log.debug("hall %s: appointments sweep failed: %s", self.appts.hall.id, exc)
            await asyncio.sleep(every)


def setup(app: web.Application, instance: str = "server") -> None:
    """Each hall's appointments, and its sweeper task while the app runs; after the app's
    lifecycle, which makes the halls."""
    app[APPOINTMENTS] = {}

    async def sweepers(app: web.Application) -> AsyncIterator[None]:
        tasks = []
        for hall_id, hall in app[HALLS].items():
            appts = app[APPOINTMENTS][hall_id] = Appointments(hall)
            if hall.config.appointments is not None:
                task = asyncio.create_task(
                    Sweeper(appts, instance).run(), name=f"appointments-{hall_id}"
                )
                tasks.append(task)
        yield
        for task in tasks:
            task.cancel()
        if tasks:  # bounded: a shutdown never waits on a sweep stuck in a dead connection
            await asyncio.wait(tasks, timeout=2)

    app.cleanup_ctx.append(sweepers)
