"""Window hours as the use cases apply them. A window with its own hours (lunch-time cover,
weekend duty) calls nobody outside them (`window_closed`, with its next opening) and does not
count as serving capacity for the ETA. A window without its own hours is never closed by
hours: its staff serve whoever still waits after closing time."""

from __future__ import annotations

from queue_server.config import HallConfig
from queue_server.domain.hours import local, next_open, open_at, window_spans
from queue_server.errors import Refused


def closed_windows(config: HallConfig, now: float) -> set[str]:
    """Windows outside their own hours now."""
    here = local(now, config.hall.timezone)
    out: set[str] = set()
    for w in config.windows:
        spans = window_spans(w, config.hours)
        if spans is not None and not open_at(spans, here):
            out.add(w.id)
    return out


def window_refusal(config: HallConfig, window: str, now: float) -> Refused | None:
    """`window_closed` with the window's next opening, or None while it may call."""
    w = config.window(window)
    spans = window_spans(w, config.hours) if w is not None else None
    if spans is None:
        return None
    here = local(now, config.hall.timezone)
    if open_at(spans, here):
        return None
    return Refused(
        "window_closed",
        f"window {window} is outside its hours now",
        next_open=next_open(spans, here),
    )
