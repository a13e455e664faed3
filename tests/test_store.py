"""Each Lua script against a real Redis."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from queue_server.clock import ManualClock
from queue_server.config import HallConfig
from queue_server.domain import eta
from queue_server.domain.priority import MINUTE_MS, Rules, Waiting, pick
from queue_server.store import keys
from queue_server.store.connect import connect
from queue_server.store.hall_store import HallStore, StoreError
from queue_server.store.scripts import register
from tests.conftest import T0, demo_hall, wide_numbers
from tests.services import RedisServer


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


async def record(store: HallStore, tid: str) -> dict[str, Any]:
    found = await store.status(tid)
    assert found is not None, tid
    return found[0]


async def test_lua_picks_as_the_policy_does(store: HallStore, clock: ManualClock) -> None:
    """Random arrivals and calls: the script calls exactly the ticket the pure policy picks
    (places in µs, strictly increasing, as the script gives them)."""
    await store.seed()
    rng = random.Random(7)
    rules, _ = await store.rules()
    us = Rules(
        {c: b * 1000 for c, b in rules.boosts.items()},
        {w: {s: o * 1000 for s, o in offs.items()} for w, offs in rules.offsets.items()},
    )
    windows = [w.id for w in store.hall.windows]
    waiting: list[Waiting] = []
    last = 0
    for step in range(400):
        if rng.random() < 0.55:
            clock.advance(rng.choice([0, 0, 1, 30, 240]))
            service = rng.choice(["A", "B", "C"])
            cls = rng.choice(["normal", "normal", "green", "appointment"])
            issued = await store.issue(service, cls, "kiosk")
            last = max(round(clock.now() * 1_000_000), last + 1)
            waiting.append(Waiting(issued.ticket, service, cls, last))
            continue
        window = rng.choice(windows)
        expected = pick(waiting, us, window)
        called = await store.call(window)
        assert called.ticket == (expected.id if expected else ""), f"step {step} at {window}"
        if expected:
            waiting.remove(expected)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    plan=st.lists(
        st.tuples(st.integers(0, 2), st.integers(-5_000, 5_000)), min_size=2, max_size=40
    ),
    service=st.sampled_from(["A", "B"]),
)
def test_called_in_number_order_whatever_the_interleaving(
    redis_server: RedisServer, plan: list[tuple[int, int]], service: str
) -> None:
    """Three "processes" (stores with their own clocks, skewed by up to ±5 s) issue tickets of
    one service and class in any interleaving: a window calls them in number order."""

    async def run() -> None:
        redis = connect(redis_server.url)
        cfg = demo_hall()
        scripts = register(redis)
        clocks = [ManualClock(T0) for _ in range(3)]
        stores = [HallStore(redis, scripts, cfg, c) for c in clocks]
        await stores[0].seed()
        numbers = []
        for who, skew_ms in plan:
            clocks[who].set(T0 + skew_ms / 1000)
            numbers.append((await stores[who].issue(service, "normal", "kiosk")).number)
        window = {"A": "1", "B": "4"}[service]
        called = [(await stores[0].call(window)).record for _ in numbers]
        assert [c["number"] for c in called if c] == sorted(numbers, key=lambda n: int(n[1:]))
        await redis.aclose()

    asyncio.run(run())


async def test_a_burst_from_one_instant_keeps_its_order(store: HallStore) -> None:
    await store.seed()
    issued = [(await store.issue("A", "normal", "kiosk")).number for _ in range(64)]
    called = [(await store.call("1")).record for _ in issued]
    assert [c["number"] for c in called if c] == issued


async def test_answers_carry_their_outbox_entries(store: HallStore) -> None:
    """The change and its messages are one atomic step: the answer names what it wrote."""
    await store.seed()
    t = await store.issue("A", "normal", "kiosk", phone="13800000001", phone_key="k1")
    assert [(e.stream, e.fields["kind"]) for e in t.entries] == [("notify", "ticket_taken")]
    assert t.entries[0].fields["phone"] == "13800000001"
    called = await store.call("1")
    kinds = [(e.stream, e.fields["kind"]) for e in called.entries]
    assert kinds == [("calls", "call"), ("notify", "called")]
    call = called.entries[0].fields
    assert (call["number"], call["window"], call["seq"]) == ("A001", "1", "1")
    assert called.record is not None and called.record["state"] == "called"
    stream = keys.outbox(store.hall.id, store.outbox(), "calls")
    assert [eid for eid, _ in await store.redis.xrange(stream)] == [called.entries[0].id]
    finished = await store.step("1", "finish")
    assert [(e.stream, e.fields["kind"]) for e in finished.entries] == [("notify", "finished")]
    plain = await store.issue("A", "normal", "kiosk")  # no phone: no notice
    assert plain.entries == []


async def test_numbers_restart_each_day_and_yesterdays_tickets_are_void(
    store: HallStore, clock: ManualClock
) -> None:
    await store.seed()
    first = await store.issue("A", "normal", "kiosk")
    second = await store.issue("A", "normal", "kiosk")
    assert (first.number, second.number) == ("A001", "A002")
    await store.call("1")  # A001 at window 1, left there overnight
    clock.advance(86_400)
    fresh = await store.issue("A", "normal", "kiosk")
    assert fresh.number == "A001" and fresh.ticket != first.ticket
    assert fresh.ahead == 0  # yesterday's leftovers are not ahead of it
    await refused(store.step("1", "finish"), "ticket_expired", store)
    called = await store.call("1")  # drops yesterday's A001 from the window, calls today's
    assert called.ticket == fresh.ticket and called.closed == ""
    assert (await store.call("1")).ticket == ""  # yesterday's A002 is never called
    await refused(store.call("2", "call", second.ticket), "ticket_expired", store)


async def test_a_ticket_missed_before_midnight_cannot_rejoin_after(
    store: HallStore, clock: ManualClock
) -> None:
    """Found: rejoining yesterday's A002 put it back in the queue, and two A002 were called."""
    await store.seed()
    await store.issue("A", "normal", "kiosk")
    t = await store.issue("A", "normal", "kiosk")
    await store.call("1")
    await store.call("1")  # A002
    await store.step("1", "skip")
    clock.advance(86_400)
    await refused(store.citizen(t.ticket, t.secret, "rejoin"), "ticket_expired", store)
    await refused(store.citizen(t.ticket, t.secret, "cancel"), "ticket_expired", store)
    await store.issue("A", "normal", "kiosk")
    today = await store.issue("A", "normal", "kiosk")
    called = [(await store.call("1")).record for _ in range(3)]
    assert [c["number"] for c in called if c] == ["A001", "A002"]
    assert called[1] is not None and today.number == "A002"


