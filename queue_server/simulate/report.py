"""Figures from a simulation's ticket records: waits, service level, overtaking, ETA quality."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from queue_server.simulate.engine import Record

LATE_MIN = 5.0
"""A ticket is "late" when it waits more than its ETA plus this."""
NEAR_BOUND = 0.8
"""Overtaking past this share of the starvation bound counts as approaching it."""


def _p(sorted_values: list[float], q: float) -> float:
    return sorted_values[max(math.ceil(q * len(sorted_values)) - 1, 0)]


def _mean(values: Iterable[float]) -> float | None:
    v = list(values)
    return sum(v) / len(v) if v else None


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def _day_error(done: list[Record]) -> float | None:
    """Standard error of the mean wait, from how it varies between the simulated days (each
    an independent replication): the ratio estimator's, Σ wait / Σ tickets over days."""
    by_day: dict[int, list[float]] = {}
    for r in done:
        by_day.setdefault(r.day, []).append(r.wait_min)
    if len(by_day) < 2:
        return None
    n = sum(len(v) for v in by_day.values())
    mean = sum(sum(v) for v in by_day.values()) / n
    d = len(by_day)
    spread = sum((sum(v) - mean * len(v)) ** 2 for v in by_day.values()) / (d * (d - 1))
    return math.sqrt(spread) / (n / d)


def figures(records: Iterable[Record], target_min: float, bound_min: float) -> dict[str, Any]:
    """One group's figures (JSON-ready). ETA figures use tickets the server gave a number."""
    recs = [r for r in records if r.counted]
    done = [r for r in recs if r.called_ms is not None]
    waits = sorted(r.wait_min for r in done)
    told = [(r, r.told.minutes) for r in done if r.told.minutes is not None]
    ranged = [
        (r, r.told.low, r.told.high)
        for r in done
        if r.told.low is not None and r.told.high is not None
    ]
    oracle = [r for r in done if r.oracle >= 0]
    plain = [r for r in done if r.plain >= 0]

    return {
        "tickets": len(recs),
        "not_called": len(recs) - len(done),
        "mean_wait_min": _r(_mean(waits)),
        "mean_wait_se_min": _r(_day_error(done)),
        "p90_wait_min": _r(_p(waits, 0.9)) if waits else None,
        "max_wait_min": _r(waits[-1]) if waits else None,
        "service_level": _r(_mean(float(w <= target_min) for w in waits)),
        "near_bound_share": _r(
            _mean(float(0 < r.overtaken_ms >= NEAR_BOUND * bound_min * 60_000) for r in done)
        ),
        "max_overtaken_min": _r(max((r.overtaken_ms / 60_000 for r in done), default=0.0)),
        "eta_mae_min": _r(_mean(abs(m - r.wait_min) for r, m in told)),
        "eta_bias_min": _r(_mean(m - r.wait_min for r, m in told)),
        "eta_late_share": _r(_mean(float(r.wait_min > m + LATE_MIN) for r, m in told)),
        "range_coverage": _r(_mean(float(lo <= r.wait_min <= hi) for r, lo, hi in ranged)),
        # among those told they would wait (the others are called at once, always in range)
        "range_coverage_waiting": _r(
            _mean(float(lo <= r.wait_min <= hi) for r, lo, hi in ranged if hi > 0)
        ),
        "eta_oracle_mae_min": _r(_mean(abs(r.oracle - r.wait_min) for r in oracle)),
        "eta_oracle_late_share": _r(_mean(float(r.wait_min > r.oracle + LATE_MIN) for r in oracle)),
        "eta_oracle_bias_min": _r(_mean(r.oracle - r.wait_min for r in oracle)),
        "eta_plain_mae_min": _r(_mean(abs(r.plain - r.wait_min) for r in plain)),
        "eta_plain_late_share": _r(_mean(float(r.wait_min > r.plain + LATE_MIN) for r in plain)),
    }


def summary(records: list[Record], target_min: float, bound_min: float) -> dict[str, Any]:
    """Per service, and per service and class (only classes that took tickets)."""
    services = sorted({r.service for r in records})
    out: dict[str, Any] = {"all": figures(records, target_min, bound_min), "services": {}}
    for s in services:
        mine = [r for r in records if r.service == s]
        entry = figures(mine, target_min, bound_min)
        entry["classes"] = {
            c: figures([r for r in mine if r.cls == c], target_min, bound_min)
            for c in sorted({r.cls for r in mine})
        }
        out["services"][s] = entry
    return out


COLUMNS = (
    ("tickets", "tickets", "{:d}"),
    ("mean_wait_min", "mean", "{:.1f}"),
    ("p90_wait_min", "p90", "{:.1f}"),
    ("max_wait_min", "max", "{:.1f}"),
    ("service_level", "in target", "{:.1%}"),
    ("near_bound_share", "near bound", "{:.1%}"),
    ("eta_mae_min", "ETA MAE", "{:.2f}"),
    ("eta_oracle_mae_min", "oracle MAE", "{:.2f}"),
    ("eta_bias_min", "bias", "{:+.2f}"),
    ("eta_late_share", "late>5", "{:.1%}"),
    ("range_coverage", "in range", "{:.1%}"),
)


def table(result: dict[str, Any]) -> str:
    """The summary as a text table: one row per service and per service/class."""
    rows = [["", *(h for _, h, _ in COLUMNS)]]

    def row(name: str, f: dict[str, Any]) -> None:
        rows.append([name, *("-" if f[k] is None else fmt.format(f[k]) for k, _, fmt in COLUMNS)])

    for s, f in result["services"].items():
        row(s, f)
        if len(f["classes"]) > 1:
            for c, fc in f["classes"].items():
                row(f"  {s}/{c}", fc)
    row("all", result["all"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )
