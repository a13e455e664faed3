"""Per-client rate limits with bounded memory (pure: the caller passes the time).

A token bucket per key (a client's address) refills at `rate` per second up to `burst`. The
table keeps the most recently seen keys only (LRU): a flood from many addresses evicts the
oldest entries, so memory stays bounded; an evicted client starts again with a full bucket,
which errs on the side of letting citizens through.
"""

from __future__ import annotations

import math
from collections import OrderedDict

MAX_KEYS = 10_000


class RateLimiter:
    def __init__(self, per_minute: float, burst: float, max_keys: int = MAX_KEYS) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, t)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now: float) -> float:
        """Spend one request for `key`: 0 if allowed, else the seconds until one is allowed."""
        # every token-less request passes here: a known key is moved to the end in place (not
        # popped and set again), and only a new one can make the table too long. A plain dict
        # would be quicker for a few addresses but ~5x slower in a flood of new ones: taking
        # its oldest key walks past the slots its evictions left.
        buckets = self._buckets
        found = buckets.get(key)
        if found is None:
            tokens = self.burst
        else:
            tokens = min(self.burst, found[0] + (now - found[1]) * self.rate)
            buckets.move_to_end(key)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        buckets[key] = (tokens, now)
        if found is None and len(buckets) > self.max_keys:
            buckets.popitem(last=False)  # the least recently seen
        return wait


class FailureWindow:
    """Failures per key in fixed one-minute windows: how many so far this minute, and whether
    this one is the first of the minute (the one worth a log line)."""

    def __init__(self, limit: int, max_keys: int = MAX_KEYS, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()  # key -> (start, n)

    def __len__(self) -> int:
        return len(self._counts)

    def _current(self, key: str, now: float) -> tuple[float, int]:
        start, n = self._counts.get(key, (now, 0))
        return (now, 0) if now - start >= self.window else (start, n)

    def blocked(self, key: str, now: float) -> float:
        """Seconds until `key` may try again (0 if it may now)."""
        start, n = self._current(key, now)
        return math.ceil(start + self.window - now) if n >= self.limit else 0.0

    def fail(self, key: str, now: float) -> int:
        """Count a failure; returns the number of failures in this minute so far."""
        start, n = self._current(key, now)
        self._counts.pop(key, None)
        self._counts[key] = (start, n + 1)
        if len(self._counts) > self.max_keys:
            self._counts.popitem(last=False)
        return n + 1
