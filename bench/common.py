"""Shared plumbing: Redis and Mosquitto on free loopback ports, server processes, hall files,
percentiles. Everything runs in one temp dir that disappears afterwards."""

from __future__ import annotations

import contextlib
import statistics
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.services import ROOT, Broker, HttpProcess, RedisServer
from tests.services import hall_toml as shared_hall_toml

DEMO = ROOT / "config" / "halls" / "demo.toml"


@dataclass
class Stack:
    """Redis and Mosquitto started for one benchmark, plus the temp dir they live in."""

    dir: Path
    redis: RedisServer
    broker: Broker


@contextlib.contextmanager
def stack() -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="hallcall-bench-") as tmp:
        root = Path(tmp)
        (root / "redis").mkdir()
        redis = RedisServer(root / "redis").start()
        broker = Broker(root / "mosquitto")
        try:
            broker.start()
            yield Stack(root, redis, broker)
        finally:
            broker.stop()
            redis.stop()


@contextlib.contextmanager
def server(s: Stack, config: Path, name: str = "server") -> Iterator[HttpProcess]:
    """The real queue-server, as its own process, until /healthz says Redis and MQTT are up."""
    p = HttpProcess.queue_server(config, s.redis.url, s.broker.url(), s.dir / f"{name}.log")
    try:
        p.wait()
        yield p
    finally:
        p.stop()


def hall_toml(hall: str, windows: int, services: str = "ABC") -> str:
    """A hall with `windows` windows, each serving one service (round robin); window n's
    token is `bench-<hall>-<n>`."""
    return shared_hall_toml(
        hall,
        {str(n): {services[(n - 1) % len(services)]: 0} for n in range(1, windows + 1)},
        token=lambda wid: window_token(hall, int(wid)),
    )


def window_token(hall: str, n: int) -> str:
    return f"bench-{hall}-{n}"


def percentiles(ms: list[float]) -> dict[str, float]:
    """p50/p90/p99/max of latencies in milliseconds."""
    if len(ms) < 2:
        return {"p50": ms[0] if ms else float("nan"), "p90": 0.0, "p99": 0.0, "max": 0.0}
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50": q[49], "p90": q[89], "p99": q[98], "max": max(ms)}


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory from /proc, in MB: VmRSS now, VmHWM the peak."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")
