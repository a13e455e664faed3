"""One hall's state in Redis: every change is one Lua script, so server processes can share it.

Each script gets every key it touches in KEYS (the layout is in lua/common.lua) and answers
what the caller needs, including the outbox entries it wrote in the same atomic change, so the
caller publishes them at once without reading anything again.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple

from redis.exceptions import ResponseError

from queue_server.clock import Clock, SystemClock
from queue_server.config import HallConfig
from queue_server.domain.numbering import service_day
from queue_server.domain.priority import MINUTE_MS, Rules
from queue_server.store import keys, quota
from queue_server.store.pipeline import Packed
from queue_server.store.quota import Quota

# a key sent again with another request (issue.lua says the same in its refusal)
MISMATCH = "this Idempotency-Key was used for another request in the last 10 min"

Record = dict[str, Any]
"""A ticket's record as the scripts keep it (JSON in the day's ticket hash)."""


class StoreError(Exception):
    """A change refused by a script, with the script's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class QuotaExceeded(StoreError):
    """An issue refused by one of its quota counters (store/quota.py)."""

    def __init__(self, quota: Quota) -> None:
        super().__init__(quota.code, quota.message)
        self.quota = quota


class Entry(NamedTuple):
    """An outbox entry: its stream ("calls" or "notify"), id, and fields (all strings); or,
    with `payload`, its message rendered already and of its fields only its kind (`Taken`).
    A tuple: made ~0.4 µs quicker than a frozen dataclass, for each call and notice."""

    stream: str
    id: str
    fields: Mapping[str, str]
    payload: bytes | None = None

    @classmethod
    def of(cls, raw: list[Any]) -> Entry:
        """From a script's answer: stream, id, then the entry's fields and values."""
        stream, eid, *flat = raw
        return cls(stream, eid, entry_fields(flat))


