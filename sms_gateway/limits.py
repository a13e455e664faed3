"""Sending limits (pure apart from the clock): the provider's QPS, a per-phone limit, and
the retry schedule."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque


def mask_phone(phone: str) -> str:
    """138****5678, as Chinese services print numbers; logs and metrics show only this."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def retry_delay(failures: int, base: float, cap: float) -> float:
    """Seconds before the next attempt after `failures` failed ones: doubling from `base`,
    capped, with jitter so a provider that comes back is not hit by every retry at once."""
    delay: float = min(cap, base * 2.0 ** min(max(failures - 1, 0), 30))
    return delay * random.uniform(0.5, 1.0)  # noqa: S311


class TokenBucket:
    """At most `rate` acquisitions a second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 10)
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        if not self._lock.locked():  # nobody waits: take a token without queueing
            self._refill(time.monotonic())
            if self._tokens >= 1:
                self._tokens -= 1
                return
        async with self._lock:  # waiters are served in order
            while True:
                now = time.monotonic()
                self._refill(now)
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


class PhoneLimit:
    """At most `limit` messages to one phone within `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._sent: dict[str, deque[float]] = {}

    def wait(self, phone: str, now: float) -> float:
        """0 when a message to `phone` may go now (it is counted: `release` it if the send
        fails), else the seconds until it may."""
        if self.window <= 0:
            return 0.0
        times = self._sent.setdefault(phone, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return times[0] + self.window - now
        times.append(now)
        return 0.0

    def release(self, phone: str, at: float) -> None:
        """A send counted at `at` failed: it does not use up the phone's allowance."""
        times = self._sent.get(phone)
        if times is not None and at in times:
            times.remove(at)

    def prune(self, now: float) -> None:
        """Forget phones with nothing inside the window (bounded memory)."""
        for phone in [p for p, t in self._sent.items() if not t or t[-1] <= now - self.window]:
            del self._sent[phone]
