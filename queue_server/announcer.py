"""What the hall says on MQTT: topics and payloads for outbox entries (calls, notices) and the
retained snapshots (board, panels, the hall's settings). Pure apart from the live cache it
reads for names and waits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from queue_server.config import HallConfig
from queue_server.live import LiveCache
from queue_server.protocol import (
    Call,
    Notice,
    encode,
    encode_fields,
    topic_board,
    topic_calls,
    topic_hall,
    topic_notify,
    topic_window,
)
from queue_server.snapshots import Waits, build_board, build_panel, hall_message, waiting_of
from queue_server.store.hall_store import Entry


def notice_key(f: dict[str, str]) -> str:
    """The real-world event a notice is: "{ticket}/{kind}/{round}", and "/s{step}" from a
    ticket's second step on (its calls there are new events, not repeats)."""
    key = f"{f['ticket']}/{f['kind']}/{f.get('round', 0)}"
    step = int(f.get("step") or 0)
    return f"{key}/s{step}" if step > 1 else key


class Announcer:
    def __init__(self, config: HallConfig, live: LiveCache, lang: str) -> None:
        self.config = config
        self.live = live
        self.lang = lang
        # looked up once per message: dicts, not the config's lists (the relay renders 1000s/s)
        self._services = {s.id: s for s in config.services}
        self._windows = {w.id: w for w in config.windows}
        self._green = {c.id: c.green for c in config.classes}
        self._calls = topic_calls(config.id)
        self._notify = topic_notify(config.id)

    def _window_name(self, window: str, lang: str) -> str:
        w = self._windows.get(window)
        return w.name.get(lang) if w else window

    def render(self, e: Entry) -> tuple[str, bytes]:
        """An outbox entry as its topic and payload."""
        f, hall = e.fields, self.config.id
        if e.stream == "calls":
            call = Call(
                event=f["event"],
                number=f["number"],
                service=f["service"],
                window=f["window"],
                window_name=self._window_name(f["window"], self.lang),
                kind=f["kind"],  # type: ignore[arg-type]
                green=self._green.get(f["class"], False),
                time=int(f["time"]) / 1000,
                seq=int(f["seq"]),
                step=int(f.get("step") or 0),
                steps=int(f.get("steps") or 0),
            )
            return self._calls, encode(call)
        lang = f.get("lang") or self.lang
        if f.get("code"):
            return self._notify, encode(self._appointment(e, lang))
        kind = f["kind"]
        service = self._services.get(f["service"])
        ahead = int(f.get("ahead", 0))
        est = self.live.estimate(f["service"], ahead) if kind == "ticket_taken" else None
        # straight to the payload (protocol.encode_fields): a Notice and its map cost twice
        # the packing, and the relay renders one per phone ticket
        notice = {
            "kind": kind,
            "phone": f["phone"],
            "number": f["number"],
            "service": f["service"],
            "time": int(f["time"]) / 1000,
            "window": f.get("window", ""),
            "ahead": ahead,
            "ticket": f["ticket"],
            "id": e.id,
            "hall": hall,
            "service_name": service.name.get(lang) if service else f["service"],
            "window_name": self._window_name(f["window"], lang) if f.get("window") else "",
            "eta_minutes": est.minutes if est else None,
            "eta_range": [est.low, est.high] if est else None,
            "rejoin_minutes": self.live.rejoin_minutes if kind == "missed" else 0,
            "lang": lang,
            "key": notice_key(f),
            "step": int(f.get("step") or 0),
            "steps": int(f.get("steps") or 0),
            "secret": f.get("secret", "") if kind == "finished" else "",
        }
        return self._notify, encode_fields(Notice, notice)

    def _appointment(self, e: Entry, lang: str) -> Notice:
        """A booking's notice (预约): no ticket yet, so the gateway checks no ticket state."""
        f = e.fields
        service = self.config.service(f["service"])
        start = datetime.fromtimestamp(int(f["slot"]) / 1000, self.config.tz)
        return Notice(
            kind=f["kind"],  # type: ignore[arg-type]
            phone=f["phone"],
            number=f["code"],
            service=f["service"],
            time=int(f["time"]) / 1000,
            id=e.id,
            hall=self.config.id,
            service_name=service.name.get(lang) if service else f["service"],
            lang=lang,
            key=f"booking:{f['code']}/{f['kind']}",
            code=f["code"],
            slot=f"{start.month}月{start.day}日 {start:%H:%M}"
            if lang == "zh"
            else f"{start:%Y-%m-%d %H:%M}",
        )

    def waits(self, snap: dict[str, Any]) -> Waits:
        waiting = waiting_of(snap)
        out: Waits = {}
        for s in self.config.services:
            n = waiting.get(s.id, 0)
            est = self.live.estimate(s.id, n)
            out[s.id] = (n, est.minutes if est else None, (est.low, est.high) if est else None)
        return out

    def snapshot_messages(
        self, snap: dict[str, Any], windows: set[str] | None, now: float
    ) -> list[tuple[str, bytes]]:
        """The retained board, the panels of `windows` (None: all, and the hall message)."""
        c, lang = self.config, self.lang
        out = [(topic_board(c.id), encode(build_board(c, snap, lang, now, self.waits(snap))))]
        if windows is None:
            out.append((topic_hall(c.id), encode(hall_message(c, lang, now))))
        for w in c.windows:
            if windows is None or w.id in windows:
                out.append(
                    (topic_window(c.id, w.id), encode(build_panel(c, snap, w.id, lang, now)))
                )
        return out
