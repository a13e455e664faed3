"""MQTT topics and message schemas shared by every hallcall program.

Imports nothing but the standard library and msgpack, so display, window and SMS clients can
use it without the server's dependencies. Every payload is a MessagePack map with ``v`` (the
schema version). ``seq`` on snapshots is the hall's state version (monotonic per hall); ``seq``
on ``calls`` is the hall's call counter, so a client that sees a gap in calls resyncs from the
retained ``board``, which carries the ``call_seq`` of the newest call it includes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from functools import cache
from typing import Any, Literal, get_args

import msgpack

SCHEMA_VERSION = 1
PREFIX = "hallcall"

CallKind = Literal["call", "recall", "unpark"]
NoticeKind = Literal[
    "ticket_taken",
    "near",
    "called",
    "missed",
    "finished",
    "appointment_booked",  # 预约: no ticket yet; `code` and `slot` say which booking
    "appointment_reminder",
]
NOTICE_KINDS: tuple[str, ...] = get_args(NoticeKind)  # the one list server and gateway check


def topic_calls(hall: str) -> str:
    return f"{PREFIX}/{hall}/calls"


def topic_board(hall: str) -> str:
    return f"{PREFIX}/{hall}/board"


def topic_window(hall: str, window: str) -> str:
    return f"{PREFIX}/{hall}/windows/{window}"


def topic_notify(hall: str) -> str:
    return f"{PREFIX}/{hall}/notify"


def topic_status(hall: str, client: str) -> str:
    return f"{PREFIX}/{hall}/status/{client}"


def topic_hall(hall: str) -> str:
    return f"{PREFIX}/{hall}/hall"


# The server publishes its status (and its last will) on status/{instance} of every hall it
# serves; the instance is "server" unless several processes run (queue-server --instance).


@dataclass(frozen=True, slots=True)
class Call:
    """One call or recall, as shown and spoken by screens (topic ``calls``)."""

    event: str  # id of the event in the hall's stream
    number: str  # "A001"
    service: str
    window: str
    window_name: str  # "3号窗口" / "Window 3", in the hall's default language
    kind: CallKind
    green: bool
    time: float  # epoch seconds
    seq: int  # hall call counter
    # 一票到底: a ticket of several steps is at step `step` (1-based) of `steps`, for `service`
    # ("A003 (2/2 缴费)"); both 0 for a ticket of one service. Added in schema 1 (optional).
    step: int = 0
    steps: int = 0


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice for the SMS gateway (topic ``notify``). Only here is a full phone number.

    `id` is unique per hall and stable across redeliveries and server restarts (the entry id
    of the server's outbox), so the gateway sends each notice at most once. `key` names the
    real-world event ("{ticket}/{kind}/{round}", the round growing when a missed ticket
    rejoins): two notices with one key are one notice. "finished" carries the rating link's
    ticket and its secret (the status page where citizens rate wants it): like the phone, it
    is only here. On the wire a notice leaves out the fields of `NOTICE_OPTIONAL` that do not
    apply to it (their defaults here are what a reader takes)."""

    kind: NoticeKind
    phone: str
    number: str
    service: str
    time: float
    window: str = ""
    ahead: int = 0
    ticket: str = ""
    id: str = ""
    hall: str = ""
    service_name: str = ""  # in the ticket's language
    window_name: str = ""
    eta_minutes: int | None = None  # ticket_taken: the estimated wait
    eta_range: list[int] | None = None  # ticket_taken: [low, high] minutes, ~90% inside
    rejoin_minutes: float = 0  # missed: how long the citizen has to rejoin
    lang: str = "zh"  # the language the citizen took the ticket in
    key: str = ""
    step: int = 0  # a ticket of several steps: its step (1-based) and how many; 0 otherwise
    steps: int = 0
    secret: str = ""  # finished: the ticket's secret, for the rating link (status page)
    code: str = ""  # appointments: the booking code
    slot: str = ""  # appointments: the slot's local start, in the notice's language


