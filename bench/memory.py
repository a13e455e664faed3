"""Memory after a simulated day: 10 halls x 20,000 tickets, each issued, called and finished.

Driving all 600,000 actions over HTTP takes minutes on 2 cores, so the day is split:
  1. the bulk of each hall's tickets run HallStore's own methods and Lua scripts straight
     against Redis, queued on pipelines (same scripts, same arguments as the server);
  2. the rest of the day goes through the real server process over HTTP (issue, next,
     finish per ticket; every 4th ticket with a phone), so its RSS reflects a server that
     served traffic on top of a full day's Redis.
Redis bytes per ticket = (used_memory after the day - empty instance) / all tickets.

    python -m bench.memory [--tickets 20000] [--http-tickets 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aiohttp
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript

from bench.common import hall_toml, rss_mb, server, stack, window_token
from queue_server.clock import SystemClock
from queue_server.config import HallConfig, load_halls
from queue_server.store import keys
from queue_server.store.hall_store import HallStore
from queue_server.store.scripts import STREAM_MAX, register
from tests.services import HttpProcess

HALLS = 10
WINDOWS = 10
ROUNDS = 10  # rounds (a ticket per window) per pipeline: big enough to amortise round trips
IN_FLIGHT = 64  # HTTP requests at once: the server's Redis pool refuses more than 100
# What the store methods unpack; the real replies come back from the pipeline.
CANNED: dict[str, list[Any]] = {"issue": ["", "", 0, 0, ""], "next": ["", "", 0], "step": ["", 0]}


class Queued(AsyncScript):
    """A script that queues its call on a pipeline instead of awaiting the reply, so the
    store's own methods build every KEYS/ARGV while Redis runs them in batches."""

    def __init__(self, script: AsyncScript, name: str, pipe: Pipeline) -> None:
        super().__init__(script.registered_client, script.script)
        self.name, self.pipe = name, pipe

    async def __call__(self, keys: Any = None, args: Any = None, client: Any = None) -> Any:
        await super().__call__(keys, args, client=self.pipe)
        return CANNED[self.name]


def phone_of(hall: int, i: int) -> str:
    return f"139{hall:02d}{i:06d}" if i % 4 == 0 else ""


async def direct(redis: Redis, halls: list[HallConfig], tickets: int) -> None:
    """Issue, call and finish `tickets` per hall through pipelined store calls. A `next` that
    found nothing makes the following `finish` fail (no_current), and execute() raises."""
    scripts = register(redis)

    async def one_hall(h: int, cfg: HallConfig) -> None:
        pipe = redis.pipeline(transaction=False)
        store = HallStore(
            redis, {n: Queued(s, n, pipe) for n, s in scripts.items()}, cfg, SystemClock()
        )
        per_pipe = ROUNDS * len(cfg.windows)
        for start in range(0, tickets, per_pipe):
            for r in range(start, min(start + per_pipe, tickets), len(cfg.windows)):
                batch = cfg.windows[: tickets - r]
                for i, w in enumerate(batch, r):  # one ticket for each window's own service
                    phone = phone_of(h, i)
                    channel = "mobile" if phone else "kiosk"
                    await store.issue(next(iter(w.services)), "normal", channel, phone)
                for w in batch:
                    await store.call(w.id)
                for w in batch:
                    await store.step(w.id, "finish")
            await pipe.execute()  # raises on the first script error

    await asyncio.gather(*(one_hall(h, c) for h, c in enumerate(halls)))


async def over_http(srv: HttpProcess, halls: list[HallConfig], tickets: int, offset: int) -> int:
    """One client per window: issue a ticket of its service, next, finish; returns errors."""
    errors = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sem = asyncio.Semaphore(IN_FLIGHT)

        async def post(url: str, **kw: Any) -> None:
            nonlocal errors
            async with sem, session.post(srv.url + url, **kw) as resp:
                await resp.read()
                errors += resp.status >= 300  # a failed next also fails its finish

        async def window(h: int, cfg: HallConfig, n: int, count: int) -> None:
            w = cfg.windows[n]
            base = f"/api/v1/halls/{cfg.id}"
            auth = {"Authorization": f"Bearer {window_token(cfg.id, n + 1)}"}
            for k in range(count):
                phone = phone_of(h, offset + k * WINDOWS + n)
                body: dict[str, str] = {"service": next(iter(w.services))}
                if phone:
                    body |= {"phone": phone, "channel": "mobile"}
                await post(f"{base}/tickets", json=body)
                await post(f"{base}/windows/{w.id}/next", headers=auth)
                await post(f"{base}/windows/{w.id}/finish", headers=auth)

        per_window = tickets // WINDOWS
        await asyncio.gather(
            *(
                window(h, c, n, per_window)
                for h, c in enumerate(halls)
                for n in range(len(c.windows))
            )
        )
    return errors


async def used_memory(redis: Redis) -> int:
    info = await redis.info("memory")
    return int(info["used_memory"])


async def used_memory_at(url: str) -> int:
    redis = Redis.from_url(url)
    try:
        return await used_memory(redis)
    finally:
        await redis.aclose()


async def waiting(redis: Redis, halls: list[HallConfig]) -> int:
    """Tickets still queued: 0 when every ticket of the day was called."""
    names = [keys.queue(h.id, s, c) for h in halls for s in h.service_ids for c in h.class_ids]
    return sum([await redis.zcard(n) for n in names])


async def ticket_hash_bytes(redis: Redis, halls: list[HallConfig], per_hall: int = 50) -> float:
    """Mean MEMORY USAGE of a sample of ticket hashes (with and without a phone)."""
    sizes: list[int] = []
    for h in halls:
        async for key in redis.scan_iter(match=keys.ticket(h.id, "*"), count=1000):
            sizes.append(await redis.memory_usage(key, samples=0) or 0)
            if len(sizes) % per_hall == 0:
                break
    return sum(sizes) / len(sizes)


async def day(
    srv: HttpProcess, url: str, halls: list[HallConfig], total: int, http: int, empty: int
) -> None:
    redis = Redis.from_url(url, decode_responses=True)
    try:
        t0 = time.perf_counter()
        await direct(redis, halls, total - http)
        direct_s = time.perf_counter() - t0
        # The HTTP part in two halves: RSS growth over the second half shows whether the
        # server keeps memory per request (a leak) or levels off after warming up.
        rss, errors, http_s = [rss_mb(srv.pid)], 0, 0.0
        for k in range(2):
            t0 = time.perf_counter()
            errors += await over_http(srv, halls, http // 2, total - http + k * (http // 2))
            http_s += time.perf_counter() - t0
            await asyncio.sleep(0.5)  # let the publisher drain
            rss.append(rss_mb(srv.pid))
        hwm = rss_mb(srv.pid, "VmHWM")
        used = await used_memory(redis) - empty
        streams = sum([await redis.memory_usage(keys.events(h.id), samples=0) or 0 for h in halls])
        per_hash = await ticket_hash_bytes(redis, halls)
        nkeys, left = await redis.dbsize(), await waiting(redis, halls)
    finally:
        await redis.aclose()
    n, m = total * len(halls), 2**20
    print(f"memory: {len(halls)} halls x {total} tickets (issued, called, finished)")
    print(
        f"  driven: {total - http}/hall direct via pipelined HallStore Lua "
        f"({(total - http) * len(halls) * 3 / direct_s:.0f} scripts/s), {http}/hall over HTTP "
        f"({http * len(halls) * 3 / http_s:.0f} req/s, {errors} errors); {left} left waiting"
    )
    half = http // 2 * len(halls) * 3 / 10_000  # requests per half, in 10k
    print(
        f"  server RSS {rss[2]:.1f} MB (target <= 150; peak {hwm:.1f}); before HTTP "
        f"{rss[0]:.1f}, after 1st half {rss[1]:.1f}: 2nd half grew "
        f"{(rss[2] - rss[1]) / half:.2f} MB per 10k requests"
    )
    print(
        f"  Redis used_memory +{used / m:.1f} MB over empty = {used / n:.0f} B/ticket "
        f"(target <= 1024); {nkeys} keys"
    )
    print(
        f"    ticket hashes ~{per_hash:.0f} B x {n} = {per_hash * n / m:.1f} MB; events streams "
        f"{streams / m:.1f} MB (~{STREAM_MAX} entries/hall cap, 3 events/ticket); "
        f"rest {(used - per_hash * n - streams) / m:.1f} MB (key index, TTLs, phone counters)"
    )


def run(tickets: int = 20_000, http_tickets: int = 1_000) -> None:
    with stack() as s:
        folder = s.dir / "halls"
        folder.mkdir()
        for h in range(HALLS):
            (folder / f"m{h}.toml").write_text(hall_toml(f"m{h}", WINDOWS), encoding="utf-8")
        halls = list(load_halls(folder).values())
        empty = asyncio.run(used_memory_at(s.redis.url))  # before the server seeds its halls
        with server(s, folder) as srv:
            asyncio.run(day(srv, s.redis.url, halls, tickets, http_tickets, empty))


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.memory")
    p.add_argument("--tickets", type=int, default=20_000, help="per hall")
    p.add_argument("--http-tickets", type=int, default=1_000, help="per hall, over HTTP")
    a = p.parse_args()
    run(a.tickets, a.http_tickets)


if __name__ == "__main__":
    main()
