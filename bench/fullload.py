"""Full load against ONE real server process, each figure beside a floor from the same run.

The mix (issue 5, part 1): 8 clients issuing tickets as fast as they can (every 4th with a
distinct valid mainland mobile number, so SMS notices share the relay with calls), 6 windows
pressing `next` then `finish` as fast as they can, an MQTT subscriber on `calls` (display
user) and one on `notify` (SMS user). Issuers and windows run in their own processes
(bench/loadgen.py, bench/windows.py); this process subscribes and samples /metrics every
100 ms. A call's latency is from its `next` being sent to its arrival at the subscriber
(both perf_counter = CLOCK_MONOTONIC, one clock for every process). Every call made must
arrive, every answer must be 2xx, or the run fails.

Floors, same run:
- the same mix against bench/bare.py: `next` = one EVALSHA + one QoS 1 publish, `finish` and
  issue = one EVALSHA each (what aiohttp + Redis + MQTT cost on this machine);
- relay: the server's outbox replayed as a burst: the broker is stopped, tickets with phones
  are issued (each makes a notice), the broker comes back, and the rate at which they are
  published is timed (the server's counter, and arrivals at the SMS subscriber); beside it
  the same number of messages published the relay's way with no Redis: the server's own MQTT
  client (queue_server.outlink, the server's in-flight cap), and for comparison paho straight
  (the relay's former way, 100 in flight).

    python -m bench.fullload [--seconds 60] [--floor-seconds 20] [--burst 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import aiomqtt
import paho.mqtt.client as paho

from bench.common import (
    BenchError,
    Scraper,
    Stack,
    Watch,
    bare,
    cpu_seconds,
    percentiles,
    phone,
    run_module,
    run_module_async,
    server,
    stack,
    watch,
    write_hall,
)
from queue_server.link import client_for, parse_mqtt_url
from queue_server.outlink import Outlink
from queue_server.protocol import Notice, encode, topic_calls, topic_notify
from queue_server.publisher import MAX_IN_FLIGHT
from tests.services import HttpProcess

HALL, BARE, RELAY = "full", "fullbare", "relayfloor"
WINDOWS, ISSUERS, PHONE_EVERY = 6, 8, 4
LAG = "hallcall_outbox_lag_seconds"
PUBLISHED = "hallcall_relay_published_total"


@dataclass
class Mix:
    """What one run of the mix measured."""

    seconds: float
    issued: dict[str, Any]
    windows: dict[str, Any]
    latencies: list[float]
    notices: int = 0
    cpu: float = 0.0  # the answering process's CPU seconds over the run
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)

    def peak(self, name: str) -> float | None:
        values = [s[name] for _, s in self.samples if name in s]
        return max(values) if values else None

    def rate(self, name: str) -> float | None:
        """A counter's mean rate over the run."""
        got = [(t, s[name]) for t, s in self.samples if name in s]
        if len(got) < 2:
            return None
        (t0, v0), (t1, v1) = got[0], got[-1]
        return (v1 - v0) / (t1 - t0)


async def sample(scraper: Scraper, into: list[tuple[float, dict[str, float]]]) -> None:
    while True:
        into.append((time.perf_counter(), await scraper.sample()))
        await asyncio.sleep(0.1)


async def mix(
    w: Watch,
    pid: int,
    issue_url: str,
    prefix: str,
    hall: str,
    seconds: float,
    scraper: Scraper | None,
) -> Mix:
    samples: list[tuple[float, dict[str, float]]] = []
    cpu = cpu_seconds(pid)
    sampling = asyncio.create_task(sample(scraper, samples)) if scraper else None
    try:
        issued, windows = await asyncio.gather(
            run_module_async(
                "loadgen",
                issue_url,
                f"--seconds={seconds}",
                f"--concurrency={ISSUERS}",
                f"--phone-every={PHONE_EVERY}",
                f"--phone-base={10_000_000 if scraper else 20_000_000}",
                "--warmup=0",
            ),
            run_module_async(
                "windows",
                prefix,
                f"--windows={WINDOWS}",
                f"--seconds={seconds}",
                f"--token-prefix=bench-{HALL}-",
            ),
        )
    finally:
        if sampling:
            sampling.cancel()
    cpu = cpu_seconds(pid) - cpu
    sent: list[list[Any]] = windows.pop("sent")
    if not sent:
        raise BenchError(f"no window called anybody at {prefix}")
    latencies = []
    deadline = time.perf_counter() + 10.0  # the stragglers of a loaded machine
    for t0, window, number in sent:
        arrived = await w.arrival((hall, window, number), max(0.1, deadline - time.perf_counter()))
        latencies.append((arrived - t0) * 1000)
    return Mix(seconds, issued, windows, latencies, cpu=cpu, samples=samples)


async def burst(s: Stack, srv: HttpProcess, n: int) -> tuple[float, float | None, int]:
    """The relay alone: n notices written to the outbox while the broker is away, then
    published when it returns. Notices per second at the SMS subscriber (first to last
    arrival), from the server's published counter when it exports one, and the MQTT messages
    they came in (a notify message carries up to protocol.MAX_NOTICES)."""
    s.broker.stop()
    deadline = time.monotonic() + 20
    while await asyncio.to_thread(srv.status) != "degraded":
        if time.monotonic() > deadline:
            raise BenchError("the server did not notice the broker going away within 20 s")
        await asyncio.sleep(0.05)
    url = f"{srv.url}/api/v1/halls/{HALL}/tickets"
    await run_module_async(
        "loadgen", url, f"--requests={n}", "--phone-every=1", "--phone-base=30000000", "--warmup=0"
    )
    samples: list[tuple[float, dict[str, float]]] = []
    async with aiohttp.ClientSession() as session:
        scraper = Scraper(session, srv.url, HALL)
        before = (await scraper.sample()).get(PUBLISHED)
        s.broker.start()
        started = time.perf_counter()
        async with watch(s.broker, "hallcall-sms", [topic_notify(HALL)]) as w:
            sampling = asyncio.create_task(sample(scraper, samples))
            try:
                await w.wait_total("/notify", n, timeout=max(60.0, n / 500))
            finally:
                sampling.cancel()
            at_subscriber = w.total() / (w.last - w.first)
            messages = sum(w.messages.values())
    if before is None:
        return at_subscriber, None, messages
    # the counter's rate from the sample before its first rise to its first at the final value
    values = [(t, v[PUBLISHED]) for t, v in samples if PUBLISHED in v]
    final = values[-1][1]
    rise = next(i for i, (_, v) in enumerate(values) if v > before)
    t0, v0 = values[rise - 1] if rise else (started, before)
    t1 = next(t for t, v in values if v == final)
    return at_subscriber, (final - v0) / (t1 - t0), messages


