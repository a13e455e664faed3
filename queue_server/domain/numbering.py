"""Ticket numbers: a service letter and a daily sequence from 001, per service per day."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def service_day(now: float, tz: ZoneInfo) -> str:
    """The hall's calendar day (YYYYMMDD) at `now`; numbering restarts when it changes."""
    return datetime.fromtimestamp(now, tz).strftime("%Y%m%d")


def format_number(service: str, seq: int) -> str:
    """A001 … A999, then A1000: at least three digits, never truncated."""
    if seq < 1:
        raise ValueError("sequence starts at 1")
    return f"{service}{seq:03d}"


def ticket_id(day: str, number: str) -> str:
    """Unique in a hall: a number is unique per service per day."""
    return f"{day}-{number}"


def spoken_number(number: str) -> str:
    """Digits read one by one in Mandarin ("A012" -> "A 零 一 二"), as halls announce them."""
    digits = "零一二三四五六七八九"
    return " ".join(digits[int(c)] if c.isdigit() else c for c in number)