async def test_yesterdays_ticket_cannot_be_transferred_or_unparked(
    store: HallStore, clock: ManualClock
) -> None:
    await store.seed()
    t = await store.issue("A", "normal", "kiosk")
    await store.call("1")
    await store.step("1", "park")
    clock.advance(86_400)
    await refused(store.call("1", "unpark", t.ticket), "ticket_expired", store)
    u = await store.issue("A", "normal", "kiosk")
    await store.call("1")
    clock.advance(86_400)
    await refused(store.step("1", "transfer", "B"), "ticket_expired", store)
    assert (await record(store, u.ticket))["service"] == "A"


async def test_the_day_change_reads_no_old_key(store: HallStore, clock: ManualClock) -> None:
    """Yesterday's 3,000 leftovers stay where they are (their keys expire by themselves):
    the first call of the day touches only today's keys."""
    store = HallStore(store.redis, register(store.redis), wide_numbers(store.hall), clock)
    await store.seed()
    for _ in range(3_000):
        await store.issue("A", "normal", "kiosk")
    old_day = store.day()
    old_queue = keys.queue(store.hall.id, old_day, "A", "normal")
    assert await store.redis.ttl(old_queue) > 86_400
    clock.advance(86_400)
    today = await store.issue("A", "normal", "kiosk")
    assert (await store.call("1")).ticket == today.ticket
    assert await store.redis.zcard(old_queue) == 3_000  # untouched: no sweep


