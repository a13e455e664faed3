"""Memory after a day sent entirely over HTTP: 10 halls x N tickets, each issued, called and
finished through the real server process, every 4th ticket with a distinct valid mobile
phone (so it also makes SMS notices). Nothing is written to Redis except by the server.

N defaults to 2,000, a tenth of the 20,000-ticket day of the target: the whole day is 600,000
requests, about 20 minutes here (`--tickets 20000` runs it). Per-ticket Redis bytes at a tenth
of the day are if anything high: the per-hall event stream is capped, so at 20,000 tickets it
holds fewer entries per ticket.

Figures: the server's RSS (after the day, its peak, and its growth per 10k requests over the
second half of the day: a leak shows as steady growth), and Redis used_memory over an empty
instance per ticket, broken down by key kind (the name part after the hall's hash tag;
sizes from MEMORY USAGE of every key of a kind, or of 200 of them times their count).

Every answer must be 2xx and every ticket called: an error fails the run.

    python -m bench.memory [--tickets 20000] [--halls 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

import aiohttp
from redis.asyncio import Redis

from bench.common import KIOSK, BenchError, hall_toml, phone, rss_mb, server, stack, window_token
from tests.services import HttpProcess

WINDOWS = 10
IN_FLIGHT = 64  # requests at once, below the server's Redis pool (64 connections)
SAMPLE = 200  # keys of each kind whose MEMORY USAGE is read


async def over_http(srv: HttpProcess, halls: list[str], per_window: int, first: int) -> int:
    """Each window of each hall: issue a ticket of its service, next, finish, `per_window`
    times; returns the requests made. Any non-2xx raises BenchError."""
    requests = 0
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(path: str, **kw: Any) -> dict[str, Any]:
            nonlocal requests
            async with session.post(srv.url + path, **kw) as resp:
                text = await resp.text()
                if resp.status >= 300:
                    raise BenchError(f"POST {path} answered {resp.status}: {text[:300]}")
            requests += 1
            body: dict[str, Any] = await resp.json()
            return body

        async def window(h: int, hall: str, n: int) -> None:
            base = f"/api/v1/halls/{hall}"
            auth = {"Authorization": f"Bearer {window_token(hall, n)}"}
            service = "ABC"[(n - 1) % 3]
            for k in range(first, first + per_window):
                i = (h * WINDOWS + n - 1) * 1_000_000 + k  # distinct over the whole day
                online = k % 4 == 0  # with a phone, no token; else from the hall's kiosk
                body = {"service": service} | ({"phone": phone(i)} if online else {})
                await post(f"{base}/tickets", json=body, headers=None if online else KIOSK)
                called = await post(f"{base}/windows/{n}/next", headers=auth)
                if not called.get("ticket"):
                    raise BenchError(f"{hall} window {n} found nobody to call: {called}")
                await post(f"{base}/windows/{n}/finish", headers=auth)

        await asyncio.gather(
            *(window(h, hall, n) for h, hall in enumerate(halls) for n in range(1, WINDOWS + 1))
        )
    return requests


async def used_memory(redis: Redis) -> int:
    info = await redis.info("memory")
    return int(info["used_memory"])


def kind_of(key: str) -> str:
    """The key's kind: its first name part after the hall's hash tag ("events" for
    hc:{hall}:events), and for per-day keys the part after the day ("d:t" for
    hc:{hall}:d:<day>:t, "d:phone" for hc:{hall}:d:<day>:phone:<digest>)."""
    _, _, rest = key.partition("}:")
    parts = rest.split(":")
    if not rest:
        return key
    return f"d:{parts[2]}" if parts[0] == "d" and len(parts) > 2 else parts[0]


async def by_kind(redis: Redis) -> dict[str, tuple[int, float]]:
    """Key kind -> (count, estimated bytes)."""
    keys: dict[str, list[str]] = {}
    async for key in redis.scan_iter(count=5000):
        keys.setdefault(kind_of(key), []).append(key)
    out: dict[str, tuple[int, float]] = {}
    for kind, names in keys.items():
        sample = random.sample(names, min(SAMPLE, len(names)))
        pipe = redis.pipeline(transaction=False)
        for name in sample:
            pipe.memory_usage(name, samples=0)
        sizes = [s or 0 for s in await pipe.execute()]
        out[kind] = (len(names), sum(sizes) / len(sizes) * len(names))
    return out


async def day(srv: HttpProcess, url: str, halls: list[str], tickets: int, empty: int) -> None:
    per_window = tickets // WINDOWS
    half = per_window // 2
    rss = [rss_mb(srv.pid)]
    t0 = time.perf_counter()
    requests = await over_http(srv, halls, half, 0)
    rss.append(rss_mb(srv.pid))
    second = await over_http(srv, halls, per_window - half, half)
    seconds = time.perf_counter() - t0
    rss.append(rss_mb(srv.pid))
    hwm = rss_mb(srv.pid, "VmHWM")
    redis = Redis.from_url(url, decode_responses=True)
    try:
        used = await used_memory(redis) - empty
        kinds = await by_kind(redis)
    finally:
        await redis.aclose()
    n, mb = per_window * WINDOWS * len(halls), 2**20
    print(
        f"memory: {len(halls)} halls x {per_window * WINDOWS} tickets, all over HTTP "
        f"(issue, next, finish; every 4th with a phone): {requests + second} requests in "
        f"{seconds:.0f} s ({(requests + second) / seconds:.0f}/s), no errors"
    )
    print(
        f"  server RSS {rss[2]:.1f} MB after the day (target <= 150; peak {hwm:.1f}; "
        f"{rss[0]:.1f} before, {rss[1]:.1f} at half-day): second half grew "
        f"{(rss[2] - rss[1]) / (second / 10_000):.2f} MB per 10k requests"
    )
    print(
        f"  Redis used_memory +{used / mb:.1f} MB over empty = {used / n:.0f} B/ticket "
        f"(target <= 1024); by key kind (count, estimated MB):"
    )
    for kind, (count, size) in sorted(kinds.items(), key=lambda kv: -kv[1][1])[:8]:
        print(f"    {kind:<12} {count:>8} keys  {size / mb:7.1f} MB  ({size / n:.0f} B/ticket)")


def run(tickets: int = 2_000, halls: int = 10) -> None:
    with stack() as s:
        folder = s.dir / "halls"
        folder.mkdir()
        names = [f"m{h}" for h in range(halls)]
        for name in names:
            (folder / f"{name}.toml").write_text(hall_toml(name, WINDOWS), encoding="utf-8")

        async def empty_memory() -> int:
            redis = Redis.from_url(s.redis.url)
            try:
                return await used_memory(redis)
            finally:
                await redis.aclose()

        empty = asyncio.run(empty_memory())  # before the server seeds its halls
        with server(s, folder) as srv:
            asyncio.run(day(srv, s.redis.url, names, tickets, empty))


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.memory")
    p.add_argument("--tickets", type=int, default=2_000, help="per hall")
    p.add_argument("--halls", type=int, default=10)
    a = p.parse_args()
    run(a.tickets, a.halls)


if __name__ == "__main__":
    main()
