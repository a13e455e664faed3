"""Hall configuration: TOML files validated by pydantic models.

One file per hall in the config folder. A broken file raises ConfigError whose message is one
line naming the file and the field. Tokens are stored as SHA-256 hex digests: tokens are long
random strings, so a fast hash is enough and lets every server process check them alike.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from queue_server.domain import limits
from queue_server.domain.rating import DEFAULT_REASONS
from queue_server.domain.secrets import valid_hash
from queue_server.domain.text import clean_or_keep
from queue_server.protocol import NOTICE_KINDS

ID = Annotated[str, Field(pattern=limits.ID)]
SERVICE_ID = Annotated[str, Field(pattern=limits.SERVICE_ID)]
SHA256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")

DEMO_TOKENS = (
    {f"demo-window-{n}" for n in range(1, 21)}
    | {f"demo-kiosk-{n}" for n in range(1, 5)}
    | {f"demo-desk-{n}" for n in range(1, 5)}
    | {f"demo-pad-{n}" for n in range(1, 21)}
    | {"demo-manager", "demo-sms"}
)


def hash_token(token: str) -> str:
    # surrogateescape: aiohttp hands over undecodable header bytes that way
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


DEMO_TOKEN_HASHES = {hash_token(t) for t in DEMO_TOKENS}


class ConfigError(ValueError):
    """A broken hall file; the message is one line."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ShownText = Annotated[str, BeforeValidator(clean_or_keep), Field(max_length=200)]
"""Text that screens show: control and bidi characters removed, one line, bounded."""


class Text(_Model):
    """A text in Chinese (default) and English."""

    zh: Annotated[ShownText, Field(min_length=1)]
    en: ShownText = ""

    def get(self, lang: str) -> str:
        return self.en if lang == "en" and self.en else self.zh


# -- service guides (办事指南一单清): told all at once, before the citizen comes -----------


class Guide(_Model):
    """What to bring, the steps, fees and time limit of a service (which windows serve it
    comes from the windows). Shown on the kiosk, phone and hall pages and linked by SMS."""

    materials: list[Text] = Field(default=[], max_length=30)
    steps: list[Text] = Field(default=[], max_length=30)
    fees: Text | None = None
    time_limit: Text | None = None
    note: Text | None = None


class Service(_Model):
    id: SERVICE_ID
    name: Text
    avg_minutes: float = Field(default=5.0, gt=0, le=240)
    # -- capacity and numbers (号源): see queue_server/quotas.py ---------------------------
    prefix: str | None = Field(default=None, pattern=limits.PREFIX)  # default: the service id
    width: int = Field(default=3, ge=limits.WIDTH[0], le=limits.WIDTH[1])  # digits: A001
    capacity: int | None = Field(default=None, ge=1)  # tickets a day
    # tickets an hour: one number for every hour, or a table by hour of day ({ "9" = 20 })
    hourly: int | dict[str, int] | None = None
    issue_until: str | None = Field(default=None, pattern=r"^\d\d:\d\d$")  # last ticket
    guide: Guide | None = None  # 办事指南一单清

    @field_validator("hourly")
    @classmethod
    def _hourly(cls, value: int | dict[str, int] | None) -> int | dict[str, int] | None:
        for hour, cap in value.items() if isinstance(value, dict) else [("0", value or 1)]:
            if not hour.isdigit() or not 0 <= int(hour) <= 23:
                raise ValueError(f"hour {hour!r} is not 0..23")
            if cap < 0:
                raise ValueError(f"hourly quota {cap} is negative")
        return value

    @field_validator("issue_until")
    @classmethod
    def _until(cls, value: str | None) -> str | None:
        if value is not None:
            parse_span(f"00:00-{value}")
        return value

    @model_validator(mode="after")
    def _fits(self) -> Service:
        if self.capacity is not None and self.capacity > self.max_number:
            raise ValueError(
                f"capacity {self.capacity} does not fit {self.width}-digit numbers "
                f"(at most {self.max_number}; widen `width`)"
            )
        return self

    @property
    def number_prefix(self) -> str:
        return self.prefix or self.id

    @property
    def max_number(self) -> int:
        """The last number of the day: the capacity, else the largest the width holds."""
        widest: int = 10**self.width - 1
        return min(self.capacity, widest) if self.capacity is not None else widest

    def hourly_cap(self, hour: int) -> int | None:
        if isinstance(self.hourly, dict):
            return self.hourly.get(str(hour))
        return self.hourly

    @property
    def cutoff(self) -> time | None:
        return parse_span(f"00:00-{self.issue_until}")[1] if self.issue_until else None


