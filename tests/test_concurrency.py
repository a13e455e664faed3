"""Two server processes on one Redis, 20 windows pressing next at once over 2,000 tickets:
every ticket is called exactly once and no number is issued twice.

Real processes (``queue-server`` twice), real Redis, real Mosquitto; requests alternate
between the two processes so every race goes through the shared Lua scripts.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from queue_server.store import keys
from queue_server.store.connect import connect
from tests.conftest import subscribe
from tests.services import KIOSK_TOKEN, MANAGER_TOKEN, Broker, HttpProcess, RedisServer, hall_toml

TICKETS = 2_000
IN_FLIGHT = 50
# window id -> service -> offset minutes: overlapping services, primary (0) and helping (>0)
WINDOWS: dict[str, dict[str, int]] = {
    **{str(n): {"A": 0} for n in range(1, 5)},
    **{str(n): {"A": 0, "B": 10} for n in range(5, 8)},
    **{str(n): {"B": 0, "A": 10} for n in range(8, 11)},
    **{str(n): {"B": 0} for n in range(11, 13)},
    **{str(n): {"C": 0, "B": 15} for n in range(13, 16)},
    **{str(n): {"A": 0, "B": 0, "C": 0} for n in range(16, 18)},
    "18": {"C": 0},
    "19": {"C": 0, "A": 5},
    "20": {"B": 0, "C": 5},
}


def window_token(window: str) -> str:
    return f"w-{window}-token"


def calm_timezone() -> str:
    """A zone where it is about noon now, so the hall's day cannot roll over mid-test."""
    offset = 12 - datetime.now(UTC).hour  # -11 … 12
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3


@dataclass
class Hall:
    id: str
    servers: list[HttpProcess] = field(default_factory=list)


@pytest.fixture
def hall(tmp_path: Path, redis_server: RedisServer, broker: Broker) -> Iterator[Hall]:
    """A fresh 20-window hall served by two queue-server processes sharing one Redis."""
    h = Hall(f"conc{uuid.uuid4().hex[:8]}")
    config = tmp_path / "hall.toml"
    config.write_text(hall_toml(h.id, WINDOWS, window_token, calm_timezone()), encoding="utf-8")
    try:
        for name in ("a", "b"):
            h.servers.append(
                HttpProcess.queue_server(
                    config,
                    redis_server.url,
                    broker.url(),
                    tmp_path / f"server-{name}.log",
                    "--instance",
                    name,
                )
            )
        for s in h.servers:
            s.wait()  # "ok": Redis and MQTT up, so no call waits in a backlog while we listen
        yield h
    finally:
        for s in h.servers:
            s.stop()


Response = tuple[int, dict[str, Any]]


