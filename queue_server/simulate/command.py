"""`queue-server simulate`: options, the run (days or one steady stretch), and its output."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from queue_server.clock import ManualClock
from queue_server.config import HallConfig, Hours
from queue_server.domain.priority import MINUTE_MS
from queue_server.simulate.arrivals import (
    Arrival,
    generate,
    opening_spans,
    read_csv,
    write_csv,
)
from queue_server.simulate.batch import SimError
from queue_server.simulate.driver import Driver, starvation_bound_min
from queue_server.simulate.engine import Engine, Record
from queue_server.simulate.redis_proc import PrivateRedis, RedisProcError
from queue_server.simulate.report import summary, table
from queue_server.simulate.spec import (
    HandlingModel,
    Rates,
    Spec,
    SpecError,
    Staff,
    parse_pairs,
    parse_rate,
    rates_from_table,
)

ALL_DAY = ["00:00-24:00"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hall", help="hall id (default: the only hall in --config)")
    p.add_argument(
        "--rate",
        action="append",
        default=[],
        metavar="SERVICE=PER_HOUR",
        help="arrivals per hour (A=40, or by hour of day A=9:60,10:80); "
        "default: the hall file's [simulate.rates]",
    )
    p.add_argument("--arrivals", type=Path, help="CSV of recorded arrivals instead of rates")
    p.add_argument("--record-arrivals", type=Path, help="write the arrivals used to this CSV")
    p.add_argument("--handling", default="exp", help="exp, lognormal:CV or recorded")
    p.add_argument(
        "--mean",
        action="append",
        default=[],
        metavar="SERVICE=MINUTES",
        help="true mean handling time (default: the hall file's avg_minutes)",
    )
    p.add_argument(
        "--share",
        action="append",
        default=[],
        metavar="CLASS=SHARE",
        help="share of tickets of a priority class (green=0.05)",
    )
    p.add_argument("--no-show", type=float, default=0.0, help="share of called who never come")
    p.add_argument("--late", type=float, default=0.0, help="share who come after one recall")
    p.add_argument("--recall-after", type=float, default=60.0, help="seconds before a recall")
    p.add_argument(
        "--pauses",
        default="0:10",
        metavar="PER_HOUR:MINUTES",
        help="pauses per window per open hour and their mean length",
    )
    p.add_argument(
        "--react",
        type=float,
        default=0.0,
        help="mean seconds before an idle window calls a new arrival",
    )
    p.add_argument(
        "--slower",
        action="append",
        default=[],
        metavar="WINDOW=FACTOR",
        help="a window whose handling times take FACTOR times as long (3=1.5)",
    )
    p.add_argument(
        "--no-pace",
        action="store_true",
        help="estimate as if every window worked at the hall's pace (to compare)",
    )
    p.add_argument(
        "--days",
        type=int,
        default=1,
        help="open days to simulate (with --steady: independent stretches, one a day)",
    )
    p.add_argument("--start", default="2026-11-30", help="first day (YYYY-MM-DD)")
    p.add_argument(
        "--steady",
        action="store_true",
        help="one stretch without opening hours (with --minutes, --warmup)",
    )
    p.add_argument("--minutes", type=float, default=0.0)
    p.add_argument("--warmup", type=float, default=0.0, help="minutes not counted (steady)")
    p.add_argument(
        "--target",
        type=float,
        default=20.0,
        help="service-level target: minutes within which a ticket should be called",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


@dataclass(frozen=True)
class Prepared:
    spec: Spec
    hall: HallConfig  # as simulated: a private id, and all-day hours when steady
    recorded: list[Arrival] | None
    record_to: Path | None


def prepare(args: argparse.Namespace, halls: dict[str, HallConfig]) -> Prepared:
    if args.hall is None:
        if len(halls) != 1:
            raise SpecError(f"--hall: choose one of {', '.join(sorted(halls))}")
        args.hall = next(iter(halls))
    if args.hall not in halls:
        raise SpecError(f"--hall: no hall {args.hall!r} in the config")
    cfg = halls[args.hall]
    rates: Rates = rates_from_table(cfg.simulate.rates)
    rates.update(dict(parse_rate(r) for r in args.rate))
    for service in rates:
        if cfg.service(service) is None:
            raise SpecError(f"--rate: hall {cfg.id} has no service {service}")
    recorded = read_csv(args.arrivals) if args.arrivals else None
    if recorded is None and not rates:
        raise SpecError("no arrivals: give --rate SERVICE=PER_HOUR, [simulate.rates] or --arrivals")
    handling = HandlingModel.parse(args.handling)
    if handling.kind == "recorded" and (
        recorded is None or any(a.handling_ms is None for a in recorded)
    ):
        raise SpecError("--handling recorded needs --arrivals with handling_sec on every row")
    means = {s.id: s.avg_minutes for s in cfg.services}
    for service, minutes in parse_pairs(args.mean, "--mean").items():
        if service not in means or minutes <= 0:
            raise SpecError(f"--mean: {service}={minutes:g} is not a service with minutes > 0")
        means[service] = minutes
    classes = parse_pairs(args.share, "--share")
    for cls in classes:
        if cfg.priority_class(cls) is None:
            raise SpecError(f"--share: hall {cfg.id} has no class {cls}")
    per_hour, _, minutes = args.pauses.partition(":")
    try:
        pauses = (float(per_hour), float(minutes or 10))
    except ValueError:
        raise SpecError(f"--pauses {args.pauses!r}: expected PER_HOUR:MINUTES") from None
    for a in recorded or []:
        if cfg.service(a.service) is None or cfg.priority_class(a.cls) is None:
            raise SpecError(f"--arrivals: hall {cfg.id} has no service/class {a.service}/{a.cls}")
    slower = parse_pairs(args.slower, "--slower")
    for window in slower:
        if cfg.window(window) is None:
            raise SpecError(f"--slower: hall {cfg.id} has no window {window}")
    try:
        start = date.fromisoformat(args.start)
    except ValueError:
        raise SpecError(f"--start {args.start!r}: expected YYYY-MM-DD") from None
    spec = Spec(
        rates=rates,
        handling=handling,
        means=means,
        staff=Staff(
            no_show=args.no_show,
            late=args.late,
            recall_after=args.recall_after,
            pauses_per_hour=pauses[0],
            pause_minutes=pauses[1],
            react=args.react,
            slower=slower,
        ),
        classes=classes,
        seed=args.seed,
        days=args.days,
        steady=args.steady,
        minutes=args.minutes,
        warmup=args.warmup,
        target_minutes=args.target,
        start=start.isoformat(),
        pace=not args.no_pace,
    )
    # A private hall id: a shared Redis (--redis-url) keeps its real halls untouched.
    info = cfg.hall.model_copy(update={"id": f"sim-{uuid.uuid4().hex[:8]}"})
    update: dict[str, Any] = {"hall": info}
    if spec.steady:
        update["hours"] = Hours(
            **dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), ALL_DAY)
        )
        update["queue"] = cfg.queue.model_copy(update={"issue_outside_hours": True})
    return Prepared(spec, cfg.model_copy(update=update), recorded, args.record_arrivals)


def plan_days(p: Prepared) -> list[tuple[list[Arrival], list[tuple[int, int]], int]]:
    """Per simulated day: its arrivals, its open spans, and the time counting starts."""
    spec, hall, tz = p.spec, p.hall, p.hall.tz
    rng = random.Random(spec.seed)
    first = date.fromisoformat(spec.start)
    if spec.steady:  # one stretch a day: each day an independent replication
        steady = []
        for d in range(1 if p.recorded else spec.days):
            day = first + timedelta(days=d)
            t0 = int(datetime.combine(day, datetime.min.time(), tz).timestamp() * 1000) + 60_000
            span = (t0, t0 + round((spec.warmup + spec.minutes) * MINUTE_MS))
            counted = t0 + round(spec.warmup * MINUTE_MS)
            arrivals = p.recorded or generate(
                rng, spec.rates, [span], tz, spec.handling, spec.means, spec.classes
            )
            steady.append((arrivals, [span], counted))
        return steady
    if p.recorded is not None:
        by_day: dict[date, list[Arrival]] = defaultdict(list)
        for a in p.recorded:
            by_day[datetime.fromtimestamp(a.t_ms / 1000, tz).date()].append(a)
        return [(by_day[d], opening_spans(hall.hours, d, tz), 0) for d in sorted(by_day)]
    out: list[tuple[list[Arrival], list[tuple[int, int]], int]] = []
    day = first
    while len(out) < spec.days:
        spans = opening_spans(hall.hours, day, tz)
        if spans:
            arrivals = generate(rng, spec.rates, spans, tz, spec.handling, spec.means, spec.classes)
            out.append((arrivals, spans, 0))
        day += timedelta(days=1)
        if day > first + timedelta(days=10 * spec.days + 30):
            raise SpecError(f"hall {hall.id} is not open on {spec.days} days after {first}")
    return out


@dataclass
class Outcome:
    records: list[Record]  # in the order tickets were issued
    arrivals: list[Arrival]
    learned_min: dict[str, float]
    elapsed_s: float
    days: int
    round_trips: int = 0  # to Redis, each with a batch of script calls


async def simulate(p: Prepared, redis_url: str) -> Outcome:
    """Run the plan through the real use cases on the Redis at `redis_url`."""
    plan = plan_days(p)
    arrivals = [a for day in plan for a in day[0]]
    if p.record_to:
        write_csv(p.record_to, arrivals, p.hall.tz)
    # a batch of a thousand script calls may take seconds on a loaded machine
    redis = Redis.from_url(redis_url, decode_responses=True, socket_timeout=120)
    clock = ManualClock(plan[0][1][0][0] / 1000 if plan[0][1] else 0.0)
    started = time.perf_counter()
    try:
        await redis.ping()
        driver = await Driver.start(p.hall, redis, clock, p.spec.pace)
        try:
            engine = Engine(
                p.hall,
                driver,
                clock,
                random.Random(f"{p.spec.seed}-staff"),
                p.spec.handling,
                p.spec.means,
                p.spec.staff,
            )
            for day_arrivals, spans, counted in plan:
                engine.add_arrivals(day_arrivals, counted)
                for s, e in spans:
                    engine.add_pauses(s, e)
                await engine.run()
            elapsed = time.perf_counter() - started
            learned = {
                s.id: round(await driver.learned_handling_ms(s.id) / MINUTE_MS, 3)
                for s in p.hall.services
            }
        finally:
            await driver.cleanup()
    finally:
        await redis.aclose()
    return Outcome(
        list(engine.records.values()),
        arrivals,
        learned,
        elapsed,
        len(plan),
        driver.batch.round_trips,
    )


def report(p: Prepared, out: Outcome) -> dict[str, Any]:
    spec = p.spec
    bound = starvation_bound_min(p.hall)
    return {
        "hall": p.hall.id,
        "mode": "steady" if spec.steady else "days",
        "days": out.days,
        "seed": spec.seed,
        "handling": spec.handling.kind
        + (f":{spec.handling.cv:g}" if spec.handling.kind == "lognormal" else ""),
        "true_mean_min": spec.means,
        "learned_mean_min": out.learned_min,
        "target_min": spec.target_minutes,
        "starvation_bound_min": bound,
        "elapsed_s": round(out.elapsed_s, 2),
        "round_trips": out.round_trips,
        **summary(out.records, spec.target_minutes, bound),
    }


def run(args: argparse.Namespace, halls: dict[str, HallConfig], redis_url: str | None) -> int:
    try:
        prepared = prepare(args, halls)
        if redis_url:
            outcome = asyncio.run(simulate(prepared, redis_url))
        else:
            with PrivateRedis() as private:
                outcome = asyncio.run(simulate(prepared, private.url))
        out = report(prepared, outcome)
    except (SpecError, SimError, RedisProcError) as exc:
        print(f"queue-server simulate: {exc}", file=sys.stderr)
        return 2
    except (RedisError, OSError) as exc:
        print(f"queue-server simulate: Redis: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
    else:
        print(
            f"hall {args.hall}: {out['mode']}, {out['days']} day(s), seed {out['seed']}, "
            f"handling {out['handling']}, {out['all']['tickets']} tickets in {out['elapsed_s']} s"
        )
        print(table(out))
    return 0
