"""One hall's use cases: validate, run the atomic store change, then announce it on MQTT."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from queue_server import metrics
from queue_server.api import models as m
from queue_server.clock import Clock
from queue_server.config import DAYS, HallConfig, PriorityClass
from queue_server.domain import eta, priority
from queue_server.domain.hours import is_open
from queue_server.domain.masking import mask_phone
from queue_server.domain.priority import MINUTE_MS
from queue_server.errors import ApiError
from queue_server.protocol import (
    Call,
    CallKind,
    Notice,
    NoticeKind,
    encode,
    topic_board,
    topic_calls,
    topic_hall,
    topic_notify,
    topic_window,
)
from queue_server.snapshots import (
    build_board,
    build_panel,
    hall_message,
    offsets_of,
    service_waits,
)
from queue_server.store.hall_store import Brief, HallStore, StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")

ETA_MAX_AGE = 2.0
"""Seconds the ETA inputs (handling times, open windows) may be old before a request rereads
them; snapshots refresh them too, so under load this costs nothing."""

STEP_ACTIONS = ("skip", "start", "finish", "transfer", "park", "pause", "resume")
CALL_ACTIONS = ("next", "call", "unpark")
ACTIONS = (*CALL_ACTIONS, "recall", *STEP_ACTIONS)


class Sink(Protocol):
    """Where announcements go (the hall's MQTT publisher)."""

    def send(self, topic: str, payload: bytes) -> None: ...

    def mark(self, windows: Iterable[str] | None = None) -> None: ...


def _ms_to_dt(ms: str | int | float) -> datetime:
    return datetime.fromtimestamp(float(ms) / 1000, UTC)


class Hall:
    def __init__(
        self, config: HallConfig, store: HallStore, sink: Sink, clock: Clock, lang: str = "zh"
    ) -> None:
        self.config = config
        self.store = store
        self.sink = sink
        self.clock = clock
        self.lang = lang
        # per service: (ms per ticket, windows' worth of capacity); refreshed with snapshots
        self._eta: dict[str, tuple[float, float]] = {
            s.id: (s.avg_minutes * MINUTE_MS, 1.0) for s in config.services
        }
        self._eta_read = -ETA_MAX_AGE  # monotonic time of the last refresh
        # service -> windows serving it; from the config until the first read of the live rules
        self._serving: dict[str, set[str]] = {
            s.id: {w.id for w in config.windows if s.id in w.services} for s in config.services
        }

    @property
    def id(self) -> str:
        return self.config.id

    @staticmethod
    async def _do(coro: Awaitable[T]) -> T:
        """Run a store change; a refusal becomes the API error with the same code."""
        try:
            return await coro
        except StoreError as exc:
            raise ApiError(exc.code, exc.message) from None

    def _windows_serving(self, *services: str) -> set[str]:
        """Windows whose panels show these services' queues, as managers last assigned them."""
        out: set[str] = set()
        for s in services:
            out |= self._serving.get(s, set())
        return out

    def _notice(
        self, kind: NoticeKind, phone: str, number: str, service: str, **extra: Any
    ) -> None:
        if phone:
            notice = Notice(
                kind=kind,
                phone=phone,
                number=number,
                service=service,
                time=self.clock.now(),
                **extra,
            )
            self.sink.send(topic_notify(self.id), encode(notice))

    # -- citizens --------------------------------------------------------------------------

    async def issue(self, req: m.IssueRequest, staff: bool) -> m.Issued:
        service = self.config.service(req.service)
        if service is None:
            raise ApiError("unknown_service", f"hall {self.id} has no service {req.service}")
        cls = self.config.priority_class(req.cls)
        if cls is None:
            raise ApiError("unknown_class", f"hall {self.id} has no priority class {req.cls}")
        if cls.needs_staff and not staff:
            raise ApiError("staff_only", f"class {cls.id} tickets are issued by staff")
        if req.channel == "mobile" and not req.phone:  # no one stands at a kiosk: limit by phone
            raise ApiError("invalid_request", "tickets taken online need a phone number")
        now = self.clock.now()
        if not self.config.queue.issue_outside_hours and not is_open(
            self.config.hours, now, self.config.hall.timezone
        ):
            raise ApiError("hall_closed", f"{self.config.hall.name.get(self.lang)} is closed now")
        base_ms, cls = self._slot_place(req, staff, cls)
        await self._fresh_live()  # before the change: nothing may fail after it
        if not self._serving.get(service.id):
            raise ApiError(
                "service_unavailable", f"no window serves {service.name.get(self.lang)} now"
            )
        issued, secret = await self._do(
            self.store.issue(service.id, cls.id, req.channel, req.phone or "", base_ms)
        )
        metrics.TICKETS.labels(self.id, service.id).inc()
        self._notice(
            "ticket_taken",
            req.phone or "",
            issued.number,
            service.id,
            ahead=issued.ahead,
            ticket=issued.ticket,
        )
        self.sink.mark(self._windows_serving(service.id))
        return m.Issued(
            id=issued.ticket,
            number=issued.number,
            service=service.id,
            service_name=service.name.get(self.lang),
            cls=cls.id,
            state="waiting",
            ahead=issued.ahead,
            eta_minutes=self._eta_minutes(service.id, issued.ahead),
            issued_at=datetime.fromtimestamp(now, UTC),
            phone=mask_phone(req.phone) if req.phone else None,
            secret=secret,
        )

    def _slot_place(
        self, req: m.IssueRequest, staff: bool, cls: PriorityClass
    ) -> tuple[int | None, PriorityClass]:
        """An appointment's queue place and class. On time (within the grace), its place is the
        slot start, but never before it arrives: the starvation bound holds for it too. Late,
        it joins the normal queue now. Too early, it is asked to come back."""
        if req.slot_start is None:
            return None, cls
        if not staff:  # a slot time sets the queue place: only staff may give one
            raise ApiError("staff_only", "tickets with a slot time are issued by staff")
        if req.slot_start.tzinfo is None:
            raise ApiError("invalid_request", "slot_start needs a time zone offset")
        q, now_ms = self.config.queue, self.store.now_ms()
        slot_ms = int(req.slot_start.timestamp() * 1000)
        if slot_ms > now_ms + q.appointment_early_minutes * MINUTE_MS:
            raise ApiError(
                "invalid_request",
                f"check-in opens {q.appointment_early_minutes:g} minutes before the slot",
            )
        if slot_ms < now_ms - q.appointment_grace_minutes * MINUTE_MS:
            return None, self.config.normal_class
        return max(slot_ms, now_ms), cls

    def _eta_minutes(self, service: str, ahead: int) -> int | None:
        per_ticket, cap = self._eta.get(service, (0.0, 0.0))
        return eta.wait_minutes(ahead, per_ticket, cap)

    async def _owned(self, tid: str, secret: str) -> tuple[dict[str, str], int]:
        found = await self._do(self.store.status(tid))
        if found is None:
            raise ApiError("unknown_ticket", f"no ticket {tid} in hall {self.id}")
        fields, ahead = found
        given = secret.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(fields.get("secret", "").encode(), given):
            raise ApiError("bad_secret", "the ticket secret does not match")
        return fields, ahead

    async def status(self, tid: str, secret: str) -> m.Ticket:
        fields, ahead = await self._owned(tid, secret)
        await self._fresh_live()
        if (
            fields.get("state") in ("waiting", "transferred")
            and fields.get("day") != self.store.day()
        ):
            fields = {**fields, "state": "expired"}
            ahead = -1
        return self.ticket_model(tid, fields, ahead)

    async def cancel(self, tid: str, secret: str) -> m.Ticket:
        fields, _ = await self._owned(tid, secret)
        await self._do(self.store.cancel(tid, secret))
        self.sink.mark(self._windows_serving(fields["service"]))
        return await self.status(tid, secret)

    async def rejoin(self, tid: str, secret: str) -> m.Ticket:
        fields, _ = await self._owned(tid, secret)
        await self._do(self.store.rejoin(tid, secret))
        self.sink.mark(self._windows_serving(fields["service"]))
        return await self.status(tid, secret)

    def ticket_model(self, tid: str, f: dict[str, str], ahead: int) -> m.Ticket:
        service = self.config.service(f["service"])
        window = self.config.window(f.get("window", "")) if f.get("window") else None
        queued = ahead >= 0
        return m.Ticket(
            id=tid,
            number=f["number"],
            service=f["service"],
            service_name=service.name.get(self.lang) if service else f["service"],
            cls=f["class"],
            state=f["state"],
            ahead=ahead if queued else None,
            eta_minutes=self._eta_minutes(f["service"], ahead) if queued else None,
            issued_at=_ms_to_dt(f["issued_at"]),
            window=window.id if window and not queued else None,
            window_name=window.name.get(self.lang) if window and not queued else None,
            phone=mask_phone(f["phone"]) if f.get("phone") else None,
            recalls=int(f.get("recalls", 0)),
        )

    # -- windows ---------------------------------------------------------------------------

    def _window_name(self, window: str) -> str:
        w = self.config.window(window)
        return w.name.get(self.lang) if w else window

    def _announce(
        self, kind: CallKind, window: str, event: str, call_seq: int, brief: Brief
    ) -> None:
        call = Call(
            event=event,
            number=brief.number,
            service=brief.service,
            window=window,
            window_name=self._window_name(window),
            kind=kind,
            green=self.config.is_green(brief.cls),
            time=self.clock.now(),
            seq=call_seq,
        )
        self.sink.send(topic_calls(self.id), encode(call))
        metrics.CALLS.labels(self.id, kind).inc()

    async def act(self, window: str, action: str, body: m.Body | None) -> m.WindowResult:
        if self.config.window(window) is None:
            raise ApiError("unknown_window", f"hall {self.id} has no window {window}")
        try:
            result = await self._act(window, action, body)
        except ApiError as exc:
            metrics.ACTIONS.labels(self.id, action, exc.code).inc()
            raise
        metrics.ACTIONS.labels(self.id, action, "ok").inc()
        return result

    async def _act(self, window: str, action: str, body: m.Body | None) -> m.WindowResult:
        touched: set[str] = {window}
        finished: str | None = None
        if action in CALL_ACTIONS:
            target = ""
            if isinstance(body, m.NumberRequest):
                target = self.store.find(body.number)
            called = await self._do(self.store.call(window, action, target))
            tid, seq = called.ticket, called.seq
            if called.ticket:
                kind: CallKind = "unpark" if action == "unpark" else "call"
                self._announce(kind, window, called.event, called.call_seq, called.brief)
                self._notice(
                    "called",
                    called.brief.phone,
                    called.brief.number,
                    called.brief.service,
                    window=window,
                    ticket=tid,
                )
                for near in called.near:
                    self._notice(
                        "near",
                        near.phone,
                        near.number,
                        called.brief.service,
                        ahead=near.ahead,
                        ticket=near.ticket,
                    )
                touched |= self._windows_serving(called.brief.service)
            if called.closed:
                finished = called.closed.split("-", 1)[-1]
        elif action == "recall":
            r = await self._do(self.store.recall(window))
            tid, seq = r.ticket, r.seq
            if r.missed:
                self._notice(
                    "missed",
                    r.brief.phone,
                    r.brief.number,
                    r.brief.service,
                    window=window,
                    ticket=tid,
                )
            else:
                self._announce("recall", window, r.event, r.call_seq, r.brief)
        else:
            service = body.service if isinstance(body, m.TransferRequest) else ""
            reason = body.reason if isinstance(body, m.PauseRequest) else ""
            if action == "transfer" and self.config.service(service) is None:
                raise ApiError("unknown_service", f"hall {self.id} has no service {service}")
            s = await self._do(self.store.step(window, action, service, reason))
            tid, seq = s.ticket, s.seq
            if action == "skip" and tid:
                f = await self.store.ticket(tid)
                self._notice(
                    "missed",
                    f.get("phone", ""),
                    f["number"],
                    f["service"],
                    window=window,
                    ticket=tid,
                )
            touched |= self._windows_serving(service) if service else set()
        ticket = None
        if tid:
            f = await self.store.ticket(tid)
            touched |= self._windows_serving(f["service"])
            ticket = self.ticket_model(tid, f, -1)
        self.sink.mark(touched)
        return m.WindowResult(
            action=action, window=window, ticket=ticket, finished=finished, seq=seq
        )

    async def window_state(self, window: str) -> m.WindowState:
        cfg = self.config.window(window)
        if cfg is None:
            raise ApiError("unknown_window", f"hall {self.id} has no window {window}")
        snap = await self._do(self.store.snapshot(0))
        panel = build_panel(self.config, snap, window, self.lang, self.clock.now())
        current = None
        raw = next(w for w in snap["windows"] if w["id"] == window).get("current")
        if raw:
            current = self.ticket_model(raw["ticket"], await self.store.ticket(raw["ticket"]), -1)
        offsets = offsets_of(snap)[window]
        return m.WindowState(
            window=window,
            name=panel.name,
            paused=panel.paused,
            reason=panel.reason,
            services={s: o / MINUTE_MS for s, o in offsets.items()},
            current=current,
            waiting=panel.waiting,
            parked=panel.parked,
        )

    # -- screens ---------------------------------------------------------------------------

    async def snapshot_messages(
        self, windows: set[str] | None
    ) -> tuple[int, list[tuple[str, bytes]]]:
        """Retained board and panels for the publisher; refreshes the ETA inputs on the way."""
        snap = await self.store.snapshot()
        self._refresh_live(snap)
        now = self.clock.now()
        out = [(topic_board(self.id), encode(build_board(self.config, snap, self.lang, now)))]
        if windows is None:  # a full round (after connecting): the hall's own settings too
            out.append((topic_hall(self.id), encode(hall_message(self.config, self.lang, now))))
        for w in self.config.windows:
            if windows is None or w.id in windows:
                panel = build_panel(self.config, snap, w.id, self.lang, now)
                out.append((topic_window(self.id, w.id), encode(panel)))
        return int(snap["seq"]), out

    async def _fresh_live(self) -> None:
        if time.monotonic() - self._eta_read > ETA_MAX_AGE:
            self._refresh_live(await self._do(self.store.snapshot(0)))

    def _refresh_live(self, snap: dict[str, Any]) -> None:
        """Cache what requests need from the live state: ETA inputs, who serves what."""
        self._eta_read = time.monotonic()
        offsets = offsets_of(snap)
        self._serving = {
            s.id: {w for w, offs in offsets.items() if s.id in offs} for s in self.config.services
        }
        open_windows = {w["id"] for w in snap["windows"] if not w["paused"]}
        handle = (
            dict(zip(snap["handle"][::2], snap["handle"][1::2], strict=True))
            if isinstance(snap["handle"], list)
            else {}
        )
        for s in self.config.services:
            learned = float(handle.get(s.id, 0))
            per_ticket = learned if learned > 0 else s.avg_minutes * MINUTE_MS
            self._eta[s.id] = (per_ticket, eta.capacity(s.id, offsets, open_windows))

    async def info(self) -> m.HallInfo:
        snap = await self._do(self.store.snapshot(0))
        self._refresh_live(snap)
        waits = service_waits(self.config, snap)
        paused = {w["id"]: bool(w["paused"]) for w in snap["windows"]}
        c, lang = self.config, self.lang
        return m.HallInfo(
            id=c.id,
            name=c.hall.name.get(lang),
            address=c.hall.address.get(lang),
            timezone=c.hall.timezone,
            open_now=is_open(c.hours, self.clock.now(), c.hall.timezone),
            hours={d: list(getattr(c.hours, d)) for d in DAYS},
            closed_dates=[d.isoformat() for d in c.hours.closed_dates],
            booking=c.hall.booking.get(lang),
            notices=[n.get(lang) for n in c.hall.notices],
            services=[
                m.ServiceInfo(
                    id=s.id,
                    name=s.name.get(lang),
                    waiting=waits[s.id][0],
                    eta_minutes=waits[s.id][1],
                )
                for s in c.services
            ],
            windows=[
                m.WindowInfo(
                    id=w.id,
                    name=w.name.get(lang),
                    services=list(w.services),
                    paused=paused.get(w.id, False),
                )
                for w in c.windows
            ],
            classes=[
                m.ClassInfo(id=k.id, name=k.name.get(lang), staff_only=k.needs_staff)
                for k in c.classes
            ],
        )

    # -- managers --------------------------------------------------------------------------

    async def rules(self) -> m.RulesOut:
        rules, other = await self._do(self.store.rules())
        return self._rules_out(rules, other)

    def _rules_out(self, rules: priority.Rules, other: dict[str, float]) -> m.RulesOut:
        return m.RulesOut(
            boost_minutes={c: b / MINUTE_MS for c, b in rules.boosts.items()},
            window_services={
                w: {s: o / MINUTE_MS for s, o in offs.items()} for w, offs in rules.offsets.items()
            },
            recall_limit=int(other.get("recall_limit", 0)),
            rejoin_minutes=other.get("rejoin_ms", 0) / MINUTE_MS,
            notify_ahead=int(other.get("notify_ahead", 0)),
            starvation_bound_minutes=rules.bound_ms() / MINUTE_MS,
            max_overtake_minutes=self.config.queue.max_overtake_minutes,
        )

    async def change_rules(self, patch: m.RulesPatch, who: str) -> m.RulesOut:
        current, other = await self._do(self.store.rules())
        boosts = dict(current.boosts)
        for cls, minutes in (patch.boost_minutes or {}).items():
            if self.config.priority_class(cls) is None:
                raise ApiError("unknown_class", f"hall {self.id} has no priority class {cls}")
            if not 0 <= minutes <= 480:
                raise ApiError("rules_rejected", f"boost of {cls} must be 0..480 minutes")
            boosts[cls] = round(minutes * MINUTE_MS)
        offsets = {w: dict(o) for w, o in current.offsets.items()}
        changed_windows: dict[str, dict[str, int]] = {}
        for wid, services in (patch.window_services or {}).items():
            if self.config.window(wid) is None:
                raise ApiError("unknown_window", f"hall {self.id} has no window {wid}")
            for sid, minutes in services.items():
                if self.config.service(sid) is None:
                    raise ApiError("unknown_service", f"hall {self.id} has no service {sid}")
                if not 0 <= minutes <= 480:
                    raise ApiError("rules_rejected", f"offset of {sid} must be 0..480 minutes")
            offsets[wid] = changed_windows[wid] = {
                s: round(o * MINUTE_MS) for s, o in services.items()
            }
        rules = priority.Rules(boosts=boosts, offsets=offsets)
        try:
            priority.validate(
                rules,
                self.config.service_ids,
                round(self.config.queue.max_overtake_minutes * MINUTE_MS),
            )
        except priority.RuleError as exc:
            raise ApiError("rules_rejected", str(exc)) from None
        values: dict[str, float] = {f"boost:{c}": b for c, b in boosts.items()}
        values["recall_limit"] = (
            patch.recall_limit if patch.recall_limit is not None else other.get("recall_limit", 0)
        )
        values["rejoin_ms"] = (
            round(patch.rejoin_minutes * MINUTE_MS)
            if patch.rejoin_minutes is not None
            else other.get("rejoin_ms", 0)
        )
        values["notify_ahead"] = (
            patch.notify_ahead if patch.notify_ahead is not None else other.get("notify_ahead", 0)
        )
        await self._do(
            self.store.set_rules(values, changed_windows, who, int(other.get("version", 0)))
        )
        log.info(
            "hall %s: rules changed by %s (starvation bound %.0f min)",
            self.id,
            who,
            rules.bound_ms() / MINUTE_MS,
        )
        self._refresh_live(await self._do(self.store.snapshot(0)))
        self.sink.mark(None)
        return await self.rules()
