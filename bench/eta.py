"""How good is the wait citizens are told? Four halls simulated through the real use cases,
Lua scripts and a private Redis (`queue-server simulate`), one seeded run: `python -m bench.eta`.

The halls are those of issue 10: one service, windows pressing "next" when free, Poisson
arrivals, handling times with a mean of 6 minutes, the hall file's prior 5 minutes (so the
server must learn). Printed per hall: the ETA's mean absolute error beside an oracle's (the
same estimator told the true mean handling time) and the plain "ahead × mean ÷ windows" with
the true mean; the share of tickets called more than 5 minutes after their ETA; the share
called inside their range. Then the simulator's own speed (10,000 tickets) and a long steady
run against Erlang C.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import time
from typing import Any

from redis.asyncio import Redis

from bench.common import BenchError
from queue_server.cli import parser
from queue_server.simulate.batch import SimError
from queue_server.simulate.command import Prepared, prepare, report, simulate
from queue_server.simulate.halls import one_service
from queue_server.simulate.redis_proc import PrivateRedis

DAYS = 8
SEED = 10
HALLS = (  # windows, load, handling
    (10, 0.85, "exp"),
    (10, 0.95, "exp"),
    (3, 0.80, "exp"),
    (10, 0.95, "lognormal:0.5"),
)
TARGETS = "targets: MAE ≤ 1.1 × oracle; late ≤ 5%; range coverage 85–95%"


def prepared(windows: int, per_hour: float, *argv: str) -> Prepared:
    hall = one_service(windows, 5.0)  # the file says 5 minutes; the truth is 6
    args = parser().parse_args(
        ["simulate", "--rate", f"A={per_hour:g}", "--mean", "A=6", "--seed", str(SEED), *argv]
    )
    return prepare(args, {hall.id: hall})


def erlang_c_wait(c: int, per_min: float, mean_min: float) -> float:
    a = per_min * mean_min
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top) * mean_min / (c - a)


async def measure(url: str) -> list[str]:
    failed = []
    print(f"ETA quality, {DAYS} days per hall, seed {SEED} ({TARGETS})")
    head = (
        f"{'hall':36} {'tickets':>7} {'wait':>5} {'MAE':>5} {'oracle':>6} {'ratio':>5} "
        f"{'plain':>5} {'late':>5} {'in range':>8} {'learned':>7}"
    )
    print(head)
    for windows, load, handling in HALLS:
        per_hour = load * windows / 6 * 60
        p = prepared(windows, per_hour, "--handling", handling, "--days", str(DAYS))
        out = report(p, await simulate(p, url))
        f: dict[str, Any] = out["all"]
        ratio = f["eta_mae_min"] / f["eta_oracle_mae_min"]
        name = f"{windows} windows, load {load:g}, {handling}"
        print(
            f"{name:36} {f['tickets']:7d} {f['mean_wait_min']:5.2f} {f['eta_mae_min']:5.2f} "
            f"{f['eta_oracle_mae_min']:6.2f} {ratio:5.2f} {f['eta_plain_mae_min']:5.2f} "
            f"{f['eta_late_share']:5.1%} {f['range_coverage']:8.1%} "
            f"{out['learned_mean_min']['A']:7.2f}",
            flush=True,
        )
        if ratio > 1.1 or f["eta_late_share"] > 0.05 or not 0.85 <= f["range_coverage"] <= 0.95:
            failed.append(name)
    # speed: 10,000 tickets, 3 windows at load 0.8, 6-second services; beside a bare EVALSHA
    floor = await round_trip_us(url)
    p = prepared(3, 0.8 * 3 / 0.1 * 60, "--mean", "A=0.1", "--steady", "--minutes", "417")
    t0, cpu0 = time.perf_counter(), time.process_time()
    outcome = await simulate(p, url)
    took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    n = len(outcome.records)
    print(
        f"speed: {n} tickets in {took:.1f} s (target ≤ 10 s), {took / n * 1e3:.2f} ms a ticket "
        f"({cpu:.1f} s of it this process's CPU), in {outcome.round_trips} round trips to "
        f"Redis; a bare EVALSHA round trip takes {floor:.0f} µs now; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    # Erlang C: one window, load 0.5, 6-second services, 1,400 minutes after 30 of warm-up
    p = prepared(1, 300, "--mean", "A=0.1", "--steady", "--minutes", "1400", "--warmup", "30")
    outcome = await simulate(p, url)
    waits = [r.wait_min for r in outcome.records if r.counted]
    sim, theory = sum(waits) / len(waits), erlang_c_wait(1, 5, 0.1)
    print(
        f"Erlang C (1 window, load 0.5, {len(waits)} tickets): simulated mean wait "
        f"{sim * 60:.2f} s, formula {theory * 60:.2f} s ({sim / theory - 1:+.1%}; the run's "
        f"standard error by batch means: {batch_error(waits) / sim:.1%})"
    )
    return failed


async def round_trip_us(url: str, n: int = 2000) -> float:
    redis = Redis.from_url(url)
    try:
        script = redis.register_script("return 1")
        await script()
        t0 = time.perf_counter()
        for _ in range(n):
            await script()
        return (time.perf_counter() - t0) / n * 1e6
    finally:
        await redis.aclose()


def batch_error(values: list[float], batches: int = 20) -> float:
    """Standard error of the mean of a correlated series, from the means of its batches."""
    size = len(values) // batches
    means = [sum(values[i * size : (i + 1) * size]) / size for i in range(batches)]
    mean = sum(means) / batches
    return math.sqrt(sum((m - mean) ** 2 for m in means) / (batches - 1) / batches)


def run() -> None:
    try:
        with PrivateRedis() as redis:
            failed = asyncio.run(measure(redis.url))
    except SimError as exc:  # the server refused what the simulated staff did
        raise BenchError(str(exc)) from None
    if failed:
        print(f"missed a target: {', '.join(failed)}")


def main() -> None:
    try:
        run()
    except BenchError as exc:
        sys.exit(f"bench.eta FAILED: {exc}")


if __name__ == "__main__":
    main()
