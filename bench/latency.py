"""Call latency: from a window's `next` request to the call arriving at an MQTT subscriber.

A 50-window hall; tickets pre-issued over HTTP; `next` paced open loop (a request starts at
its scheduled time whatever the earlier ones are doing) round robin over the windows. Send
and arrival are both timed with perf_counter in this one process; a call is matched to its
request by (window, number) from the HTTP response, since the call may arrive first.

    python -m bench.latency [--rate 100] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid

import aiohttp
import aiomqtt

from bench.common import hall_toml, percentiles, server, stack, window_token
from queue_server.protocol import decode, topic_calls

HALL = "lat"
WINDOWS = 50


async def pre_issue(session: aiohttp.ClientSession, base: str, n: int) -> None:
    url = f"{base}/api/v1/halls/{HALL}/tickets"
    sem = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        async with sem, session.post(url, json={"service": "ABC"[i % 3]}) as resp:
            if resp.status != 201:
                raise RuntimeError(f"issue failed: {resp.status} {await resp.text()}")

    await asyncio.gather(*(one(i) for i in range(n)))


async def measure(base: str, port: int, password: str, rate: float, seconds: float) -> None:
    arrivals: dict[tuple[str, str], float] = {}
    sent: list[tuple[float, float, str, str]] = []  # (send, response, window, number)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
        aiomqtt.Client(
            "127.0.0.1",
            port,
            username="hallcall-display",
            password=password,
            identifier=f"bench-{uuid.uuid4().hex[:8]}",
        ) as mqtt,
    ):
        # aiomqtt does not raise on an ACL-denied subscribe: check the reason codes.
        granted = await mqtt.subscribe(topic_calls(HALL), qos=1)
        if any(getattr(rc, "value", rc) >= 0x80 for rc in granted):
            raise RuntimeError(f"subscribe refused: {granted}")

        async def pump() -> None:
            async for msg in mqtt.messages:
                now = time.perf_counter()
                call = decode(bytes(msg.payload))
                arrivals[(call["window"], call["number"])] = now

        calls = int(rate * seconds)
        await pre_issue(session, base, calls + WINDOWS + 500)
        pumping = asyncio.create_task(pump())

        async def next_(i: int, timed: bool) -> None:
            window = str(i % WINDOWS + 1)
            url = f"{base}/api/v1/halls/{HALL}/windows/{window}/next"
            auth = {"Authorization": f"Bearer {window_token(HALL, i % WINDOWS + 1)}"}
            t0 = time.perf_counter()
            async with session.post(url, headers=auth) as resp:
                body = await resp.json()
            if timed and body.get("ticket"):
                sent.append((t0, time.perf_counter(), window, body["ticket"]["number"]))

        # warm-up: one call per window opens connections and loads the scripts; not timed
        await asyncio.gather(*(next_(i, False) for i in range(WINDOWS)))
        tasks: list[asyncio.Task[None]] = []
        start = time.perf_counter()
        for i in range(calls):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(next_(i, True)))
        await asyncio.gather(*tasks)
        await asyncio.sleep(1.0)  # let the last calls arrive
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await pumping
    lat = [(arrivals[(w, n)] - t0) * 1000 for t0, _, w, n in sent if (w, n) in arrivals]
    http = [(t1 - t0) * 1000 for t0, t1, _, _ in sent]
    q, h = percentiles(lat), percentiles(http)
    print(f"latency: next -> call on MQTT, {rate:g} calls/s over {WINDOWS} windows, {seconds:g} s")
    print(
        f"  next->MQTT call  p50 {q['p50']:.2f} ms  p90 {q['p90']:.2f}  p99 {q['p99']:.2f}"
        f"  max {q['max']:.2f}  (target p50 <= 3, p99 <= 15)"
    )
    print(f"  next HTTP answer p50 {h['p50']:.2f} ms  p90 {h['p90']:.2f}  p99 {h['p99']:.2f}")
    print(f"  {len(lat)} of {calls} calls matched; {len(sent) - len(lat)} never arrived")


def run(rate: float = 100.0, seconds: float = 20.0) -> None:
    with stack() as s:
        cfg = s.dir / "lat.toml"
        cfg.write_text(hall_toml(HALL, WINDOWS), encoding="utf-8")
        with server(s, cfg) as srv:
            pw = s.broker.passwords["hallcall-display"]
            asyncio.run(measure(srv.url, s.broker.port, pw, rate, seconds))


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.latency")
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--seconds", type=float, default=20.0)
    a = p.parse_args()
    run(a.rate, a.seconds)


if __name__ == "__main__":
    main()
