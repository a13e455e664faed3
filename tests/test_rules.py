"""Capacity, numbers and hours (issue 9) on a real Redis with a frozen clock: the quota
counters of the issue script, daily capacity and hourly quotas, the cut-off time, the number
format, and the hours of the hall and its windows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from queue_server.api.routes import HALLS
from queue_server.clock import ManualClock
from queue_server.config import HallConfig
from queue_server.store import keys
from queue_server.store.hall_store import HallStore, QuotaExceeded
from queue_server.store.quota import Quota
from queue_server.store.scripts import register
from tests.conftest import KIOSK, Api, W, demo_hall
from tests.test_config import broken


def hall(services: dict[str, dict[str, Any]] | None = None, **queue: Any) -> HallConfig:
    """The demo hall (fresh id) with changes to its services and [queue], validated again."""
    data = demo_hall(**queue).model_dump(mode="json")
    for s in data["services"]:
        s.update((services or {}).get(s["id"], {}))
    return HallConfig.model_validate(data)


@pytest.fixture
def store(redis: Redis, clock: ManualClock) -> HallStore:
    cfg = hall({"A": {"capacity": 3}, "B": {"prefix": "X", "width": 2, "capacity": None}})
    return HallStore(redis, register(redis), cfg, clock)


# -- the quota counters -------------------------------------------------------------------------


async def test_quotas_check_every_cap_before_counting_any(store: HallStore) -> None:
    h, day = store.hall.id, store.day()
    device = Quota("device:k1", 2, "device_limit", "this kiosk has taken 2 tickets today")
    person = Quota("id:d1", 5, "id_limit", "this ID has taken 5 tickets today")
    for _ in range(2):
        await store.issue("C", "normal", "kiosk", quotas=[person, device])
    with pytest.raises(QuotaExceeded) as err:
        await store.issue("C", "normal", "kiosk", quotas=[person, device])
    assert (err.value.code, err.value.quota) == ("device_limit", device)
    # nothing counted by the refused ticket: not the ID, not the service's numbers
    assert await store.redis.get(keys.day_counter(h, day, "id:d1")) == "2"
    assert await store.redis.get(keys.number_counter(h, day, "C")) == "2"
    assert 86_400 < await store.redis.ttl(keys.day_counter(h, day, "id:d1")) <= keys.DAY_TTL
    other = await store.issue("C", "normal", "kiosk", quotas=[person])
    assert other.number == "C003"


async def test_the_phone_limit_is_a_quota(store: HallStore) -> None:
    for _ in range(store.hall.queue.max_per_phone):
        await store.issue("C", "normal", "kiosk", phone="13800000000", phone_key="k0")
    with pytest.raises(QuotaExceeded) as err:
        await store.issue("A", "normal", "kiosk", phone="13800000000", phone_key="k0")
    assert err.value.code == "phone_limit"
    assert (await store.issue("A", "normal", "kiosk")).number == "A001"


async def test_capacity_and_number_width(store: HallStore) -> None:
    assert [(await store.issue("A", "normal", "kiosk")).number for _ in range(3)] == [
        "A001",
        "A002",
        "A003",
    ]
    with pytest.raises(QuotaExceeded) as err:
        await store.issue("A", "normal", "kiosk")
    assert err.value.code == "capacity_full"
    # B: prefix X, two digits, no capacity: X01 … X99, then full (never X100)
    numbers = [(await store.issue("B", "normal", "kiosk")).number for _ in range(99)]
    assert numbers[0] == "X01" and numbers[-1] == "X99"
    with pytest.raises(QuotaExceeded) as err:
        await store.issue("B", "normal", "kiosk")
    assert err.value.code == "capacity_full"
    assert (await store.status(store.find("X07"))) is not None  # found by its printed number


# -- the hall file ------------------------------------------------------------------------------


def test_config_refuses_what_cannot_be_numbered(tmp_path: Path) -> None:
    a = 'id = "A"\n'
    assert "services.A: capacity 1000 does not fit 3-digit numbers (at most 999" in broken(
        tmp_path, "capacity = 600", "capacity = 1000"
    )
    assert "number prefix 'B' is used twice" in broken(tmp_path, 'prefix = "A"', 'prefix = "B"')
    assert "services.A.width" in broken(tmp_path, "width = 3", "width = 9")
    assert "services.A.issue_until" in broken(tmp_path, a, a + 'issue_until = "25:00"\n')
    assert "hour '24' is not 0..23" in broken(tmp_path, a, a + 'hourly = { "24" = 5 }\n')


# -- over HTTP: a hall with lunch, a weekend, a holiday and a makeup day ---------------------

WEEKDAY = ["08:30-12:00", "13:30-17:30"]


def at(day: int, hour: int, minute: int = 0) -> float:
    """A moment of November 2026 in the hall's time zone (the 26th is a Thursday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


