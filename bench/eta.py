"""How good is the wait citizens are told? Four halls simulated through the real use cases,
Lua scripts and a private Redis (`queue-server simulate`), one seeded run: `python -m bench.eta`.

The halls are those of issue 10: one service, windows pressing "next" when free, Poisson
arrivals, handling times with a mean of 6 minutes, the hall file's prior 5 minutes (so the
server must learn). Printed per hall: the ETA's mean absolute error beside an oracle's (the
same estimator told the true mean handling time) and the plain "ahead × mean ÷ windows" with
the true mean; the share of tickets called more than 5 minutes after their ETA; the share
called inside their range. Then the simulator's own speed (10,000 tickets), and its mean wait
against Erlang C over long steady stretches, one a day, the days independent replications
(`--parts`, `--erlang-days`).
"""

from __future__ import annotations

import argparse
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
from queue_server.simulate.engine import Record
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
ERLANG_LOAD = 0.3
TARGETS = "targets: MAE ≤ 1.1 × oracle; late ≤ 5%; range coverage 85–95%"


def prepared(windows: int, per_hour: float, *argv: str) -> Prepared:
    hall = one_service(windows, 5.0)  # the file says 5 minutes; the truth is 6
    args = parser().parse_args(
        ["simulate", "--rate", f"A={per_hour:g}", "--mean", "A=6", "--seed", str(SEED), *argv]
    )  # a later --seed wins
    return prepare(args, {hall.id: hall})


def erlang_c_wait(c: int, per_min: float, mean_min: float) -> float:
    a = per_min * mean_min
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top) * mean_min / (c - a)


async def quality(url: str) -> list[str]:
    failed = []
    print(f"ETA quality, {DAYS} days per hall, seed {SEED} ({TARGETS})")
    head = (
        f"{'hall':47} {'tickets':>7} {'wait':>5} {'MAE':>5} {'oracle':>6} {'ratio':>5} "
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
            f"{name:47} {f['tickets']:7d} {f['mean_wait_min']:5.2f} {f['eta_mae_min']:5.2f} "
            f"{f['eta_oracle_mae_min']:6.2f} {ratio:5.2f} {f['eta_plain_mae_min']:5.2f} "
            f"{f['eta_late_share']:5.1%} {f['range_coverage']:8.1%} "
            f"{out['learned_mean_min']['A']:7.2f}",
            flush=True,
        )
        if ratio > 1.1 or f["eta_late_share"] > 0.05 or not 0.85 <= f["range_coverage"] <= 0.95:
            failed.append(name)
    # one window slower: the estimate with each window's own pace, and without
    per_hour = 0.85 * 3.5 / 6 * 60  # 4 windows, one at half speed: 3.5 windows' worth
    for pace in ([], ["--no-pace"]):
        p = prepared(
            4, per_hour, "--slower", "4=2", "--pauses", "0.5:5", "--days", str(DAYS), *pace
        )
        f = report(p, await simulate(p, url))["all"]
        name = "4 windows (#4 2× slower), load 0.85, pauses" + (", no pace" if pace else "")
        print(
            f"{name:47} {f['tickets']:7d} {f['mean_wait_min']:5.2f} {f['eta_mae_min']:5.2f} "
            f"{f['eta_oracle_mae_min']:6.2f} {f['eta_mae_min'] / f['eta_oracle_mae_min']:5.2f} "
            f"{f['eta_plain_mae_min']:5.2f} {f['eta_late_share']:5.1%} "
            f"{f['range_coverage']:8.1%}",
            flush=True,
        )
    return failed


async def speed(url: str) -> list[str]:
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
    return []


async def erlang(url: str, days: int, seed: int = SEED) -> list[str]:
    """One window, load 0.3 (the least spread per ticket), 0.6-second services, `days`
    independent stretches of 1,400 minutes after 5 of warm-up: about 42,000 tickets each."""
    p = prepared(
        1,
        ERLANG_LOAD / 0.01 * 60,
        "--seed",
        str(seed),
        "--mean",
        "A=0.01",
        "--steady",
        "--minutes",
        "1400",
        "--warmup",
        "5",
        "--days",
        str(days),
    )
    t0 = time.perf_counter()
    outcome = await simulate(p, url)
    took = time.perf_counter() - t0
    counted = [r for r in outcome.records if r.counted]
    if any(r.called_ms is None for r in counted):
        raise BenchError("a ticket was never called")
    sim = sum(r.wait_min for r in counted) / len(counted)
    theory = erlang_c_wait(1, ERLANG_LOAD / 0.01, 0.01)
    se = day_error(counted)
    off = sim / theory - 1
    print(
        f"Erlang C (1 window, load {ERLANG_LOAD:g}, {len(counted)} tickets over {days} "
        f"independent days, seed {seed}, {took:.0f} s): mean wait {sim * 60_000:.1f} ms "
        f"through the server, formula {theory * 60_000:.1f} ms: {off:+.2%}, "
        f"standard error {se / theory:.2%} (target: within 2%)",
        flush=True,
    )
    return [] if abs(off) <= 0.02 else ["Erlang C"]


def day_error(records: list[Record]) -> float:
    """Standard error of the mean wait (minutes) from the days' totals (ratio estimator)."""
    days: dict[int, list[float]] = {}
    for r in records:
        days.setdefault(r.day, []).append(r.wait_min)
    n, d = len(records), len(days)
    mean = sum(r.wait_min for r in records) / n
    spread = sum((sum(v) - mean * len(v)) ** 2 for v in days.values()) / (d * (d - 1))
    return math.sqrt(spread) / (n / d)


async def measure(url: str, parts: list[str], erlang_days: int, seed: int) -> list[str]:
    failed = []
    if "quality" in parts:
        failed += await quality(url)
    if "speed" in parts:
        failed += await speed(url)
    if "erlang" in parts:
        failed += await erlang(url, erlang_days, seed)
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


def run(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.eta", description=__doc__)
    ap.add_argument(
        "--parts",
        default="quality,speed,erlang",
        help="comma-separated: quality (the four halls), speed (10,000 tickets), erlang",
    )
    ap.add_argument(
        "--erlang-days",
        type=int,
        default=9,
        help="days of about 42,000 tickets for Erlang C (9: a standard error near 0.5%%)",
    )
    ap.add_argument("--erlang-seed", type=int, default=SEED, help="another seed: another sample")
    args = ap.parse_args([] if argv is None else argv)
    parts = args.parts.split(",")
    if args.erlang_days < 2 or not set(parts) <= {"quality", "speed", "erlang"}:
        ap.error("--parts from quality,speed,erlang; --erlang-days at least 2")
    try:
        with PrivateRedis() as redis:
            failed = asyncio.run(measure(redis.url, parts, args.erlang_days, args.erlang_seed))
    except SimError as exc:  # the server refused what the simulated staff did
        raise BenchError(str(exc)) from None
    if failed:
        print(f"missed a target: {', '.join(failed)}")


def main() -> None:
    try:
        run(sys.argv[1:])
    except BenchError as exc:
        sys.exit(f"bench.eta FAILED: {exc}")


if __name__ == "__main__":
    main()