class PriorityClass(_Model):
    id: ID
    name: Text
    boost_minutes: float = Field(
        default=0.0, ge=limits.BOOST_MINUTES[0], le=limits.BOOST_MINUTES[1]
    )
    # Only staff (a guide's device, a window, a manager) may issue tickets of this class; by
    # default every class with a boost, so nobody gives themselves a better place.
    staff_only: bool | None = None
    green: bool = False  # a green-channel class: screens mark its calls

    @property
    def needs_staff(self) -> bool:
        return self.staff_only if self.staff_only is not None else self.boost_minutes > 0


class Window(_Model):
    id: ID
    name: Text
    services: dict[str, float] = Field(min_length=1)  # service id -> offset in minutes
    token_sha256: SHA256
    pad_token_sha256: SHA256 | None = None  # the window's rating pad: ratings, nothing else
    # The window's own calling hours; without them it may call whenever staff press next.
    hours: WindowHours | None = None

    @field_validator("services")
    @classmethod
    def _offsets(cls, value: dict[str, float]) -> dict[str, float]:
        low, high = limits.OFFSET_MINUTES
        for sid, offset in value.items():
            if not low <= offset <= high:
                raise ValueError(f"offset of {sid} must be {low}..{high} minutes")
        return value


class Printer(_Model):
    """A kiosk's ESC/POS ticket printer (python-escpos), driven by the server: `network`
    (host, tcp_port), `usb` (vendor, product), `serial` (device, baudrate) or `file` (device:
    a path, e.g. /dev/usb/lp0). A failed print voids the ticket; with `on_fail = "reprint"`
    it is tried `reprints` more times first. So no number is held by nobody."""

    kind: Literal["network", "usb", "serial", "file"]
    host: str = Field(default="", max_length=255)
    tcp_port: int = Field(default=9100, ge=1, le=65535)
    vendor: int = Field(default=0, ge=0, le=0xFFFF)
    product: int = Field(default=0, ge=0, le=0xFFFF)
    device: str = Field(default="", max_length=255)
    baudrate: int = Field(default=9600, ge=1200, le=921600)
    paper: Literal["58", "80"] = "80"
    timeout: float = Field(default=5, gt=0, le=60)  # seconds per connect, write or status
    check_status: bool = True  # ask the printer (DLE EOT) it is online with paper, before/after
    on_fail: Literal["void", "reprint"] = "void"
    reprints: int = Field(default=1, ge=0, le=5)

    @model_validator(mode="after")
    def _where(self) -> Printer:
        needs = {"network": "host", "usb": "vendor", "serial": "device", "file": "device"}
        if not getattr(self, needs[self.kind]):
            raise ValueError(f"a {self.kind} printer needs {needs[self.kind]}")
        return self


class Kiosk(_Model):
    """A self-service ticket machine: its token issues tickets without a phone number."""

    id: ID
    name: Text
    token_sha256: SHA256
    max_per_day: int | None = Field(default=None, ge=1, le=1_000_000)  # tickets a day (防黄牛)
    printer: Printer | None = None  # ESC/POS printed by the server; None: the browser prints


class Desk(_Model):
    """A guide desk (导办台): staff there issue any class (green channel too), with or
    without a phone number."""

    id: ID
    name: Text
    token_sha256: SHA256


class IdRules(_Model):
    """The `[ids]` section: resident ID numbers typed at the kiosk or desk (防黄牛, green
    channel by age). The numbers themselves are never stored: only a keyed digest."""

    max_per_id: int = Field(default=3, ge=1, le=1000)  # tickets per ID number per day
    agent_max_per_day: int = Field(default=30, ge=1, le=10_000)  # a registered agent's (代办)
    green_age: int | None = Field(default=None, ge=1, le=150)  # this age or more: green channel
    green_class: str = "green"  # the class an ID of that age gets instead of the normal one
    report_min: int = Field(default=2, ge=2, le=1000)  # the manager's list: this many or more


