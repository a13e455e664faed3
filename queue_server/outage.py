"""Log an outage of a dependency (Redis) once when it starts and once when it ends.

During an outage every request fails the same way; one ERROR line per request (48,000 in 5 s
were seen) buries everything else and fills the disk. The first failure is logged at ERROR,
the rest are counted, and the first success after them logs the end at INFO with the count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

RELAPSE = 5.0
"""Seconds after an outage ends in which new failures belong to it (a pool's stale
connections fail once more each after a restart): counted, not logged again."""


class Outage:
    def __init__(
        self, what: str, log: logging.Logger, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.what = what
        self.log = log
        self.now = now
        self.since: float | None = None  # when the current outage started
        self.failures = 0
        self.ended = float("-inf")  # when the last logged outage ended
        self.quiet = False  # the current outage is a relapse of the last: not logged

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException, where: str = "") -> None:
        self.failures += 1
        if self.since is None:
            self.since = self.now()
            self.quiet = self.since - self.ended < RELAPSE
            if self.quiet:
                return
            at = f" ({where})" if where else ""
            self.log.error("%s unavailable%s: %s; logged again when it is back", self.what, at, exc)

    def ok(self) -> None:
        if self.since is None:
            return
        if self.quiet:
            self.since, self.failures = None, 0
            return
        self.ended = self.now()
        self.log.info(
            "%s is back after %.1f s; %d operations failed meanwhile",
            self.what,
            self.now() - self.since,
            self.failures,
        )
        self.since, self.failures = None, 0