@pytest.fixture
def hall_cfg() -> HallConfig:
    data = hall(
        {"A": {"capacity": 4, "hourly": {"10": 3}}, "C": {"issue_until": "16:30"}},
        issue_outside_hours=False,
    ).model_dump(mode="json")
    data["hours"] = {
        **dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), WEEKDAY),
        "sat": ["09:00-12:00"],
        "closed_dates": ["2026-11-27"],  # Friday: a holiday
        "makeup_dates": {"2026-11-29": "mon"},  # Sunday works with Monday's hours (调休上班)
    }
    windows = {w["id"]: w for w in data["windows"]}
    windows["5"]["hours"] = dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), WEEKDAY)
    windows["6"]["hours"] = {  # lunch-time cover and Saturday duty
        **{key: ["12:00-13:30"] for key in ("mon", "tue", "wed", "thu", "fri")},
        "sat": ["09:00-12:00"],
    }
    return HallConfig.model_validate(data)


async def refused(api: Api, status: int, code: str, path: str, **kw: Any) -> str:
    """The request is refused with `code`, changes nothing, and says when it opens again."""
    store = api.app[HALLS][api.hall].store
    before = await store.seq()
    resp = await api.client.post(path, **kw)
    body = await resp.json()
    assert (resp.status, body["error"]) == (status, code), body
    assert body["message"] and "\n" not in body["message"]
    assert await store.seq() == before
    next_open: str = body["next_open"]
    return next_open


async def no_ticket(api: Api, service: str) -> tuple[str, str]:
    resp = await api.client.post(api.path("/tickets"), json={"service": service}, headers=KIOSK)
    body = await resp.json()
    assert resp.status == 409, body
    return body["error"], body["next_open"]


async def services(api: Api) -> dict[str, dict[str, Any]]:
    info = await (await api.client.get(api.path())).json()
    return {s["id"]: s for s in info["services"]}


async def test_issuing_hours_lunch_weekend_holiday_and_makeup_day(api: Api) -> None:
    api.clock.set(at(26, 12, 30))  # Thursday lunch
    assert await no_ticket(api, "A") == ("hall_closed", "2026-11-26T13:30:00+08:00")
    api.clock.set(at(26, 17, 45))  # Thursday evening; Friday is a holiday
    assert await no_ticket(api, "A") == ("hall_closed", "2026-11-28T09:00:00+08:00")
    api.clock.set(at(28, 12, 30))  # Saturday after its morning; Sunday is a makeup day
    assert await no_ticket(api, "B") == ("hall_closed", "2026-11-29T08:30:00+08:00")
    api.clock.set(at(29, 13, 0))  # the makeup Sunday keeps Monday's lunch
    assert await no_ticket(api, "B") == ("hall_closed", "2026-11-29T13:30:00+08:00")
    api.clock.set(at(29, 10, 0))
    assert (await api.issue("B"))["number"] == "B001"
    info = await (await api.client.get(api.path())).json()
    assert info["open_now"] and info["makeup_dates"] == {"2026-11-29": "mon"}


