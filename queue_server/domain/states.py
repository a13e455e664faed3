"""Ticket states and the legal transitions between them.

The Lua scripts enforce these atomically in Redis; this table is the reference they are tested
against and what the simulator uses.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    MISSED = "missed"
    PARKED = "parked"
    TRANSFERRED = "transferred"  # waiting again, in the queue of another service
    CANCELLED = "cancelled"


QUEUED = frozenset({State.WAITING, State.TRANSFERRED})
AT_WINDOW = frozenset({State.CALLED, State.SERVING})

# action -> (states it applies to, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[State], State]] = {
    "call": (QUEUED, State.CALLED),  # next, or call a given number
    "recall": (frozenset({State.CALLED}), State.CALLED),
    "no_show": (frozenset({State.CALLED}), State.MISSED),  # recall past the limit
    "skip": (frozenset({State.CALLED}), State.MISSED),
    "start": (frozenset({State.CALLED}), State.SERVING),
    "finish": (AT_WINDOW, State.DONE),
    "transfer": (AT_WINDOW, State.TRANSFERRED),
    "park": (AT_WINDOW, State.PARKED),
    "unpark": (frozenset({State.PARKED}), State.CALLED),
    "cancel": (QUEUED, State.CANCELLED),
    "rejoin": (frozenset({State.MISSED}), State.WAITING),
}

FINAL = frozenset({State.DONE, State.CANCELLED})


def can(action: str, state: State) -> bool:
    sources, _ = TRANSITIONS[action]
    return state in sources


def after(action: str, state: State) -> State:
    """The state a ticket in `state` reaches by `action`; ValueError if illegal."""
    sources, target = TRANSITIONS[action]
    if state not in sources:
        raise ValueError(f"cannot {action} a {state.value} ticket")
    return target
