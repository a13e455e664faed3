"""Pure domain logic, including property-based checks of the starvation bound."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queue_server.config import Hours
from queue_server.domain import eta
from queue_server.domain.hours import is_open
from queue_server.domain.masking import mask_phone
from queue_server.domain.numbering import service_day
from queue_server.domain.phones import PhoneError, canonical_phone
from queue_server.domain.priority import (
    MINUTE_MS,
    RuleError,
    Rules,
    Waiting,
    pick,
    starvation_bound_ms,
    validate,
)

SH = ZoneInfo("Asia/Shanghai")
SERVICES = ["A", "B", "C"]
CLASSES = ["normal", "green", "appointment"]

boosts_st = st.fixed_dictionaries(
    {c: st.integers(0, 120).map(lambda m: m * MINUTE_MS) for c in CLASSES}
)
offsets_st = st.dictionaries(
    st.sampled_from(["1", "2", "3", "4"]),
    st.dictionaries(
        st.sampled_from(SERVICES), st.integers(0, 60).map(lambda m: m * MINUTE_MS), min_size=1
    ),
    min_size=1,
)
# (minutes after the previous arrival, service, class) or a call at a window
arrival_st = st.tuples(st.integers(0, 30), st.sampled_from(SERVICES), st.sampled_from(CLASSES))
event_st = st.one_of(arrival_st, st.sampled_from(["1", "2", "3", "4"]))


@settings(max_examples=300, deadline=None)
@given(boosts=boosts_st, offsets=offsets_st, events=st.lists(event_st, max_size=80))
def test_no_ticket_is_overtaken_beyond_the_bound(
    boosts: dict[str, int], offsets: dict[str, dict[str, int]], events: list[object]
) -> None:
    rules = Rules(boosts, offsets)
    bound = rules.bound_ms()
    waiting: list[Waiting] = []
    now = 0
    for i, ev in enumerate(events):
        if isinstance(ev, tuple):
            gap, service, cls = ev
            now += gap * MINUTE_MS
            waiting.append(Waiting(f"t{i:03d}", service, cls, now))
            continue
        window = str(ev)
        chosen = pick(waiting, rules, window)
        if chosen is None:
            assert all(t.service not in offsets.get(window, {}) for t in waiting)
            continue
        for t in waiting:
            if t.service in offsets.get(window, {}):
                # nobody the window could have served joined more than `bound` before `chosen`
                assert chosen.base_ms - t.base_ms <= bound
        waiting.remove(chosen)


def test_bound_is_tight() -> None:
    """The worst case is reached: a green ticket for a window's own service overtakes a normal
    one for its secondary service that joined boost + offset − 1 ms earlier."""
    rules = Rules({"normal": 0, "green": 30 * MINUTE_MS}, {"1": {"A": 0, "B": 15 * MINUTE_MS}})
    t = Waiting("t", "B", "normal", 0)
    x = Waiting("x", "A", "green", 45 * MINUTE_MS - 1)
    assert pick([t, x], rules, "1") == x
    assert x.base_ms - t.base_ms <= rules.bound_ms() == 45 * MINUTE_MS
    assert pick([t, Waiting("y", "A", "green", 45 * MINUTE_MS)], rules, "1") == t


def test_green_overtakes_only_within_its_boost() -> None:
    rules = Rules({"normal": 0, "green": 30 * MINUTE_MS}, {"1": {"A": 0}})
    old = Waiting("n", "A", "normal", 0)
    young = Waiting("g", "A", "green", 29 * MINUTE_MS)
    assert pick([old, young], rules, "1") == young
    late = Waiting("g2", "A", "green", 31 * MINUTE_MS)
    assert pick([old, late], rules, "1") == old


def test_secondary_service_waits_for_its_offset() -> None:
    rules = Rules({"normal": 0}, {"2": {"A": 0, "B": 10 * MINUTE_MS}})
    a = Waiting("a", "A", "normal", 5 * MINUTE_MS)
    b = Waiting("b", "B", "normal", 0)
    assert pick([a, b], rules, "2") == a  # B is older by 5 min, less than the 10 min offset
    b_old = Waiting("b0", "B", "normal", -6 * MINUTE_MS)
    assert pick([a, b_old], rules, "2") == b_old


def test_bound_and_validation() -> None:
    offsets = {"1": {"A": 0, "B": 15 * MINUTE_MS}, "2": {"B": 0}}
    assert starvation_bound_ms({"normal": 0, "green": 30 * MINUTE_MS}, offsets) == 45 * MINUTE_MS
    rules = Rules({"normal": 0, "green": 30 * MINUTE_MS}, offsets)
    assert validate(rules, SERVICES, 45 * MINUTE_MS) == 45 * MINUTE_MS
    with pytest.raises(RuleError, match="over the hall's limit of 40 min"):
        validate(rules, SERVICES, 40 * MINUTE_MS)
    with pytest.raises(RuleError, match="unknown service 'Z'"):
        validate(Rules({"normal": 0}, {"1": {"Z": 0}}), SERVICES, 10**9)
    with pytest.raises(RuleError, match="serves no service"):
        validate(Rules({"normal": 0}, {"1": {}}), SERVICES, 10**9)


def test_service_day_follows_the_hall_time_zone() -> None:
    # 23:30 UTC on the 25th is already the 26th in Shanghai: numbering restarts there.
    t = datetime(2026, 11, 25, 23, 30, tzinfo=ZoneInfo("UTC")).timestamp()
    assert service_day(t, SH) == "20261126"
    assert service_day(t, ZoneInfo("UTC")) == "20261125"


def test_eta_capacity_and_wait() -> None:
    offsets = {"1": {"A": 0}, "2": {"A": 0, "B": 600_000}, "6": {"A": 0, "B": 0, "C": 0}}
    assert eta.capacity("A", offsets, {"1", "2", "6"}) == pytest.approx(1 + 1 + 1 / 3)
    assert eta.capacity("B", offsets, {"2", "6"}) == pytest.approx(0.25 + 1 / 3)
    assert eta.capacity("C", offsets, {"1"}) == 0
    assert eta.wait_minutes(6, 5 * MINUTE_MS, 2.0) == 15
    assert eta.wait_minutes(0, 5 * MINUTE_MS, 2.0) == 0
    assert eta.wait_minutes(3, 5 * MINUTE_MS, 0) is None


def test_masking() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert "12345" not in mask_phone("+8613812345678")


def test_opening_hours() -> None:
    hours = Hours(
        thu=["08:30-12:00", "13:30-17:30"],
        closed_dates=[date(2026, 12, 3)],
        extra_dates={date(2026, 11, 29): ["09:00-12:00"]},
    )

    def at(y: int, mo: int, d: int, h: int, mi: int) -> float:
        return datetime(y, mo, d, h, mi, tzinfo=SH).timestamp()

    assert is_open(hours, at(2026, 11, 26, 10, 0), "Asia/Shanghai")
    assert not is_open(hours, at(2026, 11, 26, 12, 30), "Asia/Shanghai")  # lunch
    assert not is_open(hours, at(2026, 12, 3, 10, 0), "Asia/Shanghai")  # closed date
    assert is_open(hours, at(2026, 11, 29, 10, 0), "Asia/Shanghai")  # makeup Sunday


def test_phone_numbers_have_one_form() -> None:
    forms = [
        "13912345678",
        "+8613912345678",
        "008613912345678",
        "8613912345678",
        "139-1234-5678",
        "139 1234 5678",
    ]
    assert {canonical_phone(f) for f in forms} == {"13912345678"}
    with pytest.raises(PhoneError):
        canonical_phone("+4930123456")  # not a mainland mobile number