class _Week(_Model):
    """Opening spans ("08:30-12:00") for each day of the week."""

    mon: list[str] = []
    tue: list[str] = []
    wed: list[str] = []
    thu: list[str] = []
    fri: list[str] = []
    sat: list[str] = []
    sun: list[str] = []

    @field_validator(*DAYS)
    @classmethod
    def _spans(cls, value: list[str]) -> list[str]:
        for span in value:
            parse_span(span)
        return value

    def week_spans(self, weekday: str) -> list[tuple[time, time]]:
        return [parse_span(s) for s in getattr(self, weekday)]


class Hours(_Week):
    """The hall's weekly opening spans and its calendar: closed dates (holidays), extra dates
    with their own spans, and makeup working days (调休上班) that open as a given weekday."""

    closed_dates: list[date] = []
    extra_dates: dict[date, list[str]] = {}
    makeup_dates: dict[date, Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = {}

    @field_validator("extra_dates")
    @classmethod
    def _extra(cls, value: dict[date, list[str]]) -> dict[date, list[str]]:
        for spans in value.values():
            cls._spans(spans)
        return value

    def weekday_of(self, day: date) -> str | None:
        """Which weekday's hours a date keeps (a makeup day keeps the one it names); None on a
        closed date."""
        if day in self.closed_dates:
            return None
        return self.makeup_dates.get(day, DAYS[day.weekday()])

    def spans_on(self, day: date) -> list[tuple[time, time]]:
        weekday = self.weekday_of(day)
        if weekday is None:
            return []
        if day in self.extra_dates:
            return [parse_span(s) for s in self.extra_dates[day]]
        return self.week_spans(weekday)


class WindowHours(_Week):
    """A window's own hours (lunch-time cover, weekend duty); the hall's calendar applies:
    closed on its closed dates, a makeup day as the weekday it names, and on an extra date the
    hall's spans, unless `dates` gives the window its own for that date."""

    dates: dict[date, list[str]] = {}

    @field_validator("dates")
    @classmethod
    def _dated(cls, value: dict[date, list[str]]) -> dict[date, list[str]]:
        for spans in value.values():
            cls._spans(spans)
        return value

    def spans_on(self, day: date, hall: Hours) -> list[tuple[time, time]]:
        if day in self.dates:
            return [parse_span(s) for s in self.dates[day]]
        weekday = hall.weekday_of(day)
        if weekday is None:
            return []
        if day in hall.extra_dates:
            return hall.spans_on(day)
        return self.week_spans(weekday)


@lru_cache(maxsize=1024)  # hours are read on every issue and call: parse each span once
def parse_span(span: str) -> tuple[time, time]:
    m = _SPAN.match(span)
    if not m:
        raise ValueError(f"{span!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h2 == 24 and m2 == 0:
        h2, m2 = 23, 59
    try:
        start, end = time(h1, m1), time(h2, m2)
    except ValueError as exc:
        raise ValueError(f"{span!r}: {exc}") from exc
    if end <= start:
        raise ValueError(f"{span!r} ends before it starts")
    return start, end


class QueueRules(_Model):
    recall_limit: int = Field(default=2, ge=limits.RECALL_LIMIT[0], le=limits.RECALL_LIMIT[1])
    rejoin_minutes: float = Field(
        default=30, ge=limits.REJOIN_MINUTES[0], le=limits.REJOIN_MINUTES[1]
    )
    notify_ahead: int = Field(default=3, ge=limits.NOTIFY_AHEAD[0], le=limits.NOTIFY_AHEAD[1])
    max_per_phone: int = Field(default=5, ge=1, le=100)  # tickets per phone per day
    max_overtake_minutes: float = Field(default=90, gt=0, le=1440)  # starvation bound limit
    issue_outside_hours: bool = False
    appointment_grace_minutes: float = Field(default=15, ge=0, le=120)  # late, then normal queue
    appointment_early_minutes: float = Field(default=60, ge=0, le=480)  # earliest check-in


class Limits(_Model):
    """Per client address, on routes that take no token (issuing online, ticket status, hall
    info): a steady rate with a burst. Citizens on the hall's Wi-Fi may share one address."""

    public_per_minute: int = Field(default=300, ge=1, le=1_000_000)
    public_burst: int = Field(default=60, ge=1, le=1_000_000)
    # wrong tokens from one address in a minute before it is refused for the rest of it
    failed_tokens_per_minute: int = Field(default=10, ge=1, le=10_000)


Lang = Literal["zh", "en"]


class DisplaySettings(_Model):
    """How the hall's screens show calls (published on the retained ``hall`` topic)."""

    languages: list[Lang] = Field(default=["zh", "en"], min_length=1)  # alternated in order
    alternate_seconds: float = Field(default=6, ge=2, le=60)  # time per language
    flash_seconds: float = Field(default=5, ge=0, le=30)  # the newest call flashes this long
    hold_seconds: float = Field(default=10, ge=3, le=120)  # a call stays large at least this long
    recent: int = Field(default=10, ge=0, le=50)  # recent calls listed
    idle: Text = Text(zh="欢迎光临", en="Welcome")  # LED strip with no current ticket


class VoiceSettings(_Model):
    """The spoken call. Silent calling first: a hall may choose a chime only, or nothing."""

    mode: Literal["speech", "chime", "off"] = "speech"
    quiet_hours: list[str] = []  # spans (HH:MM-HH:MM) when `quiet_mode` applies instead
    quiet_mode: Literal["chime", "off"] = "chime"
    volume: float = Field(default=0.8, ge=0, le=1)
    repeat: int = Field(default=1, ge=1, le=5)
    languages: list[Lang] = Field(default=["zh"], min_length=1)  # spoken in this order
    template: Text = Text(
        zh="请{number}号到{window}办理", en="Number {number}, please go to {window}"
    )

    @field_validator("quiet_hours")
    @classmethod
    def _spans(cls, value: list[str]) -> list[str]:
        for span in value:
            parse_span(span)
        return value

    @field_validator("template")
    @classmethod
    def _fields(cls, value: Text) -> Text:
        for text in (value.zh, value.en):
            if text and ("{number}" not in text or "{window}" not in text):
                raise ValueError("a voice template needs {number} and {window}")
        return value


DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"  # the server's default address (HALLCALL_HTTP)
SMS_FIELDS = (
    "number",
    "window",
    "service",
    "ahead",
    "eta",
    "eta_range",
    "rejoin",
    "link",
    "hall",
    "slot",  # appointments: the slot's local start ("11月27日 09:30")
    "code",  # appointments: the booking code
    "guide",
)


class SmsTemplates(_Model):
    """SMS texts per notice kind. Fields: {number} {window} {service} {ahead} {eta}
    {eta_range} ("10–20", the wait range; one number when narrow) {rejoin} {link} {hall}
    {guide} (the service's guide page); `ticket_taken_no_eta` is used while no window serves
    the ticket's service."""

    ticket_taken: Text = Text(
        zh="您已取号{number}，前面还有{ahead}人，预计等候约{eta_range}分钟。办事指南：{guide}",
        en="Your number is {number}: {ahead} ahead of you, about {eta_range} minutes to wait. "
        "What to bring: {guide}",
    )
    ticket_taken_no_eta: Text = Text(
        zh="您已取号{number}，前面还有{ahead}人。办事指南：{guide}",
        en="Your number is {number}: {ahead} ahead of you. What to bring: {guide}",
    )
    near: Text = Text(
        zh="请做好准备，前面还有{ahead}人", en="Please get ready: {ahead} ahead of you"
    )
    called: Text = Text(
        zh="请{number}号到{window}办理", en="Number {number}, please go to {window}"
    )
    missed: Text = Text(
        zh="您的号码{number}已过号，请在{rejoin}分钟内重新排队",
        en="Number {number} missed the call; you may rejoin within {rejoin} minutes",
    )
    finished: Text = Text(
        zh="感谢您的办理，请评价本次服务：{link}",
        en="Thank you. Please rate our service: {link}",
    )
    appointment_booked: Text = Text(
        zh="您已预约{service}，时间{slot}，预约码{code}。请在预约时间前到大厅自助机签到",
        en="Booked: {service} at {slot}, booking code {code}. Check in at the hall's kiosk",
    )
    appointment_reminder: Text = Text(
        zh="提醒：您预约了{slot}办理{service}，预约码{code}，请按时到大厅签到",
        en="Reminder: {service} at {slot}, booking code {code}. Please check in on time",
    )

    @model_validator(mode="after")
    def _fields(self) -> SmsTemplates:
        for kind, text in self:
            for part in (text.zh, text.en):
                for name in re.findall(r"{([^{}]*)}", part):
                    if name not in SMS_FIELDS:
                        raise ValueError(f"{kind}: unknown field {{{name}}}")
        return self


class ProviderTemplate(_Model):
    """A provider's pre-approved template for one notice kind: its code and where each
    parameter comes from (a template field name, as in SmsTemplates)."""

    template: str = Field(min_length=1, max_length=64)
    params: dict[str, str] | list[str] = {}

    @field_validator("params")
    @classmethod
    def _fields(cls, value: dict[str, str] | list[str]) -> dict[str, str] | list[str]:
        for name in value.values() if isinstance(value, dict) else value:
            if name not in SMS_FIELDS:
                raise ValueError(f"unknown field {name!r} (one of {', '.join(SMS_FIELDS)})")
        return value


def provider_gaps(sms: SmsSettings) -> str:
    """A hall that sets templates for Aliyun or Tencent must set one for every notice kind:
    those providers send nothing else, so a missing one would fail only when first sent."""
    for name, templates in (("aliyun", sms.aliyun), ("tencent", sms.tencent)):
        if missing := [kind for kind in NOTICE_KINDS if templates and kind not in templates]:
            return f"[sms.{name}] has no template for {', '.join(missing)}"
    return ""


class SmsSettings(_Model):
    """The `[sms]` section: what the SMS gateway sends (published on the ``hall`` topic)."""

    signature: Text = Text(zh="政务服务中心", en="Government Service Centre")
    templates: SmsTemplates = SmsTemplates()
    # The ticket status page, where citizens rate, linked from "finished" notices ({hall},
    # {ticket}, {secret}: the ticket's secret, {lang}).
    link: str = "http://127.0.0.1:8080/m/{hall}/t/{ticket}?secret={secret}&lang={lang}"
    # The service guide page ({guide} in texts; {hall}, {service}); empty: the hall's
    # public_url (or this server's default address) + /hall/{hall}/guide/{service}.
    guide_link: str = Field(default="", max_length=300)
    # Pre-approved provider templates per notice kind (Chinese carriers send nothing else).
    aliyun: dict[str, ProviderTemplate] = {}
    tencent: dict[str, ProviderTemplate] = {}
    # The gateway's token: it reads any ticket's state (to drop stale notices), nothing else.
    token_sha256: list[SHA256] = []

    @field_validator("aliyun", "tencent")
    @classmethod
    def _kinds(cls, value: dict[str, ProviderTemplate]) -> dict[str, ProviderTemplate]:
        for kind in value:
            if kind not in NOTICE_KINDS:
                raise ValueError(f"unknown notice kind {kind!r}")
        return value

    @model_validator(mode="after")
    def _every_kind_templated(self) -> SmsSettings:
        if gaps := provider_gaps(self):
            raise ValueError(gaps)
        return self

    def for_gateway(self, public_url: str = "") -> dict[str, Any]:
        """What the ``hall`` topic carries for the gateway (no token hashes)."""
        out = self.model_dump(mode="json", exclude={"token_sha256"})
        if not self.guide_link:
            base = public_url.rstrip("/") or DEFAULT_PUBLIC_URL
            out["guide_link"] = base + "/hall/{hall}/guide/{service}"
        return out


# -- appointments (预约) ----------------------------------------------------------------------


class AppointmentSettings(_Model):
    """Bookable slots per service per day. Slots follow the hall's hours (closed dates have
    none); check-in at the kiosk is on time from `queue.appointment_early_minutes` before the
    slot to `queue.appointment_grace_minutes` after its start (later: the normal queue)."""

    slot_minutes: int = Field(default=30, ge=5, le=240)
    capacity: dict[str, int] = Field(min_length=1)  # service id -> bookings per slot
    days_ahead: int = Field(default=7, ge=0, le=60)  # today and this many days after
    remind_at: str = Field(default="18:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # day before
    class_id: ID = "appointment"  # the priority class of an on-time check-in
    no_show_limit: int = Field(default=3, ge=1, le=100)  # this many no-shows …
    no_show_days: int = Field(default=30, ge=1, le=365)  # … within this many days …
    block_days: int = Field(default=30, ge=1, le=365)  # … block booking for this many days

    @field_validator("capacity")
    @classmethod
    def _capacity(cls, value: dict[str, int]) -> dict[str, int]:
        for sid, n in value.items():
            if not 1 <= n <= 1000:
                raise ValueError(f"capacity of {sid} must be 1..1000 bookings per slot")
        return value


class SimulateSettings(_Model):
    """Arrivals for `queue-server simulate`: tickets per hour per service, one number for every
    hour or a table by hour of day (B = { "9" = 60, "10" = 80 })."""

    rates: dict[str, float | dict[str, float]] = {}


class StaffMember(_Model):
    """A member of staff who signs in at a window; the PIN is kept as a scrypt hash
    (`queue-server hash-secret`)."""

    id: ID
    name: str = Field(min_length=1, max_length=40)
    department: str = Field(default="", max_length=40)
    secret_hash: str

    @field_validator("secret_hash")
    @classmethod
    def _hash(cls, value: str) -> str:
        if not valid_hash(value):
            raise ValueError("not a hash made by `queue-server hash-secret` (scrypt$...)")
        return value


class StaffRules(_Model):
    require_signin: bool = False  # refuse `next` at a window nobody signed in to
    max_wrong_pins: int = Field(default=5, ge=1, le=20)  # then the staff id is locked
    lockout_minutes: float = Field(default=15, gt=0, le=1440)


class RatingSettings(_Model):
    """好差评 at this hall: the five levels' wording is national (domain/rating.py)."""

    minutes: float = Field(default=1440, gt=0, le=10080)  # a rating is taken this long
    reasons: list[str] = Field(default=list(DEFAULT_REASONS), min_length=1)
    points: bool = False  # ask a 1-5 score for each of 整体满意度, 服务效率, 服务水平, 服务态度
    pad_seconds: float = Field(default=30, ge=5, le=300)  # the pad gives up after this


class Managers(_Model):
    token_sha256: list[SHA256] = Field(min_length=1)


class HallInfo(_Model):
    id: ID
    name: Text
    address: Text
    timezone: str = "Asia/Shanghai"
    booking: Text = Text(
        zh="现场取号、网上预约或电话预约", en="Take a ticket on site, online or by phone"
    )
    notices: list[Text] = []
    # The hall's public address as citizens' phones reach it (QR codes, SMS links), e.g.
    # "https://hall.example.gov.cn"; empty: the address the request came to.
    public_url: Annotated[str, Field(pattern=r"^(https?://[^\s/?#]+(/[^\s?#]*)?)?$")] = ""

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class HallConfig(_Model):
    hall: HallInfo
    hours: Hours = Hours()
    queue: QueueRules = QueueRules()
    limits: Limits = Limits()
    services: list[Service] = Field(min_length=1)
    classes: list[PriorityClass] = Field(min_length=1)
    windows: list[Window] = Field(min_length=1)
    kiosks: list[Kiosk] = []
    desks: list[Desk] = []
    ids: IdRules = IdRules()
    managers: Managers
    display: DisplaySettings = DisplaySettings()
    voice: VoiceSettings = VoiceSettings()
    sms: SmsSettings = SmsSettings()
    staff: list[StaffMember] = []
    staff_rules: StaffRules = StaffRules()
    rating: RatingSettings = RatingSettings()
    simulate: SimulateSettings = SimulateSettings()
    appointments: AppointmentSettings | None = None  # no section: nothing to book

    @model_validator(mode="after")
    def _references(self) -> HallConfig:
        for kind, items in (
            ("services", self.services),
            ("classes", self.classes),
            ("windows", self.windows),
            ("kiosks", self.kiosks),
            ("desks", self.desks),
            ("staff", self.staff),
        ):
            ids = [i.id for i in items]
            dup = {i for i in ids if ids.count(i) > 1}
            if dup:
                raise ValueError(f"{kind}: duplicate id {sorted(dup)[0]!r}")
        if "normal" not in self.class_ids:
            raise ValueError("classes: a class with id 'normal' is required")
        for w in self.windows:
            unknown = set(w.services) - set(self.service_ids)
            if unknown:
                raise ValueError(f"windows.{w.id}.services: unknown service {sorted(unknown)[0]!r}")
        if self.ids.green_age is not None and self.ids.green_class not in self.class_ids:
            raise ValueError(f"ids.green_class: unknown class {self.ids.green_class!r}")
        prefixes = [s.number_prefix for s in self.services]
        dup = {p for p in prefixes if prefixes.count(p) > 1}
        if dup:
            raise ValueError(f"services: number prefix {sorted(dup)[0]!r} is used twice")
        unknown = set(self.simulate.rates) - set(self.service_ids)
        if unknown:
            raise ValueError(f"simulate.rates: unknown service {sorted(unknown)[0]!r}")
        if self.appointments is not None:
            unknown = set(self.appointments.capacity) - set(self.service_ids)
            if unknown:
                raise ValueError(f"appointments.capacity: unknown service {sorted(unknown)[0]!r}")
            if self.appointments.class_id not in self.class_ids:
                raise ValueError(f"appointments.class_id: no class {self.appointments.class_id!r}")
        return self

    @property
    def id(self) -> str:
        return self.hall.id

    @property
    def service_ids(self) -> list[str]:
        return [s.id for s in self.services]

    @property
    def class_ids(self) -> list[str]:
        return [c.id for c in self.classes]

    def service(self, sid: str) -> Service | None:
        return _by_id(self.services).get(sid)

    def window(self, wid: str) -> Window | None:
        return _by_id(self.windows).get(wid)

    def kiosk(self, kid: str) -> Kiosk | None:
        return _by_id(self.kiosks).get(kid)

    def staff_member(self, sid: str) -> StaffMember | None:
        return _by_id(self.staff).get(sid)

    def priority_class(self, cid: str) -> PriorityClass | None:
        return _by_id(self.classes).get(cid)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.hall.timezone)

    @property
    def normal_class(self) -> PriorityClass:
        return _by_id(self.classes)["normal"]  # validated to exist

    def is_green(self, cls: str) -> bool:
        found = self.priority_class(cls)
        return bool(found and found.green)

    def uses_demo_tokens(self) -> bool:
        hashes = {w.token_sha256 for w in self.windows} | {k.token_sha256 for k in self.kiosks}
        hashes |= {d.token_sha256 for d in self.desks}
        hashes |= set(self.managers.token_sha256) | set(self.sms.token_sha256)
        hashes |= {w.pad_token_sha256 for w in self.windows if w.pad_token_sha256}
        return bool(hashes & DEMO_TOKEN_HASHES)

    def fingerprint(self) -> str:
        """Digest of the file's content, to notice when the file changed since Redis was seeded."""
        # simulation settings are no rules: editing them must not reseed the live rules
        dump = self.model_dump_json(exclude={"simulate"})
        return hashlib.sha256(dump.encode()).hexdigest()[:16]


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_Item = TypeVar("_Item", bound=_HasId)
# id(list) -> (the list, its items by id): lookups run on every request (a ticket's service,
# a kiosk's cap). Kept beside the frozen models, not in them (a private attribute would take
# part in their equality); the list itself is kept, so its id is not reused while cached.
_INDEXES: dict[int, tuple[Sequence[Any], dict[str, Any]]] = {}


def _by_id(items: Sequence[_Item]) -> dict[str, _Item]:
    found = _INDEXES.get(id(items))
    if found is not None and found[0] is items:
        return found[1]
    if len(_INDEXES) >= 4096:  # configs made and dropped (tests, the simulator)
        _INDEXES.clear()
    index: dict[str, _Item] = {}
    for x in items:
        index.setdefault(x.id, x)  # the first of an id, as a scan finds it
    _INDEXES[id(items)] = (items, index)
    return index


def _where(err: ErrorDetails, data: dict[str, Any]) -> str:
    """Turn a pydantic error location into a dotted path that names list items by id."""
    parts: list[str] = []
    node: Any = data
    for loc in err["loc"]:
        if isinstance(loc, int) and isinstance(node, list) and loc < len(node):
            item = node[loc]
            parts.append(str(item.get("id", loc)) if isinstance(item, dict) else str(loc))
            node = item
        else:
            parts.append(str(loc))
            node = node.get(loc) if isinstance(node, dict) else None
    return ".".join(parts)


def load_hall(path: Path) -> HallConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return HallConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _where(err, data) or "(file)"
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{path}: {where}: {msg}") from exc


def load_halls(config: Path) -> dict[str, HallConfig]:
    """Load one hall file or every *.toml in a folder; hall ids must be unique."""
    files = sorted(config.glob("*.toml")) if config.is_dir() else [config]
    if not files:
        raise ConfigError(f"{config}: no hall files (*.toml)")
    halls: dict[str, HallConfig] = {}
    for path in files:
        hall = load_hall(path)
        if hall.id in halls:
            raise ConfigError(f"{path}: hall.id: {hall.id!r} is already used by another file")
        halls[hall.id] = hall
    return halls
