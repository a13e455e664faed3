"""The screen state: one immutable value, replaced whole by pure functions (no I/O).

The MQTT task turns messages into new states with these functions; the render loop only reads
the current state. Times are the screen's own monotonic seconds (`now`), so a call's hold and
flash are measured from when this screen showed it, whatever the server clocks say.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

MAX_RECENT = 50
DEFAULT_SLOTS = 4


@dataclass(frozen=True, slots=True)
class Text:
    """A text in Chinese and (maybe) English."""

    zh: str
    en: str = ""

    def get(self, lang: str) -> str:
        return self.en if lang == "en" and self.en else self.zh

    @classmethod
    def of(cls, raw: Any, fallback: str = "") -> Text:
        if isinstance(raw, dict):
            zh = str(raw.get("zh") or fallback)
            return cls(zh, str(raw.get("en") or ""))
        return cls(str(raw) if raw else fallback)


@dataclass(frozen=True, slots=True)
class Display:
    """The hall's [display] settings, as published on the retained ``hall`` topic."""

    languages: tuple[str, ...] = ("zh", "en")
    alternate_seconds: float = 6.0
    flash_seconds: float = 5.0
    hold_seconds: float = 10.0
    recent: int = 10
    idle: Text = Text("欢迎光临", "Welcome")


@dataclass(frozen=True, slots=True)
class Voice:
    """The hall's [voice] settings."""

    mode: str = "speech"  # speech | chime | off
    quiet_hours: tuple[str, ...] = ()
    quiet_mode: str = "chime"
    volume: float = 0.8
    repeat: int = 1
    languages: tuple[str, ...] = ("zh",)
    template: Text = Text("请{number}号到{window}办理", "Number {number}, please go to {window}")


@dataclass(frozen=True, slots=True)
class Hall:
    """What the retained ``hall`` message says about the hall."""

    id: str
    name: Text
    timezone: str = "Asia/Shanghai"
    languages: tuple[str, ...] = ("zh",)
    services: dict[str, Text] = field(default_factory=dict)
    windows: dict[str, Text] = field(default_factory=dict)
    notices: tuple[Text, ...] = ()
    display: Display = Display()
    voice: Voice = Voice()
    version: str = ""


@dataclass(frozen=True, slots=True)
class ShownCall:
    number: str
    window: str
    window_name: str
    green: bool
    kind: str
    seq: int
    event: str
    time: float  # epoch seconds (server)
    service: str = ""
    step: int = 0  # 一票到底: the ticket's step (1-based) and how many it has; 0 for one
    steps: int = 0


@dataclass(frozen=True, slots=True)
class Entry:
    """A call in the large "now calling" area since `since` (screen monotonic seconds)."""

    call: ShownCall
    since: float


@dataclass(frozen=True, slots=True)
class ServiceLine:
    id: str
    name: str
    waiting: int
    eta_minutes: int | None
    eta_range: tuple[int, int] | None = None  # about 90% are called inside it
    stopped: bool = False  # no tickets now (outside hours or past its cut-off): 已停止取号
    full: bool = False  # the day's tickets (号源) are all taken: 今日号源已满


@dataclass(frozen=True, slots=True)
class WindowLine:
    id: str
    name: str
    paused: bool
    current: str
    state: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Panel:
    """One window's strip: its current number and whether it is paused."""

    window: str
    name: str
    number: str = ""
    state: str = "idle"  # idle, called, serving, paused
    green: bool = False
    paused: bool = False
    reason: str = ""
    since: float = 0.0  # when the number was called, screen seconds (for the flash)
    service: str = ""
    step: int = 0  # the current ticket's step of `steps` (several steps), else 0
    steps: int = 0


@dataclass(frozen=True, slots=True)
class ScreenState:
    hall: Hall
    online: bool = False
    synced: bool = False  # a board (or panel) has been applied since start
    entries: tuple[Entry, ...] = ()  # the large area, newest first
    pending: tuple[ShownCall, ...] = ()  # waiting for a slot, oldest first
    recent: tuple[ShownCall, ...] = ()  # newest first
    services: tuple[ServiceLine, ...] = ()
    windows: tuple[WindowLine, ...] = ()
    notices: tuple[Text, ...] = ()
    panel: Panel | None = None
    slots: int = DEFAULT_SLOTS


def empty(hall_id: str, window: str | None = None) -> ScreenState:
    panel = Panel(window, f"{window}号窗口") if window else None
    return ScreenState(hall=Hall(hall_id, Text(hall_id)), panel=panel)


