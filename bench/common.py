"""Shared plumbing: Redis and Mosquitto on free loopback ports, server processes, hall files,
percentiles. Everything runs in one temp dir that disappears afterwards."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from queue_server.config import hash_token
from tests.services import ROOT, Broker, RedisServer, free_port

VENV_BIN = Path(sys.executable).parent
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


@dataclass
class Proc:
    """A child HTTP process (the server or the bare app) and where to reach it."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _status(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 (loopback only)
            return str(json.load(resp).get("status"))
    except (OSError, ValueError):  # not listening yet, 503 while Redis is away
        return ""


def wait_http(p: Proc, path: str = "/healthz", timeout: float = 20.0) -> None:
    """Until `path` says {"status": "ok"}: for the server, Redis and every hall's MQTT link
    are up, so no early call goes unpublished."""
    deadline = time.monotonic() + timeout
    url = p.url + path
    while time.monotonic() < deadline:
        if p.proc.poll() is not None:
            raise RuntimeError(f"{p.url} exited; log:\n{p.log.read_text()[-2000:]}")
        if _status(url) == "ok":
            return
        time.sleep(0.05)
    raise RuntimeError(f"{p.url}{path} not ready within {timeout}s")


def spawn(argv: list[str], env: dict[str, str], log: Path, port: int) -> Proc:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
    return Proc(proc, f"http://127.0.0.1:{port}", log)


@contextlib.contextmanager
def server(s: Stack, config: Path, name: str = "server") -> Iterator[Proc]:
    """The real queue-server, as its own process, until /healthz says Redis and MQTT are up."""
    port = free_port()
    env = {
        "HALLCALL_CONFIG": str(config),
        "HALLCALL_REDIS_URL": s.redis.url,
        "HALLCALL_MQTT_URL": s.broker.url(),
        "HALLCALL_HTTP": f"127.0.0.1:{port}",
    }
    p = spawn([str(VENV_BIN / "queue-server")], env, s.dir / f"{name}.log", port)
    try:
        wait_http(p)
        yield p
    finally:
        p.stop()


def hall_toml(hall: str, windows: int, services: str = "ABC") -> str:
    """A hall file shaped like the demo's (same classes) with `windows` windows, each serving
    one service (round robin); window n's token is `bench-<hall>-<n>`."""
    lines = [
        f'[hall]\nid = "{hall}"\nname = {{ zh = "压测{hall}" }}\naddress = {{ zh = "本机" }}',
        "[queue]\nissue_outside_hours = true",
    ]
    lines += [f'[[services]]\nid = "{s}"\nname = {{ zh = "业务{s}" }}' for s in services]
    lines += [
        '[[classes]]\nid = "normal"\nname = { zh = "普通" }',
        '[[classes]]\nid = "green"\nname = { zh = "绿色通道" }\nboost_minutes = 30',
        '[[classes]]\nid = "appointment"\nname = { zh = "预约" }\nboost_minutes = 15\n'
        "staff_only = true",
    ]
    for n in range(1, windows + 1):
        svc = services[(n - 1) % len(services)]
        lines.append(
            f'[[windows]]\nid = "{n}"\nname = {{ zh = "{n}号窗口" }}\n'
            f'services = {{ {svc} = 0 }}\ntoken_sha256 = "{hash_token(window_token(hall, n))}"'
        )
    lines.append(f'[managers]\ntoken_sha256 = ["{hash_token("bench-manager")}"]')
    return "\n\n".join(lines) + "\n"


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
