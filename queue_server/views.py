"""What the use cases answer: plain data, no HTTP. The API layer maps these to its models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TicketView:
    id: str
    number: str
    service: str
    cls: str
    state: str
    ahead: int | None  # while queued
    eta_minutes: int | None  # while queued; None if no window is open for it
    issued_at: float  # epoch seconds
    window: str | None = None  # at a window, or called there
    phone: str | None = None  # masked
    recalls: int = 0
    eta_range: tuple[int, int] | None = None  # minutes; about 90% are called inside it
    eta_after_close: bool = False  # due after today's closing time
    step: int = 0  # a ticket of several steps: the one it is at (1-based); 0 for one step
    steps: tuple[str, ...] = ()  # its services in order
    rated: bool = False  # finished and rated (好差评 once per service)


@dataclass(frozen=True, slots=True)
class IssuedView:
    ticket: TicketView
    secret: str  # shown once, to the holder
    replayed: bool = False  # answered again for a repeated request (the same Idempotency-Key)


@dataclass(frozen=True, slots=True)
class WindowOutcome:
    action: str
    window: str
    ticket: TicketView | None
    finished: str | None  # number finished on the way (next)
    seq: int


@dataclass(frozen=True, slots=True)
class WindowView:
    window: str
    name: str
    paused: bool
    reason: str
    services: dict[str, float]  # service -> offset minutes
    current: TicketView | None
    waiting: dict[str, int]
    parked: list[str]
    upcoming: list[str] = field(default_factory=list)
    staff: str = ""  # id and masked name
    today: dict[str, float] = field(default_factory=dict)
    queued: list[str] = field(default_factory=list)  # transferred to this window: called first


@dataclass(frozen=True, slots=True)
class ServiceView:
    id: str
    name: str
    waiting: int
    eta_minutes: int | None
    eta_range: tuple[int, int] | None = None
    remaining: int | None = None  # tickets left today (号源), when it has a capacity
    full: bool = False  # no ticket now: capacity, hourly quota or cut-off reached
    next_open: datetime | None = None  # when, if full


@dataclass(frozen=True, slots=True)
class WindowInfoView:
    id: str
    name: str
    services: list[str]
    paused: bool
    open_now: bool = True  # inside its own hours (a window without any is always open)
    hours: dict[str, list[str]] | None = None  # its own weekly hours, if any


@dataclass(frozen=True, slots=True)
class ClassView:
    id: str
    name: str
    staff_only: bool


@dataclass(frozen=True, slots=True)
class HallView:
    id: str
    name: str
    address: str
    timezone: str
    open_now: bool
    hours: dict[str, list[str]]
    closed_dates: list[str]
    booking: str
    notices: list[str]
    services: list[ServiceView] = field(default_factory=list)
    windows: list[WindowInfoView] = field(default_factory=list)
    classes: list[ClassView] = field(default_factory=list)
    makeup_dates: dict[str, str] = field(default_factory=dict)  # date -> weekday it works as


@dataclass(frozen=True, slots=True)
class RulesView:
    boost_minutes: dict[str, float]
    window_services: dict[str, dict[str, float]]
    recall_limit: int
    rejoin_minutes: float
    notify_ahead: int
    starvation_bound_minutes: float
    max_overtake_minutes: float


@dataclass(frozen=True, slots=True)
class RulesChange:
    """A manager's change: only what is given changes."""

    boost_minutes: dict[str, float] | None = None
    window_services: dict[str, dict[str, float]] | None = None
    recall_limit: int | None = None
    rejoin_minutes: float | None = None
    notify_ahead: int | None = None


@dataclass(frozen=True, slots=True)
class StaffOutcome:
    action: str  # signin, signout
    window: str
    staff: str  # the id signed in (signin) or out (signout)
    name: str  # masked: 张*
    seq: int


@dataclass(frozen=True, slots=True)
class RatedView:
    ticket: str
    number: str
    level: int
    wording: str  # the level in the national wording, in the hall's language
    version: str  # of that wording
    at: float  # epoch seconds
