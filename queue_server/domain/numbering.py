"""The hall's calendar day, which ticket numbers (A001…, per service) restart with."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def service_day(now: float, tz: ZoneInfo) -> str:
    """The hall's calendar day (YYYYMMDD) at `now`; numbering restarts when it changes."""
    return datetime.fromtimestamp(now, tz).strftime("%Y%m%d")
