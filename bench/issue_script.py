"""The issue script's own cost inside Redis, apart from HTTP and the server's Python.

    python -m bench.issue_script [--tickets N] [--callgrind]

Issues N tickets per mode through the real store (`HallStore.issue`, the demo hall with wide
numbers) against a private Redis, 64 at a time, and prints from INFO commandstats the
EVALSHA µs per call (the script's run time inside Redis), the Redis commands per ticket, and
the store's Python CPU per ticket (the script's answer parsed, entries included). Modes:
`nophone` (a kiosk ticket), `phone` (an online ticket: a notice in the outbox), `kiosk` (a
kiosk ticket with an Idempotency-Key claim). Nothing else shares that Redis, so the µs/call
is steadier than the loaded benchmarks' figure; still run it twice.

`--callgrind` runs that Redis under valgrind's callgrind, counting only inside EVALSHA, and
prints the Redis instructions per script call instead (after a warm-up of the mode's tickets):
the same on a busy machine as on a quiet one, for comparing two versions of the scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
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
from tests.services import ROOT, RedisServer, free_port, need, start_listening, stop_child

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


async def _mode(
    store: HallStore, redis: Any, mode: str, n: int, first: int = 0
) -> dict[str, float]:
    """Tickets `first` to `first + n` (phones and claims new to the hall, as a day's are)."""

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
    for start in range(first, first + n, BATCH):
        await asyncio.gather(*(one(i) for i in range(start, min(first + n, start + BATCH))))
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


class _Callgrind:
    """A private redis-server under callgrind, counting instructions inside EVALSHA only."""

    def __init__(self, d: Path) -> None:
        self.out = d / "callgrind.out"
        port = free_port()
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc = start_listening(
            [
                need("valgrind"),
                "--tool=callgrind",
                "--collect-atstart=no",
                "--toggle-collect=evalShaCommand",
                f"--callgrind-out-file={self.out}",
                need("redis-server"),
                *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(d)),
            ],
            port,
        )
        self.dumps = 0

    def _control(self, flag: str) -> None:
        subprocess.run(
            [need("callgrind_control"), flag, str(self.proc.pid)], check=True, capture_output=True
        )

    def zero(self) -> None:
        self._control("-z")

    def instructions(self) -> int:
        """Instructions counted since `zero` (a dump of them, read back)."""
        self._control("-d")
        self.dumps += 1
        text = Path(f"{self.out}.{self.dumps}").read_text()
        for line in text.splitlines():
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
        raise BenchError("callgrind wrote no totals")


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


async def _count(n: int) -> None:
    """Each mode in a Redis of its own, counted after a warm-up of half as many tickets."""
    got: dict[str, float] = {}
    for mode in MODES:
        with tempfile.TemporaryDirectory() as d:
            cg = _Callgrind(Path(d))
            redis = connect(cg.url)
            try:
                store = HallStore(redis, register(redis), _hall(), SystemClock())
                await store.issue("A", "normal", "kiosk")  # scripts loaded, keys made
                await _mode(store, redis, mode, n // 2)  # queues and hashes past small forms
                cg.zero()
                await _mode(store, redis, mode, n, n // 2)
                k = got[mode] = cg.instructions() / n / 1000
                print(f"  issue script {mode:8} {k:6.1f}k Redis instructions/call", flush=True)
            finally:
                await redis.aclose()
                stop_child(cg.proc)
    print(
        f"  a phone's extra {got['phone'] - got['nophone']:+.1f}k, a claim's extra "
        f"{got['kiosk'] - got['nophone']:+.1f}k",
        flush=True,
    )


def run(tickets: int = 20_000, callgrind: bool = False) -> None:
    print("issue_script: the issue script inside a private Redis", flush=True)
    asyncio.run(_count(tickets) if callgrind else _run(tickets))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tickets", type=int, default=None, help="per mode (20,000; 2,000 callgrind)")
    p.add_argument("--callgrind", action="store_true", help="Redis instructions per call instead")
    a = p.parse_args()
    try:
        run(a.tickets or (2_000 if a.callgrind else 20_000), a.callgrind)
    except BenchError as exc:
        sys.exit(f"issue_script FAILED: {exc}")


if __name__ == "__main__":
    main()
