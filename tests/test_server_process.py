"""The `queue-server` program: start-up errors, and the broker going away and coming back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import DEMO, KIOSK, W, subscribe
from tests.services import ROOT, SECRET, Broker, HttpProcess, RedisServer, free_port

BIN = str(Path(sys.executable).parent / "queue-server")


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        check=False,
    )


def test_broken_config_stops_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(DEMO.read_text(encoding="utf-8").replace("recall_limit = 2", "recall_limit = x"))
    out = run("--config", str(bad))
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and str(bad) in out.stderr and "not valid TOML" in out.stderr
    out = run("--lang", "fr")
    assert out.returncode == 2 and "HALLCALL_LANG" in out.stderr


def test_redis_down_at_start(tmp_path: Path) -> None:
    port = free_port()
    out = run(
        "--config",
        str(DEMO),
        "--redis-url",
        f"redis://127.0.0.1:{port}/0",
        "--http",
        f"127.0.0.1:{free_port()}",
        HALLCALL_SECRET=SECRET,
    )
    assert out.returncode == 1
    assert f"cannot reach Redis at redis://127.0.0.1:{port}/0" in out.stderr


def test_check_config_and_hash_token() -> None:
    out = run("check-config", "--config", str(DEMO))
    assert (
        out.returncode == 0 and "demo: 4 services, 7 windows; starvation bound 45 min" in out.stdout
    )
    out = run("watch", "--help")
    assert out.returncode == 0 and "MQTT messages decoded" in out.stdout
    out = run("watch", "demo", "--mqtt-url", f"mqtt://x:y@127.0.0.1:{free_port()}")
    assert out.returncode == 1 and out.stderr.startswith("queue-server watch: MQTT 127.0.0.1:")
    out = run("hash-token", "demo-manager")
    assert "ae4a180a148c6fa73b885f1715c71b54f9f41980b20a0b3223cbac19b1b172ec" in out.stdout


# Generous deadlines: on a loaded machine the server's reconnect (with its backoff) and its
# start may take tens of seconds; a passing test waits only until the condition holds.
WAIT = 90.0


async def wait_for(check: Callable[[], Any], seconds: float = WAIT) -> None:
    async with asyncio.timeout(seconds):
        while not await check():  # noqa: ASYNC110  (polling another process over HTTP)
            await asyncio.sleep(0.05)


async def test_broker_down_at_start_then_back(
    tmp_path: Path, redis_server: RedisServer, redis: Any
) -> None:
    broker = Broker(tmp_path / "mq").start()  # made once for its port and passwords
    mqtt_url = broker.url()
    broker.stop()  # the broker is down when the server starts
    proc = HttpProcess.queue_server(DEMO, redis_server.url, mqtt_url, tmp_path / "server.log")
    base = proc.url
    try:
        proc.wait("degraded", timeout=WAIT)  # up, with Redis, without the broker
        async with aiohttp.ClientSession() as s:

            async def health() -> dict[str, Any]:
                async with s.get(f"{base}/healthz") as r:
                    body: dict[str, Any] = await r.json()
                    return body

            assert (await health())["status"] == "degraded"
            url = f"{base}/api/v1/halls/demo/tickets"
            async with s.post(url, json={"service": "C"}, headers=KIOSK) as r:
                assert r.status == 201  # HTTP keeps answering while the broker is away
            async with s.post(f"{base}/api/v1/halls/demo/windows/5/next", headers=W[5]) as r:
                assert (await r.json())["ticket"]["number"] == "C001"

            broker.start()  # back on the same port: the server reconnects and republishes
            await wait_for(lambda: _status_is(health, "ok"))
            async with subscribe(broker, ["hallcall/demo/board", "hallcall/demo/status/#"]) as sub:
                board = await sub.get("/board", WAIT)
                assert board["recent"][0]["number"] == "C001"
                assert board["windows"][4]["current"] == "C001"
                status = await sub.get("/status/server", WAIT)
                assert status["online"] is True
            broker.stop()  # and once more, mid-run
            await wait_for(lambda: _status_is(health, "degraded"))
            broker.start()
            await wait_for(lambda: _status_is(health, "ok"))
    finally:
        proc.stop()
        broker.stop()


async def _status_is(health: Callable[[], Any], value: str) -> bool:
    return bool((await health())["status"] == value)


async def test_sigterm_says_offline_and_exits(
    tmp_path: Path, redis_server: RedisServer, redis: Any, broker: Broker
) -> None:
    proc = HttpProcess.queue_server(
        DEMO, redis_server.url, broker.url(), tmp_path / "log", "--instance", "sigterm"
    )
    try:
        proc.wait(timeout=WAIT)
        async with subscribe(broker, ["hallcall/demo/status/sigterm"]) as sub:
            assert (await sub.get("/status/sigterm", WAIT))["online"] is True
            proc.proc.terminate()
            offline = await sub.get("/status/sigterm", WAIT, lambda b: not b["online"])
            assert offline["client"] == "sigterm"
        assert proc.proc.wait(10) == 0
    finally:
        proc.stop()
    assert "Traceback" not in proc.log_text()
