"""Faults on the SMS path, with real processes: none lost, none twice.

"None twice" is what the citizen sees: the peer, like a provider, honours the idempotency key
(webhook Idempotency-Key, Aliyun OutId, Tencent SessionContext), so a notice whose request was
in flight when the gateway was killed is retried with the same key and delivered once. The
tests also bound how many such retries there are (at most one per row claimed at the kill).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import W
from tests.services import ROOT, Broker, HttpProcess, RedisServer
from tests.sms_peer import DEMO_FILE, Peer, Publisher, notice
from tests.test_sms_gateway import gateway_env, running, states, until

BIN = str(Path(sys.executable).parent / "sms-gateway")
BURST = 1000
CONCURRENCY = 16


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    p = await Peer().start()
    yield p
    await p.stop()


def tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-4000:]


def spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [BIN], env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )


async def healthy(env: dict[str, str], proc: subprocess.Popen[bytes], log: Path) -> None:
    url = f"http://{env['HALLCALL_SMS_LISTEN']}/healthz"
    async with aiohttp.ClientSession() as http, asyncio.timeout(20):
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sms-gateway exited: {tail(log)}")
            try:
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_gateway_killed_mid_burst_loses_nothing_and_sends_nothing_twice(
    broker: Broker, peer: Peer, tmp_path: Path
) -> None:
    hall = f"k{uuid.uuid4().hex[:8]}"
    env = gateway_env(
        broker, hall, tmp_path / "data", "http", peer, HALLCALL_SMS_CONCURRENCY=str(CONCURRENCY)
    )
    log = tmp_path / "gateway.log"
    proc = spawn(env, log)
    try:
        await healthy(env, proc, log)
        pub = Publisher(broker, hall)
        await pub.hall_message()
        notices = [notice(hall, n) for n in range(BURST)]
        sending = asyncio.create_task(pub.send(notices))
        await peer.wait_for(BURST // 4)
        proc.send_signal(signal.SIGKILL)  # mid-burst: rows in flight, notices unacknowledged
        proc.wait(10)
        killed_at = len(peer.delivered)
        assert killed_at < BURST
        proc = spawn(env, log)
        await sending
        await peer.wait_for(BURST, timeout=60)
    finally:
        proc.terminate()
        proc.wait(10)
    assert set(peer.delivered) == {f"{hall}/{n.key}" for n in notices}
    twice = peer.duplicates()
    # at most the rows claimed at once (in flight or sent and not yet recorded) go again
    assert all(n == 2 for n in twice.values()) and len(twice) <= 4 * CONCURRENCY, twice
    text = tail(log)
    assert proc.returncode == 0 and "Traceback" not in text
    assert "13800000001" not in text  # phones masked in the log
    print(f"killed after {killed_at} of {BURST}; sent again with the same key: {len(twice)}")


@pytest.mark.slow
async def test_broker_restarted_mid_burst_loses_nothing(peer: Peer, tmp_path: Path) -> None:
    broker = Broker(tmp_path / "mosquitto", persistent=True).start()
    try:
        hall = f"b{uuid.uuid4().hex[:8]}"
        async with running(gateway_env(broker, hall, tmp_path / "data", "http", peer)) as gw:
            pub = Publisher(broker, hall)
            await pub.hall_message()
            notices = [notice(hall, n) for n in range(BURST)]
            sending = asyncio.create_task(pub.send(notices))
            await peer.wait_for(BURST // 4)
            broker.stop()  # mid-burst
            assert len(peer.delivered) < BURST
            broker.start()
            await sending  # the relay publishes again whatever the broker had not acknowledged
            await peer.wait_for(BURST, timeout=60)
            await until(lambda: states(gw) == {"sent": BURST})
        assert set(peer.delivered) == {f"{hall}/{n.key}" for n in notices}
        assert peer.duplicates() == {}
    finally:
        broker.stop()


@pytest.mark.slow
async def test_queue_server_killed_right_after_a_call_the_notice_still_arrives(
    redis_server: RedisServer, peer: Peer, tmp_path: Path
) -> None:
    hall = f"q{uuid.uuid4().hex[:8]}"
    config = tmp_path / "hall.toml"
    config.write_text(
        DEMO_FILE.read_text(encoding="utf-8").replace('id = "demo"', f'id = "{hall}"', 1)
    )
    broker = Broker(tmp_path / "mosquitto").start()
    server = HttpProcess.queue_server(config, redis_server.url, broker.url(), tmp_path / "s1.log")
    try:
        server.wait()
        env = gateway_env(
            broker,
            hall,
            tmp_path / "data",
            "http",
            peer,
            HALLCALL_SMS_TOKEN="demo-sms",
            HALLCALL_SERVER_URL=server.url,
        )
        async with running(env) as gw, aiohttp.ClientSession(server.url) as http:
            await until(lambda: hall in gw.halls)
            async with http.post(
                f"/api/v1/halls/{hall}/tickets", json={"service": "A", "phone": "13800001111"}
            ) as resp:
                assert resp.status == 201
            await peer.wait_for(1)
            broker.stop()  # the call commits in Redis, but its notice cannot go out
            async with http.post(f"/api/v1/halls/{hall}/windows/1/next", headers=W[1]) as resp:
                assert resp.status == 200 and (await resp.json())["ticket"]["number"] == "A001"
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait(10)
            broker.start()
            server = HttpProcess.queue_server(
                config, redis_server.url, broker.url(), tmp_path / "s2.log"
            )
            server.wait()
            await peer.wait_for(2, timeout=30)  # the restarted server replays its outbox
        called = [d for d in peer.delivered.values() if d.kind == "called"]
        assert [d.text for d in called] == ["【示范区政务服务中心】请A001号到1号窗口办理"]
        assert peer.duplicates() == {}
    finally:
        server.stop()
        broker.stop()
