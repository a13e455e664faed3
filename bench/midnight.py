"""The day change at any size: 90,000 tickets left waiting in the evening, then the first
changes after midnight. Each script's own run time is read from Redis's SLOWLOG (measured by
Redis itself, in µs), beside the same scripts on an empty hall in the same run.

    python -m bench.midnight [--leftover 90000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from redis.asyncio import Redis

from queue_server.clock import ManualClock
from queue_server.store.hall_store import HallStore
from queue_server.store.scripts import register
from tests.conftest import T0, demo_hall, wide_numbers
from tests.services import RedisServer

BATCH = 50


async def first_changes(redis: Redis, store: HallStore) -> dict[str, float]:
    """Run issue, next, snapshot and recall once; their script times (ms) from SLOWLOG."""
    await redis.config_set("slowlog-log-slower-than", 0)
    # the log also holds each command a script runs: room for all four scripts' commands
    await redis.config_set("slowlog-max-len", 100_000)
    await redis.slowlog_reset()
    await store.issue("A", "normal", "kiosk")
    await store.call("1")
    await store.snapshot()
    await store.recall("1")
    entries = await redis.slowlog_get(100_000)
    await redis.config_set("slowlog-log-slower-than", 10_000)
    names = ["recall", "snapshot", "next", "issue"]  # newest first
    scripts = [e for e in entries if str(e["command"]).startswith(("EVALSHA", "b'EVALSHA"))]
    return {name: e["duration"] / 1000 for name, e in zip(names, scripts, strict=False)}


async def measure(leftover: int) -> None:
    with tempfile.TemporaryDirectory(prefix="hallcall-midnight-") as tmp:
        server = RedisServer(Path(tmp)).start()
        redis = Redis.from_url(server.url, decode_responses=True)
        try:
            scripts = register(redis)
            warm = HallStore(redis, scripts, demo_hall(), ManualClock(T0))
            await warm.seed()
            await first_changes(redis, warm)  # loads the scripts (NOSCRIPT, then SCRIPT LOAD)
            empty = HallStore(redis, scripts, demo_hall(), ManualClock(T0))
            await empty.seed()
            floor = await first_changes(redis, empty)
            clock = ManualClock(T0)
            store = HallStore(redis, scripts, wide_numbers(demo_hall()), clock)
            await store.seed()
            for start in range(0, leftover, BATCH):
                n = min(BATCH, leftover - start)
                await asyncio.gather(*(store.issue("A", "normal", "kiosk") for _ in range(n)))
            clock.advance(86_400)  # midnight passed; 90,000 tickets of yesterday still queued
            after = await first_changes(redis, store)
        finally:
            await redis.aclose()
            server.stop()
    print(f"midnight: the first changes after a day that left {leftover:,} tickets waiting")
    print("  script      after midnight    empty hall   (run time inside Redis; target <= 5 ms)")
    for name in ("issue", "next", "snapshot", "recall"):
        print(
            f"  {name:<10} {after.get(name, float('nan')):>10.3f} ms {floor.get(name, 0):>10.3f} ms"
        )


def run(leftover: int = 90_000) -> None:
    asyncio.run(measure(leftover))


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.midnight")
    p.add_argument("--leftover", type=int, default=90_000)
    run(p.parse_args().leftover)


if __name__ == "__main__":
    main()
