"""The issue script's own cost inside Redis, apart from HTTP and the server's Python.

    python -m bench.issue_script [--tickets N]

Issues N tickets per mode through the real store (`HallStore.issue`, the demo hall with wide
numbers) against a private Redis, 64 at a time, and prints from INFO commandstats the
EVALSHA µs per call (the script's run time inside Redis), the Redis commands per ticket, and
the store's Python CPU per ticket (the script's answer parsed, entries included). Modes:
`nophone` (a kiosk ticket), `phone` (an online ticket: a notice in the outbox), `kiosk` (a
kiosk ticket with an Idempotency-Key claim). Nothing else shares that Redis, so the µs/call
is steadier than the loaded benchmarks' figure; still run it twice.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BenchError
from queue_server.clock import SystemClock
from queue_server.config import HallConfig, load_hall
from queue_server.store.connect import connect
from queue_server.store.hall_store import Claim, HallStore
from queue_server.store.scripts import register
from tests.services import ROOT, RedisServer

MODES = ("nophone", "phone", "kiosk")
BATCH = 64


def _hall() -> HallConfig:
    cfg = load_hall(ROOT / "config" / "halls" / "demo.toml")
    services = [s.model_copy(update={"width": 7, "capacity": None}) for s in cfg.services]
    queue = cfg.queue.model_copy(update={"max_per_phone": 10**6})
    return cfg.model_copy(update={"services": services, "queue": queue})


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _mode(store: HallStore, redis: Any, mode: str, n: int) -> dict[str, float]:
    async def one(i: int) -> None:
        phone = f"138{i:08d}" if mode == "phone" else ""
        claim = (
            Claim(f"hc:{{{store.hall.id}}}:idem:k:{mode}{i}", f"p{i}") if mode == "kiosk" else None
        )
        await store.issue(
            "A",
            "normal",
            "mobile" if phone else "kiosk",
            phone=phone,
            phone_key=f"pk{i % 5000}" if phone else "",
            claim=claim,
        )

    await redis.config_resetstat()
    c0, t0 = _cpu(), time.perf_counter()
    for start in range(0, n, BATCH):
        await asyncio.gather(*(one(i) for i in range(start, min(n, start + BATCH))))
    c1, t1 = _cpu(), time.perf_counter()
    stats = await redis.info("commandstats")
    ev = stats.get("cmdstat_evalsha")
    if not ev or ev["calls"] != n or ev.get("failed_calls", 0):
        raise BenchError(f"{mode}: expected {n} good EVALSHA calls, got {ev}")
    cmds = sum(
        v["calls"] for k, v in stats.items() if k not in ("cmdstat_evalsha", "cmdstat_config")
    )
    return {
        "us": ev["usec_per_call"],
        "cmds": cmds / n,
        "py_ms": (c1 - c0) * 1000 / n,
        "rate": n / (t1 - t0),
    }


async def _run(n: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        server = RedisServer(Path(d)).start()
        redis = connect(server.url)
        try:
            hall = _hall()
            store = HallStore(redis, register(redis), hall, SystemClock())
            for mode in MODES:
                await redis.flushall()  # each mode from an empty hall
                await store.issue("A", "normal", "kiosk")  # scripts loaded, keys made
                r = await _mode(store, redis, mode, n)
                print(
                    f"  issue script {mode:8} {r['us']:6.1f} µs/call in Redis, "
                    f"{r['cmds']:4.1f} commands/ticket, store {r['py_ms']:.3f} ms CPU/ticket "
                    f"({r['rate']:.0f}/s)",
                    flush=True,
                )
        finally:
            await redis.aclose()
            server.stop()


def run(tickets: int = 20_000) -> None:
    print("issue_script: the issue script inside a private Redis", flush=True)
    asyncio.run(_run(tickets))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tickets", type=int, default=20_000)
    a = p.parse_args()
    try:
        run(a.tickets)
    except BenchError as exc:
        sys.exit(f"issue_script FAILED: {exc}")


if __name__ == "__main__":
    main()