async def test_illegal_transitions_change_nothing(store: HallStore) -> None:
    await store.seed()
    await refused(store.step("1", "finish"), "no_current", store)
    await refused(store.recall("1"), "no_current", store)
    await refused(store.step("1", "start"), "no_current", store)
    t = await store.issue("A", "normal", "kiosk")
    await store.call("1")
    await store.step("1", "start")
    await refused(store.step("1", "start"), "illegal_transition", store)
    await refused(store.step("1", "skip"), "illegal_transition", store)
    await refused(store.recall("1"), "illegal_transition", store)
    await refused(store.call("2", "call", t.ticket), "illegal_transition", store)
    await refused(store.call("2", "call", store.find("Z999")), "unknown_ticket", store)
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
    t = await store.issue("A", "normal", "kiosk")
    other = await store.issue("A", "normal", "kiosk")
    first = await store.call("1")
    r1, r2 = await store.recall("1"), await store.recall("1")
    assert r1.record is not None and r2.record is not None
    assert (r1.record["recalls"], r2.record["recalls"], r1.missed) == (1, 2, False)
    assert first.call_seq < r1.call_seq < r2.call_seq
    r3 = await store.recall("1")
    assert r3.missed and r3.ticket == t.ticket
    assert (await record(store, t.ticket))["state"] == "missed"
    clock.advance(60)
    await refused(store.citizen(t.ticket, "wrong-secret-123", "rejoin"), "bad_secret", store)
    back = await store.citizen(t.ticket, t.secret, "rejoin")
    assert back.ahead == 1  # behind the ticket that kept waiting
    assert (await store.call("1")).ticket == other.ticket
    again = await store.call("1")
    assert again.ticket == t.ticket
    await store.step("1", "skip")
    clock.advance(31 * 60)
    await refused(store.citizen(t.ticket, t.secret, "rejoin"), "rejoin_expired", store)


async def test_transfer_keeps_the_place(store: HallStore, clock: ManualClock) -> None:
    await store.seed()
    a = await store.issue("A", "normal", "kiosk")
    clock.advance(120)
    b = await store.issue("B", "normal", "kiosk")
    await store.call("1")
    moved = await store.step("1", "transfer", "B")
    assert moved.ticket == a.ticket and moved.record is not None
    r = moved.record
    assert (r["state"], r["service"], r["from_service"]) == ("transferred", "B", "A")
    assert (await store.call("4")).ticket == a.ticket  # older than b: it goes first at B
    assert (await store.call("4")).ticket == b.ticket


async def test_park_and_unpark(store: HallStore) -> None:
    await store.seed()
    t = await store.issue("A", "normal", "kiosk")
    u = await store.issue("A", "normal", "kiosk")
    await store.call("1")
    await store.step("1", "park")
    assert (await store.call("1")).ticket == u.ticket
    back = await store.call("1", "unpark", t.ticket)
    assert back.ticket == t.ticket and back.closed == u.ticket
    assert (await record(store, u.ticket))["state"] == "done"
    await refused(store.call("2", "unpark", t.ticket), "illegal_transition", store)


async def test_cancel(store: HallStore) -> None:
    await store.seed()
    t = await store.issue("A", "normal", "kiosk")
    await store.citizen(t.ticket, t.secret, "cancel")
    await refused(store.citizen(t.ticket, t.secret, "cancel"), "illegal_transition", store)
    assert (await store.call("1")).ticket == ""


async def test_phone_limit(store: HallStore) -> None:
    await store.seed()
    for _ in range(store.hall.queue.max_per_phone):
        await store.issue("A", "normal", "kiosk", phone="13800000000", phone_key="k0")
    await refused(
        store.issue("B", "normal", "kiosk", phone="13800000000", phone_key="k0"),
        "phone_limit",
        store,
    )
    other = await store.issue("B", "normal", "kiosk", phone="13900000000", phone_key="k9")
    assert other.number == "B001"  # the refused one took no number


