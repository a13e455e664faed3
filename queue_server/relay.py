"""The outbox relay of one hall in this server process.

Every Lua change that calls a ticket or makes a notice also appends the message to this
process's outbox streams in Redis (``calls`` and ``notify``), in the same atomic step. Then:

- **Fast path.** The request that made the change hands the script's answer to `publish_now`,
  which publishes at once (QoS 1, many in flight). Durability costs the call nothing. A call
  is one message; notices travel together as one message (up to `protocol.MAX_NOTICES`):
  at the loop turn's end, after that turn's calls, or, while a notify message is
  unacknowledged, at its PUBACK (group commit: under load a message carries what came during
  the broker's round trip). A notice whose moment does not matter to the citizen (`LAZY`:
  "ticket taken", the rating link, bookings) waits up to `LAZY_WAIT` for others to go with;
  one that does (called, near, missed) goes at once and takes the waiting ones along.
- **Position.** An entry is deleted from its stream when the broker acknowledged it, in batches;
  what is left in a stream is exactly what may not have reached the broker. Nothing lives only
  in memory, so no in-memory cap can drop a call. Notices are kept as their messages are, lists
  of ids (one per message in flight), not one by one in sets: what a sweep must skip is worked
  out when it reads any (rarely).
- **Replay.** A sweep reads the streams and publishes what the fast path did not (an answer
  lost with a cancelled request, entries written while the broker was away). After the broker
  returns: snapshots first (the publisher does that), then the calls younger than
  `replay_calls_age` (older ones are history, which the board shows), then every notice (the
  SMS gateway decides what is stale). Calls always go before notices.
- **Crash and takeover.** Each process holds a lease on its outbox (renewed every second). A
  process that finds an outbox whose lease lapsed (its owner was killed) takes the lease,
  replays the outbox and removes it once drained. A restarted server is a new relay and
  adopts its former self's outbox the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from queue_server import metrics
from queue_server.clock import Clock
from queue_server.outage import Outage
from queue_server.outlink import Outlink
from queue_server.protocol import MAX_NOTICES, pack_notices, topic_notify
from queue_server.store import keys
from queue_server.store.hall_store import Entry, entry_fields
from queue_server.store.pipeline import Packed, Pipeline, command

log = logging.getLogger(__name__)

STREAMS = ("calls", "notify")  # in this order: calls before notices
LEASE_MS = 5_000
RENEW_EVERY = 1.0
ADOPT_EVERY = 2.0
SWEEP_EVERY = 0.25
DELETE_EVERY = 0.05
BATCH = 2_000
LAZY = frozenset({"ticket_taken", "finished", "appointment_booked", "appointment_reminder"})
"""Notice kinds that may wait `LAZY_WAIT` to share a message: the SMS takes seconds to reach
the phone anyway. While issuing flat out a message carries ~170 notices instead of ~38, so
the broker routes and the SMS gateway commits ~4.5× fewer messages (the issue rate did not
move beyond bench.phone_ratio's noise)."""
LAZY_WAIT = 0.05
YOUNG = 0.25
"""Seconds: this process's own entries younger than this are the fast path's, and a sweep does
not read them. By then nearly all are acknowledged and deleted (XDEL every DELETE_EVERY), so
a sweep reads back only what the fast path missed, not every call and notice once more."""

Ref = tuple[str, str]
"""An outbox entry as (stream, id): ids are unique per stream only (a call and its notice,
written in one script, often share one)."""

Render = Callable[[Entry], tuple[str, bytes]]
"""Turns an outbox entry into its MQTT topic and payload (the announcer)."""


@dataclass
class Outbox:
    """One relay's two streams, as this process publishes them."""

    relay: str
    own: bool
    # Entries are known by (stream, id): the two streams' ids are independent and often equal
    # (one change writes a call and a notice in the same millisecond, both "<ms>-0"). Keyed by
    # id alone, the notice looked published with its call and waited for the sweep (~0.5 s).
    published: set[Ref] = field(default_factory=set)  # calls sent, not yet acknowledged
    acked: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in STREAMS})
    acked_ids: set[Ref] = field(default_factory=set)  # calls acknowledged, not yet deleted
    candidates: set[Ref] = field(default_factory=set)  # seen unpublished by the last sweep only
    replay: bool = True  # apply the age rule to calls (after connecting, or adopted)
    # per stream, the last entry id every entry up to which was handled: a sweep reads on from
    # there, not the whole backlog again while it is in flight ("-": from the start)
    cursor: dict[str, str] = field(default_factory=lambda: dict.fromkeys(STREAMS, "-"))
    # notices rendered, to go as one message (when: `Relay._schedule`): ids and payloads
    notice_ids: list[str] = field(default_factory=list)
    notices: list[bytes] = field(default_factory=list)
    flight: dict[int, list[str]] = field(default_factory=dict)  # notify messages unacknowledged
    flights: int = 0  # notify messages sent so far: each one's number, its key in `flight`
    notices_since: float = 0.0  # loop time the first of `notices` came
    notices_urgent: bool = False  # one of `notices` is not LAZY: no waiting
    notices_due: asyncio.Handle | None = None  # their send, when timed
    notices_due_now: bool = False  # ... at this turn's end, not at LAZY_WAIT

    def drop_notices(self) -> None:
        """The link went down or came up: what waits is replayed by the sweep, what was in
        flight is never acknowledged."""
        self.notice_ids.clear()
        self.notices.clear()
        self.flight.clear()
        self.notices_urgent = False
        self.not_due()

    def not_due(self) -> None:
        if self.notices_due is not None:
            self.notices_due.cancel()
            self.notices_due = None

    def rewind(self) -> None:
        self.cursor = dict.fromkeys(STREAMS, "-")

    @property
    def busy(self) -> bool:
        """Something is sent and not yet acknowledged, or waits to be sent."""
        return bool(self.published or self.flight or self.notices)

    def notices_held(self) -> set[str]:
        """The notices a sweep must not publish again: waiting, in flight, or acknowledged
        and not yet deleted (made when a sweep reads notices: not kept one by one)."""
        held = set(self.notice_ids)
        for ids in self.flight.values():
            held.update(ids)
        held.update(self.acked["notify"])
        return held