async def post(
    session: aiohttp.ClientSession,
    url: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    async with session.post(url, json=body, headers=headers) as resp:
        data: dict[str, Any] = await resp.json(content_type=None)
        return resp.status, data


async def issue_all(session: aiohttp.ClientSession, hall: Hall) -> list[Response]:
    """TICKETS tickets, IN_FLIGHT at a time, alternating servers; some green (staff-issued)."""
    rng = random.Random(20261126)
    plan = [(rng.choice("AAABBC"), "green" if i % 10 == 0 else "normal") for i in range(TICKETS)]
    sem = asyncio.Semaphore(IN_FLIGHT)
    staff = {"Authorization": f"Bearer {MANAGER_TOKEN}"}
    kiosk = {"Authorization": f"Bearer {KIOSK_TOKEN}"}

    async def one(i: int, service: str, cls: str) -> Response:
        server = hall.servers[i % 2]
        url = f"{server.url}/api/v1/halls/{hall.id}/tickets"
        async with sem:
            return await post(
                session,
                url,
                {"service": service, "class": cls},
                staff if cls != "normal" else kiosk,
            )

    return await asyncio.gather(*(one(i, s, c) for i, (s, c) in enumerate(plan)))


async def press_until_empty(
    session: aiohttp.ClientSession, hall: Hall, window: str, calls: Counter[str]
) -> list[Response]:
    """Press next as fast as possible, alternating servers, until no ticket comes (or an
    error response, or more calls in all than tickets: the test then fails on it)."""
    headers = {"Authorization": f"Bearer {window_token(window)}"}
    path = f"/api/v1/halls/{hall.id}/windows/{window}/next"
    out: list[Response] = []
    press = 0
    while calls["all"] <= TICKETS:
        server = hall.servers[(int(window) + press) % 2]
        press += 1
        status, body = await post(session, server.url + path, None, headers)
        out.append((status, body))
        if status != 200 or body.get("ticket") is None:
            break
        calls["all"] += 1
    return out


@pytest.mark.slow
async def test_two_servers_twenty_windows_call_every_ticket_once(
    hall: Hall, redis_server: RedisServer, broker: Broker
) -> None:
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT * 2)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        # -- issue: 2,000 tickets at once through both processes -----------------------------
        started = time.monotonic()
        issued = await issue_all(session, hall)
        issue_s = time.monotonic() - started
        bad = [r for r in issued if r[0] != 201]
        assert not bad, f"{len(bad)} issue requests failed, e.g. {bad[:3]}"
        tickets = [body for _, body in issued]
        ids = [t["id"] for t in tickets]
        assert len(set(ids)) == TICKETS, [i for i, c in Counter(ids).items() if c > 1][:10]
        by_service: dict[str, list[str]] = defaultdict(list)
        for t in tickets:
            assert t["number"].startswith(t["service"])
            assert t["id"].endswith("-" + t["number"])
            by_service[t["service"]].append(t["number"])
        for service, numbers in by_service.items():
            dup = sorted(n for n, c in Counter(numbers).items() if c > 1)
            assert not dup, f"service {service}: numbers issued twice: {dup[:10]}"
            expected = {f"{service}{i:06d}" for i in range(1, len(numbers) + 1)}  # width 6
            assert set(numbers) == expected, f"service {service}: gaps in numbering"
        number_of = {t["id"]: t["number"] for t in tickets}

        # -- call: 20 windows pressing next at once, alternating processes -------------------
        topic = f"hallcall/{hall.id}/calls"
        async with subscribe(broker, [topic]) as sub:
            started = time.monotonic()
            total: Counter[str] = Counter()  # calls in all, shared by the windows
            results = await asyncio.gather(
                *(press_until_empty(session, hall, w, total) for w in WINDOWS)
            )
            call_s = time.monotonic() - started
            async with asyncio.timeout(20):
                while len(sub.all("/calls")) < TICKETS:
                    sub.arrived.clear()
                    await sub.arrived.wait()
            await asyncio.sleep(0.2)  # a duplicate delivery would arrive by now
            mqtt_calls = sub.all("/calls")

    errors = [(w, r) for w, rs in zip(WINDOWS, results, strict=True) for r in rs if r[0] != 200]
    assert not errors, f"{len(errors)} next requests failed, e.g. {errors[:3]}"

    called_by: dict[str, list[str]] = {}  # ticket id -> windows that got it
    for window, responses in zip(WINDOWS, results, strict=True):
        for _, body in responses:
            if body["ticket"] is not None:
                called_by.setdefault(body["ticket"]["id"], []).append(window)
    twice = {tid: Counter(ws) for tid, ws in called_by.items() if len(ws) > 1}
    assert not twice, f"{len(twice)} tickets called more than once (window: times), e.g. " + (
        "; ".join(f"{tid} {dict(ws)}" for tid, ws in list(twice.items())[:3])
    )
    missing = sorted(set(ids) - set(called_by))
    assert not missing, f"{len(missing)} tickets never called, e.g. {missing[:10]}"
    assert set(called_by) == set(ids)

    for window, responses in zip(WINDOWS, results, strict=True):
        *calls, last = responses
        assert last[1]["ticket"] is None, f"window {window} never ran dry: {last}"
        previous: str | None = None
        for _, body in calls:
            t = body["ticket"]
            # Read back after the call: still this window's, still only called. Had another
            # window taken it, it would be at that window or finished by it.
            assert (t["window"], t["state"]) == (window, "called"), (window, t)
            assert t["service"] in WINDOWS[window], (window, t)
            # `next` finishes the window's own current ticket, never another's.
            assert body["finished"] == previous, (window, body, previous)
            previous = t["number"]
        assert last[1]["finished"] == previous, (window, last, previous)

    # -- MQTT: one call message per HTTP call, same number at the same window ------------------
    http_calls = {number_of[tid]: ws[0] for tid, ws in called_by.items()}
    seqs = [c["seq"] for c in mqtt_calls]
    assert len(mqtt_calls) == TICKETS, f"{len(mqtt_calls)} call messages for {TICKETS} calls"
    assert len(set(seqs)) == TICKETS, [s for s, c in Counter(seqs).items() if c > 1][:10]
    assert set(seqs) == set(range(1, TICKETS + 1))
    assert {c["number"]: c["window"] for c in mqtt_calls} == http_calls
    assert all(c["kind"] == "call" for c in mqtt_calls)

    # -- Redis: every ticket done at the window that called it, windows free, queues empty -----
    redis = connect(redis_server.url)
    try:
        day = ids[0].split("-")[0]
        raw = await redis.hmget(keys.tickets(hall.id, day), ids)
        states = [[json.loads(r or "{}").get(f) for f in ("state", "window")] for r in raw]
        wrong = [
            (tid, st)
            for tid, st in zip(ids, states, strict=True)
            if st != ["done", called_by[tid][0]]
        ]
        assert not wrong, f"{len(wrong)} tickets not done at their window, e.g. {wrong[:5]}"
        for w in WINDOWS:
            assert await redis.hget(keys.window(hall.id, w), "current") is None, w
        for service in "ABC":
            for cls in ("normal", "green", "appointment"):
                assert await redis.zcard(keys.queue(hall.id, day, service, cls)) == 0
        # Both servers published retained boards; the one left on the broker is the newest.
        final = int(await redis.get(keys.seq(hall.id)) or 0)
        async with subscribe(broker, [f"hallcall/{hall.id}/board"]) as late:
            board = await late.get("/board", where=lambda b: b["seq"] == final, timeout=10)
            assert board["call_seq"] == TICKETS
    finally:
        await redis.aclose()

    for s in hall.servers:
        log = s.log_text()
        assert "Traceback" not in log and " ERROR " not in log, f"server {s.url}:\n{log}"
    print(
        f"\nissue {TICKETS}: {issue_s:.1f} s; call {TICKETS} at {len(WINDOWS)} windows: "
        f"{call_s:.1f} s"
    )


