"""Capacity, numbers and hours (issue 9) on a real Redis with a frozen clock: the quota
counters of the issue script, daily capacity and hourly quotas, the cut-off time, the number
format, and the hours of the hall and its windows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from queue_server.clock import ManualClock
from queue_server.config import ConfigError, HallConfig, load_hall
from queue_server.store import keys
from queue_server.store.hall_store import HallStore, QuotaExceeded
from queue_server.store.quota import Quota
from queue_server.store.scripts import register
from tests.conftest import DEMO, KIOSK, Api, demo_hall

DEMO_TEXT = DEMO.read_text(encoding="utf-8")


def hall(services: dict[str, dict[str, Any]] | None = None, **queue: Any) -> HallConfig:
    """The demo hall (fresh id) with changes to its services and [queue], validated again."""
    data = demo_hall(**queue).model_dump(mode="json")
    for s in data["services"]:
        s.update((services or {}).get(s["id"], {}))
    return HallConfig.model_validate(data)


@pytest.fixture
def store(redis: Redis, clock: ManualClock) -> HallStore:
    cfg = hall({"A": {"capacity": 3}, "B": {"prefix": "X", "width": 2}})
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


def broken(tmp_path: Path, old: str, new: str) -> str:
    assert old in DEMO_TEXT
    path = tmp_path / "hall.toml"
    path.write_text(DEMO_TEXT.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_hall(path)
    message = str(err.value)
    assert message.startswith(str(path)) and "\n" not in message
    return message


def test_config_refuses_what_cannot_be_numbered(tmp_path: Path) -> None:
    a = 'id = "A"\n'
    assert "services.A: capacity 1000 does not fit 3-digit numbers (at most 999" in broken(
        tmp_path, a, a + "capacity = 1000\n"
    )
    assert "number prefix 'B' is used twice" in broken(tmp_path, a, a + 'prefix = "B"\n')
    assert "services.A.width" in broken(tmp_path, a, a + "width = 9\n")
    assert "services.A.issue_until" in broken(tmp_path, a, a + 'issue_until = "25:00"\n')
    assert "hour '24' is not 0..23" in broken(tmp_path, a, a + 'hourly = { "24" = 5 }\n')


# -- over HTTP ----------------------------------------------------------------------------------


@pytest.fixture
def hall_cfg() -> HallConfig:
    return hall({"A": {"capacity": 2}})


async def test_capacity_full_answers_the_next_opening(api: Api) -> None:
    for _ in range(2):
        await api.issue("A")
    resp = await api.client.post(api.path("/tickets"), json={"service": "A"}, headers=KIOSK)
    body = await resp.json()
    assert resp.status == 409 and body["error"] == "capacity_full", body
    assert body["next_open"] == "2026-11-27T08:30:00+08:00"  # Friday's opening
    assert (await api.issue("B"))["number"] == "B001"