def entry_fields(flat: Sequence[Any]) -> dict[str, str]:
    """A stream entry's fields from its field-value list: `j <JSON object>` as common.lua's
    outbox() writes them; entries left in a stream by earlier versions (before an upgrade)
    hold `n <count> j <JSON object>` or a pair per field."""
    if len(flat) in (2, 4) and flat[-2] == "j":
        fields: dict[str, str] = json.loads(flat[-1])
        return fields
    return {str(k): str(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}


def _entries(raw: Any) -> list[Entry]:
    """A script answer's outbox entries. This version's form (`stream, id, "j", JSON`) is read
    inline: a phone ticket's answer carries its notice, and the general path cost twice the
    JSON parse."""
    if not isinstance(raw, list):
        return []
    return [
        Entry(x[0], x[1], _loads(x[3])) if len(x) == 4 and x[2] == "j" else Entry.of(x) for x in raw
    ]


_loads = json.JSONDecoder().decode  # json.loads's own decoder, without its per-call checks


@dataclass(frozen=True, slots=True)
class Claim:
    """An Idempotency-Key claimed by the issue script in the same atomic change as the ticket:
    its Redis key (keys.idempotency) and the print of the request that holds it."""

    slot: str
    request_print: str
    ttl_s: int = 600


@dataclass(frozen=True, slots=True)
class CheckIn:
    """The booking an issue checks in, in the same atomic change: it must still be booked
    (one checked in before answers its ticket, `replayed`); `late`: past its window."""

    code: str
    late: bool = False
    date: str = ""  # the booking's date (YYYYMMDD): its held place is given back


TAKEN_FIELDS: Mapping[str, str] = MappingProxyType({"kind": "ticket_taken"})


class Taken(NamedTuple):
    """A phone ticket's ticket_taken notice, typed as the issue script answered it (`eid`: its
    outbox entry's id). The fast path renders it from these values (`Announcer.taken`): a
    dict of strings built for it and parsed back by the render cost a phone ticket ~1.5 µs."""

    eid: str
    ticket: str
    number: str
    ahead: int
    time_ms: int
    phone: str
    service: str
    lang: str
    steps: int  # a ticket of several steps: how many (it starts at the first); else 0 or 1

    def entry(self) -> Entry:
        """The entry as its stream holds it (what the relay's sweep and replay read)."""
        return taken_entry(*self)  # its fields in taken_entry's order


@dataclass(frozen=True, slots=True)
class Issued:
    """A new ticket, or with `replayed` the ticket a claim (an Idempotency-Key sent again)
    already holds: then only `ticket` is set (read it as it is now) and nothing changed.
    `taken`: a phone ticket's notice, its one outbox entry."""

    ticket: str
    number: str
    ahead: int
    seq: int
    issued_ms: int
    secret: str
    taken: Taken | None = None
    replayed: bool = False

    @property
    def entries(self) -> list[Entry]:
        """The outbox entries it wrote, as their streams hold them (the fast path publishes
        `taken` instead: it renders from the typed values)."""
        return [self.taken.entry()] if self.taken else []


@dataclass(frozen=True)
class Changed:
    """Outcome of a window or citizen action: the ticket it touched ("" if none) and its
    record after the change (`raw`, its JSON), the ticket the window finished on the way
    (next), the hall seq, the call seq (calls and recalls), tickets ahead (rejoin), and the
    outbox entries."""

    ticket: str
    raw: Any
    seq: int
    call_seq: int = 0
    closed: str = ""
    missed: bool = False
    ahead: int = -1
    entries: list[Entry] = field(default_factory=list)

    @functools.cached_property
    def record(self) -> Record | None:
        """Parsed when first read: a call is published before its record is looked at."""
        return _record(self.raw)


def _run_error(exc: ResponseError) -> StoreError:
    code, _, message = str(exc).partition(" ")
    # redis-py may prefix script errors with the command context; keep the code we raised.
    return StoreError(code.strip(), message.split(" script:", 1)[0].strip())


def _record(raw: Any) -> Record | None:
    return json.loads(raw) if isinstance(raw, str) and raw else None


def rules_from_config(hall: HallConfig) -> dict[str, float]:
    q = hall.queue
    out: dict[str, float] = {
        f"boost:{c.id}": round(c.boost_minutes * MINUTE_MS) for c in hall.classes
    }
    out.update(
        recall_limit=q.recall_limit,
        rejoin_ms=round(q.rejoin_minutes * MINUTE_MS),
        notify_ahead=q.notify_ahead,
    )
    return out


def policy_from_config(hall: HallConfig) -> Rules:
    """The rules as the file states them, before any manager's change."""
    boosts = {c.id: round(c.boost_minutes * MINUTE_MS) for c in hall.classes}
    return Rules(boosts=boosts, offsets=offsets_from_config(hall))


def offsets_from_config(hall: HallConfig) -> dict[str, dict[str, int]]:
    return {w.id: {s: round(o * MINUTE_MS) for s, o in w.services.items()} for w in hall.windows}


def record_part(
    service: str,
    cls: str,
    channel: str,
    secret: str,
    lang: str,
    phone: str,
    steps: tuple[str, ...],
    id_key: str,
) -> str:
    """The members of a new ticket's record that the issue script does not work out, as compact
    JSON text it joins into the record: the phone (`phone`: its JSON text, `quoted`), the
    services of a ticket of several steps (一票到底; `step` 1), and the ID's digest (the
    manager's list of who took several) only when given. The secret is URL-safe base64."""
    out = _record_fixed(service, cls, channel, lang) + f',"secret":"{secret}"'
    if phone:
        out += ',"phone":' + phone
    if len(steps) > 1:
        out += f',"steps":{json.dumps(list(steps), separators=(",", ":"))},"step":1'
    if id_key:
        out += f',"id_key":{json.dumps(id_key)}'
    return out


def quoted(text: str) -> str:
    """`text` as a JSON string; a phone's digits (the usual) without json.dumps's cost."""
    return f'"{text}"' if text.isascii() and text.isdigit() else json.dumps(text)


@functools.lru_cache(maxsize=256)
def _record_fixed(service: str, cls: str, channel: str, lang: str) -> str:
    dumps = json.dumps
    return f'"service":{dumps(service)},"class":{dumps(cls)},"channel":{dumps(channel)},' + (
        f'"lang":{dumps(lang)}'
    )


def taken_note(phone: str, service: str, lang: str, steps: int) -> str:
    """The members of a ticket_taken outbox entry that the issue script does not work out, as
    JSON text it joins into the entry (all strings, as common.lua's outbox() writes them):
    phone (its JSON text, `quoted`), service and language escaped here, so the script needs
    no table or encoder."""
    return '"phone":' + phone + "," + _taken_fixed(service, lang, steps)


@functools.lru_cache(maxsize=256)
def _taken_fixed(service: str, lang: str, steps: int) -> str:
    return ",".join(
        f"{json.dumps(k)}:{json.dumps(v)}" for k, v in _taken_members(service, lang, steps).items()
    )


@functools.lru_cache(maxsize=256)
def _taken_members(service: str, lang: str, steps: int) -> dict[str, str]:
    """The ticket_taken members its service, language and steps fix (read only: shared).
    Those at their defaults are left out, as every reader takes them (the announcer: no
    window, round 0, step 0, steps 0): each byte of the entry is made twice as Lua text in
    Redis (the argument, the joined JSON), ~2k Redis instructions for these four. Entries
    written with them (before) read the same."""
    if steps > 1:  # a ticket of several steps starts at its first
        return {"service": service, "lang": lang, "step": "1", "steps": str(steps)}
    return {"service": service, "lang": lang}


def taken_entry(
    eid: str,
    tid: str,
    number: str,
    ahead: Any,
    issued: Any,
    phone: str,
    service: str,
    lang: str,
    steps: int,
) -> Entry:
    """A phone ticket's ticket_taken outbox entry: the script answers its id only, and its
    fields are what the script joined from `taken_note` and the values it answers (the
    stream's copy, which the relay's sweep and replay read, holds the same: test_issue_counts).
    """
    return Entry(
        "notify",
        eid,
        {
            "kind": "ticket_taken",
            "ticket": tid,
            "number": number,
            "ahead": str(ahead),
            "time": str(issued),
            "phone": phone,
            **_taken_members(service, lang, steps),
        },
    )


_NOW_REDIS = Packed.of([""])  # ARGV[1] empty: the script reads Redis's clock


def day_of(ticket: str) -> str:
    """The day a ticket id belongs to ("20261126-A005" -> "20261126")."""
    return ticket.split("-", 1)[0]


class HallStore:
    def __init__(self, redis: Any, scripts: dict[str, Any], hall: HallConfig, clock: Clock) -> None:
        self.redis = redis
        self.hall = hall
        self.clock = clock
        self.outbox: Callable[[], str] = lambda: "none"  # this process's outbox (its relay id)
        self._scripts = scripts
        self._services = ",".join(hall.service_ids)
        self._classes = ",".join(hall.class_ids)
        # With the real clock the scripts read Redis's: one clock for every server process.
        self._redis_time = isinstance(clock, SystemClock)
        self._packed: dict[tuple[str, str, str, str], tuple[Packed, Packed]] = {}
        self._packed_windows: dict[tuple[str, str], Packed] = {}
        self._day = ("", 0.0, 0.0)  # the service day, and when it starts and ends (epoch s)
        self._phone_prefix = ("", "")  # the day, and its per-phone counter keys' start

    # -- plumbing --------------------------------------------------------------------------

    def day(self) -> str:
        now = self.clock.now()
        day, start, end = self._day
        if not start <= now < end:  # once a day, not once a request
            local = datetime.fromtimestamp(now, self.hall.tz)
            start = datetime.combine(local.date(), time(), self.hall.tz).timestamp()
            tomorrow = datetime.combine(local.date() + timedelta(days=1), time(), self.hall.tz)
            day = service_day(now, self.hall.tz)
            self._day = (day, start, tomorrow.timestamp())
        return day

    def _hall_keys(
        self, day: str, tickets_day: str | None = None, services: Sequence[str] = ()
    ) -> list[str]:
        """The fixed KEYS (lua/common.lua), with the queues of `services` (default: all)."""
        h, relay, classes = self.hall.id, self.outbox(), self.hall.class_ids
        return [
            keys.seq(h),
            keys.callseq(h),
            keys.place(h),
            keys.rules(h),
            keys.handle_times(h),
            keys.recent_calls(h),
            keys.events(h),
            keys.tickets(h, tickets_day or day),
            keys.outbox(h, relay, "calls"),
            keys.outbox(h, relay, "notify"),
            *[keys.queue(h, day, s, c) for s in services or self.hall.service_ids for c in classes],
        ]

    def _window_keys(self, day: str, window: str) -> list[str]:
        h = self.hall.id
        return [
            keys.window(h, window),
            keys.window_services(h, window),
            keys.parked(h, day, window),
            keys.window_queue(h, day, window),
        ]

    def _packed_window_keys(self, day: str, window: str) -> Packed:
        """A window's own keys for `next`, packed once per day (a window presses it all day)."""
        at = (day, window)
        packed = self._packed_windows.get(at)
        if packed is None:
            if len(self._packed_windows) >= 4 * len(self.hall.windows) + 8:  # earlier days
                self._packed_windows.clear()
            packed = self._packed_windows[at] = Packed.of(self._window_keys(day, window))
        return packed

    async def _run(
        self,
        name: str,
        own_keys: list[str] | Packed,
        args: list[str | int],
        day: str | None = None,
        tickets_day: str | None = None,
        service: str = "",
    ) -> Any:
        """Run a hall script; with `service`, it gets the queues of that service only (its
        Q has no other), as the issue script, which touches no other service's queues."""
        day = day or self.day()
        fixed_keys, fixed_args = self._fixed(day, tickets_day, service)
        now = _NOW_REDIS if self._redis_time else Packed.of([round(self.clock.now() * 1_000_000)])
        try:
            return await self._scripts[name].run(
                (fixed_keys, own_keys if isinstance(own_keys, Packed) else Packed.of(own_keys)),
                (now, fixed_args, Packed.of(args)),
            )
        except ResponseError as exc:
            raise _run_error(exc) from exc

    def _fixed(self, day: str, tickets_day: str | None, service: str = "") -> tuple[Packed, Packed]:
        """The keys and arguments every script of this hall gets (~30 of them), packed once
        per day, outbox and `service` rather than once per call."""
        at = (day, tickets_day or day, self.outbox(), service)
        packed = self._packed.get(at)
        if packed is None:
            if len(self._packed) >= 8 + len(self.hall.service_ids):  # yesterday's, a lost lease's
                self._packed.clear()
            only = (service,) if service else ()
            fixed_keys = Packed.of(self._hall_keys(day, tickets_day, only))
            packed = self._packed[at] = (
                fixed_keys,
                Packed.of([day, service or self._services, self._classes]),
            )
        return packed

    run = _run  # for the stores beside this one (store/appt_store.py)

    # -- configuration ---------------------------------------------------------------------

    def _rules_args(self, offsets: dict[str, dict[str, int]]) -> tuple[list[str], list[str]]:
        windows = list(offsets)
        h = self.hall.id
        return [keys.meta(h), *[keys.window_services(h, w) for w in windows]], windows

    async def seed(self) -> bool:
        """Load the config file's rules into Redis unless they are there for this same file."""
        offsets = offsets_from_config(self.hall)
        own, windows = self._rules_args(offsets)
        priors = {s.id: round(s.avg_minutes * MINUTE_MS) for s in self.hall.services}
        body, _ = await self._run(
            "rules",
            own,
            [
                "seed",
                self.hall.fingerprint(),
                "config file",
                json.dumps(rules_from_config(self.hall)),
                json.dumps(offsets),
                json.dumps(priors),
                *windows,
            ],
        )
        return bool(body != 0)  # 0: Redis already had this file's rules

    async def rules(self) -> tuple[Rules, dict[str, float]]:
        """Live boosts and offsets (ms), and the other live numbers (recall_limit, …)."""
        h = self.hall.id
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.rules(h))
        for w in self.hall.windows:
            pipe.hgetall(keys.window_services(h, w.id))
        raw, *offs = await pipe.execute()
        boosts = {k[6:]: int(float(v)) for k, v in raw.items() if k.startswith("boost:")}
        other = {k: float(v) for k, v in raw.items() if not k.startswith("boost:")}
        offsets = {
            w.id: {s: int(float(v)) for s, v in o.items()}
            for w, o in zip(self.hall.windows, offs, strict=True)
        }
        return Rules(boosts=boosts, offsets=offsets), other

    async def set_rules(
        self,
        values: dict[str, float],
        offsets: dict[str, dict[str, int]],
        reason: str,
        version: int,
    ) -> int:
        """Replace the rules read at `version`; StoreError rules_conflict if they changed."""
        own, windows = self._rules_args(offsets)
        body, _ = await self._run(
            "rules",
            own,
            ["manager", version, reason, json.dumps(values), json.dumps(offsets), "{}", *windows],
        )
        return int(body[0])

    # -- tickets ---------------------------------------------------------------------------

    async def issue(
        self,
        service: str,
        cls: str,
        channel: str,
        phone: str = "",
        phone_key: str = "",
        slot_us: int | None = None,
        lang: str = "zh",
        steps: tuple[str, ...] = (),
        quotas: Sequence[Quota] = (),
        number: Quota | None = None,
        id_key: str = "",
        claim: Claim | None = None,
        booking: CheckIn | None = None,
    ) -> Issued:
        """Issue a ticket; its secret is shown once, to its holder. `steps`: the services of
        a ticket of several steps in order (the first is `service`), or none. Refused
        (QuotaExceeded) when the service's numbers (`number`, by default its capacity or
        width), the phone's tickets or any of `quotas` have reached their caps; all in one
        script call. With a `claim`, a key already claimed by the same request answers its
        ticket (`replayed`), by another request StoreError idempotency_mismatch; a new one
        is claimed with the ticket, and a refusal claims nothing. With a `booking`, the
        ticket checks it in (StoreError unknown_booking, booking_closed)."""
        secret = secrets.token_urlsafe(16)
        day = self.day()
        svc = self.hall.service(service)
        prefix, width = (svc.number_prefix, svc.width) if svc else (service, 3)
        if number is None:
            cap = svc.max_number if svc else 10**width - 1
            number = quota.number(service, cap, f"service {service} has issued {cap} tickets")
        counted = [number, *quotas]
        h = self.hall.id
        counters = [keys.day_counter(h, day, q.counter) for q in counted]
        caps = [q.cap for q in counted]  # a refusal names its index: q<i>
        phone_json = ""
        if phone:  # the phone's Quota is made only for its refusal (a Quota costs ~1 µs)
            counters.append(self._phone_counters(day) + phone_key)
            caps.append(self.hall.queue.max_per_phone)
            phone_json = quoted(phone)
        own = [claim.slot] if claim else []
        # 号源 held for bookings (a hall that takes them): walk-ins count today's outstanding
        # bookings against the service's numbers; a check-in gives its held place back.
        reserve = booking is None and self.hall.appointments is not None
        if booking:
            own += [keys.booking(h, booking.code), keys.check_ins_due(h), keys.reminders(h)]
            own.append(keys.slot_counts(h, booking.date or day))
        elif reserve:
            own.append(keys.slot_counts(h, day))
        try:
            body = await self._run(
                "issue",
                own + counters,
                [
                    service,
                    cls,
                    channel,
                    secret if booking else "",  # the record has it; a booking keeps it too
                    "" if slot_us is None else slot_us,
                    prefix,
                    width,
                    record_part(service, cls, channel, secret, lang, phone_json, steps, id_key),
                    claim.request_print if claim else "",
                    claim.ttl_s if claim else 0,
                    booking.code if booking else "",
                    "1" if booking and booking.late else "",
                    "1" if reserve else "",
                    taken_note(phone_json, service, lang, len(steps)) if phone else "",
                    *caps,
                ],
                day=day,
                # its service's queues only: it touches no other (an unknown service gets
                # them all, and the script's error, as before)
                service=service if svc else "",
            )
        except StoreError as exc:
            which = exc.message.partition(" ")[0]
            if which[:1] == "q" and which[1:].isdigit() and int(which[1:]) < len(caps):
                i = int(which[1:])
                if i == len(counted):  # the phone's
                    raise QuotaExceeded(quota.phone(phone_key, caps[i])) from None
                raise QuotaExceeded(counted[i]) from None
            raise
        if body[0] == "replay":
            return Issued(str(body[1]), "", -1, 0, 0, "", replayed=True)
        tid, number_, ahead, seq, issued, eid = body
        ahead, issued = int(ahead), int(issued)
        taken = (
            Taken(eid, tid, number_, ahead, issued, phone, service, lang, len(steps))
            if eid
            else None
        )
        return Issued(tid, number_, ahead, int(seq), issued, secret, taken)

    def _phone_counters(self, day: str) -> str:
        """The day's per-phone counter keys without the phone's digest, made once a day."""
        made_for, start = self._phone_prefix
        if made_for != day:
            start = keys.day_counter(self.hall.id, day, quota.phone_counter(""))
            self._phone_prefix = (day, start)
        return start

    async def claimed(self, claim: Claim) -> str | None:
        """The ticket a claim holds, for a request refused before the issue script ran (the
        hall closed since the first try, say); None if unclaimed. StoreError
        idempotency_mismatch if another request holds it."""
        held = await self.redis.get(claim.slot)
        if held is None:
            return None
        rprint, _, tid = str(held).partition(" ")
        if rprint != claim.request_print or not tid:
            raise StoreError("idempotency_mismatch", MISMATCH)
        return tid

    async def unclaim(self, claim: Claim, tid: str) -> None:
        """Let go of a claim whose ticket was voided (its print failed): a retry issues anew."""
        if await self.claimed(claim) == tid:
            await self.redis.delete(claim.slot)

    async def day_counts(self, counters: list[str]) -> list[int]:
        """Today's quota counters (store/quota.py) by name; 0 for one not counted yet."""
        if not counters:
            return []
        h, day = self.hall.id, self.day()
        raw = await self.redis.mget([keys.day_counter(h, day, c) for c in counters])
        return [int(x or 0) for x in raw]

    async def status(self, tid: str) -> tuple[Record, int] | None:
        """A ticket's record and how many are ahead of it (-1 unless queued today)."""
        out = await self._run("status", [], [tid], tickets_day=day_of(tid))
        if not out:
            return None
        raw, ahead = out
        record = _record(raw)
        return (record, int(ahead)) if record is not None else None

    async def places(self, services: list[str]) -> dict[str, list[str]]:
        """Today's queued tickets of these services in calling order (index = tickets ahead)."""
        if not services:
            return {}
        out = await self._run("places", [], list(services))
        return {s: [str(t) for t in ids] for s, ids in zip(services, out, strict=True)}

    async def citizen(self, tid: str, secret: str, action: str) -> Changed:
        """The holder's cancel or rejoin (at the back, within the hall's time after a miss)."""
        body, entries = await self._run(
            "citizen", [], [tid, secret, action], tickets_day=day_of(tid)
        )
        seq, ahead, raw = body
        return Changed(tid, raw, int(seq), ahead=int(ahead), entries=_entries(entries))

    # -- window actions --------------------------------------------------------------------

    async def call(
        self, window: str, mode: str = "next", ticket: str = "", signin: bool = False
    ) -> Changed:
        """next, call (a given ticket) or unpark; refused (`signin_required`) if `signin` and
        nobody is signed in at the window."""
        day = self.day()
        body, entries = await self._run(
            "next",
            self._packed_window_keys(day, window),
            [window, mode, ticket, "1" if signin else ""],
            day=day,
        )
        tid, closed, seq, call_seq, raw = body
        return Changed(tid, raw, int(seq), int(call_seq), closed=closed, entries=_entries(entries))

    async def recall(self, window: str) -> Changed:
        body, entries = await self._run("recall", [keys.window(self.hall.id, window)], [window])
        outcome, tid, seq, call_seq, raw = body
        return Changed(
            tid,
            raw,
            int(seq),
            int(call_seq),
            missed=outcome == "missed",
            entries=_entries(entries),
        )

    async def step(
        self,
        window: str,
        action: str,
        service: str = "",
        reason: str = "",
        case: str = "",
        to_window: str = "",
    ) -> Changed:
        """skip, start, finish (with a `case` number), transfer (to `service`, or to the
        front of window `to_window`'s own queue), park, pause (for `reason`), resume."""
        day = self.day()
        own = self._window_keys(day, window)
        target = keys.window_queue(self.hall.id, day, to_window or window)
        body, entries = await self._run(
            "step",
            [own[0], own[2], target],
            [window, action, service, reason, case, to_window],
            day=day,
        )
        tid, seq, raw = body
        return Changed(tid, raw, int(seq), entries=_entries(entries))

    async def staff(
        self, window: str, action: str, staff: str = ""
    ) -> tuple[int, str, list[Entry]]:
        """Sign `staff` in at the window, or sign out whoever is (`action` "signout"); the new
        seq and who was signed in before."""
        h = self.hall.id
        body, entries = await self._run(
            "staff", [keys.window(h, window), keys.staff_windows(h)], [window, action, staff]
        )
        seq, before = body
        return int(seq), str(before), _entries(entries)

    async def rate(
        self, tid: str, window: str, pad: str, max_ms: int, keep_s: int, rating: dict[str, Any]
    ) -> tuple[int, int, list[Entry]]:
        """Store a rating of a ticket finished at `window` (`pad`: the rating pad's window, or
        ""); the new seq and the time (ms)."""
        day = day_of(tid)
        h = self.hall.id
        body, entries = await self._run(
            "rate",
            [keys.window(h, window), keys.ratings(h, day)],
            [tid, window, pad, max_ms, keep_s, json.dumps(rating, ensure_ascii=False)],
            tickets_day=day,
        )
        seq, at = body
        return int(seq), int(at), _entries(entries)

    def find(self, number: str) -> str:
        """Today's ticket id for a number as printed ("A005")."""
        return f"{self.day()}-{number}"

    # -- reads for screens -----------------------------------------------------------------

    async def snapshot(self, recent: int = 10) -> dict[str, Any]:
        day = self.day()
        own: list[str] = []
        for w in self.hall.windows:
            own += self._window_keys(day, w.id)
        own += [keys.number_counter(self.hall.id, day, s) for s in self.hall.service_ids]
        if self.hall.appointments is not None:
            own.append(keys.slot_counts(self.hall.id, day))
        raw = await self._run(
            "snapshot", own, [recent, *[w.id for w in self.hall.windows]], day=day
        )
        data: dict[str, Any] = json.loads(raw)
        return data

    async def seq(self) -> int:
        return int(await self.redis.get(keys.seq(self.hall.id)) or 0)