async def test_near_notices_once_per_ticket(store: HallStore) -> None:
    await store.seed()  # notify_ahead 3
    ids = [
        (
            await store.issue("A", "normal", "kiosk", phone=f"1380000000{i}", phone_key=f"k{i}")
        ).ticket
        for i in range(6)
    ]

    def near(changed: Any) -> list[tuple[str, str, str]]:
        return [
            (e.fields["ticket"], e.fields["ahead"], e.fields["phone"])
            for e in changed.entries
            if e.fields["kind"] == "near"
        ]

    first = await store.call("1")
    # tickets 1..4 were within 3 of the front when issued; the 5th is now 3 ahead
    assert near(first) == [(ids[4], "3", "13800000004")]
    assert near(await store.call("1")) == [(ids[5], "3", "13800000005")]
    assert near(await store.call("1")) == []


async def test_events_stream_and_handle_time(store: HallStore, clock: ManualClock) -> None:
    await store.seed()
    t = await store.issue("C", "normal", "kiosk")
    await store.call("5")
    await store.step("5", "start")
    clock.advance(600)
    await store.step("5", "finish")
    entries: list[tuple[str, dict[str, str]]] = await store.redis.xrange(keys.events(store.hall.id))
    types = [e[1]["type"] for e in entries]
    assert types == ["seed", "issue", "call", "start", "finish"]
    finish = entries[-1][1]
    assert (finish["ticket"], finish["window"], finish["service"]) == (t.ticket, "5", "C")
    assert int(finish["seq"]) == await store.seq()
    handle = await store.redis.hgetall(keys.handle_times(store.hall.id))
    # the config's 15 minutes is the prior; the script learns as eta.learn_stats does
    learned = eta.learn_stats(eta.Handling.prior(15 * MINUTE_MS), 600_000)
    assert float(handle["C"]) == pytest.approx(learned.mean_ms, abs=1e-3)
    assert float(handle["C:sq"]) == pytest.approx(learned.square_ms2, abs=1)
    assert float(handle["C:n"]) == learned.n


async def test_events_carry_the_signed_in_staff(store: HallStore) -> None:
    await store.seed()
    await store.redis.hset(keys.window(store.hall.id, "1"), "staff", "s042")
    await store.issue("A", "normal", "kiosk")
    await store.call("1")
    entries = await store.redis.xrange(keys.events(store.hall.id))
    by_type = {e[1]["type"]: e[1] for e in entries}
    assert by_type["call"]["staff"] == "s042"
    assert "staff" not in by_type["issue"]


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


async def test_handling_times_ignore_tickets_left_open(
    store: HallStore, clock: ManualClock
) -> None:
    await store.seed()  # A's prior: 6 minutes
    await store.issue("A", "normal", "kiosk")
    await store.call("1")
    clock.advance(5 * 3600)  # left open all afternoon
    await store.step("1", "finish")
    handle = await store.redis.hget(keys.handle_times(store.hall.id), "A")
    assert float(handle or 0) == 6 * MINUTE_MS


async def test_a_record_gone_with_its_day_reads_as_none(store: HallStore) -> None:
    await store.seed()
    t = await store.issue("A", "normal", "kiosk")
    await store.call("1")
    await store.redis.hdel(keys.tickets(store.hall.id, store.day()), t.ticket)  # as if expired
    snap = await store.snapshot()
    assert "current" not in next(w for w in snap["windows"] if w["id"] == "1")
    await refused(store.step("1", "finish"), "no_current", store)
    assert (await store.call("1")).ticket == ""


async def test_records_are_json_without_lost_digits(store: HallStore) -> None:
    """Places are µs since the epoch (16 digits): kept exactly, not as 1.79e+15."""
    await store.seed()
    t = await store.issue("A", "normal", "kiosk")
    raw = await store.redis.hget(keys.tickets(store.hall.id, store.day()), t.ticket)
    base = json.loads(raw)["base"]
    assert base == str(round(store.clock.now() * 1_000_000))
