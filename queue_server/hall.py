"""One hall's use cases: check, run the atomic store change, publish what it wrote to the
outbox at once, and answer with plain views (queue_server/views.py). No HTTP here: refusals
are `Refused` with a code, and the API layer maps both."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from queue_server import identity, metrics, opening, quotas
from queue_server.announcer import Announcer
from queue_server.clock import Clock
from queue_server.config import DAYS, HallConfig, PriorityClass
from queue_server.domain import limits, priority
from queue_server.domain.hours import is_open, local
from queue_server.domain.masking import mask_phone
from queue_server.domain.priority import MINUTE_MS
from queue_server.errors import Refused
from queue_server.live import LiveCache
from queue_server.snapshots import build_panel, offsets_of
from queue_server.store.hall_store import (
    TAKEN_FIELDS,
    Changed,
    CheckIn,
    Claim,
    Entry,
    HallStore,
    QuotaExceeded,
    Record,
    StoreError,
    day_of,
)
from queue_server.store.quota import number_counter
from queue_server.views import (
    ClassView,
    HallView,
    IssuedView,
    RulesChange,
    RulesView,
    ServiceView,
    TicketView,
    WindowInfoView,
    WindowOutcome,
    WindowView,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

STEP_ACTIONS = ("skip", "start", "finish", "transfer", "park", "pause", "resume")
CALL_ACTIONS = ("next", "call", "unpark")
ACTIONS = (*CALL_ACTIONS, "recall", *STEP_ACTIONS)


class Outlet(Protocol):
    """Where a change's messages go: the relay's fast path and the snapshot marks."""

    def publish_now(self, entries: list[Entry]) -> None: ...

    def mark(self, windows: Iterable[str] | None = None) -> None: ...


class Hall:
    def __init__(
        self,
        config: HallConfig,
        store: HallStore,
        live: LiveCache,
        announcer: Announcer,
        outlet: Outlet,
        clock: Clock,
        lang: str = "zh",
        *,
        phone_key: Callable[[str], str],
        id_key: Callable[[str], str] | None = None,
    ) -> None:
        self.config = config
        # the per-phone counter's key, an HMAC keyed outside Redis: never the number itself
        self.phone_key = phone_key
        self.id_key = id_key  # the same for ID numbers (identity.py); None: IDs are refused
        self.store = store
        self.live = live
        self.announcer = announcer
        self.outlet = outlet
        self.clock = clock
        self.lang = lang
        self._refreshing = False  # a live-cache read is under way

    @property
    def id(self) -> str:
        return self.config.id

    @staticmethod
    async def _do(coro: Awaitable[T]) -> T:
        """Run a store change; a refusal by a script becomes a Refused with the same code."""
        try:
            return await coro
        except StoreError as exc:
            raise Refused(exc.code, exc.message) from None

    def _after(self, changed: list[Entry], windows: Iterable[str] | None) -> None:
        self.outlet.publish_now(changed)
        self.outlet.mark(windows)

    # for the use cases beside this module (staffing, ratings)
    do = _do
    after = _after

    async def _fresh_live(self) -> None:
        """Refresh the live cache when it is stale: one read at a time (requests that arrive
        meanwhile use the values they have; 64 at once each reading a snapshot cost 15% of
        the server's CPU)."""
        if not self.live.stale or self._refreshing:
            return
        self._refreshing = True
        try:
            self.live.refresh(await self._do(self.store.snapshot(0)))
        finally:
            self._refreshing = False

    async def fresh_live(self) -> None:
        """For readers beside this module (the live pages' feed)."""
        await self._fresh_live()

    def _today(self, tid: str) -> None:
        if day_of(tid) != self.store.day():
            raise Refused("ticket_expired", f"ticket {tid} is from an earlier day")

    # -- citizens --------------------------------------------------------------------------

    async def issue(
        self,
        service_id: str,
        cls_id: str,
        channel: str,
        staff: bool,
        phone: str = "",
        slot_start: datetime | None = None,
        lang: str | None = None,
        id_number: str = "",
        device: str = "",
        steps: tuple[str, ...] = (),
        claim: Claim | None = None,
        booking: CheckIn | None = None,
        id_holder: identity.Holder | None = None,
    ) -> IssuedView:
        """`id_number`: typed at a kiosk or desk (checked, counted, kept as a digest only);
        `device`: the kiosk that issues (its daily cap); `claim`: the request's
        Idempotency-Key, claimed in the same atomic change (a retry answers the same ticket,
        `replayed`); `booking`: checked in by this ticket in the same change; `id_holder`:
        its ID (a booking's, by digest) when no `id_number` is typed: counted the same."""
        service = self.config.service(service_id)
        if service is None:
            raise Refused("unknown_service", f"hall {self.id} has no service {service_id}")
        self._check_steps(service_id, steps)
        cls = self.config.priority_class(cls_id)
        if cls is None:
            raise Refused("unknown_class", f"hall {self.id} has no priority class {cls_id}")
        if cls.needs_staff and not staff:
            raise Refused("staff_only", f"class {cls.id} tickets are issued by staff")
        now = self.clock.now()
        closed = quotas.time_refusal(self.config, service, now)  # hours, cut-off
        if closed is not None:
            raise closed
        slot_us, cls = self._slot_place(slot_start, staff, cls)
        if channel == "mobile" and not phone:  # no kiosk or staff: the phone is the limit
            raise Refused("phone_required", "tickets taken online need a phone number")
        holder = await identity.holder(self, id_number) if id_number else id_holder
        cls = identity.class_for(self.config, holder, cls)
        await self._fresh_live()  # before the change: nothing may fail after it
        if not self.live.serving.get(service.id):
            raise Refused(
                "service_unavailable", f"no window serves {service.name.get(self.lang)} now"
            )
        number, counted = quotas.counted(self.config, service, now)
        counted += identity.quotas(self.config, holder, device)  # per ID, per kiosk
        try:
            issued = await self.store.issue(
                service.id,
                cls.id,
                "appointment" if slot_us is not None else channel,
                phone,
                self.phone_key(phone) if phone else "",
                slot_us,
                lang or self.lang,
                steps,
                quotas=counted,
                number=number,
                id_key=holder.key if holder else "",
                claim=claim,
                booking=booking,
            )
        except QuotaExceeded as exc:  # with when it lets tickets through again
            when = quotas.reopening(self.config, exc.quota, now)
            raise Refused(exc.code, exc.message, next_open=when) from None
        except StoreError as exc:
            raise Refused(exc.code, exc.message) from None
        if issued.replayed:
            return await self.reissued(issued.ticket)
        metrics.child(metrics.TICKETS, self.id, service.id).inc()
        est = self.live.estimate(service.id, issued.ahead)  # the answer's and the notice's
        taken = issued.taken  # rendered here from its typed values, not parsed back
        self._after(
            [Entry("notify", taken.eid, TAKEN_FIELDS, self.announcer.taken(taken, est))]
            if taken
            else [],
            self.live.windows_serving(service.id),
        )
        ticket = TicketView(
            id=issued.ticket,
            number=issued.number,
            service=service.id,
            cls=cls.id,
            state="waiting",
            ahead=issued.ahead,
            eta_minutes=est.minutes if est else None,
            issued_at=issued.issued_ms / 1000,
            phone=mask_phone(phone) if phone else None,
            eta_range=(est.low, est.high) if est else None,
            eta_after_close=bool(est and est.after_close),
            step=1 if len(steps) > 1 else 0,
            steps=steps if len(steps) > 1 else (),
        )
        return IssuedView(ticket, issued.secret)

    async def reissued(self, tid: str) -> IssuedView:
        """The ticket a repeated issue answers again (the same Idempotency-Key), as it is now."""
        found = await self._do(self.store.status(tid))
        if found is None:
            raise Refused("unknown_ticket", f"no ticket {tid} in hall {self.id}")
        record, ahead = found
        await self._fresh_live()
        view = self.ticket_view(tid, record, ahead)
        return IssuedView(view, str(record.get("secret", "")), replayed=True)

    async def claimed(self, claim: Claim) -> IssuedView | None:
        """After a refusal before the store: the ticket this claim already holds, if any."""
        tid = await self._do(self.store.claimed(claim))
        return None if tid is None else await self.reissued(tid)

    def _check_steps(self, service_id: str, steps: tuple[str, ...]) -> None:
        """一票到底: the steps of a ticket start with its service, each one of the hall's."""
        if not steps:
            return
        if steps[0] != service_id:
            raise Refused("invalid_request", f"the first step must be the service {service_id}")
        for sid in steps:
            if self.config.service(sid) is None:
                raise Refused("unknown_service", f"hall {self.id} has no service {sid}")

    def _slot_place(
        self, slot_start: datetime | None, staff: bool, cls: PriorityClass
    ) -> tuple[int | None, PriorityClass]:
        """An appointment's queue place (µs) and class. On time (within the grace), its place
        is the slot start, but never before it arrives (the script takes the later): the
        starvation bound holds for it too. Late, it joins the normal queue now. Too early,
        it is asked to come back."""
        if slot_start is None:
            return None, cls
        if not staff:  # a slot time sets the queue place: only staff may give one
            raise Refused("staff_only", "tickets with a slot time are issued by staff")
        if slot_start.tzinfo is None:
            raise Refused("invalid_request", "slot_start needs a time zone offset")
        q, now = self.config.queue, self.clock.now()
        slot = slot_start.timestamp()
        if slot > now + q.appointment_early_minutes * 60:
            raise Refused(
                "invalid_request",
                f"check-in opens {q.appointment_early_minutes:g} minutes before the slot",
            )
        if slot < now - q.appointment_grace_minutes * 60:
            return None, self.config.normal_class
        return round(slot * 1_000_000), cls

    async def _owned(self, tid: str, secret: str) -> tuple[Record, int]:
        found = await self._do(self.store.status(tid))
        if found is None:
            raise Refused("unknown_ticket", f"no ticket {tid} in hall {self.id}")
        record, ahead = found
        given = secret.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(str(record.get("secret", "")).encode(), given):
            raise Refused("bad_secret", "the ticket secret does not match")
        return record, ahead

    async def status(self, tid: str, secret: str) -> TicketView:
        record, ahead = await self._owned(tid, secret)
        await self._fresh_live()
        return self.ticket_view(tid, record, ahead)

    async def citizen(self, tid: str, secret: str, action: str) -> TicketView:
        """The holder cancels a waiting ticket, or rejoins after a miss."""
        await self._owned(tid, secret)
        self._today(tid)
        changed = await self._do(self.store.citizen(tid, secret, action))
        record = changed.record or {}
        self._after(changed.entries, self.live.windows_serving(record.get("service", "")))
        return self.ticket_view(tid, record, changed.ahead)

    def ticket_view(self, tid: str, r: Record, ahead: int) -> TicketView:
        queued = ahead >= 0
        state = str(r["state"])
        if state in ("waiting", "transferred") and day_of(tid) != self.store.day():
            state = "expired"  # left from an earlier day: never called
        est = self.live.estimate(r["service"], ahead) if queued else None
        return TicketView(
            id=tid,
            number=r["number"],
            service=r["service"],
            cls=r["class"],
            state=state,
            ahead=ahead if queued else None,
            eta_minutes=est.minutes if est else None,
            issued_at=float(r["issued_at"]) / 1000,
            phone=mask_phone(r["phone"]) if r.get("phone") else None,
            recalls=int(r.get("recalls", 0)),
            eta_range=(est.low, est.high) if est else None,
            eta_after_close=bool(est and est.after_close),
            step=int(r.get("step") or 0),
            steps=tuple(str(x) for x in r.get("steps") or ()),
            window=r.get("to_window") or (r.get("window") if not queued else None) or None,
            rated=bool(r.get("rated")),
        )

    # -- windows ---------------------------------------------------------------------------

    async def act(
        self,
        window: str,
        action: str,
        service: str = "",
        number: str = "",
        reason: str = "",
        case: str = "",
        to_window: str = "",
    ) -> WindowOutcome:
        if self.config.window(window) is None:
            raise Refused("unknown_window", f"hall {self.id} has no window {window}")
        try:
            changed = await self._act(window, action, service, number, reason, case, to_window)
        except Refused as exc:
            metrics.ACTIONS.labels(self.id, action, exc.code).inc()
            raise
        # the call leaves first, in the turn the script answered; the rest can wait for it
        self.outlet.publish_now(changed.entries)
        metrics.ACTIONS.labels(self.id, action, "ok").inc()
        touched = {window}
        if changed.record is not None:
            touched |= self.live.windows_serving(changed.record["service"])
        if service:
            touched |= self.live.windows_serving(service)
        if to_window:
            touched.add(to_window)
        self.outlet.mark(touched)
        for e in changed.entries:
            if e.stream == "calls":
                metrics.CALLS.labels(self.id, e.fields["kind"]).inc()
        ticket = (
            self.ticket_view(changed.ticket, changed.record, -1)
            if changed.ticket and changed.record is not None
            else None
        )
        finished = changed.closed.split("-", 1)[-1] if changed.closed else None
        return WindowOutcome(action, window, ticket, finished, changed.seq)

    async def _act(
        self,
        window: str,
        action: str,
        service: str,
        number: str,
        reason: str,
        case: str,
        to_window: str = "",
    ) -> Changed:
        if action in CALL_ACTIONS:
            closed = opening.window_refusal(self.config, window, self.clock.now())
            if closed is not None:  # outside its own hours a window calls nobody
                raise closed
            target = self.store.find(number) if number else ""
            # the script checks the sign-in in the same step: no round trip before it
            signin = self.config.staff_rules.require_signin
            return await self._do(self.store.call(window, action, target, signin))
        if action == "recall":
            return await self._do(self.store.recall(window))
        if action not in STEP_ACTIONS:
            raise Refused("unknown_action", f"no window action {action}")
        if action == "transfer" and to_window:
            if self.config.window(to_window) is None:
                raise Refused("unknown_window", f"hall {self.id} has no window {to_window}")
        elif action == "transfer" and self.config.service(service) is None:
            raise Refused("unknown_service", f"hall {self.id} has no service {service}")
        return await self._do(self.store.step(window, action, service, reason, case, to_window))

    async def window_state(self, window: str) -> WindowView:
        cfg = self.config.window(window)
        if cfg is None:
            raise Refused("unknown_window", f"hall {self.id} has no window {window}")
        snap = await self._do(self.store.snapshot(0))
        self.live.refresh(snap)
        panel = build_panel(self.config, snap, window, self.lang, self.clock.now())
        current = None
        raw = next(w for w in snap["windows"] if w["id"] == window).get("current")
        if raw:
            found = await self._do(self.store.status(raw["ticket"]))
            if found is not None:
                current = self.ticket_view(raw["ticket"], found[0], -1)
        offsets = offsets_of(snap)[window]
        return WindowView(
            window=window,
            name=panel.name,
            paused=panel.paused,
            reason=panel.reason,
            services={s: o / MINUTE_MS for s, o in offsets.items()},
            current=current,
            waiting=panel.waiting,
            parked=panel.parked,
            upcoming=panel.upcoming,
            staff=panel.staff,
            today=panel.today,
            queued=panel.queued,
        )

    # -- screens ---------------------------------------------------------------------------

    async def snapshot_messages(
        self, windows: set[str] | None
    ) -> tuple[int, list[tuple[str, bytes]]]:
        """Retained board and panels for the publisher; refreshes the live cache on the way."""
        snap = await self.store.snapshot()
        self.live.refresh(snap)
        return int(snap["seq"]), self.announcer.snapshot_messages(snap, windows, self.clock.now())

    async def info(self) -> HallView:
        snap = await self._do(self.store.snapshot(0))
        self.live.refresh(snap)
        waits = self.announcer.waits(snap)
        paused = {w["id"]: bool(w["paused"]) for w in snap["windows"]}
        now = self.clock.now()
        left = await self.availability(now)
        shut = opening.closed_windows(self.config, now)
        c, lang = self.config, self.lang
        return HallView(
            id=c.id,
            name=c.hall.name.get(lang),
            address=c.hall.address.get(lang),
            timezone=c.hall.timezone,
            open_now=is_open(c.hours, self.clock.now(), c.hall.timezone),
            hours={d: list(getattr(c.hours, d)) for d in DAYS},
            closed_dates=[d.isoformat() for d in c.hours.closed_dates],
            makeup_dates={d.isoformat(): w for d, w in c.hours.makeup_dates.items()},
            booking=c.hall.booking.get(lang),
            notices=[n.get(lang) for n in c.hall.notices],
            services=[
                ServiceView(
                    s.id,
                    s.name.get(lang),
                    *waits[s.id],
                    remaining=left[s.id].remaining,
                    full=left[s.id].full,
                    next_open=left[s.id].next_open,
                )
                for s in c.services
            ],
            windows=[
                WindowInfoView(
                    w.id,
                    w.name.get(lang),
                    list(w.services),
                    paused.get(w.id, False),
                    open_now=w.id not in shut,
                    hours={d: list(getattr(w.hours, d)) for d in DAYS} if w.hours else None,
                )
                for w in c.windows
            ],
            classes=[ClassView(k.id, k.name.get(lang), k.needs_staff) for k in c.classes],
        )

    async def availability(self, now: float) -> dict[str, quotas.Availability]:
        """Per service: tickets left today, and whether (and till when) it is full now."""
        hour = local(now, self.config.hall.timezone).hour
        services = self.config.services
        names = [
            n for s in services for n in (number_counter(s.id), quotas.hour_counter(s.id, hour))
        ]
        counts = await self._do(self.store.day_counts(names))
        return {
            s.id: quotas.availability(self.config, s, now, counts[2 * i], counts[2 * i + 1])
            for i, s in enumerate(services)
        }

    # -- managers --------------------------------------------------------------------------

    async def rules(self) -> RulesView:
        rules, other = await self._do(self.store.rules())
        return self._rules_view(rules, other)

    def _rules_view(self, rules: priority.Rules, other: dict[str, float]) -> RulesView:
        return RulesView(
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

    async def change_rules(self, change: RulesChange, who: str) -> RulesView:
        current, other = await self._do(self.store.rules())
        boosts = dict(current.boosts)
        low, high = limits.BOOST_MINUTES
        for cls, minutes in (change.boost_minutes or {}).items():
            if self.config.priority_class(cls) is None:
                raise Refused("unknown_class", f"hall {self.id} has no priority class {cls}")
            if not low <= minutes <= high:
                raise Refused("rules_rejected", f"boost of {cls} must be {low}..{high} minutes")
            boosts[cls] = round(minutes * MINUTE_MS)
        offsets = {w: dict(o) for w, o in current.offsets.items()}
        changed_windows: dict[str, dict[str, int]] = {}
        low, high = limits.OFFSET_MINUTES
        for wid, services in (change.window_services or {}).items():
            if self.config.window(wid) is None:
                raise Refused("unknown_window", f"hall {self.id} has no window {wid}")
            for sid, minutes in services.items():
                if self.config.service(sid) is None:
                    raise Refused("unknown_service", f"hall {self.id} has no service {sid}")
                if not low <= minutes <= high:
                    raise Refused(
                        "rules_rejected", f"offset of {sid} must be {low}..{high} minutes"
                    )
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
            raise Refused("rules_rejected", str(exc)) from None
        values: dict[str, float] = {f"boost:{c}": b for c, b in boosts.items()}
        values["recall_limit"] = _given(change.recall_limit, other.get("recall_limit", 0))
        values["rejoin_ms"] = (
            round(change.rejoin_minutes * MINUTE_MS)
            if change.rejoin_minutes is not None
            else other.get("rejoin_ms", 0)
        )
        values["notify_ahead"] = _given(change.notify_ahead, other.get("notify_ahead", 0))
        await self._do(
            self.store.set_rules(values, changed_windows, who, int(other.get("version", 0)))
        )
        log.info(
            "hall %s: rules changed by %s (starvation bound %.0f min)",
            self.id,
            who,
            rules.bound_ms() / MINUTE_MS,
        )
        self.live.refresh(await self._do(self.store.snapshot(0)))
        self.outlet.mark(None)
        return await self.rules()


def _given(value: Any, default: float) -> float:
    return float(value) if value is not None else default
