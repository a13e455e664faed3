"""Board, window-panel and hall messages from the store's atomic read (pure: no I/O)."""

from __future__ import annotations

import json
from typing import Any

from queue_server.config import HallConfig
from queue_server.domain import rating
from queue_server.domain.masking import mask_name
from queue_server.protocol import Board, BoardService, BoardWindow, HallMessage, WindowPanel
from queue_server.quotas import time_refusal


def pairs(flat: Any) -> dict[str, str]:
    """A Redis HGETALL reply as read through cjson (an empty one comes back as {})."""
    if not isinstance(flat, list):
        return {}
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def offsets_of(snap: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {
        w["id"]: {s: int(float(v)) for s, v in pairs(w["offsets"]).items()} for w in snap["windows"]
    }


def waiting_of(snap: dict[str, Any]) -> dict[str, int]:
    """Tickets waiting per service."""
    return {s: int(n) for s, n in _list(snap["waiting"])}


Waits = dict[str, tuple[int, int | None, tuple[int, int] | None]]
"""Per service: tickets waiting, the minutes a ticket taken now would wait, and the range."""


def board_service(
    sid: str,
    name: str,
    waiting: int,
    minutes: int | None,
    span: tuple[int, int] | None,
    stopped: bool = False,
    full: bool = False,
) -> BoardService:
    return BoardService(sid, name, waiting, minutes, list(span) if span else None, stopped, full)


def _window_state(w: dict[str, Any]) -> str:
    if w.get("current"):
        return str(w["current"]["state"])
    return "paused" if w["paused"] else "idle"


def build_board(
    hall: HallConfig, snap: dict[str, Any], lang: str, now: float, waits: Waits
) -> Board:
    names = {w.id: w.name.get(lang) for w in hall.windows}
    # 号源: numbers given today and places held by bookings, per service (snapshot.lua)
    issued = {str(x[0]): (int(x[1]), int(x[2])) for x in _list(snap.get("issued"))}
    recent = []
    for raw in _list(snap["recent"]):
        call = json.loads(raw)
        recent.append(
            {
                "event": call["event"],
                "number": call["number"],
                "service": call["service"],
                "window": call["window"],
                "window_name": names.get(call["window"], call["window"]),
                "kind": call["kind"],
                "green": hall.is_green(call["class"]),
                "time": call["time"] / 1000,
                "seq": call["seq"],
                "step": int(call.get("step") or 0),
                "steps": int(call.get("steps") or 0),
            }
        )
    return Board(
        hall=hall.id,
        name=hall.hall.name.get(lang),
        seq=int(snap["seq"]),
        call_seq=int(snap["call_seq"]),
        time=now,
        recent=recent,
        services=[
            board_service(
                s.id,
                s.name.get(lang),
                *waits[s.id],
                time_refusal(hall, s, now) is not None,
                sum(issued.get(s.id, (0, 0))) >= s.max_number,
            )
            for s in hall.services
        ],
        windows=[
            BoardWindow(
                id=w["id"],
                name=names[w["id"]],
                paused=bool(w["paused"]),
                current=w["current"]["number"] if w.get("current") else "",
                state=_window_state(w),
                reason=str(w.get("reason", "")),
            )
            for w in snap["windows"]
        ],
        notices=[n.get(lang) for n in hall.hall.notices],
    )


def build_panel(
    hall: HallConfig, snap: dict[str, Any], window: str, lang: str, now: float
) -> WindowPanel:
    w = next(x for x in snap["windows"] if x["id"] == window)
    waiting = {s: int(n) for s, n in _list(snap["waiting"])}
    cur = w.get("current")
    cfg = hall.window(window)
    return WindowPanel(
        hall=hall.id,
        window=window,
        name=cfg.name.get(lang) if cfg else window,
        seq=int(snap["seq"]),
        time=now,
        paused=bool(w["paused"]),
        reason=str(w.get("reason", "")),
        current=(
            {
                "number": cur["number"],
                "service": cur["service"],
                "state": cur["state"],
                "green": hall.is_green(cur["class"]),
                "called_at": cur["called_at"] / 1000,
                "recalls": int(cur["recalls"]),
                "step": int(cur.get("step") or 0),
                "steps": int(cur.get("steps") or 0),
            }
            if cur
            else None
        ),
        waiting={s: waiting.get(s, 0) for s in pairs(w["offsets"])},
        parked=[str(p) for p in _list(w["parked"])],
        recall_limit=_recall_limit(hall, snap),
        staff=_staff(hall, str(w.get("staff") or "")),
        today=_today(w.get("today")),
        finished=(
            {
                "ticket": w["done"]["ticket"],
                "number": w["done"]["number"],
                "at": w["done"]["at"] / 1000,
            }
            if isinstance(w.get("done"), dict)
            else None
        ),
        rated=str(w.get("rated") or ""),
        upcoming=[str(n) for n in _list(w.get("upcoming"))],
        queued=[str(n) for n in _list(w.get("queued"))],
    )


def _recall_limit(hall: HallConfig, snap: dict[str, Any]) -> int:
    """The live limit (a manager may have changed it), else the hall file's."""
    live = snap.get("recall_limit")
    return int(live) if isinstance(live, int | float) and live >= 0 else hall.queue.recall_limit


def _staff(hall: HallConfig, sid: str) -> str:
    """ "1001 张*": who is signed in, the name masked."""
    member = hall.staff_member(sid) if sid else None
    return f"{sid} {mask_name(member.name)}" if member else sid


def _today(raw: Any) -> dict[str, Any]:
    """The window's figures today: served, no-shows, average handling minutes."""
    if not isinstance(raw, dict):
        return {"served": 0, "no_shows": 0, "avg_minutes": 0.0}
    served = int(raw.get("served", 0))
    avg = raw.get("handle_ms", 0) / served / 60_000 if served else 0.0
    return {"served": served, "no_shows": int(raw.get("no_shows", 0)), "avg_minutes": round(avg, 1)}


def hall_message(hall: HallConfig, lang: str, now: float) -> HallMessage:
    """The retained ``hall`` topic: names in both languages and the screen settings."""
    c = hall
    languages = ["zh", "en"] if c.hall.name.en else ["zh"]
    return HallMessage(
        hall=c.id,
        name=c.hall.name.model_dump(),
        address=c.hall.address.model_dump(),
        timezone=c.hall.timezone,
        lang=lang,
        languages=languages,
        services=[{"id": s.id, "name": s.name.model_dump()} for s in c.services],
        windows=[
            {"id": w.id, "name": w.name.model_dump(), "services": list(w.services)}
            for w in c.windows
        ],
        notices=[n.model_dump() for n in c.hall.notices],
        display=c.display.model_dump(mode="json"),
        voice=c.voice.model_dump(mode="json"),
        sms=c.sms.for_gateway(c.hall.public_url),
        rating=rating_settings(c),
        version=c.fingerprint(),
        time=now,
    )


def rating_settings(hall: HallConfig) -> dict[str, Any]:
    """What a rating pad shows: the national wording (versioned) and the hall's choices."""
    return {
        "version": rating.WORDING_VERSION,
        "levels": [{"level": n, **words} for n, words in rating.LEVELS.items()],
        "reasons": list(hall.rating.reasons),
        "points": [{"id": p, **words} for p, words in rating.POINTS.items()]
        if hall.rating.points
        else [],
        "pad_seconds": hall.rating.pad_seconds,
    }
