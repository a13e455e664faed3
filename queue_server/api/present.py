"""The use cases' views as the API's models: names in the server's language, times as
datetimes."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from queue_server.api import models as m
from queue_server.config import HallConfig
from queue_server.views import (
    HallView,
    RatedView,
    RulesView,
    StaffOutcome,
    TicketView,
    WindowOutcome,
    WindowView,
)


def _ticket_fields(t: TicketView, hall: HallConfig, lang: str) -> dict[str, Any]:
    service = hall.service(t.service)
    window = hall.window(t.window) if t.window else None
    return {
        "id": t.id,
        "number": t.number,
        "service": t.service,
        "service_name": service.name.get(lang) if service else t.service,
        "cls": t.cls,
        "state": t.state,
        "ahead": t.ahead,
        "eta_minutes": t.eta_minutes,
        "issued_at": datetime.fromtimestamp(t.issued_at, UTC),
        "window": t.window,
        "window_name": window.name.get(lang) if window else None,
        "phone": t.phone,
        "recalls": t.recalls,
        "eta_range": list(t.eta_range) if t.eta_range else None,
        "eta_after_close": t.eta_after_close,
        "step": t.step or None,
        "steps": list(t.steps) or None,
    }


def ticket(t: TicketView, hall: HallConfig, lang: str) -> m.Ticket:
    return m.Ticket(**_ticket_fields(t, hall, lang))


def issued(t: TicketView, secret: str, hall: HallConfig, lang: str) -> m.Issued:
    # built at once, not as a Ticket dumped and validated again: it is every issue's answer
    return m.Issued(**_ticket_fields(t, hall, lang), secret=secret)


def outcome(o: WindowOutcome, hall: HallConfig, lang: str) -> m.WindowResult:
    return m.WindowResult(
        action=o.action,
        window=o.window,
        ticket=ticket(o.ticket, hall, lang) if o.ticket else None,
        finished=o.finished,
        seq=o.seq,
    )


def window_state(v: WindowView, hall: HallConfig, lang: str) -> m.WindowState:
    return m.WindowState(
        window=v.window,
        name=v.name,
        paused=v.paused,
        reason=v.reason,
        services=v.services,
        current=ticket(v.current, hall, lang) if v.current else None,
        waiting=v.waiting,
        parked=v.parked,
        upcoming=v.upcoming,
        staff=v.staff,
        today=v.today,
        queued=v.queued,
    )


def hall_info(v: HallView) -> m.HallInfo:
    return m.HallInfo.model_validate(asdict(v))


def rules(v: RulesView) -> m.RulesOut:
    return m.RulesOut.model_validate(asdict(v))


def staff(o: StaffOutcome) -> m.StaffResult:
    return m.StaffResult(action=o.action, window=o.window, staff=o.staff, name=o.name, seq=o.seq)


def rated(v: RatedView) -> m.Rated:
    return m.Rated(
        ticket=v.ticket,
        number=v.number,
        level=v.level,
        wording=v.wording,
        version=v.version,
        at=datetime.fromtimestamp(v.at, UTC),
    )
