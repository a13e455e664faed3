"""Each Lua script against a real Redis."""

from __future__ import annotations

import random

import pytest
from redis.asyncio import Redis

from queue_server.clock import ManualClock
from queue_server.config import HallConfig
from queue_server.domain.eta import EWMA_ALPHA
from queue_server.domain.priority import MINUTE_MS, Waiting, pick
from queue_server.store import keys
from queue_server.store.hall_store import HallStore, StoreError
from queue_server.store.scripts import register
from tests.conftest import demo_hall


@pytest.fixture
def store(redis: Redis, clock: ManualClock, hall_cfg: HallConfig) -> HallStore:
    return HallStore(redis, register(redis), hall_cfg, clock)


async def refused(coro: object, code: str, store: HallStore) -> None:
    """The change is refused with `code` and changes nothing."""
    before = await store.seq()
    with pytest.raises(StoreError) as err:
        await coro  # type: ignore[misc]
    assert err.value.code == code, err.value.message
    assert await store.seq() == before


async def test_lua_picks_as_the_policy_does(store: HallStore, clock: ManualClock) -> None:
    """Random arrivals and calls: the script calls exactly the ticket the pure policy picks."""
    await store.seed()
    rng = random.Random(7)
    rules, _ = await store.rules()
    windows = [w.id for w in store.hall.windows]
    waiting: list[Waiting] = []
    for step in range(400):
        if rng.random() < 0.55:
            clock.advance(rng.choice([0, 1, 30, 240]))
            service = rng.choice(["A", "B", "C"])
            cls = rng.choice(["normal", "normal", "green", "appointment"])
            issued, _ = await store.issue(service, cls, "kiosk")
            waiting.append(Waiting(issued.ticket, service, cls, store.now_ms()))
            continue
        window = rng.choice(windows)
        expected = pick(waiting, rules, window)
        called = await store.call(window)
        assert called.ticket == (expected.id if expected else ""), f"step {step} at {window}"
        if expected:
            waiting.remove(expected)


async def test_numbers_restart_each_day_and_stale_tickets_are_dropped(
    store: HallStore, clock: ManualClock
) -> None:
    await store.seed()
    first, _ = await store.issue("A", "normal", "kiosk")
    second, _ = await store.issue("A", "normal", "kiosk")
    assert (first.number, second.number) == ("A001", "A002")
    clock.advance(86_400)
    fresh, _ = await store.issue("A", "normal", "kiosk")
    assert fresh.number == "A001" and fresh.ticket != first.ticket
    assert fresh.ahead == 0  # yesterday's leftovers are not ahead of it
    called = await store.call("1")
    assert called.ticket == fresh.ticket
    assert (await store.ticket(first.ticket))["state"] == "cancelled"


async def test_illegal_transitions_change_nothing(store: HallStore) -> None:
    await store.seed()
    await refused(store.step("1", "finish"), "no_current", store)
    await refused(store.recall("1"), "no_current", store)
    await refused(store.step("1", "start"), "no_current", store)
    t, _ = await store.issue("A", "normal", "kiosk")
    await store.call("1")
    await store.step("1", "start")
    await refused(store.step("1", "start"), "illegal_transition", store)
    await refused(store.step("1", "skip"), "illegal_transition", store)
    await refused(store.recall("1"), "illegal_transition", store)
    await refused(store.call("2", "call", t.ticket), "illegal_transition", store)
    await refused(store.call("2", "call", "20261126-Z999"), "unknown_ticket", store)
    await refused(store.step("1", "transfer", "A"), "same_service", store)
    await refused(store.call("1", "unpark", t.ticket), "illegal_transition", store)
    await store.step("1", "pause")
    await refused(store.step("1", "pause"), "illegal_transition", store)
    await refused(store.call("1"), "window_paused", store)
    await store.step("1", "resume")
    done = await store.step("1", "finish")
    assert done.ticket == t.ticket


async def test_recall_limit_then_no_show_then_rejoin(store: HallStore, clock: ManualClock) -> None:
    await store.seed()  # recall_limit 2, rejoin within 30 min
    t, secret = await store.issue("A", "normal", "kiosk")
    other, _ = await store.issue("A", "normal", "kiosk")
    first = await store.call("1")
    r1, r2 = await store.recall("1"), await store.recall("1")
    assert (r1.recalls, r2.recalls, r1.missed) == (1, 2, False)
    assert first.call_seq < r1.call_seq < r2.call_seq
    r3 = await store.recall("1")
    assert r3.missed and r3.ticket == t.ticket
    assert (await store.ticket(t.ticket))["state"] == "missed"
    clock.advance(60)
    with pytest.raises(StoreError, match="secret"):
        await store.rejoin(t.ticket, "wrong-secret-123")
    _, ahead = await store.rejoin(t.ticket, secret)
    assert ahead == 1  # behind the ticket that kept waiting
    assert (await store.call("1")).ticket == other.ticket
    assert (await store.call("1")).ticket == t.ticket
    await store.step("1", "skip")
    clock.advance(31 * 60)
    await refused(store.rejoin(t.ticket, secret), "rejoin_expired", store)


async def test_transfer_keeps_the_place(store: HallStore, clock: ManualClock) -> None:
    await store.seed()
    a, _ = await store.issue("A", "normal", "kiosk")
    clock.advance(120)
    b, _ = await store.issue("B", "normal", "kiosk")
    await store.call("1")
    moved = await store.step("1", "transfer", "B")
    assert moved.ticket == a.ticket
    fields = await store.ticket(a.ticket)
    assert (fields["state"], fields["service"], fields["from_service"]) == ("transferred", "B", "A")
    assert (await store.call("4")).ticket == a.ticket  # older than b: it goes first at B
    assert (await store.call("4")).ticket == b.ticket


