"""The wait estimator (pure): learning handling times, the estimate, its range."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queue_server.domain import eta
from queue_server.domain.priority import MINUTE_MS

handling_st = st.builds(
    lambda mean, cv, n: eta.Handling(mean * MINUTE_MS, (mean * MINUTE_MS) ** 2 * (1 + cv * cv), n),
    st.floats(0.2, 60),
    st.floats(0.1, 3),
    st.floats(1, 10_000),
)


@settings(max_examples=300, deadline=None)
@given(
    h=handling_st,
    cap=st.floats(0.25, 30),
    free=st.integers(0, 5),
    ahead=st.integers(0, 300),
    close=st.none() | st.floats(0, 600),
)
def test_the_eta_never_decreases_when_more_are_ahead(
    h: eta.Handling, cap: float, free: int, ahead: int, close: float | None
) -> None:
    now = eta.estimate(ahead, h, cap, free, close)
    more = eta.estimate(ahead + 1, h, cap, free, close)
    assert now is not None and more is not None
    assert more.minutes >= now.minutes
    assert more.high >= now.high
    assert now.low <= now.minutes <= now.high
    if close is not None:
        assert now.high <= math.ceil(close)
        assert more.after_close >= now.after_close


@settings(max_examples=200, deadline=None)
@given(h=handling_st, cap=st.floats(0.25, 30), free=st.integers(1, 5))
def test_no_one_ahead_and_a_free_window_is_zero(h: eta.Handling, cap: float, free: int) -> None:
    assert eta.estimate(0, h, cap, free) == eta.Estimate(0, 0, 0)
    assert eta.estimate(free - 1, h, cap, free) == eta.Estimate(0, 0, 0)


def test_no_open_window_means_no_estimate() -> None:
    assert eta.estimate(3, eta.Handling.prior(5 * MINUTE_MS), 0.0) is None


def test_one_busy_window_exponential_handling_is_the_exponential_distribution() -> None:
    # 6-minute exponential handling at one busy window: the wait is Exp(mean 6), its 11%..89%
    # range 0.7..13.2 min. Its median (4.2) would leave 7% waiting past 9.2 min + 5; the number
    # shown is raised to the 93% quantile (16.0) − 5 = 11.
    est = eta.estimate(0, eta.Handling.exact(6 * MINUTE_MS, 1.0), 1.0)
    assert est == eta.Estimate(11, 0, 14)
    # all busy with 9 ahead at 10 windows: 10 gaps of 0.6 min, Gamma(10): median ≈ 5.8
    est = eta.estimate(9, eta.Handling.exact(6 * MINUTE_MS, 1.0), 10.0)
    assert est is not None and est.minutes == 6 and est.low == 3 and est.high == 9


def test_a_long_queue_is_told_more_than_its_median() -> None:
    # 40 gaps of 2 min: median ≈ 80, but 7% would wait past 80 + 5; the number shown is raised
    h = eta.Handling.exact(6 * MINUTE_MS, 1.0)
    mean, _ = eta.wait_distribution(39, h, 3.0)
    est = eta.estimate(39, h, 3.0)
    assert est is not None
    assert mean == 80 and est.minutes > 80 + 1


def test_closing_time_bounds_the_range_and_flags_not_today() -> None:
    h = eta.Handling.exact(6 * MINUTE_MS, 1.0)
    est = eta.estimate(30, h, 1.0, close_in_minutes=59.5)
    assert est == eta.Estimate(60, 60, 60, after_close=True)
    # due before closing: the range (10–40 without it) is cut there
    assert eta.estimate(3, h, 1.0, close_in_minutes=38.5) == eta.Estimate(38, 10, 39)
    est = eta.estimate(2, h, 3.0, close_in_minutes=60)
    assert est is not None and not est.after_close


def test_regular_handling_narrows_the_range() -> None:
    wide = eta.estimate(20, eta.Handling.exact(6 * MINUTE_MS, 1.0), 10.0)
    narrow = eta.estimate(20, eta.Handling.exact(6 * MINUTE_MS, 0.3), 10.0)
    assert wide is not None and narrow is not None
    assert narrow.high - narrow.low < wide.high - wide.low


def _learn(samples: list[float], prior: float) -> eta.Handling:
    h = eta.Handling.prior(prior)
    for x in samples:
        h = eta.learn_stats(h, x)
    return h


def test_exponential_handling_is_learned_without_the_old_low_bias() -> None:
    rng = random.Random(3)
    samples = [rng.expovariate(1 / 360_000) for _ in range(20_000)]
    # average the learned mean over the last half (it follows about the last 400)
    means, h = [], eta.Handling.prior(300_000)
    old = 300_000.0
    olds = []
    for i, x in enumerate(samples):
        h = eta.learn_stats(h, x)
        if old * 4 >= x:  # the old rule: EWMA 0.2, times over 4x the average dropped
            old += 0.2 * (x - old)
        if i >= 10_000:
            means.append(h.mean_ms)
            olds.append(old)
    assert abs(sum(means) / len(means) / 360_000 - 1) < 0.03
    assert sum(olds) / len(olds) / 360_000 < 0.9  # what the issue measured
    assert abs(h.cv - 1) < 0.25


def test_lognormal_spread_is_learned_and_a_ticket_left_open_is_ignored() -> None:
    rng = random.Random(5)
    sigma = math.sqrt(math.log(1.25))
    samples = [rng.lognormvariate(math.log(360_000) - sigma**2 / 2, sigma) for _ in range(5000)]
    h = _learn(samples, 360_000)
    assert abs(h.cv - 0.5) < 0.12
    left_open = eta.learn_stats(h, 16 * 3_600_000)
    assert left_open == h
    long_one = eta.learn_stats(h, 10 * h.mean_ms)  # counted, but only up to CAP x the mean
    assert long_one.mean_ms == h.mean_ms + h.weight * (eta.CAP - 1) * h.mean_ms


def test_the_prior_counts_as_a_few_tickets() -> None:
    h = eta.learn_stats(eta.Handling.prior(600_000), 300_000)
    assert h.mean_ms == 600_000 + (300_000 - 600_000) / (eta.PRIOR_WEIGHT + 1)


def test_a_window_s_pace_is_relative_to_the_hall_and_drawn_toward_it() -> None:
    # windows 1 and 2 at 6 minutes a ticket, window 3 at 12: it served half as many
    today = {"1": (100, 100 * 6 * MINUTE_MS), "2": (100, 100 * 6 * MINUTE_MS)}
    today["3"] = (50, 50 * 12 * MINUTE_MS)
    pace = eta.window_pace(today)
    hall = (250 * 6 + 50 * 6) / 250  # minutes, ticket-weighted: 7.2
    assert pace["1"] == pytest.approx(hall * 105 / (600 + 5 * hall))
    assert pace["3"] == pytest.approx(hall * 55 / (600 + 5 * hall))
    assert 0.6 < pace["3"] < 0.65 and 1.15 < pace["1"] < 1.2
    assert sum(pace.values()) == pytest.approx(3, rel=0.03)  # all open: as without paces
    offsets = {w: {"A": 0} for w in today}
    assert eta.capacity("A", offsets, {"1", "2", "3"}, pace) == pytest.approx(sum(pace.values()))
    # the slow window paused: fewer windows' worth than two of three windows would say
    assert eta.capacity("A", offsets, {"1", "2"}, pace) > 2.3
    # a window that served two long ones is not taken for a slow one
    few = eta.window_pace({**today, "4": (2, 2 * 30 * MINUTE_MS)})
    assert few["4"] > 0.4
    assert eta.window_pace({}) == {} and eta.window_pace({"1": (0, 0)}) == {}
