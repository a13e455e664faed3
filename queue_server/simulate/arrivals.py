"""Who arrives when: Poisson arrivals per service and hour, or a CSV of recorded arrivals.

Times are whole milliseconds since the epoch (the scripts' resolution), so a CSV written from
one run and read back gives the very same run. The CSV has a header and the columns
`time` (ISO 8601 with its UTC offset), `service`, `class` (optional, default normal) and
`handling_sec` (optional; needed for `--handling recorded`).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from queue_server.config import Hours
from queue_server.simulate.spec import HandlingModel, Rates, SpecError

HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Arrival:
    t_ms: int
    service: str
    cls: str = "normal"
    handling_ms: int | None = None  # None: drawn from the model


def _local_ms(day: date, at: time, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, at, tz).timestamp() * 1000)


def poisson(
    rng: random.Random,
    rates: Rates,
    start_ms: int,
    end_ms: int,
    tz: ZoneInfo,
) -> Iterator[tuple[int, str]]:
    """Poisson arrivals in [start, end) at each service's rate for the local hour."""
    for service in sorted(rates):
        hours = rates[service]
        t = start_ms
        while t < end_ms:
            local = datetime.fromtimestamp(t / 1000, tz)
            next_hour = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            seg_end = min(int(next_hour.timestamp() * 1000), end_ms)
            per_ms = hours.get(local.hour, 0.0) / HOUR_MS
            if per_ms <= 0:
                t = seg_end
                continue
            t += max(1, round(rng.expovariate(per_ms)))
            while t < seg_end:
                yield t, service
                t += max(1, round(rng.expovariate(per_ms)))
            # memoryless: restart the clock at the segment's end at the next hour's rate
            t = seg_end


def opening_spans(hours: Hours, day: date, tz: ZoneInfo) -> list[tuple[int, int]]:
    return [(_local_ms(day, a, tz), _local_ms(day, b, tz)) for a, b in hours.spans_on(day)]


def generate(
    rng: random.Random,
    rates: Rates,
    spans: Iterable[tuple[int, int]],
    tz: ZoneInfo,
    handling: HandlingModel,
    means: dict[str, float],
    classes: dict[str, float],
) -> list[Arrival]:
    """Arrivals over the spans, each with its class and (unless recorded) handling time."""
    times = sorted(a for s, e in spans for a in poisson(rng, rates, s, e, tz))
    shares = sorted(classes.items())
    out: list[Arrival] = []
    for t, service in times:
        cls = "normal"
        r = rng.random()
        for name, share in shares:
            if r < share:
                cls = name
                break
            r -= share
        ms = round(handling.sample(rng, means[service]) * 60_000)
        out.append(Arrival(t, service, cls, max(ms, 1)))
    return out


def write_csv(path: Path, arrivals: Iterable[Arrival], tz: ZoneInfo) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["time", "service", "class", "handling_sec"])
        for a in arrivals:
            when = datetime.fromtimestamp(a.t_ms / 1000, tz).isoformat(timespec="milliseconds")
            hs = "" if a.handling_ms is None else f"{a.handling_ms / 1000:.3f}"
            w.writerow([when, a.service, a.cls, hs])


def read_csv(path: Path) -> list[Arrival]:
    """Recorded arrivals, sorted by time; a bad row stops with its line number."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SpecError(f"{path}: cannot read arrivals: {exc}") from None
    out: list[Arrival] = []
    for line, row in enumerate(rows, start=2):
        try:
            when = datetime.fromisoformat(row["time"])
            if when.tzinfo is None:
                raise ValueError("time needs its UTC offset")
            # whole ms, computed without float rounding
            delta = when - datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))
            t_ms = delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
            service = (row.get("service") or "").strip()
            if not service:
                raise ValueError("no service")
            hs = (row.get("handling_sec") or "").strip()
            handling = round(float(hs) * 1000) if hs else None
            if handling is not None and handling <= 0:
                raise ValueError("handling_sec must be > 0")
            cls = (row.get("class") or "").strip() or "normal"
            out.append(Arrival(t_ms, service, cls, handling))
        except (KeyError, ValueError, TypeError) as exc:
            raise SpecError(f"{path}:{line}: bad arrival: {exc}") from None
    out.sort(key=lambda a: a.t_ms)
    return out
