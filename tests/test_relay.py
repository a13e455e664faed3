"""The outbox relay on a real Redis and a real Mosquitto: replay order after an outage, the age
rule for calls, and the adoption of a dead process's outbox."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis

from queue_server.announcer import Announcer
from queue_server.clock import ManualClock
from queue_server.config import HallConfig
from queue_server.live import LiveCache
from queue_server.publisher import HallPublisher
from queue_server.relay import Relay
from queue_server.settings import parse_mqtt_url
from queue_server.store import keys
from queue_server.store.hall_store import HallStore
from queue_server.store.scripts import register
from tests.conftest import Subscriber, subscribe
from tests.services import Broker


async def _empty(redis: Redis, key: str) -> bool:
    return not await redis.xlen(key)


async def _absent(redis: Redis, key: str, member: str) -> bool:
    return member not in await redis.smembers(key)


async def _true(value: bool) -> bool:
    return value


@dataclass
class Node:
    """One server process's parts for a hall, without HTTP."""

    store: HallStore
    relay: Relay
    publisher: HallPublisher


async def node(
    redis: Redis, cfg: HallConfig, clock: ManualClock, broker: Broker, url: str = ""
) -> Node:
    scripts = register(redis)
    store = HallStore(redis, scripts, cfg, clock)
    await store.seed()
    live = LiveCache(cfg, clock)
    announcer = Announcer(cfg, live, "zh")
    relay = Relay(redis, scripts, cfg.id, "t", announcer.render, clock, replay_calls_age=60)
    store.outbox = relay.current_id
    await relay.register()
    pub = HallPublisher(cfg.id, parse_mqtt_url(url or broker.url()), relay, instance="t")

    async def snapshot(windows: set[str] | None) -> tuple[int, list[tuple[str, bytes]]]:
        snap = await store.snapshot()
        live.refresh(snap)
        return int(snap["seq"]), announcer.snapshot_messages(snap, windows, clock.now())

    pub.bind(snapshot, store.seq)
    return Node(store, relay, pub)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait for a condition that only polling can see (Redis state another task changes)."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@dataclass
class Env:
    """What each test here runs on: Redis, the broker, the hall, its clock, and the tasks it
    starts (cancelled after the test)."""

    redis: Redis
    broker: Broker
    cfg: HallConfig
    clock: ManualClock
    running: list[asyncio.Task[None]]

    async def node(self, url: str = "") -> Node:
        return await node(self.redis, self.cfg, self.clock, self.broker, url)

    async def start(self, n: Node) -> None:
        """The node's publisher running, until its relay is live (caught up, fast path on)."""
        self.running.append(asyncio.create_task(n.publisher.run()))
        await until(lambda: _true(n.relay.live))

    @contextlib.asynccontextmanager
    async def gated(self) -> AsyncIterator[tuple[Node, AckGate, Subscriber]]:
        """A running node whose broker link passes through an AckGate, and a notify
        subscriber."""
        broker = self.broker
        async with AckGate(broker.port) as gate:
            password = broker.passwords["hallcall-server"]
            n = await self.node(f"mqtt://hallcall-server:{password}@127.0.0.1:{gate.port}")
            async with subscribe(broker, [f"hallcall/{self.cfg.id}/notify"]) as sub:
                await self.start(n)
                yield n, gate, sub


@pytest.fixture
async def env(
    redis: Redis, broker: Broker, hall_cfg: HallConfig, clock: ManualClock
) -> AsyncIterator[Env]:
    e = Env(redis, broker, hall_cfg, clock, [])
    yield e
    for t in e.running:
        t.cancel()
    await asyncio.gather(*e.running, return_exceptions=True)