async def test_capacity_hourly_quota_and_cutoff(api: Api) -> None:
    api.clock.set(at(26, 10, 0))
    assert [(await api.issue("A"))["number"] for _ in range(3)] == ["A001", "A002", "A003"]
    assert await no_ticket(api, "A") == ("capacity_full", "2026-11-26T11:00:00+08:00")
    a = (await services(api))["A"]
    assert (a["full"], a["remaining"], a["next_open"]) == (True, 1, "2026-11-26T11:00:00+08:00")
    assert (await services(api))["B"]["full"] is False
    kiosk = await (await api.client.get(f"/kiosk/{api.hall}")).text()
    assert 'data-service="A" disabled' in kiosk and "号源已满 11:00 起可取号" in kiosk

    api.clock.set(at(26, 11, 0))  # a new hour: the hour's quota is new, the day's is not
    assert (await api.issue("A"))["number"] == "A004"
    # today's capacity is used up; Friday is a holiday: tickets again on Saturday
    assert await no_ticket(api, "A") == ("capacity_full", "2026-11-28T09:00:00+08:00")
    a = (await services(api))["A"]
    assert (a["full"], a["remaining"]) == (True, 0)
    page = await (await api.client.get(f"/hall/{api.hall}")).text()
    assert "今日号源已满 11-28 09:00 起可取号" in page
    english = await (await api.client.get(f"/hall/{api.hall}?lang=en")).text()
    assert "Fully booked today" in english

    api.clock.set(at(26, 16, 20))
    await api.issue("C")
    api.clock.set(at(26, 16, 30))  # the cut-off: the hall stays open until 17:30
    assert await no_ticket(api, "C") == ("capacity_full", "2026-11-28T09:00:00+08:00")
    assert (await api.issue("B"))["number"] == "B001"  # other services go on


async def test_window_hours_for_calling_and_for_the_eta(api: Api) -> None:
    api.clock.set(at(26, 10, 0))
    for _ in range(3):
        await api.issue("C")  # C: window 5 (weekday hours) and window 6 (lunch, Saturday)
    w6 = api.path("/windows/6/next")
    assert await refused(api, 409, "window_closed", w6, headers=W[6]) == (
        "2026-11-26T12:00:00+08:00"
    )
    info = await (await api.client.get(api.path())).json()
    windows = {w["id"]: w for w in info["windows"]}
    assert (windows["5"]["open_now"], windows["6"]["open_now"]) == (True, False)
    assert windows["6"]["hours"]["sat"] == ["09:00-12:00"] and windows["1"]["hours"] is None
    c_morning = (await services(api))["C"]["eta_minutes"]
    assert c_morning is not None

    api.clock.set(at(26, 12, 30))  # lunch: window 6 covers, window 5 is closed
    assert (await api.act(6, "next"))["ticket"]["number"] == "C001"
    w5 = api.path("/windows/5/next")
    assert await refused(api, 409, "window_closed", w5, headers=W[5]) == (
        "2026-11-26T13:30:00+08:00"
    )
    api.clock.set(at(26, 18, 0))  # evening: neither C window counts as serving
    assert (await services(api))["C"]["eta_minutes"] is None
    assert (await services(api))["A"]["eta_minutes"] is not None  # windows without own hours
    assert (await api.act(1, "next"))["ticket"] is None  # … still call after closing time

    api.clock.set(at(28, 10, 0))  # Saturday duty: window 6 may call (Thursday's are gone)
    assert (await api.act(6, "next"))["ticket"] is None
    api.clock.set(at(29, 10, 0))  # the makeup Sunday: window 6 keeps Monday's hours
    assert await refused(api, 409, "window_closed", w6, headers=W[6]) == (
        "2026-11-29T12:00:00+08:00"
    )
