"""Appointments in Redis: each change one Lua script (lua/appt_*.lua) run through the hall
store, so a booking's notice goes into the same outbox as the hall's other notices."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from queue_server.store import keys, quota
from queue_server.store.hall_store import Entry, HallStore, _entries

Booking = dict[str, Any]
"""A booking as the scripts keep it (JSON): code, service, date, slot, start, end (ms), phone,
id (the ID's digest), secret, lang, state (booked, cancelled, checked_in, no_show), ticket,
ticket_secret, late."""


@dataclass(frozen=True, slots=True)
class NewBooking:
    code: str
    service: str
    date: str  # YYYYMMDD
    slot: str  # HHMM
    start_ms: int
    end_ms: int
    capacity: int
    day_cap: int  # the service's tickets that day: issued + held by bookings stay within it
    phone: str
    phone_key: str
    id_key: str
    secret: str
    lang: str
    remind_ms: int | None
    due_ms: int
    expire_at: int  # epoch seconds


def _booking(raw: Any) -> Booking | None:
    return json.loads(raw) if isinstance(raw, str) and raw else None


class AppointmentStore:
    def __init__(self, store: HallStore) -> None:
        self.store = store
        self.hall = store.hall.id
        self.redis = store.redis

    def _date_keys(self, date: str, phone_key: str) -> list[str]:
        h = self.hall
        return [
            keys.slot_counts(h, date),
            keys.booked_ids(h, date),
            keys.booked_phone(h, date, phone_key),
        ]

    async def book(self, b: NewBooking) -> tuple[int, list[Entry]]:
        h = self.hall
        own = [
            keys.booking(h, b.code),
            *self._date_keys(b.date, b.phone_key),
            keys.reminders(h),
            keys.check_ins_due(h),
            keys.no_shows(h, b.id_key),
            keys.booking_block(h, b.id_key),
            keys.day_counter(h, b.date, quota.number_counter(b.service)),
        ]
        body, entries = await self.store.run(
            "appt_book",
            own,
            [
                b.code,
                b.service,
                b.date,
                b.slot,
                b.start_ms,
                b.end_ms,
                b.capacity,
                b.phone,
                b.id_key,
                b.secret,
                b.lang,
                "" if b.remind_ms is None else b.remind_ms,
                b.due_ms,
                b.expire_at,
                b.day_cap,
            ],
        )
        return int(body[1]), _entries(entries)

    async def get(self, code: str) -> Booking | None:
        return _booking(await self.redis.get(keys.booking(self.hall, code)))

    async def counts(self, date: str) -> dict[str, int]:
        """Bookings per "{service}|{HHMM}" of a date."""
        raw = await self.redis.hgetall(keys.slot_counts(self.hall, date))
        return {str(k): int(v) for k, v in raw.items()}

    async def issued(self, date: str, service: str) -> int:
        """The service's tickets issued on a date (its number counter; 0 before the day)."""
        return int(await self.redis.get(keys.number_counter(self.hall, date, service)) or 0)

    async def codes_of_phone(self, date: str, phone_key: str) -> list[str]:
        found = await self.redis.smembers(keys.booked_phone(self.hall, date, phone_key))
        return sorted(str(c) for c in found)

    async def cancel(self, b: Booking, phone_key: str, secret: str) -> Booking:
        h, code = self.hall, str(b["code"])
        own = [
            keys.booking(h, code),
            *self._date_keys(str(b["date"]), phone_key),
            keys.reminders(h),
            keys.check_ins_due(h),
        ]
        body, _ = await self.store.run("appt_cancel", own, [code, secret])
        out: Booking = json.loads(body[0])  # the script answers the booking it changed
        return out

    async def due(self, which: str, now_ms: int, count: int = 100) -> list[str]:
        """Codes whose reminder ("remind") or check-in window end ("noshow") has come."""
        key = keys.reminders(self.hall) if which == "remind" else keys.check_ins_due(self.hall)
        found = await self.redis.zrangebyscore(key, "-inf", now_ms, start=0, num=count)
        return [str(c) for c in found]

    async def remind(self, code: str) -> tuple[bool, list[Entry]]:
        h = self.hall
        body, entries = await self.store.run(
            "appt_sweep", [keys.booking(h, code), keys.reminders(h)], ["remind", code]
        )
        return bool(int(body[0])), _entries(entries)

    async def no_show(
        self, code: str, date: str, id_key: str, window_ms: int, limit: int, block_ms: int
    ) -> bool:
        """`date`: the booking's (YYYYMMDD): its held place is given back to walk-ins."""
        h = self.hall
        own = [
            keys.booking(h, code),
            keys.check_ins_due(h),
            keys.no_shows(h, id_key),
            keys.booking_block(h, id_key),
            keys.slot_counts(h, date),
        ]
        body, _ = await self.store.run(
            "appt_sweep", own, ["noshow", code, window_ms, limit, block_ms]
        )
        return bool(int(body[0]))