def _texts(items: Any) -> tuple[Text, ...]:
    return tuple(Text.of(n) for n in items or ())


def parse_hall(body: dict[str, Any]) -> Hall:
    """The retained ``hall`` message as a Hall (missing fields keep their defaults)."""
    d = body.get("display") or {}
    v = body.get("voice") or {}
    display = Display(
        languages=tuple(d.get("languages") or ("zh",)),
        alternate_seconds=float(d.get("alternate_seconds", 6)),
        flash_seconds=float(d.get("flash_seconds", 5)),
        hold_seconds=float(d.get("hold_seconds", 10)),
        recent=int(d.get("recent", 10)),
        idle=Text.of(d.get("idle"), "欢迎光临") if d.get("idle") else Display().idle,
    )
    voice = Voice(
        mode=str(v.get("mode", "speech")),
        quiet_hours=tuple(v.get("quiet_hours") or ()),
        quiet_mode=str(v.get("quiet_mode", "chime")),
        volume=float(v.get("volume", 0.8)),
        repeat=int(v.get("repeat", 1)),
        languages=tuple(v.get("languages") or ("zh",)),
        template=Text.of(v.get("template")) if v.get("template") else Voice().template,
    )
    return Hall(
        id=str(body["hall"]),
        name=Text.of(body.get("name"), str(body["hall"])),
        timezone=str(body.get("timezone") or "Asia/Shanghai"),
        languages=tuple(body.get("languages") or ("zh",)),
        services={str(s["id"]): Text.of(s.get("name"), str(s["id"])) for s in body["services"]},
        windows={str(w["id"]): Text.of(w.get("name"), str(w["id"])) for w in body["windows"]},
        notices=_texts(body.get("notices")),
        display=display,
        voice=voice,
        version=str(body.get("version", "")),
    )


def apply_hall(state: ScreenState, hall: Hall) -> ScreenState:
    panel = state.panel
    if panel is not None and panel.window in hall.windows:
        panel = replace(panel, name=hall.windows[panel.window].zh)
    return replace(state, hall=hall, notices=hall.notices, panel=panel)


def set_online(state: ScreenState, online: bool) -> ScreenState:
    return replace(state, online=online)


def call_of(body: dict[str, Any]) -> ShownCall:
    return ShownCall(
        number=str(body["number"]),
        window=str(body["window"]),
        window_name=str(body.get("window_name") or body["window"]),
        green=bool(body.get("green", False)),
        kind=str(body.get("kind", "call")),
        seq=int(body.get("seq", 0)),
        event=str(body.get("event", "")),
        time=float(body.get("time", 0.0)),
        service=str(body.get("service", "")),
        step=int(body.get("step") or 0),
        steps=int(body.get("steps") or 0),
    )


def _promote(state: ScreenState, now: float) -> ScreenState:
    """Move waiting calls into the large area: into a free slot, or over the oldest entry
    once that one has been shown for the hold time. So no call flashes past unseen."""
    entries = list(state.entries)
    pending = list(state.pending)
    hold = state.hall.display.hold_seconds
    while pending:
        if len(entries) >= state.slots:
            oldest = entries[-1]
            if now - oldest.since < hold:
                break
            entries.pop()
        entries.insert(0, Entry(pending.pop(0), now))
    if len(entries) == len(state.entries) and not pending and not state.pending:
        return state
    return replace(state, entries=tuple(entries), pending=tuple(pending))


def tick(state: ScreenState, now: float) -> ScreenState:
    """Time passing: a call waiting for a slot gets one when an entry's hold is over."""
    return _promote(state, now) if state.pending else state


def add_call(state: ScreenState, call: ShownCall, now: float) -> ScreenState:
    """A new call (or recall): first in the recent list and queued for the large area. A
    recall of a number already large moves it to the top and flashes it again."""
    others = [c for c in state.recent if c.event != call.event or not call.event]
    # by seq: a missed call found on the board later goes below the newer ones
    recent = tuple(sorted([call, *others], key=lambda c: c.seq, reverse=True)[:MAX_RECENT])
    panel = state.panel
    if panel is not None and call.window == panel.window:
        panel = replace(
            panel,
            number=call.number,
            state="called",
            green=call.green,
            paused=False,
            since=now,
            service=call.service,
            step=call.step,
            steps=call.steps,
        )
    entries = tuple(e for e in state.entries if e.call.number != call.number)
    pending = tuple(p for p in state.pending if p.number != call.number)
    if len(entries) < len(state.entries):  # already large: to the top, flashing again
        entries = (Entry(call, now), *entries)
        return replace(state, recent=recent, entries=entries, pending=pending, panel=panel)
    return _promote(
        replace(state, recent=recent, entries=entries, pending=(*pending, call), panel=panel), now
    )


