"""Closed-loop HTTP load generator for issuing tickets, run as its own process so it shares
neither a core's event loop nor its CPU accounting with the server it measures. Prints one
JSON line with the figures.

Any answer other than 2xx (or a broken connection) fails the run: the generator stops, names
the first error on stderr and exits 1. A failing server never looks fast.

    python -m bench.loadgen URL [--requests N | --seconds S] [--concurrency 64]
        [--phone-every K] [--phone-base B] [--token T] [--idempotency]
        [--alternate PAIRS [--slot S] [--cpu-pid PID]]

Every K-th request carries a phone (K=4: 25%, K=1: all; 0: none), each a distinct valid
mainland mobile number counted from B (online tickets, no token); the others send
`Authorization: Bearer T`, a kiosk's token: a ticket without a phone comes from a kiosk
(default T: the kiosk of the bench halls, tests/services.py KIOSK_TOKEN). `--idempotency`
sends a distinct Idempotency-Key with each request, as the kiosk page does with each press.

`--alternate PAIRS` (bench.phone_ratio) measures no phone against phone in slots of S seconds
back to back on the same connections, PAIRS pairs in ABBA order: each slot ends when its last
request is answered, and reports its mode, requests, seconds, that of `--cpu-pid`'s CPU
seconds (0 without) and the phones it sent.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from dataclasses import dataclass, field

import aiohttp

from bench.common import cpu_seconds, percentiles, phone
from tests.services import KIOSK_TOKEN

SERVICES = "ABC"
JSON = {"Content-Type": "application/json"}


class Failed(Exception):
    """The first non-2xx answer or transport error, named."""


@dataclass
class Plan:
    url: str
    concurrency: int
    phone_every: int = 0
    phone_base: int = 0
    token: str = ""
    keyed: bool = False  # an Idempotency-Key per request, as the kiosk page sends per press
    counter: itertools.count[int] = field(default_factory=itertools.count)
    phones: int = 0

    def request(self) -> tuple[bytes, dict[str, str]]:
        """The next request's body and headers, pre-encoded: the client spends its CPU on
        HTTP, not JSON."""
        i = next(self.counter)
        service = SERVICES[i % len(SERVICES)]
        if self.phone_every and i % self.phone_every == 0:
            self.phones += 1
            body = f'{{"service":"{service}","phone":"{phone(self.phone_base + i)}"}}'
            return body.encode(), JSON
        headers = {**JSON, "Authorization": f"Bearer {self.token}"} if self.token else JSON
        if self.keyed:
            headers = {**headers, "Idempotency-Key": f"press-{self.phone_base}-{i}"}
        return f'{{"service":"{service}"}}'.encode(), headers


async def phase(
    session: aiohttp.ClientSession, plan: Plan, requests: int, seconds: float
) -> tuple[list[float], float]:
    """`requests` requests, or as many as fit in `seconds`; latencies in ms, elapsed s."""
    latencies: list[float] = []
    started = itertools.count()
    t0 = time.perf_counter()
    stop_at = t0 + seconds if seconds else float("inf")

    async def worker() -> None:
        while (not requests or next(started) < requests) and time.perf_counter() < stop_at:
            body, headers = plan.request()
            t = time.perf_counter()
            try:
                async with session.post(plan.url, data=body, headers=headers) as resp:
                    text = await resp.read()
            except aiohttp.ClientError as exc:
                raise Failed(f"POST {plan.url}: {type(exc).__name__}: {exc}") from None
            if resp.status >= 300:
                raise Failed(
                    f"POST {plan.url} answered {resp.status}: {text[:300].decode(errors='replace')}"
                )
            latencies.append((time.perf_counter() - t) * 1000)

    async with asyncio.TaskGroup() as tg:
        for _ in range(plan.concurrency):
            tg.create_task(worker())
    return latencies, time.perf_counter() - t0


async def alternate(
    plan: Plan, pairs: int, slot: float, warmup: int, cpu_pid: int
) -> dict[str, list[list[float]]]:
    """Slots of no phone and phone, ABBA: [mode (0 none, 1 phone), requests, s, CPU s,
    phones sent]."""
    slots: list[list[float]] = []
    connector = aiohttp.TCPConnector(limit=plan.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        if warmup:
            await phase(session, plan, warmup, 0)
        for k in range(pairs):
            for mode in (0, 1) if k % 2 == 0 else (1, 0):
                plan.phone_every, phones = mode, plan.phones
                cpu = cpu_seconds(cpu_pid) if cpu_pid else 0.0
                latencies, elapsed = await phase(session, plan, 0, slot)
                used = cpu_seconds(cpu_pid) - cpu if cpu_pid else 0.0
                slots.append([mode, len(latencies), elapsed, used, plan.phones - phones])
    return {"slots": slots}


async def run(plan: Plan, requests: int, seconds: float, warmup: int) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=plan.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        if warmup:
            await phase(session, plan, warmup, 0)  # opens the keep-alive connections
        plan.phones = 0
        latencies, elapsed = await phase(session, plan, requests, seconds)
    return {
        "requests": len(latencies),
        "phones": plan.phones,
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        **percentiles(latencies),
    }


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.loadgen")
    p.add_argument("url")
    p.add_argument("--requests", type=int, default=0, help="stop after N (default 20,000)")
    p.add_argument("--seconds", type=float, default=0.0, help="or stop after S seconds")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--warmup", type=int, default=1_000)
    p.add_argument("--phone-every", type=int, default=0)
    p.add_argument("--phone-base", type=int, default=0)
    p.add_argument("--token", default=KIOSK_TOKEN, help="for phoneless tickets: a kiosk's")
    p.add_argument("--idempotency", action="store_true", help="a distinct key per request")
    p.add_argument("--alternate", type=int, default=0, help="PAIRS of no phone / phone slots")
    p.add_argument("--slot", type=float, default=0.5, help="seconds of each slot")
    p.add_argument("--cpu-pid", type=int, default=0, help="report this process's CPU per slot")
    a = p.parse_args()
    requests = a.requests or (0 if a.seconds else 20_000)
    plan = Plan(a.url, a.concurrency, a.phone_every, a.phone_base, a.token, a.idempotency)
    try:
        if a.alternate:
            slots = alternate(plan, a.alternate, a.slot, a.warmup, a.cpu_pid)
            print(json.dumps(asyncio.run(slots)))
            return
        result = asyncio.run(run(plan, requests, a.seconds, a.warmup))
    except* Failed as group:
        sys.exit(f"loadgen: {group.exceptions[0]}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
