"""Opening hours: is the hall open at a given moment, and how long until it closes today."""

from __future__ import annotations

from datetime import datetime

from queue_server.config import Hours


def is_open(hours: Hours, now: float, tz_name: str) -> bool:
    from zoneinfo import ZoneInfo

    local = datetime.fromtimestamp(now, ZoneInfo(tz_name))
    t = local.time()
    return any(start <= t < end for start, end in hours.spans_on(local.date()))


def minutes_to_close(hours: Hours, now: float, tz_name: str) -> float | None:
    """Minutes until the end of today's last opening span; None once it has passed (or on a
    closed day), when closing time bounds nothing."""
    from zoneinfo import ZoneInfo

    local = datetime.fromtimestamp(now, ZoneInfo(tz_name))
    spans = hours.spans_on(local.date())
    if not spans:
        return None
    end = datetime.combine(local.date(), max(e for _, e in spans), local.tzinfo)
    left = (end - local).total_seconds() / 60
    return left if left > 0 else None