async def test_park_and_unpark(store: HallStore) -> None:
    await store.seed()
    t, _ = await store.issue("A", "normal", "kiosk")
    u, _ = await store.issue("A", "normal", "kiosk")
    await store.call("1")
    await store.step("1", "park")
    assert (await store.call("1")).ticket == u.ticket
    back = await store.call("1", "unpark", t.ticket)
    assert back.ticket == t.ticket and back.closed == u.ticket
    assert (await store.ticket(u.ticket))["state"] == "done"
    await refused(store.call("2", "unpark", t.ticket), "illegal_transition", store)


async def test_cancel(store: HallStore) -> None:
    await store.seed()
    t, secret = await store.issue("A", "normal", "kiosk")
    await store.cancel(t.ticket, secret)
    await refused(store.cancel(t.ticket, secret), "illegal_transition", store)
    assert (await store.call("1")).ticket == ""


async def test_phone_limit(store: HallStore) -> None:
    await store.seed()
    for _ in range(store.hall.queue.max_per_phone):
        await store.issue("A", "normal", "kiosk", phone="13800000000")
    await refused(store.issue("B", "normal", "kiosk", phone="13800000000"), "phone_limit", store)
    other, _ = await store.issue("B", "normal", "kiosk", phone="13900000000")
    assert other.number == "B001"  # the refused one took no number


async def test_near_notices_once_per_ticket(store: HallStore) -> None:
    await store.seed()  # notify_ahead 3
    ids = [
        (await store.issue("A", "normal", "kiosk", phone=f"1380000000{i}"))[0].ticket
        for i in range(6)
    ]
    first = await store.call("1")
    # tickets 1..3 were within 3 of the front when issued; ticket 4 is now 3 ahead... of 5th
    assert [(n.ticket, n.ahead) for n in first.near] == [(ids[4], 3)]
    assert first.near[0].phone == "13800000004"
    second = await store.call("1")
    assert [n.ticket for n in second.near] == [ids[5]]
    third = await store.call("1")
    assert third.near == []


async def test_events_stream_and_handle_time(store: HallStore, clock: ManualClock) -> None:
    await store.seed()
    t, _ = await store.issue("C", "normal", "kiosk")
    await store.call("5")
    await store.step("5", "start")
    clock.advance(600)
    await store.step("5", "finish")
    entries: list[tuple[str, dict[str, str]]] = await store.redis.xrange(  # type: ignore[assignment]
        keys.events(store.hall.id)
    )
    types = [e[1]["type"] for e in entries]
    assert types == ["seed", "issue", "call", "start", "finish"]
    finish = entries[-1][1]
    assert (finish["ticket"], finish["window"], finish["service"]) == (t.ticket, "5", "C")
    assert int(finish["seq"]) == await store.seq()
    handle = await store.redis.hget(keys.handle_times(store.hall.id), "C")
    # the config's 15 minutes is the prior; one 10-minute service moves it by the EWMA weight
    assert handle == str(round(15 * MINUTE_MS + EWMA_ALPHA * (600_000 - 15 * MINUTE_MS)))


async def test_live_rules_survive_restart_but_a_changed_file_wins(
    redis: Redis, clock: ManualClock
) -> None:
    cfg = demo_hall()
    store = HallStore(redis, register(redis), cfg, clock)
    assert await store.seed()
    _, other = await store.rules()
    version = int(other["version"])
    await store.set_rules({"boost:normal": 0, "boost:green": 5 * MINUTE_MS}, {}, "a", version)
    with pytest.raises(StoreError) as err:  # a second manager who read the same version
        await store.set_rules({"boost:normal": 0}, {}, "b", version)
    assert err.value.code == "rules_conflict"
    again = HallStore(redis, register(redis), cfg, clock)
    assert not await again.seed()
    assert (await again.rules())[0].boosts["green"] == 5 * MINUTE_MS
    changed = cfg.model_copy(update={"queue": cfg.queue.model_copy(update={"recall_limit": 1})})
    third = HallStore(redis, register(redis), changed, clock)
    assert await third.seed()
    assert (await third.rules())[0].boosts["green"] == 30 * MINUTE_MS


async def test_a_long_tail_of_yesterdays_tickets_is_never_called(
    store: HallStore, clock: ManualClock
) -> None:
    await store.seed()
    for _ in range(130):
        await store.issue("A", "normal", "kiosk")
    clock.advance(86_400)
    today, _ = await store.issue("A", "normal", "kiosk")
    assert (await store.call("1")).ticket == today.ticket
    assert (await store.call("1")).ticket == ""


async def test_handling_times_ignore_tickets_left_open(
    store: HallStore, clock: ManualClock
) -> None:
    await store.seed()  # A's prior: 6 minutes
    await store.issue("A", "normal", "kiosk")
    await store.call("1")
    clock.advance(15 * 3600)  # left open overnight
    await store.step("1", "finish")
    handle = await store.redis.hget(keys.handle_times(store.hall.id), "A")
    assert handle == str(6 * MINUTE_MS)


async def test_an_expired_record_at_a_window_reads_as_none(store: HallStore) -> None:
    await store.seed()
    t, _ = await store.issue("A", "normal", "kiosk")
    await store.call("1")
    await store.redis.delete(keys.ticket(store.hall.id, t.ticket))  # as its TTL would
    snap = await store.snapshot()
    assert "current" not in next(w for w in snap["windows"] if w["id"] == "1")
    await refused(store.step("1", "finish"), "no_current", store)
    assert (await store.call("1")).ticket == ""
