"""ID numbers at the kiosk and desk, and anti-touting (防黄牛): the use cases.

An ID number given when a ticket is taken is checked (GB 11643) and turned into its keyed
digest at once; only the digest goes further (the per-ID counter, the ticket's record, the
blacklist and agent lists). The number itself is never stored, logged or answered. A
blacklisted ID is refused without the reason; a registered agent (代办) has a higher cap. The
manager lists IDs (as digests) and phones (masked) that took several tickets today.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from queue_server.config import HallConfig, PriorityClass
from queue_server.domain.idnumber import IdNumberError, age_on, canonical_id, masked_id
from queue_server.domain.masking import mask_phone
from queue_server.errors import Refused
from queue_server.store.id_store import Entry, IdStore, Kind, live
from queue_server.store.quota import Quota

if TYPE_CHECKING:
    from queue_server.hall import Hall

CODES = {"shape": "invalid_id", "date": "invalid_id_date", "check": "invalid_id_check"}
DIGEST = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class Holder:
    """An ID number as the issue path needs it: never the number itself."""

    key: str  # its HMAC digest
    age: int  # full years today
    cap: int  # tickets it may take today
    agent: bool


@dataclass(frozen=True, slots=True)
class ListEntryView:
    """A blacklist or agent entry as a manager sees it."""

    key: str  # the ID's digest
    masked: str  # first and last character, when it was added by number
    note: str  # the reason (blacklist) or who the agent is (agents)
    until: float | None  # epoch seconds; None: until removed
    at: float
    by: str
    max_per_day: int | None = None  # agents: their cap (None: the hall's agent default)


@dataclass(frozen=True, slots=True)
class CountView:
    who: str  # a masked phone number, or an ID's digest
    count: int
    numbers: list[str]
    agent: bool = False


@dataclass(frozen=True, slots=True)
class ReportView:
    day: str
    min: int
    ids: list[CountView]
    phones: list[CountView]


def _ids(hall: Hall) -> IdStore:
    return IdStore(hall.store.redis, hall.id)


def _today(hall: Hall) -> datetime:
    return datetime.fromtimestamp(hall.clock.now(), hall.config.tz)


def _number(hall: Hall, raw: str) -> str:
    try:
        return canonical_id(raw, _today(hall).date())
    except IdNumberError as exc:
        raise Refused(CODES.get(exc.kind, "invalid_id"), str(exc)) from None


def _digest(hall: Hall, number: str) -> str:
    if hall.id_key is None:
        raise Refused("invalid_request", "this server takes no ID numbers (no secret set)")
    return hall.id_key(number)


async def holder(hall: Hall, raw: str) -> Holder:
    """Check an ID number given with a ticket: its digest, age and cap, or a refusal
    (malformed, or blacklisted: no reason is given to the citizen)."""
    number = _number(hall, raw)
    return await _checked(hall, _digest(hall, number), age_on(number, _today(hall).date()))


async def holder_of(hall: Hall, key: str) -> Holder | None:
    """A booking's ID by its digest (check-in): blacklisted refused, its cap (an agent's
    too). Its age is not known from a digest (0): it grants no green channel."""
    return await _checked(hall, key, 0) if key else None


async def _checked(hall: Hall, key: str, age: int) -> Holder:
    black, agent = await _ids(hall).lookup(key)
    now_ms = round(hall.clock.now() * 1000)
    if live(black, now_ms):
        raise Refused(
            "blacklisted", "no ticket can be issued for this ID number here; please ask the staff"
        )
    rules = hall.config.ids
    is_agent = live(agent, now_ms)
    cap = rules.max_per_id
    if is_agent and agent is not None:
        cap = max(cap, int(agent.get("max_per_day") or rules.agent_max_per_day))
    return Holder(key, age, cap, is_agent)


def class_for(config: HallConfig, who: Holder | None, cls: PriorityClass) -> PriorityClass:
    """An ID of the hall's green age turns a normal ticket into a green-channel one."""
    age = config.ids.green_age
    if who is None or age is None or who.age < age or cls.id != config.normal_class.id:
        return cls
    return config.priority_class(config.ids.green_class) or cls


