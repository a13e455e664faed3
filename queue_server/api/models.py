"""Request and response bodies: handlers validate with these, and the OpenAPI document is
generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from queue_server.domain import idnumber, limits
from queue_server.domain.phones import MAX_LENGTH, PhoneError, canonical_phone
from queue_server.domain.text import clean_or_keep

Channel = Literal["kiosk", "mobile", "staff", "appointment", "desk"]
"""Decided by who calls, never by the body: a kiosk's token, staff's token, or none (online)."""


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Error(Body):
    error: str = Field(description="machine-readable code, e.g. unknown_hall")
    message: str
    next_open: datetime | None = Field(
        default=None,
        description="hall_closed, capacity_full, window_closed: when it opens again",
    )


class IssueRequest(Body):
    service: str = Field(pattern=limits.SERVICE_ID, description="service id (its number prefix)")
    phone: str | None = Field(
        default=None,
        max_length=MAX_LENGTH,
        description="a mainland mobile number, any usual form (+86, 0086, separators), for "
        "SMS notices; needed when no kiosk or staff token is sent; never shown unmasked",
    )
    cls: str = Field(
        default="normal",
        alias="class",
        pattern=limits.ID,
        description="priority class, e.g. normal, green",
    )
    slot_start: datetime | None = Field(
        default=None,
        description="appointment slot start (staff only): on time, the ticket's place is the "
        "slot; late past the hall's grace, it joins as a normal ticket",
    )
    id_number: str | None = Field(
        default=None,
        max_length=idnumber.MAX_LENGTH,
        description="resident ID number (GB 11643), optional: checked, counted against the "
        "hall's per-ID daily limit, may give the green channel by age; kept only as a keyed "
        "digest, never shown, logged or answered",
    )
    steps: list[Annotated[str, Field(pattern=limits.SERVICE_ID)]] | None = Field(
        default=None,
        min_length=1,
        max_length=limits.MAX_STEPS,
        description="一票到底: the ticket's services in order, the first being `service` (e.g. "
        '["A", "D"]: 受理 then 缴费); finishing one step queues it for the next at its '
        "original place, with the same number",
    )

    @field_validator("phone", mode="before")
    @classmethod
    def _one_form(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return canonical_phone(value)
        except PhoneError as exc:  # its own error code: the client can tell the citizen
            raise PydanticCustomError("invalid_phone", str(exc)) from None


class Ticket(Body):
    id: str
    number: str
    service: str
    service_name: str
    cls: str = Field(alias="class")
    state: str
    ahead: int | None = Field(description="tickets before it while it waits")
    eta_minutes: int | None = Field(description="estimated wait; null if no window is open")
    issued_at: datetime
    window: str | None = None
    window_name: str | None = None
    phone: str | None = Field(default=None, description="masked")
    recalls: int = 0
    eta_range: list[int] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="estimated wait as a range [low, high] in minutes (约12–20分钟): about 90% "
        "of citizens are called inside it; null if no window is open",
    )
    eta_after_close: bool = Field(
        default=False, description="the ticket is likely called only after today's closing"
    )
    step: int | None = Field(
        default=None, description="a ticket of several steps: which one it is at (1-based)"
    )
    steps: list[str] | None = Field(
        default=None, description="a ticket of several steps: its services in order"
    )


class Issued(Ticket):
    secret: str = Field(description="shown once: the holder's key to status, cancel, rejoin")
    printed: bool = Field(
        default=False,
        description="the server printed it on the kiosk's ESC/POS printer: the kiosk's browser "
        "does not print it again",
    )


class Empty(Body):
    pass


class PauseRequest(Body):
    reason: Annotated[str, BeforeValidator(clean_or_keep)] = Field(
        default="",
        max_length=60,
        description="shown on screens, e.g. 午休; control and bidi characters are removed",
    )


class TransferRequest(Body):
    service: str | None = Field(default=None, pattern=limits.SERVICE_ID)
    window: str | None = Field(
        default=None,
        pattern=limits.ID,
        description="instead of a service: the front of this window's own queue",
    )

    @model_validator(mode="after")
    def _one_target(self) -> TransferRequest:
        if (self.service is None) == (self.window is None):
            raise PydanticCustomError("invalid_request", "give a service or a window, not both")
        return self


class NumberRequest(Body):
    number: str = Field(pattern=limits.NUMBER, description="as printed, e.g. A005")


class WindowResult(Body):
    action: str
    window: str
    ticket: Ticket | None = Field(description="the ticket the action touched, if any")
    finished: str | None = Field(default=None, description="number finished on the way (next)")
    seq: int


class WindowState(Body):
    window: str
    name: str
    paused: bool
    reason: str = Field(description="why it is paused")
    services: dict[str, float] = Field(description="service -> offset minutes")
    current: Ticket | None
    waiting: dict[str, int]
    parked: list[str]
    upcoming: list[str] = Field(default=[], description="the next numbers it would call")
    staff: str = Field(default="", description="signed-in staff: id and masked name")
    today: dict[str, float] = Field(
        default={}, description="served, no_shows, avg_minutes (handling) today"
    )
    queued: list[str] = Field(
        default=[], description="numbers transferred to this window: its next calls them first"
    )


class ServiceInfo(Body):
    id: str
    name: str
    waiting: int
    eta_minutes: int | None
    eta_range: list[int] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="[low, high] minutes a ticket taken now would wait",
    )
    remaining: int | None = Field(
        default=None, description="tickets left today (号源), when the service has a capacity"
    )
    full: bool = Field(
        default=False, description="no ticket now: daily capacity, hourly quota or cut-off"
    )
    next_open: datetime | None = Field(default=None, description="when tickets are issued again")


class WindowInfo(Body):
    id: str
    name: str
    services: list[str]
    paused: bool
    open_now: bool = Field(default=True, description="inside its own hours")
    hours: dict[str, list[str]] | None = Field(
        default=None, description="its own weekly hours (lunch-time cover, weekend duty)"
    )


class ClassInfo(Body):
    id: str
    name: str
    staff_only: bool


class HallInfo(Body):
    id: str
    name: str
    address: str
    timezone: str
    open_now: bool
    hours: dict[str, list[str]]
    closed_dates: list[str]
    booking: str
    makeup_dates: dict[str, str] = Field(
        default={}, description="makeup working days (调休上班): date -> the weekday's hours"
    )
    notices: list[str]
    services: list[ServiceInfo]
    windows: list[WindowInfo]
    classes: list[ClassInfo]


class HallList(Body):
    halls: list[dict[str, str]]


class Rules(Body):
    boost_minutes: dict[str, float] = Field(description="priority class -> boost")
    window_services: dict[str, dict[str, float]] = Field(
        description="window -> service -> offset minutes"
    )
    recall_limit: int = Field(ge=limits.RECALL_LIMIT[0], le=limits.RECALL_LIMIT[1])
    rejoin_minutes: float = Field(ge=limits.REJOIN_MINUTES[0], le=limits.REJOIN_MINUTES[1])
    notify_ahead: int = Field(ge=limits.NOTIFY_AHEAD[0], le=limits.NOTIFY_AHEAD[1])


class RulesOut(Rules):
    starvation_bound_minutes: float = Field(
        description="no ticket is overtaken by one that joined more than this after it"
    )
    max_overtake_minutes: float


class RulesPatch(Body):
    boost_minutes: dict[str, float] | None = None
    window_services: dict[str, dict[str, float]] | None = Field(
        default=None, description="windows named here get exactly these services"
    )
    recall_limit: int | None = Field(
        default=None, ge=limits.RECALL_LIMIT[0], le=limits.RECALL_LIMIT[1]
    )
    rejoin_minutes: float | None = Field(
        default=None, ge=limits.REJOIN_MINUTES[0], le=limits.REJOIN_MINUTES[1]
    )
    notify_ahead: int | None = Field(
        default=None, ge=limits.NOTIFY_AHEAD[0], le=limits.NOTIFY_AHEAD[1]
    )


class Health(Body):
    redis: bool
    mqtt: dict[str, bool]
    status: Literal["ok", "degraded", "down"]


class FinishRequest(Body):
    case: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,40}$",
        description="case number (办件编号), stored with the service's rating",
    )


class SigninRequest(Body):
    staff: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="staff id")
    pin: str = Field(min_length=1, max_length=64, description="PIN or password")


class StaffResult(Body):
    action: str
    window: str
    staff: str = Field(description="the staff id signed in (signin) or out (signout)")
    name: str = Field(description="masked")
    seq: int


class RatingRequest(Body):
    level: int = Field(
        strict=True,
        ge=1,
        le=5,
        description="5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意",
    )
    reasons: list[str] = Field(
        default=[], max_length=10, description="from the hall's list; needed for 2 and below"
    )
    scores: dict[str, int] = Field(
        default={}, description="per point (overall, efficiency, competence, attitude): 1-5"
    )
    comment: str = Field(default="", max_length=200)


class Rated(Body):
    ticket: str
    number: str
    level: int
    wording: str = Field(description="the level in the national 好差评 wording")
    version: str = Field(description="version of that wording")
    at: datetime


class Guide(Body):
    """A service's guide (办事指南一单清), in the server's language."""

    service: str
    name: str
    materials: list[str] = Field(description="what to bring")
    steps: list[str]
    fees: str
    time_limit: str
    note: str
    windows: list[str] = Field(description="the windows serving it (names)")
    page: str = Field(description="the printable guide page (path)")
