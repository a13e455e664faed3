"""The priority policy: one score, smallest first, and its starvation bound.

A waiting ticket's effective time is ``base − boost(class)`` where ``base`` is the time it
joined the queue (kept across transfers; an appointment's slot start). A window calls the ticket
with the lowest ``effective + offset(window, service)`` over the services it serves.

Bound: if window w calls X while T waits for a service w serves, then
``base(X) − boost(X) + off(w,X) ≤ base(T) − boost(T) + off(w,T)``, so
``base(X) − base(T) ≤ (boost(X) − boost(T)) + (off(w,T) − off(w,X))
                   ≤ (max boost − min boost) + max over w of (max off(w) − min off(w))``.
No ticket is ever overtaken by one that joined more than that bound after it. Boosts are kept
as given per class and read at call time, so a manager's change applies to waiting tickets at
once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class Rules:
    """Live rules of a hall: boosts per class and offsets per window and service (ms)."""

    boosts: Mapping[str, int]
    offsets: Mapping[str, Mapping[str, int]]  # window -> service -> offset

    def bound_ms(self) -> int:
        return starvation_bound_ms(self.boosts, self.offsets)


@dataclass(frozen=True, slots=True)
class Waiting:
    """A waiting ticket as the policy sees it."""

    id: str
    service: str
    cls: str
    base_ms: int


def effective_ms(base_ms: int, boost_ms: int) -> int:
    return base_ms - boost_ms


def window_score(t: Waiting, rules: Rules, window: str) -> int | None:
    """The ticket's score at `window`, or None if the window does not serve its service."""
    offset = rules.offsets.get(window, {}).get(t.service)
    if offset is None:
        return None
    return effective_ms(t.base_ms, rules.boosts.get(t.cls, 0)) + offset


def pick(tickets: Iterable[Waiting], rules: Rules, window: str) -> Waiting | None:
    """The ticket `window` calls next: lowest score, then earliest base, then id."""
    best: tuple[int, int, str] | None = None
    chosen: Waiting | None = None
    for t in tickets:
        score = window_score(t, rules, window)
        if score is None:
            continue
        key = (score, t.base_ms, t.id)
        if best is None or key < best:
            best, chosen = key, t
    return chosen


def starvation_bound_ms(boosts: Mapping[str, int], offsets: Mapping[str, Mapping[str, int]]) -> int:
    """How much later than a ticket another may have joined and still be called before it."""
    spread = max(boosts.values(), default=0) - min(boosts.values(), default=0)
    per_window = [max(o.values()) - min(o.values()) for o in offsets.values() if o]
    return spread + max(per_window, default=0)


class RuleError(ValueError):
    """Rules that would break the hall's promise; the message says which and why."""


def validate(rules: Rules, services: Iterable[str], limit_ms: int) -> int:
    """Check rules against the hall and its overtaking limit; return the starvation bound."""
    known = set(services)
    for cls, boost in rules.boosts.items():
        if boost < 0:
            raise RuleError(f"boost of class {cls!r} is negative")
    for window, offs in rules.offsets.items():
        if not offs:
            raise RuleError(f"window {window!r} serves no service")
        for service, off in offs.items():
            if service not in known:
                raise RuleError(f"window {window!r}: unknown service {service!r}")
            if off < 0:
                raise RuleError(f"window {window!r}: offset of {service!r} is negative")
    bound = rules.bound_ms()
    if bound > limit_ms:
        raise RuleError(
            f"a normal ticket could be overtaken by tickets up to {bound / MINUTE_MS:g} min "
            f"younger, over the hall's limit of {limit_ms / MINUTE_MS:g} min"
        )
    return bound
