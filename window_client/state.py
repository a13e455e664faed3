"""What the caller panel shows, fed by MQTT snapshots and HTTP answers (pure: no I/O).

The panel keeps its last state when the broker or server goes away, and says so. Snapshots
are applied in `seq` order only, so a late retained copy never undoes a newer answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from window_client.api import Outcome, Reply
from window_client.texts import t


@dataclass
class PanelState:
    hall: str
    window: str
    lang: str = "zh"
    name: str = ""
    online: bool = False  # the MQTT link
    reachable: bool = True  # the last HTTP call got an answer
    seq: int = 0
    paused: bool = False
    reason: str = ""
    current: dict[str, Any] | None = None  # number, service, state, called_at, recalls
    waiting: dict[str, int] = field(default_factory=dict)
    upcoming: list[str] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)
    staff: str = ""
    today: dict[str, Any] = field(default_factory=dict)  # served, no_shows, avg_minutes
    rated: str = ""  # number of the last ticket rated at this window (never its level)
    recall_limit: int | None = None
    clock_offset: float = 0.0  # server time minus ours: elapsed times use the server's clock
    service_names: dict[str, str] = field(default_factory=dict)
    window_names: dict[str, str] = field(default_factory=dict)  # the other windows
    queued: list[str] = field(default_factory=list)  # transferred to this window, first called
    message: str = ""
    message_bad: bool = False
    busy: str = ""  # the action in flight
    version: int = 0  # bumped on every change the screen must show

    def changed(self) -> None:
        self.version += 1

    def say(self, message: str, bad: bool = False) -> None:
        self.message, self.message_bad = message, bad
        self.changed()

    def set_online(self, up: bool) -> None:
        self.online = up
        self.changed()

    def apply_hall(self, body: dict[str, Any]) -> None:
        for s in body.get("services") or []:
            names = s.get("name") or {}
            self.service_names[str(s["id"])] = str(names.get(self.lang) or names.get("zh", s["id"]))
        for w in body.get("windows") or []:
            names = w.get("name") or {}
            name = str(names.get(self.lang) or names.get("zh", ""))
            if str(w.get("id")) != self.window:
                self.window_names[str(w.get("id"))] = name or str(w.get("id"))
            elif not self.name:
                self.name = name
        self.changed()

    def apply_panel(self, body: dict[str, Any], live: bool = False) -> bool:
        """A ``windows/{w}`` snapshot; False if older than what is shown. A `live` one (not
        a retained copy, which may be hours old) tells the server's clock."""
        seq = int(body.get("seq", 0))
        if seq < self.seq:
            return False
        self.seq = seq
        if live and body.get("time"):
            self.clock_offset = float(body["time"]) - time.time()
        self.name = str(body.get("name") or self.name)
        self.paused = bool(body.get("paused"))
        self.reason = str(body.get("reason", ""))
        cur = body.get("current")
        self.current = dict(cur) if isinstance(cur, dict) else None
        self.waiting = {str(k): int(v) for k, v in (body.get("waiting") or {}).items()}
        self.upcoming = [str(n) for n in body.get("upcoming") or []]
        self.queued = [str(n) for n in body.get("queued") or []]
        self.parked = [str(p) for p in body.get("parked") or []]
        self.staff = str(body.get("staff", self.staff) or "")
        self.today = dict(body.get("today") or {})
        self.rated = str(body.get("rated", "") or "")
        if body.get("recall_limit") is not None:
            self.recall_limit = int(body["recall_limit"])
        self.changed()
        return True

    def apply_window_state(self, body: dict[str, Any]) -> None:
        """The answer of GET …/windows/{w} (used while the broker is away)."""
        cur = body.get("current")
        panel = {
            **body,
            "seq": self.seq,
            "current": (
                {
                    "number": cur.get("number"),
                    "service": cur.get("service"),
                    "state": cur.get("state"),
                    "recalls": cur.get("recalls", 0),
                    "called_at": (self.current or {}).get("called_at"),
                }
                if isinstance(cur, dict)
                else None
            ),
        }
        self.apply_panel(panel)

    def apply_reply(self, action: str, reply: Reply) -> None:
        """Show what an action did at once (the snapshot confirms it a moment later)."""
        self.busy = ""
        self.reachable = reply.outcome is not Outcome.UNREACHABLE
        if reply.outcome is Outcome.EMPTY:
            self.say(t("empty", self.lang))
            return
        if not reply.ok:
            text = t("unreachable", self.lang) if not self.reachable else reply.message
            self.say(text or reply.error, bad=True)
            return
        ticket = reply.body.get("ticket")
        if action in ("next", "call", "unpark") and isinstance(ticket, dict):
            self.current = {
                "number": ticket.get("number"),
                "service": ticket.get("service"),
                "state": ticket.get("state", "called"),
                "recalls": ticket.get("recalls", 0),
                "called_at": None,
                "step": ticket.get("step") or 0,
                "steps": len(ticket.get("steps") or ()),
            }
        elif action == "recall" and isinstance(ticket, dict) and self.current:
            self.current = {**self.current, "recalls": ticket.get("recalls", 0)}
            if ticket.get("state") == "missed":
                self.current = None
        elif action in ("skip", "finish", "transfer", "park"):
            self.current = None
        elif action in ("pause", "resume"):
            self.paused = action == "pause"
        elif action == "signin":
            self.staff = f"{reply.body.get('staff', '')} {reply.body.get('name', '')}".strip()
        elif action == "signout":
            self.staff = ""
        number = reply.number
        self.say(
            t(action, self.lang) + (f" {number}" if number else "") + " · " + t("done", self.lang)
        )

    @property
    def recalls_left(self) -> int | None:
        if self.current is None or self.recall_limit is None:
            return None
        return max(0, self.recall_limit - int(self.current.get("recalls", 0)))
