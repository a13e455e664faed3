"""Estimated waits from learned handling times and the windows open for a service."""

from __future__ import annotations

import math
from collections.abc import Mapping

SECONDARY_SHARE = 0.25
"""Share of a window's time a secondary service gets; its offset lets it in only at times."""

EWMA_ALPHA = 0.2
"""Weight of the newest handling time in the learned average (also used by the Lua scripts)."""


def capacity(
    service: str, offsets: Mapping[str, Mapping[str, int]], open_windows: set[str]
) -> float:
    """Windows' worth of service time `service` gets: a window's primaries (its lowest offset)
    share it equally; a secondary service gets a small share."""
    total = 0.0
    for window, offs in offsets.items():
        if window not in open_windows or service not in offs:
            continue
        low = min(offs.values())
        primaries = sum(1 for v in offs.values() if v == low)
        total += 1.0 / primaries if offs[service] == low else SECONDARY_SHARE
    return total


def wait_minutes(ahead: int, handle_ms: float, cap: float) -> int | None:
    """Minutes until a ticket with `ahead` tickets before it is called; None if no window is
    open for its service."""
    if cap <= 0:
        return None
    return math.ceil(ahead * handle_ms / cap / 60_000)


def learn(previous_ms: float, observed_ms: float) -> float:
    """Exponentially weighted average handling time."""
    return previous_ms + EWMA_ALPHA * (observed_ms - previous_ms)
