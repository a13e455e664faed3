"""The issue script's cheap paths keep their meaning (real Redis): counters counted first and
taken back on a refusal or a claim found, TTLs given only to keys a change makes, the
Idempotency-Key claimed in one command, and queue places strictly after every earlier one."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis

from queue_server.announcer import Announcer
from queue_server.clock import ManualClock
from queue_server.config import HallConfig
from queue_server.live import LiveCache
from queue_server.protocol import Notice, decode
from queue_server.store import keys, quota
from queue_server.store.hall_store import (
    Claim,
    Entry,
    HallStore,
    QuotaExceeded,
    StoreError,
    entry_fields,
)
from queue_server.store.quota import Quota
from queue_server.store.scripts import register, source


@pytest.fixture
def store(redis: Redis, clock: ManualClock, hall_cfg: HallConfig) -> HallStore:
    services = [
        s.model_copy(update={"capacity": 2} if s.id == "C" else {}) for s in hall_cfg.services
    ]
    return HallStore(
        redis, register(redis), hall_cfg.model_copy(update={"services": services}), clock
    )


def counter(store: HallStore, name: str) -> str:
    return keys.day_counter(store.hall.id, store.day(), name)


async def test_a_refusal_takes_back_each_count_and_leaves_no_new_key(store: HallStore) -> None:
    r = store.redis
    person = Quota("id:p1", 5, "id_limit", "this ID has taken 5 tickets today")
    closed = Quota("device:k0", 0, "device_limit", "this kiosk takes no tickets")
    await store.issue("A", "normal", "kiosk")
    with pytest.raises(QuotaExceeded) as err:
        await store.issue("A", "normal", "kiosk", quotas=[person, closed])
    assert err.value.quota == closed
    assert await r.get(counter(store, "num:A")) == "1"  # counted, then taken back
    assert await r.exists(counter(store, "id:p1"), counter(store, "device:k0")) == 0  # made, gone
    assert await r.exists(counter(store, "num:B")) == 0
    with pytest.raises(QuotaExceeded):  # a service's first ticket refused: no counter left
        await store.issue("B", "normal", "kiosk", quotas=[closed])
    assert await r.exists(counter(store, "num:B")) == 0
    assert (await store.issue("B", "normal", "kiosk")).number == "B001"


async def test_a_phone_refusal_names_the_phones_quota(store: HallStore) -> None:
    """The phone's counter comes last, without a Quota made for each ticket: its refusal still
    names the phone's quota, and takes back every count before it."""
    r, cap = store.redis, store.hall.queue.max_per_phone
    person = Quota("id:p1", cap + 5, "id_limit", "this ID has taken many tickets today")
    for _ in range(cap):
        await store.issue(
            "A", "normal", "mobile", phone="13800000000", phone_key="k0", quotas=[person]
        )
    with pytest.raises(QuotaExceeded) as err:
        await store.issue(
            "A", "normal", "mobile", phone="13800000000", phone_key="k0", quotas=[person]
        )
    assert err.value.quota == quota.phone("k0", cap) and err.value.code == "phone_limit"
    counts = await r.mget([counter(store, c) for c in ("num:A", "id:p1", "phone:k0")])
    assert counts == [str(cap)] * 3


async def test_a_phone_at_its_cap_takes_tickets_again_the_next_day(
    store: HallStore, clock: ManualClock
) -> None:
    """Each day's per-phone counter is its own key (the store makes their common start once a
    day): yesterday's cap refuses nothing today, and today's count starts at one."""
    cap = store.hall.queue.max_per_phone
    for _ in range(cap):
        await store.issue("A", "normal", "mobile", phone="13800000000", phone_key="k0")
    yesterday = counter(store, "phone:k0")
    with pytest.raises(QuotaExceeded):
        await store.issue("A", "normal", "mobile", phone="13800000000", phone_key="k0")
    clock.advance(86_400)
    t = await store.issue("A", "normal", "mobile", phone="13800000000", phone_key="k0")
    assert t.number == "A001" and counter(store, "phone:k0") != yesterday
    assert await store.redis.mget([yesterday, counter(store, "phone:k0")]) == [str(cap), "1"]


async def test_every_key_an_issue_makes_expires_with_the_day(store: HallStore) -> None:
    r, h, day = store.redis, store.hall.id, store.day()
    await store.issue("B", "green", "kiosk", phone="13800000000", phone_key="k1")
    await store.issue("A", "normal", "kiosk")
    await store.issue("A", "normal", "kiosk")  # a queue that had a ticket: kept its TTL
    made = [
        keys.tickets(h, day),
        keys.queue(h, day, "B", "green"),
        keys.queue(h, day, "A", "normal"),
        counter(store, "num:A"),
        counter(store, "num:B"),
        counter(store, "phone:k1"),
    ]
    for key in made:
        assert 86_400 < await r.ttl(key) <= keys.DAY_TTL, key


async def test_a_claim_is_made_once_and_taken_back_with_a_refusal(store: HallStore) -> None:
    r = store.redis
    slot = keys.idempotency(store.hall.id, "issue:kiosk:k1", "d1")
    first = await store.issue("C", "normal", "kiosk", claim=Claim(slot, "p1"))
    assert await r.get(slot) == f"p1 {first.ticket}"
    assert 0 < await r.ttl(slot) <= 600
    again = await store.issue("C", "normal", "kiosk", claim=Claim(slot, "p1"))
    assert (again.replayed, again.ticket) == (True, first.ticket)
    with pytest.raises(StoreError) as err:
        await store.issue("C", "normal", "kiosk", claim=Claim(slot, "p2"))
    assert err.value.code == "idempotency_mismatch"
    assert await r.get(counter(store, "num:C")) == "1"  # neither counted a number
    # C's capacity is 2: the second ticket fills it; the first press still answers its ticket
    await store.issue("C", "normal", "kiosk")
    full = await store.issue("C", "normal", "kiosk", claim=Claim(slot, "p1"))
    assert (full.replayed, full.ticket) == (True, first.ticket)
    other = keys.idempotency(store.hall.id, "issue:kiosk:k1", "d2")
    with pytest.raises(QuotaExceeded):
        await store.issue("C", "normal", "kiosk", claim=Claim(other, "p3"))
    assert await r.exists(other) == 0  # a refusal claims nothing
    assert await r.get(counter(store, "num:C")) == "2"


async def test_places_stay_after_a_place_ahead_of_this_clock(
    store: HallStore, clock: ManualClock
) -> None:
    """Another server's clock ahead of ours gave the last place: ours come after it, in order."""
    place = keys.place(store.hall.id)
    ahead_us = int(clock.now() * 1_000_000) + 5_000_000
    await store.redis.set(place, ahead_us)
    first = await store.issue("A", "normal", "kiosk")
    second = await store.issue("A", "normal", "kiosk")
    bases = [int((await store.status(t.ticket) or ({}, 0))[0]["base"]) for t in (first, second)]
    assert bases == [ahead_us + 1, ahead_us + 2]
    clock.advance(10)  # our clock past it: places are our time again
    later = await store.issue("A", "normal", "kiosk")
    base = int((await store.status(later.ticket) or ({}, 0))[0]["base"])
    assert base == int(clock.now() * 1_000_000) and await store.redis.get(place) == str(base)


def test_each_script_carries_the_helpers_it_uses_and_no_other() -> None:
    issue, nxt = source("issue"), source("next")
    for helper in ("ahead", "next_place", "emit"):  # the issue's, and theirs
        assert f"local function {helper}(" in issue
    # the issue writes its one entry and answers a flat list itself
    gone = (
        "outbox",
        "answer",
        "close_current",
        "call_ticket",
        "near_notices",
        "front",
        "tally",
        "notice",
    )
    for helper in gone:
        assert f"local function {helper}(" not in issue
        assert f"local function {helper}(" in nxt