NOTICE_OPTIONAL = frozenset(
    {"window", "window_name", "eta_minutes", "eta_range", "rejoin_minutes"}
    | {"step", "steps", "secret", "code", "slot"}
)
"""A `Notice`'s fields that only some notices carry. Without the others a ticket_taken notice
is 15 keys instead of 23: 226 bytes instead of 298, packed ~25% quicker (the server renders
one per phone ticket, and the SMS gateway stores each)."""


@dataclass(frozen=True, slots=True)
class Status:
    online: bool
    time: float
    client: str = "server"


@dataclass(frozen=True, slots=True)
class BoardService:
    id: str
    name: str
    waiting: int
    eta_minutes: int | None  # None: no open window serves it now
    eta_range: list[int] | None = None  # [low, high] minutes: about 90% are called inside
    # no tickets now (outside the hall's hours or past the service's cut-off): 已停止取号
    stopped: bool = False
    # the day's tickets (号源) are all given or held by bookings: 今日号源已满
    full: bool = False


@dataclass(frozen=True, slots=True)
class BoardWindow:
    id: str
    name: str
    paused: bool
    current: str  # ticket number or ""
    state: str  # "idle", "called", "serving", "paused"
    reason: str = ""  # why it is paused


@dataclass(frozen=True, slots=True)
class Board:
    """Retained hall snapshot for the TV screen (topic ``board``)."""

    hall: str
    name: str
    seq: int
    call_seq: int
    time: float
    recent: list[dict[str, Any]] = field(default_factory=list)  # newest first, Call fields
    services: list[BoardService] = field(default_factory=list)
    windows: list[BoardWindow] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WindowPanel:
    """Retained state of one window's caller panel and LED strip (topic ``windows/{id}``)."""

    hall: str
    window: str
    name: str
    seq: int
    time: float
    paused: bool
    reason: str  # why it is paused
    # number, service, state, green, called_at, recalls; step, steps (several steps, else 0)
    current: dict[str, Any] | None
    waiting: dict[str, int] = field(default_factory=dict)  # per service the window serves
    parked: list[str] = field(default_factory=list)
    recall_limit: int = 0  # recalls allowed before a no-show (the panel counts down)
    staff: str = ""  # signed-in staff: "1001 张*" (id and masked name)
    today: dict[str, Any] = field(default_factory=dict)  # served, no_shows, avg_minutes
    finished: dict[str, Any] | None = None  # the last ticket finished here: ticket, number, at
    rated: str = ""  # number of the last ticket rated here (never its level)
    upcoming: list[str] = field(default_factory=list)  # the next numbers it would call
    queued: list[str] = field(default_factory=list)  # transferred to this window, called first


@dataclass(frozen=True, slots=True)
class HallMessage:
    """What a screen, panel or gateway needs to know about the hall (topic ``hall``, retained),
    straight from its hall file: a manager's edit reaches every screen without touching it.
    Texts are maps {"zh": …, "en": …} (en may be missing); `languages` are those the hall has
    texts in, in the order screens alternate them."""

    hall: str
    name: dict[str, str]
    address: dict[str, str]
    timezone: str
    lang: str  # the server's default language
    languages: list[str]
    services: list[dict[str, Any]]  # id, name
    windows: list[dict[str, Any]]  # id, name, services (ids)
    notices: list[dict[str, str]]
    display: dict[str, Any]  # config.DisplaySettings
    voice: dict[str, Any]  # config.VoiceSettings
    sms: dict[str, Any] = field(default_factory=dict)  # templates and signature for the gateway
    # 好差评 for rating pads: version, levels [{level, zh, en}] (5..1), reasons, points,
    # pad_seconds
    rating: dict[str, Any] = field(default_factory=dict)
    version: str = ""  # fingerprint of the hall file
    time: float = 0.0


@cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _plain(obj: Any) -> dict[str, Any]:
    """msgpack's hook for what it cannot pack itself: a message nested in another."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {n: getattr(obj, n) for n in _names(type(obj))}
    raise TypeError(f"cannot encode {type(obj).__name__}")


def pack(body: dict[str, Any] | list[Any]) -> bytes:
    """A message's map as msgpack, the way every payload is packed (`encode`; the announcer's
    prepared notice maps): one Packer per thread, since packb makes one a call and a Packer is
    not thread-safe."""
    packer = getattr(_local, "packer", None)
    if packer is None:
        packer = _local.packer = msgpack.Packer(use_bin_type=True, default=_plain)
    packed: bytes = packer.pack(body)
    return packed


_local = threading.local()


@dataclass(frozen=True, slots=True)
class Pairs:
    """Some key-value pairs of a map, packed once: those that many messages share."""

    n: int
    data: bytes

    @classmethod
    def of(cls, fields: dict[str, Any]) -> Pairs:
        n = len(fields)  # its map header cut off: 1 byte up to 15 pairs (fixmap), else 3
        return cls(n, pack(fields)[1 if n < 16 else 3 :])


def pack_map(fixed: Pairs, flat: list[Any]) -> bytes:
    """The map of `fixed`'s pairs and those of `flat` (key, value, key, value, …), as msgpack:
    a map's pairs are its keys and values one after another, as an array's items are, so
    `flat` packs as an array with its header cut off: the same bytes as `pack` of the map,
    ~30% less work than copying a prepared map, setting its values and packing it whole."""
    n = fixed.n + len(flat) // 2
    head = bytes((0x80 | n,)) if n < 16 else b"\xde" + n.to_bytes(2, "big")  # fixmap, map16
    return head + fixed.data + pack(flat)[1 if len(flat) < 16 else 3 :]


def encode(message: Any) -> bytes:
    """Pack a message dataclass as a versioned msgpack map (as `asdict` would give it, without
    its deep copy: the relay encodes thousands a second)."""
    body = _plain(message)
    body["v"] = SCHEMA_VERSION
    return pack(body)


class ProtocolError(ValueError):
    """A payload that is not a hallcall message of a known version."""


MAX_NOTICES = 200
"""Most notices in one `notify` message (~60 KB): a burst's notices travel together, one
publish, one PUBACK and one broker routing for all of them, not one per notice."""

_NOTICES_HEAD: bytes = (
    b"\x82" + msgpack.packb("v") + msgpack.packb(SCHEMA_VERSION) + msgpack.packb("notices")
)


def pack_notices(packed: Sequence[bytes]) -> bytes:
    """Several notices, each packed alone (`encode`, `pack`), as one `notify`
    payload: ``{"v": 1, "notices": [notice, …]}``. msgpack lets an array's items follow its
    header as they were packed, so nothing is packed twice. One notice goes as it is."""
    n = len(packed)
    if n == 1:
        return packed[0]
    if not 0 < n <= MAX_NOTICES:
        raise ValueError(f"{n} notices in one message (1 to {MAX_NOTICES})")
    head = bytes((0x90 | n,)) if n < 16 else b"\xdc" + n.to_bytes(2, "big")
    return _NOTICES_HEAD + head + b"".join(packed)


def notices_in(body: dict[str, Any]) -> list[Any]:
    """The notices a decoded `notify` payload carries: itself, or its `notices` (each still to
    be checked: a map of this schema version with a known kind)."""
    if "notices" not in body:
        return [body]
    items = body["notices"]
    if not isinstance(items, list):
        raise ProtocolError(f"notices is a {type(items).__name__}, not a list")
    return items


def decode(payload: bytes) -> dict[str, Any]:
    """Unpack a payload into a map, raising ProtocolError with a one-line reason."""
    try:
        body = msgpack.unpackb(payload, raw=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        # some of msgpack's errors have no text (a reserved byte such as 0xc1): name the kind
        raise ProtocolError(f"not a msgpack payload: {str(exc) or type(exc).__name__}") from exc
    if not isinstance(body, dict):
        raise ProtocolError(f"payload is a {type(body).__name__}, not a map")
    if body.get("v") != SCHEMA_VERSION:
        raise ProtocolError(f"unsupported schema version {body.get('v')!r}")
    return body
