"""Opening hours: is the hall open at a given moment."""

from __future__ import annotations

from datetime import datetime

from queue_server.config import Hours


def is_open(hours: Hours, now: float, tz_name: str) -> bool:
    from zoneinfo import ZoneInfo

    local = datetime.fromtimestamp(now, ZoneInfo(tz_name))
    t = local.time()
    return any(start <= t < end for start, end in hours.spans_on(local.date()))
