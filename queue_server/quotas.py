"""What may stop a ticket of a service being issued now, and when issuing opens again: the
hall's hours, the service's cut-off time (no tickets after 16:30 in a hall open until 17:00),
its daily capacity (号源; at most what its number width holds) and its hourly quota.

Time rules are checked here; the counted ones are quota counters (store/quota.py) that the
issue script checks and counts in the same atomic step as the ticket. A limit per ID or per
device is one more Quota in `counted`'s answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from queue_server.config import HallConfig, Service
from queue_server.domain.hours import local, next_day_opening, next_open, open_at
from queue_server.errors import Refused
from queue_server.store import quota
from queue_server.store.quota import Quota


def time_refusal(config: HallConfig, service: Service, now: float) -> Refused | None:
    """Outside the hall's hours (`hall_closed`) or past the service's cut-off
    (`capacity_full`), with the next opening; None when issuing is open now. A hall with
    `issue_outside_hours` (the demo) keeps neither."""
    if config.queue.issue_outside_hours:
        return None
    here = local(now, config.hall.timezone)
    spans = config.hours.spans_on
    if not open_at(spans, here):
        return Refused(
            "hall_closed",
            f"{config.hall.name.get('en') or config.id} is closed now",
            next_open=next_open(spans, here),
        )
    cutoff = service.cutoff
    if cutoff is not None and here.time().replace(tzinfo=None) >= cutoff:
        return Refused(
            "capacity_full",
            f"service {service.id} issues no more tickets after {service.issue_until} today",
            next_open=next_day_opening(spans, now, config.hall.timezone),
        )
    return None


def counted(config: HallConfig, service: Service, now: float) -> tuple[Quota, list[Quota]]:
    """The service's number counter (its capacity) and the other quotas of an issue now.
    When each opens again is worked out only for a refusal (`reopening`): issuing pays
    nothing for it."""
    number = _number_quota(service.id, service.max_number)
    out: list[Quota] = []
    hour = local(now, config.hall.timezone).hour if service.hourly is not None else 0
    hour_cap = service.hourly_cap(hour)
    if hour_cap is not None:
        out.append(_hour_quota(service.id, hour, hour_cap))
    return number, out


# The quotas are the same all day: made once each, not per ticket (frozen, so shared safely).
@lru_cache(maxsize=1024)
def _number_quota(service: str, cap: int) -> Quota:
    return quota.number(service, cap, f"service {service} has issued all {cap} tickets of today")


@lru_cache(maxsize=1024)
def _hour_quota(service: str, hour: int, cap: int) -> Quota:
    return Quota(
        hour_counter(service, hour),
        cap,
        "capacity_full",
        f"service {service} has issued all {cap} tickets of this hour",
    )


def reopening(config: HallConfig, q: Quota, now: float) -> datetime | None:
    """When a full quota lets tickets through again: a service's numbers on the next open
    day, an hour's quota the next hour (when the hall is open then); others as they say."""
    tz = config.hall.timezone
    spans = config.hours.spans_on
    if q.counter.startswith(NUMBER_PREFIX):
        return next_day_opening(spans, now, tz)
    if q.counter.startswith(HOUR_PREFIX):
        here = local(now, tz)
        next_hour = here.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return next_hour if config.queue.issue_outside_hours else next_open(spans, next_hour)
    return local(q.reopens, tz) if q.reopens is not None else None


NUMBER_PREFIX = quota.number_counter("")
HOUR_PREFIX = "hour:"


def hour_counter(service: str, hour: int) -> str:
    return f"{HOUR_PREFIX}{service}:{hour:02d}"


@dataclass(frozen=True, slots=True)
class Availability:
    remaining: int | None  # tickets left today (None: no capacity set)
    full: bool  # no ticket can be issued now (capacity, hourly quota or cut-off)
    next_open: datetime | None  # when issuing opens again, if full


def availability(
    config: HallConfig, service: Service, now: float, issued: int, this_hour: int
) -> Availability:
    """What the hall page and kiosk show for a service: `issued` today, `this_hour`."""
    remaining = max(service.capacity - issued, 0) if service.capacity is not None else None
    refused = time_refusal(config, service, now)
    if refused is not None and refused.code == "capacity_full":
        return Availability(remaining, True, refused.next_open)
    number, others = counted(config, service, now)
    if issued >= number.cap:
        return Availability(remaining, True, reopening(config, number, now))
    for q in others:
        if this_hour >= q.cap:
            return Availability(remaining, True, reopening(config, q, now))
    return Availability(remaining, False, None)