async def test_the_ticket_taken_entry_joined_in_lua_reads_as_every_notice(
    store: HallStore,
) -> None:
    """The issue script joins its notice's JSON from parts (no table, no encoder): awkward
    phone and language text comes back exactly, with the members common.lua's notice() gives
    every other notice (the "called" one of the same ticket) but those at their defaults."""
    await store.seed()  # the windows' services: window 1 calls A
    phone, lang = 'x"1\\/\u00e9\u7a97\n\u2028', 'z"h\\'
    one = await store.issue("A", "normal", "mobile", phone=phone, phone_key="k1", lang=lang)
    (entry,) = one.entries
    want = {
        "kind": "ticket_taken",
        "ticket": one.ticket,
        "number": one.number,
        "service": "A",
        "ahead": "0",
        "phone": phone,
        "lang": lang,
        "time": str(one.issued_ms),
    }
    assert (entry.stream, entry.fields) == ("notify", want)
    stored = await store.redis.xrange(keys.outbox(store.hall.id, "none", "notify"))
    assert [(i, entry_fields(["j", f["j"]])) for i, f in stored] == [(entry.id, want)]
    two = await store.issue(
        "A", "normal", "mobile", phone="13800000002", phone_key="k2", steps=("A", "B")
    )
    (entry,) = two.entries
    assert (entry.fields["ahead"], entry.fields["step"], entry.fields["steps"]) == ("1", "1", "2")
    called = await store.call("1")
    notices = [e for e in called.entries if e.stream == "notify"]
    assert [e.fields["kind"] for e in notices] == ["called"]
    assert set(notices[0].fields) == set(want) | {"window", "round", "step", "steps"}


async def test_a_swept_ticket_taken_renders_as_the_fast_paths_and_the_full_forms(
    store: HallStore, clock: ManualClock
) -> None:
    """The ticket_taken entry leaves out the members at their defaults (window, round, step,
    steps). Read back from the stream alone, as the relay's sweep and replay read it, it
    renders the notice the fast path does from the script's typed answer (`taken`), and the
    notice of the entry with every member that earlier versions wrote."""
    await store.seed()
    announcer = Announcer(store.hall, LiveCache(store.hall, clock), "zh")
    issued = [
        await store.issue("A", "normal", "mobile", phone="13800000001", phone_key="k1"),
        await store.issue("A", "normal", "mobile", phone="13800000002", phone_key="k2", lang="en"),
        await store.issue(
            "A", "normal", "mobile", phone="13800000003", phone_key="k3", steps=("A", "B")
        ),
    ]
    stream = await store.redis.xrange(keys.outbox(store.hall.id, "none", "notify"))
    swept = {i: entry_fields([x for kv in f.items() for x in kv]) for i, f in stream}
    full = {"window": "", "round": "0", "step": "0", "steps": "0"}
    for t in issued:
        (fast,) = t.entries
        forms = [
            fast,
            Entry("notify", fast.id, swept[fast.id]),
            Entry("notify", fast.id, {**full, **fast.fields}),
        ]
        payloads = [announcer.render(e) for e in forms]
        assert payloads[0] == payloads[1] == payloads[2]  # topic and bytes
        assert t.taken is not None  # the issue's, with the estimate its answer has
        est = announcer.live.estimate("A", t.taken.ahead)
        assert announcer.taken(t.taken, est) == payloads[0][1]
        got = [Notice(**{k: v for k, v in decode(p).items() if k != "v"}) for _, p in payloads]
        assert got[0] == got[1] == got[2]
        assert (got[0].phone, got[0].ticket, got[0].id, got[0].window) == (
            fast.fields["phone"],
            t.ticket,
            fast.id,
            "",
        )
    assert [(n.step, n.steps) for n in got] == [(1, 2)] * 3  # the last: a ticket of two steps


async def test_int_prints_whole_numbers_exactly_and_rounds_others_as_before(
    store: HallStore,
) -> None:
    """common.lua's int(): '%d' for a whole number (µs places have 16 digits), '%.0f' else."""
    common = source("issue").split("\n-- Issue a ticket.")[0]
    script = common + "\nreturn {int(1764115200123456), int(2 ^ 53), int(-7), int(2.5), int(3.5)}"
    tagged = [keys.prefix(store.hall.id) + f"k{i}" for i in range(10)]
    got = await store.redis.eval(script, len(tagged), *tagged, "1", "20261126", "", "")
    assert got == ["1764115200123456", "9007199254740992", "-7", "2", "4"]