async def test_after_an_outage_snapshots_then_young_calls_then_notices(env: Env) -> None:
    """Changes made while the broker link is down wait in the outbox, not in memory. When it
    comes up: the board first, then the calls younger than the age limit (older ones are
    history), then every notice. The outbox is empty after the acknowledgements."""
    n = await env.node()
    await n.store.issue("A", "normal", "kiosk", phone="13800000001", phone_key="a")
    await n.store.call("1")  # old by the time the link is up: history
    env.clock.advance(120)
    await n.store.issue("B", "normal", "kiosk", phone="13800000002", phone_key="b")
    await n.store.call("4")
    hall = env.cfg.id
    async with subscribe(env.broker, [f"hallcall/{hall}/#"], user="hallcall-server") as sub:
        env.running.append(asyncio.create_task(n.publisher.run()))
        for kind in ("ticket_taken", "called"):
            for number in ("A001", "B001"):
                await sub.get(
                    "/notify", where=lambda b, k=kind, n=number: (b["kind"], b["number"]) == (k, n)
                )
        order = [t.rsplit("/", 1)[-1] for t, _, retained in sub.history if not retained]
        calls = [b for t, b, _ in sub.history if t.endswith("/calls")]
    assert [c["number"] for c in calls] == ["B001"]  # A001's call is two minutes old
    first_call = order.index("calls")
    assert "board" in order[:first_call]  # snapshots first
    assert all(k != "notify" for k in order[:first_call])  # calls before notices
    for stream in ("calls", "notify"):
        key = keys.outbox(hall, n.relay.id, stream)
        await until(functools.partial(_empty, env.redis, key))


async def test_a_live_process_adopts_the_outbox_of_a_dead_one(env: Env) -> None:
    """A process made calls and died before publishing them (its lease lapses): another
    process takes the lease, publishes them and removes the drained outbox."""
    dead = await env.node()
    for _ in range(3):
        await dead.store.issue("A", "normal", "kiosk")
    for _ in range(3):
        await dead.store.call("1")
    await env.redis.delete(keys.lease(env.cfg.id, dead.relay.id))  # as when its TTL runs out
    alive = await env.node()
    async with subscribe(env.broker, [f"hallcall/{env.cfg.id}/calls"]) as sub:
        env.running.append(asyncio.create_task(alive.publisher.run()))
        seqs = sorted([(await sub.get("/calls", timeout=10))["seq"] for _ in range(3)])
    assert seqs == [1, 2, 3]
    relays = keys.relays(env.cfg.id)
    await until(lambda: _absent(env.redis, relays, dead.relay.id))
    assert not await env.redis.exists(keys.outbox(env.cfg.id, dead.relay.id, "calls"))
    assert alive.relay.id in await env.redis.smembers(keys.relays(env.cfg.id))


async def test_the_fast_path_publishes_from_the_answer(env: Env) -> None:
    """A call made while the link is up goes out from the script's answer: it arrives although
    its outbox entry was removed before any sweep could read it."""
    n = await env.node()
    async with subscribe(env.broker, [f"hallcall/{env.cfg.id}/calls"]) as sub:
        await env.start(n)
        await n.store.issue("A", "normal", "kiosk")
        called = await n.store.call("1")
        (entry,) = called.entries
        assert await env.redis.xdel(keys.outbox(env.cfg.id, n.relay.id, "calls"), entry.id) == 1
        n.relay.publish_now(called.entries)
        assert (await sub.get("/calls"))["number"] == "A001"


async def test_a_call_and_a_notice_with_one_entry_id_both_go(env: Env) -> None:
    """Entry ids are unique per stream only: a call and the notice its script wrote often
    share one. Neither may hide the other, whether the call is sent or skipped as history."""
    n = await env.node()
    await n.store.issue("A", "normal", "kiosk", phone="13800000001", phone_key="a")
    await n.store.call("1")  # two minutes old when the link comes: history
    env.clock.advance(120)
    await n.store.issue("B", "normal", "kiosk", phone="13800000002", phone_key="b")
    await n.store.call("4")
    hall, relay = env.cfg.id, n.relay.id
    # each call with the id of its "called" notice: A's (history) and B's (sent)
    for stream, ids in (("calls", ["2-1", "4-1"]), ("notify", ["1-1", "2-1", "3-1", "4-1"])):
        key = keys.outbox(hall, relay, stream)
        entries: list[Any] = await env.redis.xrange(key) or []
        assert len(entries) == len(ids)
        await env.redis.delete(key)
        for eid, (_, fields) in zip(ids, entries, strict=True):
            await env.redis.xadd(key, fields, id=eid)
    async with subscribe(env.broker, [f"hallcall/{hall}/#"], user="hallcall-server") as sub:
        env.running.append(asyncio.create_task(n.publisher.run()))
        for kind in ("ticket_taken", "called"):
            for number in ("A001", "B001"):
                await sub.get(
                    "/notify", where=lambda b, k=kind, n=number: (b["kind"], b["number"]) == (k, n)
                )
        calls = [b["number"] for t, b, _ in sub.history if t.endswith("/calls")]
    assert calls == ["B001"]


