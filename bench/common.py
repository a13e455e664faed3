"""Shared plumbing: Redis and Mosquitto on free loopback ports, server and bare processes,
hall files, the load generator, MQTT subscribers that time arrivals, /metrics scraping,
percentiles. Everything runs in one temp dir that disappears afterwards.

A benchmark that meets an error (a non-2xx answer, a lost call, a process that died) raises
BenchError: `python -m bench` then exits non-zero with the error named, never a figure."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
from prometheus_client.parser import text_string_to_metric_families

from queue_server.link import client_for, parse_mqtt_url
from queue_server.protocol import decode, notices_in
from tests.services import KIOSK_TOKEN, ROOT, Broker, HttpProcess, RedisServer, free_port
from tests.services import hall_toml as shared_hall_toml

DEMO = ROOT / "config" / "halls" / "demo.toml"
KIOSK = {"Authorization": f"Bearer {KIOSK_TOKEN}"}  # the bench halls' kiosk: phoneless tickets


class BenchError(RuntimeError):
    """The benchmark met an error; its figures would be meaningless."""


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
        if p.proc.returncode not in (0, -15):
            raise BenchError(f"{name} exited with {p.proc.returncode}: {p.log_text()[-500:]}")


@contextlib.contextmanager
def bare(s: Stack) -> Iterator[HttpProcess]:
    """The floor: bench/bare.py, an aiohttp app with the same Redis and broker (see there)."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.bare", str(port), s.redis.url, s.broker.url()]
    p = HttpProcess.spawn(argv, {}, s.dir / "bare.log", port)
    try:
        p.wait()
        yield p
    finally:
        p.stop()


def write_hall(s: Stack, hall: str, windows: int, services: str = "ABC") -> Path:
    path = s.dir / f"{hall}.toml"
    path.write_text(hall_toml(hall, windows, services), encoding="utf-8")
    return path


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


def phone(n: int) -> str:
    """The n-th distinct valid mainland mobile number (139 + 8 digits)."""
    return f"139{n:08d}"


def run_module(module: str, *args: str) -> dict[str, Any]:
    """Run `python -m bench.<module> ARGS` (load comes from its own process, so it shares no
    event loop with what measures); its last stdout line is JSON. A non-zero exit raises."""
    out = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        capture_output=True,
        cwd=ROOT,
        check=False,
    )
    return _result(module, out.returncode, out.stdout, out.stderr)


async def run_module_async(module: str, *args: str) -> dict[str, Any]:
    """run_module without blocking the event loop (so this process can measure meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"bench.{module}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    stdout, stderr = await proc.communicate()
    return _result(module, proc.returncode, stdout, stderr)


def _result(module: str, code: int | None, stdout: bytes, stderr: bytes) -> dict[str, Any]:
    if code != 0:
        raise BenchError(f"bench.{module} failed: {stderr.decode(errors='replace')[-600:]}")
    result: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    return result


def percentiles(ms: list[float]) -> dict[str, float]:
    """p50/p90/p99/max of latencies in milliseconds."""
    if not ms:
        raise BenchError("no latencies measured")
    if len(ms) < 2:
        return {"p50": ms[0], "p90": ms[0], "p99": ms[0], "max": ms[0]}
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50": q[49], "p90": q[89], "p99": q[98], "max": max(ms)}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far. On a machine shared with other
    work, CPU per request is steadier than requests per second."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory from /proc, in MB: VmRSS now, VmHWM the peak."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")


@dataclass
class Watch:
    """A real MQTT subscriber that notes when each message arrives (perf_counter, which is
    CLOCK_MONOTONIC: comparable with times taken in other processes on this machine)."""

    calls: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (hall, window, nr)
    counts: dict[str, int] = field(default_factory=dict)  # topic -> calls, notices, snapshots
    messages: dict[str, int] = field(default_factory=dict)  # topic -> MQTT messages
    first: float = 0.0
    last: float = 0.0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def total(self, suffix: str = "") -> int:
        return sum(n for t, n in self.counts.items() if t.endswith(suffix))

    async def arrival(self, key: tuple[str, str, str], timeout: float = 5.0) -> float:
        """When the call (hall, window, number) arrived; waits for it, BenchError if never."""
        try:
            async with asyncio.timeout(timeout):
                while key not in self.calls:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise BenchError(f"call {key} never reached the subscriber") from None
        return self.calls[key]

    async def wait_total(self, suffix: str, n: int, timeout: float) -> None:
        """Until `n` messages (notices on notify) on topics ending with `suffix` arrived;
        BenchError on timeout."""
        try:
            async with asyncio.timeout(timeout):
                while self.total(suffix) < n:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            got = self.total(suffix)
            raise BenchError(f"{got} of {n} {suffix} messages came within {timeout:g} s") from None


@contextlib.asynccontextmanager
async def watch(broker: Broker, user: str, topics: list[str]) -> AsyncIterator[Watch]:
    target = parse_mqtt_url(broker.url(user))
    w = Watch()
    async with client_for(target, f"bench-{uuid.uuid4().hex[:8]}") as client:
        for t in topics:
            # aiomqtt does not raise on an ACL-denied subscribe: check the reason codes.
            granted = await client.subscribe(t, qos=1)
            if any(getattr(rc, "value", rc) >= 0x80 for rc in granted):
                raise BenchError(f"{user} may not subscribe to {t}: {granted}")

        async def pump() -> None:
            async for msg in client.messages:
                now = time.perf_counter()
                topic = str(msg.topic)
                # a notify message carries one notice or a burst's: count notices
                n = len(notices_in(decode(bytes(msg.payload)))) if topic.endswith("/notify") else 1
                w.counts[topic] = w.counts.get(topic, 0) + n
                w.messages[topic] = w.messages.get(topic, 0) + 1
                w.first = w.first or now
                w.last = now
                if topic.endswith("/calls"):
                    body = decode(bytes(msg.payload))
                    hall = topic.split("/")[1]
                    w.calls.setdefault((hall, body["window"], body["number"]), now)
                w.changed.set()

        task = asyncio.create_task(pump())
        try:
            yield w
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


class Scraper:
    """Samples a server's /metrics: gauges and counters of one hall, by metric name."""

    def __init__(self, session: aiohttp.ClientSession, url: str, hall: str) -> None:
        self.session, self.url, self.hall = session, url + "/metrics", hall

    async def sample(self) -> dict[str, float]:
        """Each sample of the hall's metrics, summed over the other labels; counters keep
        their `_total` name."""
        async with self.session.get(self.url) as resp:
            if resp.status != 200:
                raise BenchError(f"/metrics answered {resp.status}")
            text = await resp.text()
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.labels.get("hall") == self.hall:
                    out[s.name] = out.get(s.name, 0.0) + s.value
        return out