class PahoSender:
    """The relay's former way of publishing, kept here as a floor to compare with: QoS 1
    straight to paho (aiomqtt's publish waits for each acknowledgement), a callback per ack."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self._paho: paho.Client = client._client
        self._waiting: dict[int, Callable[[], None]] = {}

        def on_publish(c: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
            done = self._waiting.pop(mid, None)
            if done is not None:
                done()

        self._paho.on_publish = on_publish

    def send(self, topic: str, payload: bytes, done: Callable[[], None]) -> bool:
        info = self._paho.publish(topic, payload, qos=1)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return False
        if info.is_published():
            done()
        else:
            self._waiting[info.mid] = done
        return True


async def relay_floor(s: Stack, n: int, how: str) -> float:
    """n notice-sized QoS 1 messages published the relay's way without Redis, timed until the
    last PUBACK: `how` is "outlink" (the server's client and in-flight cap) or "paho" (100 in
    flight). All of them must reach a subscriber."""
    payload = encode(Notice("ticket_taken", phone(1), "A001", "A", time.time(), ahead=3))
    target = parse_mqtt_url(s.broker.url())
    topic = topic_notify(RELAY)
    acked, done = 0, asyncio.Event()

    def ack() -> None:
        nonlocal acked
        acked += 1
        if acked == n:
            done.set()

    async def burst(sender: Outlink | PahoSender) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            if not sender.send(topic, payload, ack):
                raise BenchError(f"{how} refused a publish (the in-flight cap is below {n})")
        async with asyncio.timeout(60):
            await done.wait()
        return n / (time.perf_counter() - t0)

    async with watch(s.broker, "hallcall-sms", [topic]) as w:
        if how == "outlink":
            async with Outlink(target, "bench-relay-outlink", max_in_flight=MAX_IN_FLIGHT) as out:
                rate = await burst(out)
        else:
            async with client_for(target, "bench-relay-paho", max_inflight=100) as client:
                rate = await burst(PahoSender(client))
        await w.wait_total("/notify", n, timeout=60)
        return rate


def ms(p: dict[str, float]) -> str:
    return f"{p['p50']:.1f} / {p['p99']:.1f} ms"


def report(run: Mix, floor: Mix) -> None:
    q, f = percentiles(run.latencies), percentiles(floor.latencies)
    print(
        f"fullload: one server process, {run.seconds:g} s: {ISSUERS} issuers (every "
        f"{PHONE_EVERY}th with a phone), {WINDOWS} windows next+finish, subscribers on calls "
        "and notify; floor = the same mix against bare aiohttp + EVALSHA + QoS 1 publish, "
        f"{floor.seconds:g} s"
    )
    print(f"  {'':<30} {'hallcall':>22} {'floor':>22}   target")
    rows = [
        ("next -> call p50 / p99", ms(q), ms(f), "p99 <= 50 ms"),
        ("calls (next+finish) /s", f"{len(run.latencies) / run.seconds:.0f}",
         f"{len(floor.latencies) / floor.seconds:.0f}", ""),
        ("tickets issued /s", f"{run.issued['rps']:.0f}", f"{floor.issued['rps']:.0f}", ""),
        ("issue p50 / p99", ms(run.issued), ms(floor.issued), ""),
        ("empty nexts", f"{run.windows['empty']}", f"{floor.windows['empty']}", ""),
        ("CPU, % of one core", f"{run.cpu / run.seconds:.0%}", f"{floor.cpu / floor.seconds:.0%}",
         "(of the answering process)"),
    ]  # fmt: skip
    for name, a, b, target in rows:
        print(f"  {name:<30} {a:>22} {b:>22}   {target}")
    lag = run.peak(LAG)
    print(
        f"  outbox lag max {lag:.3f} s (sampled every 100 ms; target never > 1 s)"
        if lag is not None
        else f"  outbox lag: this server does not export {LAG}"
    )
    published = run.rate(PUBLISHED)
    observed = (len(run.latencies) + run.notices) / run.seconds
    print(
        f"  relay under the mix: {observed:.0f} calls and notices/s reached the subscribers "
        f"({len(run.latencies)} calls, {run.notices} notices); "
        + (f"{PUBLISHED}: {published:.0f}/s" if published is not None else f"no {PUBLISHED}")
    )


def report_relay(relay: tuple[float, float | None, int], floors: dict[str, float]) -> None:
    counted = f"{relay[1]:.0f}/s by {PUBLISHED}" if relay[1] is not None else f"no {PUBLISHED}"
    print(
        f"  relay alone (outbox replayed after a broker outage), notices: {counted}, "
        f"{relay[0]:.0f}/s at the subscriber, in {relay[2]} MQTT messages (target >= 10000/s)"
    )
    print(
        f"    floor, one notice a message, the server's MQTT client without Redis (outlink, QoS"
        f" 1, up to {MAX_IN_FLIGHT} in flight): {floors['outlink']:.0f}/s; paho straight, 100 "
        f"in flight (the former way): {floors['paho']:.0f}/s"
    )


async def measure(
    s: Stack, srv: HttpProcess, bare_app: HttpProcess, args: argparse.Namespace
) -> None:
    floor_url, bare_pid = bare_app.url, bare_app.pid
    calls = [topic_calls(HALL), topic_calls(BARE)]
    async with (
        aiohttp.ClientSession() as session,
        watch(s.broker, "hallcall-display", calls) as w,
        watch(s.broker, "hallcall-sms", [topic_notify(HALL)]) as sms,
    ):
        scraper = Scraper(session, srv.url, HALL)
        issue_url = f"{srv.url}/api/v1/halls/{HALL}/tickets"
        prefix = f"{srv.url}/api/v1/halls/{HALL}"
        run = await mix(w, srv.pid, issue_url, prefix, HALL, args.seconds, scraper)
        # every ticket with a phone makes at least its "ticket taken" notice
        await sms.wait_total("/notify", int(run.issued["phones"]), timeout=30)
        run.notices = sms.total("/notify")
        bare_issue = f"{floor_url}/bare/{BARE}/tickets"
        floor = await mix(
            w, bare_pid, bare_issue, f"{floor_url}/bare/{BARE}", BARE, args.floor_seconds, None
        )
    report(run, floor)
    relay = await burst(s, srv, args.burst)
    floors = {how: await relay_floor(s, args.burst, how) for how in ("outlink", "paho")}
    report_relay(relay, floors)


def run(seconds: float = 60.0, floor_seconds: float = 20.0, burst_size: int = 20_000) -> None:
    args = argparse.Namespace(seconds=seconds, floor_seconds=floor_seconds, burst=burst_size)
    with stack() as s, server(s, write_hall(s, HALL, WINDOWS)) as srv, bare(s) as floor:
        # a queue to start from, so windows never find it empty while issuers warm up
        run_module("loadgen", f"{srv.url}/api/v1/halls/{HALL}/tickets", "--requests=1200")
        asyncio.run(measure(s, srv, floor, args))


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.fullload")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--floor-seconds", type=float, default=20.0)
    p.add_argument("--burst", type=int, default=20_000)
    a = p.parse_args()
    run(a.seconds, a.floor_seconds, a.burst)


if __name__ == "__main__":
    main()
