"""The SMS gateway: notices per second through the `http` provider, and call → provider
request latency, against a local provider peer (tests/sms_peer.py) in this process.

- Throughput: `--notices` notices published to the broker as fast as QoS 1 allows (200 in
  flight); the rate is notices / (first publish → last one accepted by the peer), so it
  covers broker, the gateway's durable outbox and its senders. Two rounds.
- Latency: the real queue server (demo hall, the gateway checking each ticket with its
  token), `--calls` tickets with phones; one window presses `next` once per SMS: the time
  from sending `next` to the peer receiving that ticket's "called" request.

Both the gateway and the server run as their own processes. Any failed, retried or
badly signed request stops the benchmark (it never reports the speed of errors).

    python -m bench.sms [--notices 3000] [--calls 100] [--rounds 2]

`python -m bench` runs a quick round (2,000 notices, 100 calls).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import aiomqtt
import uvloop

from bench.common import BenchError, Stack, percentiles, phone, server, stack
from queue_server.protocol import encode, topic_notify
from tests.conftest import W
from tests.services import ROOT, HttpProcess, free_port
from tests.sms_peer import DEMO_FILE, Peer, Publisher, notice

BIN = str(Path(sys.executable).parent / "sms-gateway")


def gateway(s: Stack, peer: Peer, hall: str, **extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HALLCALL_MQTT_URL": s.broker.url("hallcall-sms"),
        "HALLCALL_SMS_HALLS": hall,
        "HALLCALL_SMS_DATA": str(s.dir / f"sms-{hall}"),
        "HALLCALL_SMS_PROVIDER": "http",
        "HALLCALL_SMS_LISTEN": f"127.0.0.1:{free_port()}",
        "HALLCALL_SMS_QPS": "100000",
        "HALLCALL_SMS_CONCURRENCY": "64",
        **peer.env("http"),
        **extra,
    }
    log = s.dir / f"sms-{hall}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([BIN], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    # before the first publish the gateway must be subscribed (its persistent session exists)
    health = HttpProcess(proc, f"http://{env['HALLCALL_SMS_LISTEN']}", log)
    try:
        health.wait("ok")
    except RuntimeError as exc:
        proc.kill()
        raise BenchError(f"sms-gateway did not come up: {exc}: {log.read_text()[-600:]}") from None
    return proc


def check(peer: Peer, what: str) -> None:
    if peer.bad_signatures or peer.requests != len(peer.delivered) or peer.duplicates():
        raise BenchError(
            f"{what}: {peer.requests} requests for {len(peer.delivered)} notices, "
            f"{peer.bad_signatures} badly signed, {len(peer.duplicates())} sent twice"
        )


async def called_at(peer: Peer, number: str, timeout: float = 10.0) -> float:
    """When the peer accepted the "called" SMS to `number`."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                for d in peer.delivered.values():
                    if d.kind == "called" and d.phone == number:
                        return d.at
                peer.arrived.clear()
                await peer.arrived.wait()
    except TimeoutError:
        raise BenchError(f"no called SMS for {number} within {timeout:g} s") from None


async def publish_fast(s: Stack, hall: str, first: int, n: int) -> None:
    user = "hallcall-server"
    async with aiomqtt.Client(
        "127.0.0.1",
        s.broker.port,
        username=user,
        password=s.broker.passwords[user],
        identifier=f"bench-relay-{first}",
        max_inflight_messages=200,
        max_queued_outgoing_messages=0,
    ) as c:
        c.pending_calls_threshold = 1_000  # 200 in flight on purpose: no warning per publish
        sem = asyncio.Semaphore(200)

        async def one(k: int) -> None:
            async with sem:
                await c.publish(topic_notify(hall), encode(notice(hall, k)), qos=1)

        await asyncio.gather(*(one(k) for k in range(first, first + n)))


async def throughput(s: Stack, notices: int, rounds: int) -> None:
    hall = "smsrate"
    peer = await Peer().start()
    proc = gateway(s, peer, hall)
    try:
        await Publisher(s.broker, hall).hall_message()
        for r in range(rounds):
            before = len(peer.delivered)
            t0 = time.perf_counter()
            await publish_fast(s, hall, r * notices, notices)
            published = time.perf_counter() - t0
            await peer.wait_for(before + notices, timeout=120)
            took = time.perf_counter() - t0
            check(peer, "throughput")
            print(
                f"  round {r + 1}: {notices} notices in {took:.2f} s = {notices / took:,.0f}/s "
                f"through the http provider (publishing alone: {notices / published:,.0f}/s)",
                flush=True,
            )
    finally:
        proc.terminate()
        proc.wait(10)
        await peer.stop()


async def latency(s: Stack, calls: int) -> None:
    hall = "smslat"
    config = s.dir / f"{hall}.toml"
    config.write_text(
        DEMO_FILE.read_text(encoding="utf-8").replace('id = "demo"', f'id = "{hall}"', 1),
        encoding="utf-8",
    )
    peer = await Peer().start()
    with server(s, config, "sms-server") as srv:
        proc = gateway(
            s, peer, hall, **{"HALLCALL_SMS_TOKEN": "demo-sms", "HALLCALL_SERVER_URL": srv.url}
        )
        try:
            async with aiohttp.ClientSession(srv.url) as http:
                for n in range(calls):
                    body = {"service": "A", "phone": phone(n)}
                    async with http.post(
                        f"/api/v1/halls/{hall}/tickets", json=body, headers=W[2]
                    ) as resp:
                        if resp.status != 201:
                            raise BenchError(f"issue: {resp.status} {await resp.text()}")
                await peer.wait_for(calls, timeout=60)  # the "ticket taken" texts
                ms: list[float] = []
                for n in range(calls):
                    sent = time.time()
                    async with http.post(f"/api/v1/halls/{hall}/windows/1/next", headers=W[1]) as r:
                        if r.status != 200:
                            raise BenchError(f"next: {r.status} {await r.text()}")
                    at = await called_at(peer, phone(n))
                    ms.append((at - sent) * 1000)
            check(peer, "latency")
            p = percentiles(ms)
            print(
                f"  call -> provider request, {calls} calls one at a time (ticket checked with "
                f"the sms token): p50 {p['p50']:.1f} ms, p90 {p['p90']:.1f} ms, "
                f"p99 {p['p99']:.1f} ms, max {p['max']:.1f} ms",
                flush=True,
            )
        finally:
            proc.terminate()
            proc.wait(10)
            await peer.stop()


def run(notices: int = 2000, calls: int = 100, rounds: int = 1) -> None:
    print(
        "sms: the gateway's throughput and call -> SMS latency (target >= 1,000/s, p99 <= 100 ms)"
    )
    with stack() as s:
        # uvloop: the bench's own side (publisher, provider peer) costs less CPU, leaving more
        # of this 2-core machine to the gateway it measures
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(throughput(s, notices, rounds))
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(latency(s, calls))


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.sms")
    p.add_argument("--notices", type=int, default=3000)
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    run(a.notices, a.calls, a.rounds)


if __name__ == "__main__":
    main()