async def test_the_record_joined_in_lua_reads_as_cjson_would_write_it(store: HallStore) -> None:
    """The issue script joins the new record's JSON from parts (no table, no cjson.encode):
    awkward text comes back exactly, the other scripts decode it, and it is compact (the
    near-notice scan searches the raw text for '"phone":"')."""
    await store.seed()  # the windows' services: window 1 calls A
    phone, lang, id_key = 'x"1\\/\u00e9\u7a97\n\u2028', 'z"h\\', 'd"\\1'
    one = await store.issue(
        "A",
        "normal",
        "mobile",
        phone=phone,
        phone_key="k1",
        lang=lang,
        id_key=id_key,
        steps=("A", "B"),
    )
    raw = await store.redis.hget(keys.tickets(store.hall.id, store.day()), one.ticket)
    record = json.loads(raw)
    assert record.pop("base").isdigit()
    assert record == {
        "number": one.number,
        "service": "A",
        "class": "normal",
        "channel": "mobile",
        "state": "waiting",
        "issued_at": one.issued_ms,
        "secret": one.secret,
        "lang": lang,
        "round": 0,
        "phone": phone,
        "steps": ["A", "B"],
        "step": 1,
        "id_key": id_key,
        "near": 1,
    }
    assert '"phone":"' in raw and ": " not in raw
    plain = await store.issue("B", "green", "kiosk")
    got = await store.status(plain.ticket)
    assert got is not None and set(got[0]) == {
        "number",
        "service",
        "class",
        "channel",
        "state",
        "base",
        "issued_at",
        "secret",
        "lang",
        "round",
    }
    called = await store.call("1")  # decoded and saved again by cjson, every member kept
    assert called.ticket == one.ticket and called.record is not None
    assert {k: called.record[k] for k in ("phone", "lang", "id_key", "steps", "step")} == {
        "phone": phone,
        "lang": lang,
        "id_key": id_key,
        "steps": ["A", "B"],
        "step": 1,
    }


async def test_an_issue_gets_its_own_service_queues_only(store: HallStore) -> None:
    """The issue script is given the queues of its ticket's service only (each key costs every
    call): tickets still land in their own queues and count only their own service ahead."""
    r, h, day = store.redis, store.hall.id, store.day()
    a1 = await store.issue("A", "normal", "kiosk")
    b1 = await store.issue("B", "normal", "kiosk")
    b2 = await store.issue("B", "green", "kiosk")
    a2 = await store.issue("A", "normal", "kiosk")
    assert [t.ahead for t in (a1, b1, b2, a2)] == [0, 0, 1, 1]
    assert await r.zrange(keys.queue(h, day, "A", "normal"), 0, -1) == [a1.ticket, a2.ticket]
    assert await r.zrange(keys.queue(h, day, "B", "normal"), 0, -1) == [b1.ticket]
    assert await r.zrange(keys.queue(h, day, "B", "green"), 0, -1) == [b2.ticket]
    assert await store.places(["A", "B"]) == {
        "A": [a1.ticket, a2.ticket],
        "B": [b1.ticket, b2.ticket],
    }


async def test_a_phone_tickets_answer_carries_the_notice_the_stream_holds(
    store: HallStore,
) -> None:
    """The server does not read the ticket_taken entry's JSON back from the script's answer
    (it knows its fields): they are exactly what the outbox stream holds, which the relay's
    sweep and replay render from."""
    await store.seed()
    issued = [
        await store.issue("A", "normal", "mobile", phone="13800000001", phone_key="k1"),
        await store.issue("A", "normal", "mobile", phone="13800000002", phone_key="k2", lang="en"),
        await store.issue(
            "A", "normal", "mobile", phone="13800000003", phone_key="k3", steps=("A", "B", "C")
        ),
    ]
    stored = await store.redis.xrange(keys.outbox(store.hall.id, "none", "notify"))
    want = [(i, entry_fields(["j", f["j"]])) for i, f in stored]
    assert [(e.id, e.fields) for t in issued for e in t.entries] == want
    assert [f["ahead"] for _, f in want] == ["0", "1", "2"]
    assert (await store.issue("A", "normal", "kiosk")).entries == []  # no phone, no notice
