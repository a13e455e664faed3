"""The rating pad's screens as a state machine (pure: no I/O, time passed in).

idle → (this window finished a ticket) → rate → (a level of 不满意 or below) → reason →
(a hall that asks per-point scores) → points → (sent) → thanks → idle. With no choice for
`pad_seconds` the pad goes back to idle and records nothing. A ticket is offered once: a
retained copy seen again after a reconnect is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Screen = Literal["idle", "rate", "reason", "points", "sending", "thanks"]
BAD_AT_MOST = 2
THANKS_SECONDS = 4.0

LEVELS = [  # the national wording, until the hall topic brings the server's versioned copy
    {"level": 5, "zh": "非常满意", "en": "Very satisfied"},
    {"level": 4, "zh": "满意", "en": "Satisfied"},
    {"level": 3, "zh": "基本满意", "en": "Basically satisfied"},
    {"level": 2, "zh": "不满意", "en": "Dissatisfied"},
    {"level": 1, "zh": "非常不满意", "en": "Very dissatisfied"},
]


@dataclass
class PadState:
    window: str
    lang: str = "zh"
    screen: Screen = "idle"
    since: float = 0.0  # when the screen was entered
    ticket: str = ""
    number: str = ""
    level: int = 0
    reasons: list[str] = field(default_factory=list)
    note: str = ""  # a refusal or problem to show on the thanks screen
    offered: set[str] = field(default_factory=set)
    levels: list[dict[str, Any]] = field(default_factory=lambda: list(LEVELS))
    reason_choices: list[str] = field(default_factory=list)
    points: list[dict[str, Any]] = field(default_factory=list)  # id, zh, en; [] = not asked
    scores: dict[str, int] = field(default_factory=dict)
    timeout: float = 30.0
    hall_name: str = ""
    window_name: str = ""
    online: bool = False
    version: int = 0

    def _go(self, screen: Screen, now: float) -> None:
        self.screen, self.since = screen, now
        self.version += 1

    def apply_hall(self, body: dict[str, Any]) -> None:
        rating = body.get("rating") or {}
        if rating.get("levels"):
            self.levels = list(rating["levels"])
        self.reason_choices = [str(r) for r in rating.get("reasons") or []]
        self.points = [dict(p) for p in rating.get("points") or []]
        self.timeout = float(rating.get("pad_seconds") or self.timeout)
        name = body.get("name") or {}
        self.hall_name = str(name.get(self.lang) or name.get("zh", ""))
        for w in body.get("windows") or []:
            if str(w.get("id")) == self.window:
                names = w.get("name") or {}
                self.window_name = str(names.get(self.lang) or names.get("zh", ""))
        self.version += 1

    def apply_panel(self, body: dict[str, Any], now: float, server_now: float) -> bool:
        """A windows/{w} snapshot: True when it starts a rating."""
        done = body.get("finished")
        if not isinstance(done, dict) or not done.get("ticket"):
            return False
        ticket = str(done["ticket"])
        fresh = server_now - float(done.get("at", 0)) < self.timeout
        if ticket in self.offered or not fresh or self.screen in ("reason", "points", "sending"):
            return False
        self.offered.add(ticket)
        self.ticket, self.number = ticket, str(done.get("number", ""))
        self.level, self.reasons, self.scores, self.note = 0, [], {}, ""
        self._go("rate", now)
        return True

    def choose(self, level: int, now: float) -> bool:
        """A tap on a level; True when the rating is ready to send."""
        if self.screen != "rate":
            return False
        self.level = level
        if level <= BAD_AT_MOST and self.reason_choices:
            self._go("reason", now)
            return False
        return self._then_points(now)

    def _then_points(self, now: float) -> bool:
        if self.points:
            self._go("points", now)
            return False
        self._go("sending", now)
        return True

    def toggle(self, reason: str, now: float) -> None:
        if self.screen == "reason":
            if reason in self.reasons:
                self.reasons.remove(reason)
            else:
                self.reasons.append(reason)
            self.since = now  # still choosing: the timeout starts again
            self.version += 1

    def submit(self, now: float) -> bool:
        """The reason screen's submit; True when it may be sent (a reason is needed)."""
        if self.screen != "reason" or not self.reasons:
            return False
        return self._then_points(now)

    def score(self, point: str, value: int, now: float) -> None:
        if self.screen == "points" and 1 <= value <= 5:
            self.scores[point] = value
            self.since = now
            self.version += 1

    def submit_points(self, now: float) -> bool:
        """The points screen's submit; True once every point has a score."""
        if self.screen != "points" or set(self.scores) != {str(p["id"]) for p in self.points}:
            return False
        self._go("sending", now)
        return True

    def sent(self, ok: bool, note: str, now: float) -> None:
        self.note = "" if ok else note
        self._go("thanks", now)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"level": self.level, "reasons": list(self.reasons)}
        if self.scores:
            body["scores"] = dict(self.scores)
        return body

    def tick(self, now: float) -> None:
        """Time passing: an unanswered rating records nothing; thanks go back to idle."""
        limit = {
            "rate": self.timeout,
            "reason": self.timeout,
            "points": self.timeout,
            "thanks": THANKS_SECONDS,
        }
        if self.screen in limit and now - self.since > limit[self.screen]:
            self._go("idle", now)
