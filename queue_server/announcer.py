"""What the hall says on MQTT: topics and payloads for outbox entries (calls, notices) and the
retained snapshots (board, panels, the hall's settings). Pure apart from the live cache it
reads for names and waits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from queue_server.config import HallConfig
from queue_server.domain.eta import Estimate
from queue_server.live import LiveCache
from queue_server.protocol import (
    NOTICE_OPTIONAL,
    Call,
    Notice,
    Pairs,
    decode,
    encode,
    pack,
    pack_map,
    topic_board,
    topic_calls,
    topic_hall,
    topic_notify,
    topic_window,
)
from queue_server.snapshots import Waits, build_board, build_panel, hall_message, waiting_of
from queue_server.store.hall_store import Entry, Taken


def notice_key(f: Mapping[str, str]) -> str:
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
        self._bases: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._taken: dict[tuple[str, str], Pairs] = {}

    def _window_name(self, window: str, lang: str) -> str:
        w = self._windows.get(window)
        return w.name.get(lang) if w else window

    def render(self, e: Entry) -> tuple[str, bytes]:
        """An outbox entry as its topic and payload."""
        f = e.fields
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
        kind, service, window = f["kind"], f["service"], f.get("window")
        if kind == "ticket_taken":  # one render for it: the fast path uses `taken`
            ahead, time_ms, n = int(f.get("ahead", 0)), int(f["time"]), int(f.get("steps") or 0)
            taken = Taken(
                e.id, f["ticket"], f["number"], ahead, time_ms, f["phone"], service, lang, n
            )
            return self._notify, self.taken(taken, self.live.estimate(service, ahead))
        # a copy of the (kind, service, language)'s map with its fixed values set, then only
        # the ticket's own: a map built whole each time cost half the render
        body = (self._bases.get((kind, service, lang)) or self._base(kind, service, lang)).copy()
        ticket, step = f["ticket"], int(f.get("step") or 0)  # each read once
        body["phone"] = f["phone"]
        body["number"] = f["number"]
        body["time"] = int(f["time"]) / 1000
        body["ahead"] = int(f.get("ahead", 0))
        body["ticket"] = ticket
        body["id"] = e.id
        # notice_key(f), from the values already read
        key = f"{ticket}/{kind}/{f.get('round', 0)}"
        body["key"] = f"{key}/s{step}" if step > 1 else key
        if window:
            body["window"] = window
            body["window_name"] = self._window_name(window, lang)
        if kind == "missed":
            body["rejoin_minutes"] = self.live.rejoin_minutes
        elif kind == "finished":
            body["secret"] = f.get("secret", "")
        if step:
            body["step"] = step
        steps = int(f.get("steps") or 0)
        if steps:
            body["steps"] = steps
        return self._notify, pack(body)

    def taken(self, t: Taken, est: Estimate | None) -> bytes:
        """A phone ticket's ticket_taken notice, from the issue's typed values (`render`
        reads a stream's entry into the same) and its wait `est` (`LiveCache.estimate`): the
        fields its service and language fix packed once (`pack_map`), the rest in one call."""
        lang = t.lang or self.lang
        fixed = self._taken.get((t.service, lang)) or self._taken_fixed(t.service, lang)
        flat = [
            *("phone", t.phone, "number", t.number, "time", t.time_ms / 1000, "ahead", t.ahead),
            *("ticket", t.ticket, "id", t.eid, "key", f"{t.ticket}/ticket_taken/0"),
        ]  # the key: notice_key's, round 0 and step 0 or 1
        if est is not None:
            flat += ("eta_minutes", est.minutes, "eta_range", [est.low, est.high])
        if t.steps > 1:  # a ticket of several steps starts at its first
            flat += ("step", 1, "steps", t.steps)
        return pack_map(fixed, flat)

    def _taken_fixed(self, service: str, lang: str) -> Pairs:
        if len(self._taken) > 1024:  # languages come from tickets: keep it bounded
            self._taken.clear()
        base = self._base("ticket_taken", service, lang)
        own = ("phone", "number", "time", "ahead", "ticket", "id", "key")
        made = self._taken[(service, lang)] = Pairs.of(
            {k: v for k, v in base.items() if k not in own}
        )
        return made

    def _base(self, kind: str, service_id: str, lang: str) -> dict[str, Any]:
        """The payload map of a (kind, service, language)'s notices, the protocol's field
        order, with what they all share filled in (the rest is placeholders) and without the
        optional fields (`render` sets those that apply), made and kept on its first notice
        (`render` looks it up)."""
        if len(self._bases) > 1024:  # languages come from tickets: keep it bounded
            self._bases.clear()
        service = self._services.get(service_id)
        full = decode(
            encode(
                Notice(
                    kind=kind,  # type: ignore[arg-type]
                    phone="",
                    number="",
                    service=service_id,
                    time=0.0,
                    hall=self.config.id,
                    service_name=service.name.get(lang) if service else service_id,
                    lang=lang,
                )
            )
        )
        made = {k: v for k, v in full.items() if k not in NOTICE_OPTIONAL}
        self._bases[(kind, service_id, lang)] = made
        return made

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