async def test_two_servers_one_key_at_once_give_one_ticket(
    hall: Hall, redis_server: RedisServer
) -> None:
    """A kiosk's press sent to both processes at the same moment, 200 times: each key gives
    one ticket (the issue script claims the key in the same atomic change), the other copy
    answers that ticket marked as a replay."""
    kiosk = {"Authorization": f"Bearer {KIOSK_TOKEN}"}
    keyed = 200
    sem = asyncio.Semaphore(IN_FLIGHT // 2)  # a pair each (a cluster client's pool is 64)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def both(i: int) -> list[tuple[int, dict[str, Any], str]]:
            headers = {**kiosk, "Idempotency-Key": f"press-{i}"}
            body = {"service": "ABC"[i % 3]}

            async def one(server: HttpProcess) -> tuple[int, dict[str, Any], str]:
                url = f"{server.url}/api/v1/halls/{hall.id}/tickets"
                async with session.post(url, json=body, headers=headers) as resp:
                    replayed = resp.headers.get("Idempotent-Replayed", "")
                    return resp.status, await resp.json(), replayed

            async with sem:
                return await asyncio.gather(*(one(s) for s in hall.servers))

        pairs = await asyncio.gather(*(both(i) for i in range(keyed)))
        bad = [p for p in pairs for r in p if r[0] != 201]
        assert not bad, f"{len(bad)} failed, e.g. {bad[:2]}"
        for (_, a, ra), (_, b, rb) in pairs:
            assert a["id"] == b["id"] and a["secret"] == b["secret"], (a, b)
            assert sorted((ra, rb)) == ["", "true"], (ra, rb)
    ids = {a["id"] for (_, a, _), _ in pairs}
    assert len(ids) == keyed
    redis = connect(redis_server.url)
    try:  # numbers given in all: one per key
        day = next(iter(ids)).split("-")[0]
        counted = [await redis.get(keys.number_counter(hall.id, day, s)) for s in "ABC"]
        assert sum(int(n or 0) for n in counted) == keyed
    finally:
        await redis.aclose()