def quotas(config: HallConfig, who: Holder | None, device: str) -> list[Quota]:
    """The day counters an issue adds: its ID's (the hall's cap, or an agent's), and its
    kiosk's when the kiosk has a daily cap."""
    out: list[Quota] = []
    if who is not None:
        out.append(
            Quota(
                f"id:{who.key}", who.cap, "id_limit", f"this ID has taken {who.cap} tickets today"
            )
        )
    kiosk = config.kiosk(device) if device else None
    if kiosk is not None and kiosk.max_per_day is not None:
        out.append(_device_quota(kiosk.id, kiosk.max_per_day))
    return out


@lru_cache(maxsize=256)
def _device_quota(kiosk: str, cap: int) -> Quota:
    """A kiosk's daily cap: the same all day, so made once, not per ticket (frozen)."""
    return Quota(f"dev:{kiosk}", cap, "device_limit", f"kiosk {kiosk} has issued {cap} today")


# -- managers ------------------------------------------------------------------------------


def _view(key: str, e: Entry) -> ListEntryView:
    until = e.get("until")
    return ListEntryView(
        key=key,
        masked=str(e.get("masked", "")),
        note=str(e.get("note", "")),
        until=int(until) / 1000 if until is not None else None,
        at=int(e.get("at", 0)) / 1000,
        by=str(e.get("by", "")),
        max_per_day=e.get("max_per_day"),
    )


async def add(
    hall: Hall,
    kind: Kind,
    id_number: str | None,
    key: str | None,
    note: str,
    until: datetime | None,
    who: str,
    max_per_day: int | None = None,
) -> ListEntryView:
    """Put an ID on the blacklist or the agent list (replacing its entry), by number or by
    the digest the manager's report shows."""
    if (id_number is None) == (key is None):
        raise Refused("invalid_request", "give either id_number or key")
    masked = ""
    if id_number is not None:
        number = _number(hall, id_number)
        digest, masked = _digest(hall, number), masked_id(number)
    else:
        digest = str(key)
        if not DIGEST.match(digest):
            raise Refused("invalid_request", "key: an ID digest is 32 lower-case hex digits")
    now = hall.clock.now()
    if until is not None and (until.tzinfo is None or until.timestamp() <= now):
        raise Refused("invalid_request", "until: a future time with a time zone offset")
    entry: Entry = {
        "masked": masked,
        "note": note,
        "until": round(until.timestamp() * 1000) if until is not None else None,
        "at": round(now * 1000),
        "by": who,
    }
    if kind == "agents":
        entry["max_per_day"] = max_per_day
    await _ids(hall).put(kind, digest, entry)
    return _view(digest, entry)


async def entries(hall: Hall, kind: Kind) -> list[ListEntryView]:
    found = await _ids(hall).entries(kind, round(hall.clock.now() * 1000))
    return sorted((_view(k, e) for k, e in found.items()), key=lambda v: v.at)


async def remove(hall: Hall, kind: Kind, key: str) -> ListEntryView:
    gone = await _ids(hall).remove(kind, key) if DIGEST.match(key) else None
    if gone is None:
        raise Refused("unknown_id", f"no {kind} entry {key[:40]!r}")
    return _view(key, gone)


async def report(hall: Hall) -> ReportView:
    """Today's IDs (digests) and phones (masked) with the hall's `report_min` tickets or
    more, most first; cancelled tickets count (they were taken)."""
    day = hall.store.day()
    records = await _ids(hall).day_tickets(day)
    agents = await _ids(hall).entries("agents", round(hall.clock.now() * 1000))
    by_id: dict[str, list[str]] = defaultdict(list)
    by_phone: dict[str, list[str]] = defaultdict(list)
    for r in records:
        if r.get("id_key"):
            by_id[str(r["id_key"])].append(str(r["number"]))
        if r.get("phone"):
            by_phone[str(r["phone"])].append(str(r["number"]))
    least = hall.config.ids.report_min

    def counts(groups: dict[str, list[str]], phones: bool) -> list[CountView]:
        rows = [
            CountView(
                mask_phone(k) if phones else k,
                len(nums),
                sorted(nums),
                agent=not phones and k in agents,
            )
            for k, nums in groups.items()
            if len(nums) >= least
        ]
        return sorted(rows, key=lambda c: (-c.count, c.who))

    return ReportView(day, least, counts(by_id, False), counts(by_phone, True))