class Relay:
    def __init__(
        self,
        redis: Any,
        scripts: dict[str, Any],
        hall: str,
        instance: str,
        render: Render,
        clock: Clock,
        replay_calls_age: float = 60.0,
    ) -> None:
        self.redis = redis
        self.hall = hall
        self.render = render
        self.clock = clock
        self.replay_calls_age = replay_calls_age
        self._scripts = scripts
        self._link: Pipeline | None = getattr(redis, "pipeline_link", None)
        self._instance = instance
        self._holder = f"{instance}-{secrets.token_hex(4)}"  # this process, as lease holder
        self.id = self._new_id()
        self._outboxes: dict[str, Outbox] = {self.id: Outbox(self.id, own=True, replay=False)}
        self._sender: Outlink | None = None
        self._notify = topic_notify(hall)
        self._live = False  # fast path on: connected and caught up
        self._stopping = False
        self._registering: asyncio.Future[None] | None = None
        self.lag = 0.0
        self._relayed = {s: metrics.child(metrics.RELAYED, hall, s) for s in STREAMS}

    @property
    def live(self) -> bool:
        """The fast path is on: connected, and the outboxes replayed."""
        return self._live

    def current_id(self) -> str:
        """The outbox this process writes to now (it changes if the lease was lost)."""
        return self.id

    def _new_id(self) -> str:
        return f"{self._instance}-{secrets.token_hex(4)}"

    # -- lifecycle -------------------------------------------------------------------------

    async def register(self) -> None:
        """Claim this process's outbox before any change is made."""
        await self.redis.sadd(keys.relays(self.hall), self.id)
        await self._lease(self.id, "renew")

    async def _lease(self, relay: str, mode: str) -> bool:
        got = await self._scripts["lease"](
            keys=[keys.lease(self.hall, relay)], args=[self._holder, LEASE_MS, mode]
        )
        return bool(got)

    async def keep_leases(self) -> None:
        """Renew the leases of this process's outboxes, for as long as it runs."""
        while not self._stopping:
            for relay in list(self._outboxes):
                try:
                    held = await self._lease(relay, "renew")
                except Exception as exc:  # Redis away: the publisher's outage log says so
                    log.debug("hall %s: cannot renew lease %s: %s", self.hall, relay, exc)
                    break
                if not held:
                    self._lost(relay)
            await asyncio.sleep(RENEW_EVERY)

    def _lost(self, relay: str) -> None:
        """Another process took this lease (we stalled past it): it replays that outbox now."""
        self._outboxes.pop(relay, None)
        if relay == self.id:
            self.id = self._new_id()
            self._outboxes[self.id] = Outbox(self.id, own=True, replay=False)
            log.warning("hall %s: lost the outbox lease; writing to %s now", self.hall, self.id)
            self._registering = asyncio.ensure_future(self.register())

    async def drain(self, timeout: float = 2.0) -> None:
        """Before a clean stop: wait for the broker to acknowledge what is in flight."""
        deadline = time.monotonic() + timeout
        # acks arrive on the link's callback: polling a few times is simpler than an event per ack
        while any(o.busy for o in self._outboxes.values()) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        with contextlib.suppress(Exception):
            await self._delete_acked()

    async def release(self) -> None:
        """On a clean stop: leases given up, so another process adopts what is left at once."""
        self._stopping = True
        with contextlib.suppress(Exception):
            await self._delete_acked()
            for ob in list(self._outboxes.values()):
                if not await self._retire(ob):  # entries left: let another process adopt them
                    await self.redis.delete(keys.lease(self.hall, ob.relay))

    # -- the broker link -------------------------------------------------------------------

    def connected(self, client: Outlink) -> None:
        self._sender = client
        for ob in self._outboxes.values():
            ob.published.clear()  # unacknowledged ones go again: at least once
            ob.drop_notices()
            ob.candidates.clear()
            ob.replay = True
            ob.rewind()

    def disconnected(self) -> None:
        self._sender = None
        self._live = False
        for ob in self._outboxes.values():
            ob.published.clear()
            ob.drop_notices()

    async def catch_up(self) -> None:
        """After the snapshots: replay every outbox, then turn the fast path on."""
        await self.sweep(eager=True)
        self._live = True
        await self.sweep(eager=True)  # what was written while the fast path was off

    # -- fast path -------------------------------------------------------------------------

    def publish_now(self, entries: list[Entry]) -> None:
        """Publish a change's outbox entries at once (calls first). While the link is down or
        replaying, the sweep publishes them from Redis instead."""
        if not entries or not self._live or self._sender is None:
            return
        ob = self._outboxes.get(self.id)
        if ob is None:
            return
        for e in entries:  # calls first
            if e.stream == "calls" and (e.stream, e.id) not in ob.published:
                self._send(ob, e)
        for e in entries:
            if e.stream == "notify":  # (one the sweep sent already is at worst sent twice)
                self._add_notice(ob, e)

    def _send(self, ob: Outbox, e: Entry) -> None:
        sender = self._sender
        if sender is None:
            return
        if e.stream == "notify":
            self._add_notice(ob, e)
            return
        topic, payload = self.render(e)
        stream, eid = ref = (e.stream, e.id)
        published, relayed = ob.published, self._relayed[stream]

        def done() -> None:  # on the PUBACK
            if ref in published:
                published.discard(ref)
                ob.acked[stream].append(eid)  # a list _delete_acked replaces
                ob.acked_ids.add(ref)
                relayed.inc()

        published.add(ref)
        if not sender.send(topic, payload, done):
            published.discard(ref)
            ob.rewind()  # the next sweep tries it again

    def _add_notice(self, ob: Outbox, e: Entry) -> None:
        """A notice joins the next notify message: one publish, one PUBACK and one routing in
        the broker for a burst's notices instead of one each (see `_schedule`)."""
        if not ob.notices:
            ob.notices_since = asyncio.get_running_loop().time()
        ob.notices.append(self.render(e)[1] if e.payload is None else e.payload)
        ob.notice_ids.append(e.id)
        if e.fields.get("kind") not in LAZY:
            ob.notices_urgent = True
        if len(ob.notices) >= MAX_NOTICES:
            self._send_notices(ob)
        else:
            self._schedule(ob)

    def _schedule(self, ob: Outbox) -> None:
        """When the waiting notices go: while a notify message is unacknowledged, at its
        PUBACK (this is called again then); else at this loop turn's end if one of them is
        urgent, or LAZY_WAIT after the first came."""
        if not ob.notices or ob.flight:
            return
        loop = asyncio.get_running_loop()
        wait = 0.0 if ob.notices_urgent else ob.notices_since + LAZY_WAIT - loop.time()
        if ob.notices_due is not None:
            if ob.notices_due_now or wait > 0:
                return  # already due as soon or sooner
            ob.notices_due.cancel()
        ob.notices_due_now = wait <= 0
        ob.notices_due = (
            loop.call_soon(self._send_notices, ob)
            if wait <= 0
            else loop.call_later(wait, self._send_notices, ob)
        )

    def _send_notices(self, ob: Outbox) -> None:
        ob.not_due()
        ids, batch = ob.notice_ids, ob.notices
        if not batch:
            return
        ob.notice_ids, ob.notices, ob.notices_urgent = [], [], False
        ob.flights += 1
        flight, no = ob.flight, ob.flights

        def done() -> None:  # on the PUBACK of them all
            if flight.pop(no, None) is None:  # sent before the link went down: sent again
                return
            ob.acked["notify"].extend(ids)
            self._relayed["notify"].inc(len(ids))
            self._schedule(ob)  # what came meanwhile

        flight[no] = ids
        sender = self._sender
        if sender is None or not sender.send(self._notify, pack_notices(batch), done):
            flight.pop(no, None)
            ob.rewind()  # the next sweep tries them again

    # -- sweeping, deleting, adopting ------------------------------------------------------

    async def run(self, outage: Outage) -> None:
        """While connected: replay (once), then delete acknowledged entries, sweep, adopt
        lapsed outboxes. Redis going away pauses this, logged once by `outage` (its end is
        logged by the next request that reaches Redis); the broker link stays up."""
        last_sweep = last_adopt = 0.0
        while not self._stopping and self._sender is not None:
            try:
                if not self._live:
                    await self.catch_up()
                await self._delete_acked()
                now = time.monotonic()
                if now - last_sweep >= SWEEP_EVERY:
                    last_sweep = now
                    await self.sweep()
                if now - last_adopt >= ADOPT_EVERY:
                    last_adopt = now
                    await self._adopt()
            except (RedisError, OSError) as exc:
                outage.failed(exc, f"hall {self.hall}: outbox")
                await asyncio.sleep(0.5)
                continue
            await asyncio.sleep(DELETE_EVERY)

    async def _delete_acked(self) -> None:
        """XDEL what the broker acknowledged: one command per stream, over the pipelined link
        when there is one (redis-py's pipeline cost more than the deletes while issuing)."""
        dels: list[list[str]] = []
        for ob in self._outboxes.values():
            for stream, ids in ob.acked.items():
                if ids:
                    dels.append(["XDEL", keys.outbox(self.hall, ob.relay, stream), *ids])
                    ob.acked[stream] = []
                    if stream == "calls":
                        ob.acked_ids.difference_update([(stream, i) for i in ids])
        if not dels:
            return
        link = self._link
        if link is not None:
            await asyncio.gather(*(link.execute(command(Packed.of(d))) for d in dels))
            return
        pipe = self.redis.pipeline(transaction=False)
        for d in dels:
            pipe.xdel(d[1], *d[2:])
        await pipe.execute()

    async def sweep(self, eager: bool = False) -> None:
        """Publish what is in the streams and was not published. An entry of this process's
        own outbox is left one sweep for the fast path unless `eager`. Each stream is read on
        from its cursor: entries before it were all published, acknowledged or skipped. Unless
        `eager`, the own outbox is read only up to YOUNG seconds ago, by the entry ids (Redis's
        clock: a server clock behind it only delays what the fast path missed)."""
        oldest: float | None = None
        for ob in list(self._outboxes.values()):
            seen, ob.candidates = ob.candidates, set()
            for stream in STREAMS:
                key = keys.outbox(self.hall, ob.relay, stream)
                first = await self._range(key, stream, "-", 1, "+")
                if first:
                    t = float(first[0].fields.get("time", 0)) / 1000
                    oldest = t if oldest is None else min(oldest, t)
                start, held = ob.cursor[stream], False
                end = "+" if eager or not ob.own else str(int((time.time() - YOUNG) * 1000))
                while self._sender is not None:
                    batch = await self._range(
                        key, stream, start if start == "-" else "(" + start, BATCH, end
                    )
                    sent = ob.notices_held() if batch and stream == "notify" else set()
                    for e in batch:
                        # the cursor stays before an entry left for the fast path
                        held = self._sweep_one(ob, e, eager, seen, sent) or held
                        if not held:
                            ob.cursor[stream] = e.id
                    if len(batch) < BATCH:
                        break
                    start = batch[-1].id
            ob.replay = False
            if not ob.own and not ob.busy and not any(ob.acked.values()):
                await self._retire(ob)
        self.lag = max(0.0, self.clock.now() - oldest) if oldest is not None else 0.0
        metrics.OUTBOX_LAG.labels(self.hall).set(self.lag)

    async def _range(self, key: str, stream: str, start: str, count: int, end: str) -> list[Entry]:
        """XRANGE from `start`, over the pipelined link when there is one (redis-py's stream
        parsing was a sixth of a replay's time); entries of either form (entry_fields)."""
        if self._link is None:
            got: list[tuple[str, dict[str, str]]] = await self.redis.xrange(
                key, min=start, max=end, count=count
            )
            return [
                Entry(stream, eid, entry_fields([x for kv in f.items() for x in kv]))
                for eid, f in got
            ]
        raw = await self._link.execute(
            command(Packed.of(["XRANGE", key, start, end, "COUNT", count]))
        )
        return [Entry(stream, eid, entry_fields(flat)) for eid, flat in raw]

    def _sweep_one(
        self, ob: Outbox, e: Entry, eager: bool, seen: set[Ref], notices: set[str]
    ) -> bool:
        """Publish `e` unless it was or need not be (`notices`: those held, `notices_held`);
        True if it is left for the fast path."""
        ref = (e.stream, e.id)
        if ref in ob.published or ref in ob.acked_ids or e.id in notices:
            return False
        if ob.replay and e.stream == "calls":
            age = self.clock.now() - float(e.fields.get("time", 0)) / 1000
            if age > self.replay_calls_age:  # history now: the board shows it
                ob.acked["calls"].append(e.id)
                ob.acked_ids.add(ref)
                return False
        if ob.own and not eager and ref not in seen:
            ob.candidates.add(ref)  # the fast path may be about to send it
            return True
        if self._sender is not None:
            self._send(ob, e)
        return False

    async def _adopt(self) -> None:
        for relay in await self.redis.smembers(keys.relays(self.hall)):
            if relay in self._outboxes:
                continue
            if await self._lease(relay, "take"):
                log.warning(
                    "hall %s: adopting the outbox of %s (its process stopped)", self.hall, relay
                )
                self._outboxes[relay] = Outbox(relay, own=False)

    async def _retire(self, ob: Outbox) -> bool:
        h = self.hall
        done = await self._scripts["retire"](
            keys=[
                keys.outbox(h, ob.relay, "calls"),
                keys.outbox(h, ob.relay, "notify"),
                keys.outbox_state(h, ob.relay),
                keys.lease(h, ob.relay),
                keys.relays(h),
            ],
            args=[ob.relay, self._holder],
        )
        if done and not ob.own:
            self._outboxes.pop(ob.relay, None)
            log.info("hall %s: the outbox of %s is replayed and removed", h, ob.relay)
        return bool(done)
