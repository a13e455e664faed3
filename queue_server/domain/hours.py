"""Opening hours: is the hall (or a window) open at a given moment, when it opens next, and
how long until it closes today."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from queue_server.config import Hours, Window

Spans = Callable[[date], list[tuple[time, time]]]
"""A day's opening spans (the hall's, or one window's)."""

SEARCH_DAYS = 400  # a year of holidays and then some: beyond it, "never opens"


def local(now: float, tz_name: str) -> datetime:
    return datetime.fromtimestamp(now, ZoneInfo(tz_name))


def open_at(spans: Spans, at: datetime) -> bool:
    t = at.time().replace(tzinfo=None)
    return any(start <= t < end for start, end in spans(at.date()))


def next_open(spans: Spans, at: datetime) -> datetime | None:
    """The first moment at or after `at` when a span is open (`at` itself when open now)."""
    if open_at(spans, at):
        return at
    day = at.date()
    for n in range(SEARCH_DAYS):
        d = day + timedelta(days=n)
        for start, _ in sorted(spans(d)):
            begin = datetime.combine(d, start, at.tzinfo)
            if begin >= at:
                return begin
    return None


def hall_spans(hours: Hours) -> Spans:
    return hours.spans_on


def window_spans(window: Window, hours: Hours) -> Spans | None:
    """A window's calling hours (None: it has none of its own and is never closed by hours)."""
    own = window.hours
    if own is None:
        return None
    return lambda day: own.spans_on(day, hours)


def is_open(hours: Hours, now: float, tz_name: str) -> bool:
    return open_at(hours.spans_on, local(now, tz_name))


def next_opening(hours: Hours, now: float, tz_name: str) -> datetime | None:
    """When the hall opens next (now, if it is open)."""
    return next_open(hours.spans_on, local(now, tz_name))


def next_day_opening(spans: Spans, now: float, tz_name: str) -> datetime | None:
    """The first opening of a later day than today: when a day's quota starts again."""
    here = local(now, tz_name)
    tomorrow = datetime.combine(here.date() + timedelta(days=1), time(0), here.tzinfo)
    return next_open(spans, tomorrow)


def minutes_to_close(hours: Hours, now: float, tz_name: str) -> float | None:
    """Minutes until the end of today's last opening span; None once it has passed (or on a
    closed day), when closing time bounds nothing."""
    here = local(now, tz_name)
    return minutes_until(closing_at(hours, here), here)


def closing_at(hours: Hours, here: datetime) -> datetime | None:
    """The end of the last opening span of `here`'s day (None: closed that day); the same
    all day, so callers may keep it for the day."""
    spans = hours.spans_on(here.date())
    if not spans:
        return None
    return datetime.combine(here.date(), max(e for _, e in spans), here.tzinfo)


def minutes_until(end: datetime | None, here: datetime) -> float | None:
    """Minutes from `here` to `end`, or None when it has passed (or there is no end)."""
    if end is None:
        return None
    left = (end - here).total_seconds() / 60
    return left if left > 0 else None