def seed_calls(state: ScreenState, calls: list[ShownCall], now: float) -> ScreenState:
    """Calls found on the board at start (newest first): listed as recent and shown large
    in free slots, without flashing (they were made before this screen was looking)."""
    seen = {c.event for c in state.recent if c.event}
    merged = [*state.recent, *(c for c in calls if not c.event or c.event not in seen)]
    merged.sort(key=lambda c: c.seq, reverse=True)
    shown = {e.call.number for e in state.entries}
    settled = now - state.hall.display.hold_seconds - state.hall.display.flash_seconds
    entries = list(state.entries)
    for c in calls:
        if len(entries) >= state.slots:
            break
        if c.number not in shown:
            entries.append(Entry(c, settled))
            shown.add(c.number)
    return replace(state, recent=tuple(merged[:MAX_RECENT]), entries=tuple(entries))


def apply_board(state: ScreenState, body: dict[str, Any]) -> ScreenState:
    """The retained board: waiting counts, windows and notices. Recent calls it lists that the
    screen has not seen are added by the caller (it knows which are new)."""
    services = tuple(
        ServiceLine(
            str(s["id"]),
            str(s["name"]),
            int(s["waiting"]),
            s.get("eta_minutes"),
            _range(s.get("eta_range")),
            bool(s.get("stopped")),
            bool(s.get("full")),
        )
        for s in body.get("services", ())
    )
    windows = tuple(
        WindowLine(
            str(w["id"]),
            str(w["name"]),
            bool(w["paused"]),
            str(w.get("current", "")),
            str(w.get("state", "idle")),
            str(w.get("reason", "")),
        )
        for w in body.get("windows", ())
    )
    notices = state.notices or tuple(Text(str(n)) for n in body.get("notices", ()))
    return replace(state, services=services, windows=windows, notices=notices, synced=True)


def _range(value: Any) -> tuple[int, int] | None:
    """A board's [low, high] minutes; anything else (an older server, a bad value) is none."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    low, high = value
    if type(low) is not int or type(high) is not int or not 0 <= low <= high:
        return None
    return low, high


def apply_panel(state: ScreenState, body: dict[str, Any], now: float) -> ScreenState:
    """The retained ``windows/{w}`` snapshot of the strip's window."""
    if state.panel is None:
        return state
    cur = body.get("current") or {}
    number = str(cur.get("number", ""))
    old = state.panel
    since = old.since if number == old.number and number else now
    if not number:
        since = 0.0
    panel = replace(
        old,
        name=str(body.get("name") or old.name),
        number=number,
        state="paused" if body.get("paused") else str(cur.get("state", "idle")),
        green=bool(cur.get("green", False)),
        paused=bool(body.get("paused")),
        reason=str(body.get("reason", "")),
        since=since,
        service=str(cur.get("service", "")),
        step=int(cur.get("step") or 0),
        steps=int(cur.get("steps") or 0),
    )
    return replace(state, panel=panel, synced=True)


def language(state: ScreenState, now_wall: float) -> str:
    """The language shown now: the hall's display languages that it has texts in, in turn."""
    langs = [x for x in state.hall.display.languages if x in state.hall.languages] or ["zh"]
    period = state.hall.display.alternate_seconds
    return langs[int(now_wall // period) % len(langs)]


def window_name(state: ScreenState, window: str, lang: str, fallback: str) -> str:
    text = state.hall.windows.get(window)
    return text.get(lang) if text else fallback


def step_tag(state: ScreenState, service: str, step: int, steps: int, lang: str) -> str:
    """一票到底: "(2/2 缴费)" for a ticket at step 2 of 2, for 缴费; "" for one service."""
    if steps < 2 or not 0 < step <= steps:
        return ""
    text = state.hall.services.get(service)
    return f"({step}/{steps} {text.get(lang) if text else service})"


def flashing(state: ScreenState, now: float) -> bool:
    """True while the newest large call (or the strip's number) still flashes."""
    flash = state.hall.display.flash_seconds
    if state.entries and now - state.entries[0].since < flash:
        return True
    p = state.panel
    return p is not None and bool(p.number) and p.state == "called" and now - p.since < flash
