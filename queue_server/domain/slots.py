"""Appointment slots (预约时段): cut from the hall's opening spans of a day, and the times that
belong to a booking (check-in window, reminder, no-show). Pure: no I/O, no clock."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from queue_server.config import Hours

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed
CODE_LENGTH = 8  # 32^8: 2^40 codes, against a few thousand bookings a day


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime  # aware, in the hall's time zone
    end: datetime

    @property
    def day(self) -> date:
        return self.start.date()

    @property
    def key(self) -> str:
        """The slot within its day: "0930"."""
        return self.start.strftime("%H%M")


def slots_on(hours: Hours, day: date, tz: ZoneInfo, minutes: int) -> list[Slot]:
    """The day's slots: each opening span cut into `minutes`-long slots from its start; a
    tail shorter than a slot is not offered. A closed date has none."""
    out: list[Slot] = []
    step = timedelta(minutes=minutes)
    for begin, end in hours.spans_on(day):
        start = datetime.combine(day, begin, tz)
        close = datetime.combine(day, end, tz)
        while start + step <= close:
            out.append(Slot(start, start + step))
            start += step
    return out


def find_slot(hours: Hours, start: datetime, tz: ZoneInfo, minutes: int) -> Slot | None:
    """The slot that starts exactly at `start` (any offset), or None."""
    try:
        local = start.astimezone(tz)
    except (OverflowError, ValueError):  # a time no calendar reaches
        return None
    return next((s for s in slots_on(hours, local.date(), tz, minutes) if s.start == local), None)


def bookable_days(today: date, days_ahead: int) -> list[date]:
    return [today + timedelta(days=n) for n in range(days_ahead + 1)]


def reminder_at(slot: Slot, remind_at: str) -> datetime:
    """When the reminder goes: the day before the slot at `remind_at` ("18:00", local)."""
    h, m = (int(x) for x in remind_at.split(":"))
    return datetime.combine(slot.day - timedelta(days=1), time(h, m), slot.start.tzinfo)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def clean_code(raw: str) -> str:
    """A typed booking code in its stored form (upper case, no spaces or dashes); "" if it
    cannot be one."""
    text = raw.strip().upper().replace(" ", "").replace("-", "")
    ok = len(text) == CODE_LENGTH and all(c in CODE_ALPHABET for c in text)
    return text if ok else ""


CheckIn = str  # "early" (too early), "on_time", "late"


def check_in_time(slot_start: float, now: float, early_min: float, late_min: float) -> CheckIn:
    """Where `now` falls in the slot's check-in window (epoch seconds)."""
    if now < slot_start - early_min * 60:
        return "early"
    if now > slot_start + late_min * 60:
        return "late"
    return "on_time"
