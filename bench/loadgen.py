"""Closed-loop HTTP load generator, run as its own process so it does not share a core (or an
event loop) with the server it measures. Prints one JSON line with the figures.

    python -m bench.loadgen URL --requests 20000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time

import aiohttp

from bench.common import percentiles

# Bodies cycled over requests; pre-encoded so the client spends its CPU on HTTP, not JSON.
BODIES = [json.dumps({"service": s}).encode() for s in "ABC"]
HEADERS = {"Content-Type": "application/json"}


async def run(url: str, requests: int, concurrency: int, warmup: int) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> tuple[float, bool]:
            t0 = time.perf_counter()
            async with session.post(url, data=BODIES[i % 3], headers=HEADERS) as resp:
                await resp.read()
                return (time.perf_counter() - t0) * 1000, resp.status < 300

        async def phase(n: int) -> tuple[list[float], int, float]:
            counter = itertools.count()
            latencies: list[float] = []
            errors = 0

            async def worker() -> None:
                nonlocal errors
                while (i := next(counter)) < n:
                    ms, ok = await one(i)
                    latencies.append(ms)
                    errors += not ok

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return latencies, errors, time.perf_counter() - t0

        await phase(warmup)  # opens the keep-alive connections, warms server caches
        latencies, errors, seconds = await phase(requests)
    return {
        "requests": requests,
        "errors": errors,
        "seconds": seconds,
        "rps": requests / seconds,
        **percentiles(latencies),
    }


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.loadgen")
    p.add_argument("url")
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--warmup", type=int, default=1_000)
    a = p.parse_args()
    print(json.dumps(asyncio.run(run(a.url, a.requests, a.concurrency, a.warmup))))


if __name__ == "__main__":
    main()