async def test_a_turns_notices_go_as_one_message_each_once(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notices published in one loop turn travel as one notify message (up to the cap,
    then the next message), in order, each once; every one is deleted from the outbox after
    the broker acknowledged its message."""
    monkeypatch.setattr("queue_server.relay.MAX_NOTICES", 8)
    monkeypatch.setattr("queue_server.relay.SWEEP_EVERY", 3600.0)  # the fast path alone
    n = await env.node()
    hall = env.cfg.id
    async with subscribe(env.broker, [f"hallcall/{hall}/notify"]) as sub:
        await env.start(n)
        issued = [
            await n.store.issue("A", "normal", "mobile", phone=f"1380000{k:04d}", phone_key=str(k))
            for k in range(30)
        ]
        for t in issued:  # one turn, as many requests answered together
            n.relay.publish_now(t.entries)
        got = [await sub.get("/notify") for _ in issued]
        key = keys.outbox(hall, n.relay.id, "notify")
        await until(functools.partial(_empty, env.redis, key))
    assert [b["number"] for b in got] == [f"A{k:03d}" for k in range(1, 31)]
    assert {b["kind"] for b in got} == {"ticket_taken"}
    assert [size for topic, size in sub.messages] == [8, 8, 8, 6]


async def test_a_sweep_leaves_young_entries_to_the_fast_path_and_sends_what_it_missed(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep does not read back this process's entries younger than YOUNG (the fast path
    has them); one the fast path missed is read once it is older and sent the sweep after."""
    monkeypatch.setattr("queue_server.relay.SWEEP_EVERY", 3600.0)  # only the sweeps below
    monkeypatch.setattr("queue_server.relay.YOUNG", 3600.0)
    n = await env.node()
    hall = env.cfg.id
    sweeps: list[bool] = []
    sweep = n.relay.sweep

    async def counted(eager: bool = False) -> None:
        sweeps.append(eager)
        await sweep(eager)

    monkeypatch.setattr(n.relay, "sweep", counted)
    async with subscribe(env.broker, [f"hallcall/{hall}/notify"]) as sub:
        env.running.append(asyncio.create_task(n.publisher.run()))
        # the relay's own first sweep, after its catch-up: the next is an hour away
        await until(lambda: _true(False in sweeps))
        await n.store.issue("A", "normal", "mobile", phone="13800000009", phone_key="k9")
        own = n.relay._outboxes[n.relay.id]
        await n.relay.sweep()
        assert not own.candidates and not own.published  # not read: young
        monkeypatch.setattr("queue_server.relay.YOUNG", 0.0)
        await n.relay.sweep()
        assert len(own.candidates) == 1 and not own.published  # read: the fast path's turn
        await n.relay.sweep()  # missed by it: sent now
        got = await sub.get("/notify")
    assert got["kind"] == "ticket_taken" and got["phone"] == "13800000009"


class AckGate:
    """A TCP relay between a publisher and the broker that can hold back what the broker
    sends (its PUBACKs) while the publisher's packets go through."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.open = asyncio.Event()
        self.open.set()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> AckGate:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, held: bool) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    if held:
                        await self.open.wait()
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))


async def phone_ticket(n: Node, k: int) -> None:
    """A ticket of service A with a phone (the k-th), its entries published in its own loop
    turn, as a request's are."""
    t = await n.store.issue("A", "normal", "mobile", phone=f"1380000{k:04d}", phone_key=str(k))
    n.relay.publish_now(t.entries)
    await asyncio.sleep(0)  # the turn ends


async def test_notices_wait_for_the_unacknowledged_message_and_go_together_at_its_puback(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: with no notify message unacknowledged, a notice goes at once (its loop
    turn's end); while one is, the notices of later turns wait and go as one message at its
    PUBACK, each once, and leave the outbox."""
    monkeypatch.setattr("queue_server.relay.SWEEP_EVERY", 3600.0)  # the fast path alone
    monkeypatch.setattr("queue_server.relay.LAZY_WAIT", 0.0)  # no notice waits for company
    async with env.gated() as (n, gate, sub):
        key = keys.outbox(env.cfg.id, n.relay.id, "notify")
        await phone_ticket(n, 1)
        await sub.get("/notify", where=lambda b: b["number"] == "A001")  # alone, at once
        await until(functools.partial(_empty, env.redis, key))  # acknowledged, deleted
        gate.open.clear()  # its PUBACKs held from now
        await phone_ticket(n, 2)
        await sub.get("/notify", where=lambda b: b["number"] == "A002")  # nothing in flight
        for k in range(3, 8):  # five turns while A002's message is unacknowledged
            await phone_ticket(n, k)
        assert len(sub.messages) == 2
        gate.open.set()
        got = [
            await sub.get("/notify", where=lambda b, k=k: b["number"] == f"A{k:03d}")
            for k in range(3, 8)
        ]
        await until(functools.partial(_empty, env.redis, key))
    assert [b["kind"] for b in got] == ["ticket_taken"] * 5
    assert [size for _, size in sub.messages] == [1, 1, 5]


async def test_lazy_notices_wait_for_company_and_an_urgent_one_takes_them_along(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lazy notices ("ticket taken") wait up to LAZY_WAIT to share a message, even with none
    in flight; a "called" notice goes at its loop turn's end with those waiting. Each once."""
    monkeypatch.setattr("queue_server.relay.SWEEP_EVERY", 3600.0)  # the fast path alone
    monkeypatch.setattr("queue_server.relay.LAZY_WAIT", 1.0)
    hall = env.cfg.id
    n = await env.node()
    async with subscribe(env.broker, [f"hallcall/{hall}/notify"]) as sub:
        await env.start(n)

        for k in (1, 2, 3):
            await phone_ticket(n, k)
        called = await n.store.call("1")
        n.relay.publish_now(called.entries)  # A001 called: urgent
        first = [await sub.get("/notify") for _ in range(4)]
        for k in (4, 5):
            await phone_ticket(n, k)
        later = [await sub.get("/notify") for _ in range(2)]
        await until(functools.partial(_empty, env.redis, keys.outbox(hall, n.relay.id, "notify")))
    assert sorted((b["kind"], b["number"]) for b in first) == [
        ("called", "A001"),
        *(("ticket_taken", f"A{k:03d}") for k in (1, 2, 3)),
    ]
    assert [b["number"] for b in later] == ["A004", "A005"]
    assert [size for _, size in sub.messages] == [4, 2]  # no lone ticket_taken message


async def test_a_sweep_sends_again_no_notice_the_fast_path_holds(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay keeps notices per message, not one by one: a sweep that reads them all back
    (eager, as after a reconnect) skips each that is acknowledged and not yet deleted, in
    flight, or waiting for its message, and each reaches the broker once."""
    monkeypatch.setattr("queue_server.relay.SWEEP_EVERY", 3600.0)  # only the sweep below
    monkeypatch.setattr("queue_server.relay.DELETE_EVERY", 3600.0)  # acknowledged ones stay
    monkeypatch.setattr("queue_server.relay.LAZY_WAIT", 0.0)
    async with env.gated() as (n, gate, sub):
        own = n.relay._outboxes[n.relay.id]
        await phone_ticket(n, 1)
        await sub.get("/notify", where=lambda b: b["number"] == "A001")
        await until(lambda: _true(bool(own.acked["notify"])))  # acknowledged, not deleted
        gate.open.clear()  # PUBACKs held from now
        await phone_ticket(n, 2)
        await sub.get("/notify", where=lambda b: b["number"] == "A002")  # in flight
        await phone_ticket(n, 3)  # waits for A002's PUBACK
        stream = await env.redis.xrange(keys.outbox(env.cfg.id, n.relay.id, "notify")) or []
        ids = [e for e, _ in stream]
        assert len(ids) == 3 and own.notice_ids == ids[2:]
        await n.relay.sweep(eager=True)
        assert own.notice_ids == ids[2:] and list(own.flight.values()) == [ids[1:2]]
        gate.open.set()
        await sub.get("/notify", where=lambda b: b["number"] == "A003")
    assert [size for _, size in sub.messages] == [1, 1, 1]
