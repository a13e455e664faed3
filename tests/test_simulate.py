"""The simulator: through the real use cases, Lua scripts and Redis, it is the queue it claims.

Erlang C is computed here from its formula. The long-run agreement (2%) is checked on the
simulator's own arrival and handling generators fed to the ideal FIFO queue, and a shorter run
through the real server must give exactly the waits of that ideal queue: together, the
simulator's mean wait over long runs is Erlang C's.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from queue_server.cli import main, parser
from queue_server.config import HallConfig
from queue_server.simulate.arrivals import Arrival, generate, read_csv, write_csv
from queue_server.simulate.command import prepare, report, simulate
from queue_server.simulate.halls import one_service
from queue_server.simulate.spec import HandlingModel, parse_rate
from tests.conftest import DEMO
from tests.services import RedisServer


def erlang_c_wait(c: int, arrivals_per_min: float, mean_min: float) -> float:
    """Mean wait of an M/M/c FIFO queue (Erlang C)."""
    a = arrivals_per_min * mean_min
    top = a**c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait * mean_min / (c - a)


def fifo_waits(arrivals: list[Arrival], windows: int) -> list[int]:
    """Waits (ms) in the ideal FIFO queue with `windows` servers."""
    free = [0] * windows
    out = []
    for a in arrivals:
        start = max(a.t_ms, heapq.heappop(free))
        assert a.handling_ms is not None
        heapq.heappush(free, start + a.handling_ms)
        out.append(start - a.t_ms)
    return out


def sim_args(*argv: str) -> Any:
    return parser().parse_args(["simulate", *argv])


def test_the_generators_over_a_long_run_agree_with_erlang_c_within_2_percent() -> None:
    # One window, load 0.4, 500,000 tickets: the mean wait's standard error is about 0.7%.
    rates = {"A": parse_rate("A=24")[1]}
    hours = 500_000 / 24
    arrivals = generate(
        random.Random(11),
        rates,
        [(0, round(hours * 3_600_000))],
        ZoneInfo("UTC"),
        HandlingModel.parse("exp"),
        {"A": 1.0},
        {},
    )
    waits = fifo_waits(arrivals, 1)
    mean = sum(waits) / len(waits) / 60_000
    assert len(arrivals) > 490_000
    assert mean == pytest.approx(erlang_c_wait(1, 0.4, 1.0), rel=0.02)


async def test_a_steady_run_through_the_server_is_the_ideal_fifo_queue(
    redis_server: RedisServer,
) -> None:
    # 3 windows, load 0.7, 3-second exponential handling, two independent days of 18 minutes
    # after a 2-minute warm-up
    hall = one_service(3, 0.05)
    args = sim_args(
        "--rate", "A=2520", "--steady", "--minutes", "18", "--warmup", "2", "--days", "2"
    )
    p = prepare(args, {hall.id: hall})
    out = await simulate(p, redis_server.url)
    assert len(out.records) == len(out.arrivals) > 1400
    assert {r.day for r in out.records} == {0, 1}
    assert out.round_trips < len(out.records) / 100  # batched, not a round trip a call
    waits = [r.called_ms - r.issued_ms for r in out.records if r.called_ms is not None]
    ideal = fifo_waits(out.arrivals, 3)
    assert waits == ideal  # every ticket, to the millisecond
    assert max(ideal) > 0  # and the queue did form
    counted = [w for w, r in zip(ideal, out.records, strict=True) if r.counted]
    figures = report(p, out)["services"]["A"]
    assert figures["tickets"] == len(counted) < len(out.records)  # the warm-ups are left out
    assert figures["mean_wait_min"] == pytest.approx(sum(counted) / len(counted) / 60_000, abs=5e-4)
    # the standard error from the two days: half the gap between the days' means
    by_day = [
        [w for w, r in zip(ideal, out.records, strict=True) if r.counted and r.day == d]
        for d in (0, 1)
    ]
    means = [sum(d) / len(d) / 60_000 for d in by_day]
    assert figures["mean_wait_se_min"] == pytest.approx(abs(means[0] - means[1]) / 2, rel=0.3)


async def test_recorded_arrivals_round_trip(redis_server: RedisServer, tmp_path: Path) -> None:
    csv_path = tmp_path / "arrivals.csv"
    demo: dict[str, HallConfig] = {}
    from queue_server.config import load_hall

    cfg = load_hall(DEMO)
    demo[cfg.id] = cfg
    common = [
        "--start",
        "2026-12-05",
        "--share",
        "green=0.1",
        "--no-show",
        "0.05",
        "--late",
        "0.1",
        "--pauses",
        "1:5",
        "--seed",
        "3",
    ]  # Saturday: 09:00-12:00
    first = prepare(
        sim_args(
            "--rate",
            "A=30",
            "--rate",
            "B=20",
            "--rate",
            "C=6",
            "--record-arrivals",
            str(csv_path),
            *common,
        ),
        demo,
    )
    one = await simulate(first, redis_server.url)
    assert read_csv(csv_path) == one.arrivals
    again = prepare(sim_args("--arrivals", str(csv_path), "--handling", "recorded", *common), demo)
    two = await simulate(again, redis_server.url)
    a, b = report(first, one), report(again, two)
    for r in (a, b):
        del r["hall"], r["elapsed_s"], r["handling"]
    assert a == b
    assert a["services"]["A"]["classes"]["green"]["tickets"] > 0
    assert a["all"]["not_called"] == 0


def test_csv_keeps_times_to_the_millisecond(tmp_path: Path) -> None:
    tz = ZoneInfo("Asia/Shanghai")
    rows = [Arrival(1_764_466_200_123, "A", "normal", 361_001), Arrival(1_764_466_201_000, "B")]
    write_csv(tmp_path / "a.csv", rows, tz)
    assert read_csv(tmp_path / "a.csv") == rows


def test_the_command_prints_json_per_service(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "simulate",
            "--config",
            str(DEMO),
            "--rate",
            "A=20",
            "--rate",
            "B=10",
            "--start",
            "2026-12-05",
            "--seed",
            "2",
            "--json",
        ]
    )  # its own private Redis
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in (
        "tickets",
        "mean_wait_min",
        "p90_wait_min",
        "eta_mae_min",
        "eta_oracle_mae_min",
        "eta_late_share",
        "range_coverage",
    ):
        assert key in out["services"]["A"]
    assert out["services"]["A"]["tickets"] > 20


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--rate", "A=fast"], "rate 'A=fast': not a number"),
        (["--rate", "Z=10"], "has no service Z"),
        (["--rate", "A=10", "--handling", "gamma"], "expected exp, lognormal:CV or recorded"),
        (["--rate", "A=10", "--handling", "recorded"], "needs --arrivals"),
        (["--rate", "A=10", "--steady", "--minutes", "2000"], "fit in one service day"),
        (["--arrivals", "/nonexistent.csv"], "cannot read arrivals"),
    ],
)
def test_bad_options_get_one_line(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--config", str(DEMO), *argv]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_the_hall_file_may_hold_the_rates(tmp_path: Path) -> None:
    from queue_server.config import ConfigError, load_hall

    text = DEMO.read_text(encoding="utf-8")
    path = tmp_path / "hall.toml"
    path.write_text(text + '\n[simulate.rates]\nA = 20\nB = { "9" = 30, "10" = 12.5 }\n')
    cfg = load_hall(path)
    p = prepare(sim_args("--rate", "C=4"), {cfg.id: cfg})
    assert p.spec.rates["A"] == dict.fromkeys(range(24), 20.0)
    assert p.spec.rates["B"] == {9: 30.0, 10: 12.5}
    assert p.spec.rates["C"][12] == 4.0
    assert cfg.fingerprint() == load_hall(DEMO).fingerprint()  # not a rule: no reseeding
    path.write_text(text + "\n[simulate.rates]\nZ = 20\n")
    with pytest.raises(ConfigError, match=r"simulate\.rates: unknown service 'Z'"):
        load_hall(path)


async def test_the_simulator_s_light_live_read_agrees_with_a_full_snapshot(
    redis_server: RedisServer,
) -> None:
    from datetime import datetime

    from redis.asyncio import Redis

    from queue_server.clock import ManualClock
    from queue_server.config import load_hall
    from queue_server.live import LiveCache
    from queue_server.simulate.driver import Driver
    from queue_server.store.hall_store import HallStore
    from queue_server.store.scripts import register

    demo = load_hall(DEMO)
    cfg = demo.model_copy(update={"hall": demo.hall.model_copy(update={"id": "light"})})
    monday = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    clock = ManualClock(monday)
    redis = Redis.from_url(redis_server.url, decode_responses=True)
    try:
        driver = await Driver.start(cfg, redis, clock)
        called: list[str] = []
        for service in "AABBCABABA":
            clock.advance(20)
            await driver.issue(service, "normal", lambda _: None)
        for window in ("1", "2", "4", "5"):
            await driver.next(window, called.append)
        await driver.pause("3")
        clock.advance(900)
        await driver.next("1", called.append)  # finishes A001 after 15 minutes: learned
        await driver.refresh_live()
        await driver.flush()
        assert [c.split("-")[1] for c in called] == ["A001", "A002", "B001", "C001", "A003"]
        full = LiveCache(cfg, clock)
        full.refresh(await HallStore(redis, register(redis), cfg, clock).snapshot(0))
        fresh = LiveCache(cfg, clock)
        live = driver.hall.live
        assert live.serving == full.serving
        for s in "ABC":
            light = [live.estimate(s, n) for n in range(12)]
            assert light == [full.estimate(s, n) for n in range(12)]
        # and what they agree on is the hall as it is now, not the hall file
        assert [live.estimate("A", n) for n in range(12)] != [
            fresh.estimate("A", n) for n in range(12)
        ]
        await driver.cleanup()
    finally:
        await redis.aclose()
