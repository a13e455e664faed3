"""Appointments (预约) of one hall: slots to book, booking with phone and ID number, cancel,
check-in at the kiosk (an appointment ticket placed by its slot, or a normal one when late),
and the periodic work (reminders the day before, no-shows). No HTTP here: refusals are
`Refused`, answers are the views below."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from queue_server import identity
from queue_server.config import AppointmentSettings
from queue_server.domain import slots
from queue_server.domain.masking import mask_phone
from queue_server.errors import Refused
from queue_server.store.appt_store import AppointmentStore, Booking, NewBooking
from queue_server.store.hall_store import CheckIn, StoreError
from queue_server.views import IssuedView

if TYPE_CHECKING:
    from queue_server.hall import Hall

log = logging.getLogger(__name__)
KEEP_DAYS = 3  # a booking stays readable this long after its slot


@dataclass(frozen=True, slots=True)
class SlotView:
    start: dt.datetime
    end: dt.datetime
    left: int  # places still free


@dataclass(frozen=True, slots=True)
class BookingView:
    code: str
    service: str
    start: dt.datetime
    end: dt.datetime
    state: str  # booked, cancelled, checked_in, no_show
    phone: str  # masked
    ticket: str | None = None  # its ticket once checked in
    late: bool = False  # checked in past the window: a normal ticket
    secret: str | None = None  # shown once, at booking: the key to view and cancel it


@dataclass(frozen=True, slots=True)
class CheckInView:
    booking: BookingView
    issued: IssuedView
    late: bool  # past the window: a normal ticket
    again: bool  # the booking was checked in before: the same ticket


class Appointments:
    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        self.store = AppointmentStore(hall.store)

    @property
    def settings(self) -> AppointmentSettings:
        found = self.hall.config.appointments
        if found is None:
            raise Refused("no_appointments", f"hall {self.hall.id} takes no appointments")
        return found

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.hall.clock.now(), self.hall.config.tz)

    def _capacity(self, service: str) -> int:
        cap = self.settings.capacity.get(service)
        if cap is None:
            if self.hall.config.service(service) is None:
                raise Refused("unknown_service", f"hall {self.hall.id} has no service {service}")
            raise Refused("no_appointments", f"service {service} takes no appointments")
        return cap

    # -- booking ---------------------------------------------------------------------------

    def _day_cap(self, service: str) -> int:
        """The service's tickets of a day (号源, else what its number width holds): bookings
        hold places among them, so walk-ins cannot take the places booked ahead."""
        svc = self.hall.config.service(service)
        return svc.max_number if svc is not None else 0

    async def free_slots(self, service: str) -> list[SlotView]:
        """The bookable slots of a service, today (those not over) and the days ahead."""
        cap, s, cfg = self._capacity(service), self.settings, self.hall.config
        now = self._now()
        out: list[SlotView] = []
        for day in slots.bookable_days(now.date(), s.days_ahead):
            date = day.strftime("%Y%m%d")
            counts = await self.store.counts(date)
            # 号源: a slot with places is still full once the day's tickets (issued plus held
            # by bookings) are all taken; booking it would be refused capacity_full
            held = max(counts.get(f"{service}|out", 0), 0)
            day_left = self._day_cap(service) - held - await self.store.issued(date, service)
            for slot in slots.slots_on(cfg.hours, day, cfg.tz, s.slot_minutes):
                if self._on_time(slot, now):
                    left = min(cap - counts.get(f"{service}|{slot.key}", 0), day_left)
                    out.append(SlotView(slot.start, slot.end, max(0, left)))
        return out

    def _on_time(self, slot: slots.Slot, now: dt.datetime) -> bool:
        """A slot is offered while its check-in can still be on time (later, it would only
        give a normal ticket)."""
        grace = dt.timedelta(minutes=self.hall.config.queue.appointment_grace_minutes)
        return slot.start + grace > now and slot.end > now

    def _slot(self, start: dt.datetime) -> slots.Slot:
        if start.tzinfo is None:
            raise Refused("invalid_request", "start needs a time zone offset")
        s, cfg = self.settings, self.hall.config
        slot = slots.find_slot(cfg.hours, start, cfg.tz, s.slot_minutes)
        now = self._now()
        if (
            slot is None
            or not self._on_time(slot, now)
            or slot.day not in slots.bookable_days(now.date(), s.days_ahead)
        ):
            raise Refused("unknown_slot", "no bookable slot starts at that time")
        return slot

    async def book(
        self, service: str, start: dt.datetime, phone: str, id_number: str, lang: str
    ) -> BookingView:
        cap = self._capacity(service)
        slot = self._slot(start)
        # checked (its own refusal per fault), blacklisted IDs refused: as at the kiosk
        holder = await identity.holder(self.hall, id_number)
        s, q = self.settings, self.hall.config.queue
        remind = slots.reminder_at(slot, s.remind_at)
        start_s = slot.start.timestamp()
        new = NewBooking(
            code="",
            service=service,
            date=slot.day.strftime("%Y%m%d"),
            slot=slot.key,
            start_ms=round(start_s * 1000),
            end_ms=round(slot.end.timestamp() * 1000),
            capacity=cap,
            day_cap=self._day_cap(service),
            phone=phone,
            phone_key=self.hall.phone_key(phone),
            id_key=holder.key,
            secret=secrets.token_urlsafe(16),
            lang=lang,
            # booked after the day-before reminder time: the confirmation is the reminder
            remind_ms=round(remind.timestamp() * 1000) if remind > self._now() else None,
            due_ms=round((start_s + q.appointment_grace_minutes * 60) * 1000),
            expire_at=round(slot.end.timestamp()) + KEEP_DAYS * 86_400,
        )
        for _ in range(3):  # a code already in use (1 in 10^12 a day) draws again
            attempt = dataclasses.replace(new, code=slots.new_code())
            try:
                _, entries = await self.store.book(attempt)
            except StoreError as exc:
                if exc.code == "code_taken":
                    continue
                raise Refused(exc.code, exc.message) from None
            self.hall.outlet.publish_now(entries)
            log.info("hall %s: booking for %s at %s", self.hall.id, service, slot.start)
            return self._view(_as_booking(attempt), secret=attempt.secret)
        raise Refused("internal", "no free booking code")

    async def _owned(self, code: str, secret: str) -> Booking:
        b = await self.store.get(slots.clean_code(code)) if slots.clean_code(code) else None
        if b is None:
            raise Refused("unknown_booking", f"no booking {code} in hall {self.hall.id}")
        given = secret.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(str(b.get("secret", "")).encode(), given):
            raise Refused("bad_secret", "the booking secret does not match")
        return b

    async def booking(self, code: str, secret: str) -> BookingView:
        return self._view(await self._owned(code, secret))

    async def cancel(self, code: str, secret: str) -> BookingView:
        b = await self._owned(code, secret)
        try:
            out = await self.store.cancel(b, self.hall.phone_key(str(b["phone"])), secret)
        except StoreError as exc:
            raise Refused(exc.code, exc.message) from None
        return self._view(out)

    def _view(self, b: Booking, secret: str | None = None) -> BookingView:
        tz = self.hall.config.tz
        return BookingView(
            code=str(b["code"]),
            service=str(b["service"]),
            start=dt.datetime.fromtimestamp(int(b["start"]) / 1000, tz),
            end=dt.datetime.fromtimestamp(int(b["end"]) / 1000, tz),
            state=str(b["state"]),
            phone=mask_phone(str(b["phone"])),
            ticket=str(b["ticket"]) if b.get("ticket") else None,
            late=bool(b.get("late")),
            secret=secret,
        )

    # -- check-in --------------------------------------------------------------------------

    async def _find(self, code: str, phone: str) -> Booking:
        """The booking to check in: by its code (and then the phone, if given, must be its
        phone), or by phone alone: today's booking of that phone."""
        if code:
            clean = slots.clean_code(code)
            b = await self.store.get(clean) if clean else None
            if b is None:
                raise Refused("unknown_booking", f"no booking {code}")
            if phone and not hmac.compare_digest(str(b["phone"]), phone):
                raise Refused("booking_mismatch", "this booking was made with another phone")
            return b
        if not phone:
            raise Refused("invalid_request", "give a booking code or the booking's phone")
        today = self._now().strftime("%Y%m%d")
        found: list[Booking] = []
        for c in await self.store.codes_of_phone(today, self.hall.phone_key(phone)):
            b = await self.store.get(c)
            if b is not None and b["state"] in ("booked", "checked_in"):
                found.append(b)
        if not found:
            raise Refused("unknown_booking", "this phone has no booking today")
        # one already checked in answers its ticket again; else the earliest slot
        found.sort(key=lambda b: (b["state"] != "checked_in", int(b["start"])))
        return found[0]

    async def check_in(self, code: str, phone: str) -> CheckInView:
        """Check a booking in: its ticket is issued, and the booking marked checked in with
        it, in one atomic change (store/lua/issue.lua), so two presses give one ticket and a
        refusal or a crash leaves it booked. The early/on-time/late rules are decided here."""
        b = await self._find(code, phone)
        if b["state"] == "checked_in":  # checked in before: the same ticket
            return await self._again(b)
        if b["state"] != "booked":
            raise Refused("booking_closed", f"the booking is {b['state']}")
        q, now = self.hall.config.queue, self.hall.clock.now()
        start = int(b["start"]) / 1000
        when = slots.check_in_time(
            start, now, q.appointment_early_minutes, q.appointment_grace_minutes
        )
        if when == "early":
            opens = dt.datetime.fromtimestamp(
                start - q.appointment_early_minutes * 60, self.hall.config.tz
            )
            raise Refused("checkin_too_early", f"check-in opens at {opens:%Y-%m-%d %H:%M}")
        late = now > start + q.appointment_grace_minutes * 60
        who = await identity.holder_of(self.hall, str(b.get("id") or ""))  # its daily cap
        issued = await self.hall.issue(
            str(b["service"]),
            self.hall.config.normal_class.id if late else self.settings.class_id,
            "kiosk" if late else "appointment",
            staff=True,  # the booking vouches for the class and the slot time
            phone=str(b["phone"]),
            slot_start=None if late else dt.datetime.fromtimestamp(start, dt.UTC),
            lang=str(b.get("lang") or self.hall.lang),
            booking=CheckIn(str(b["code"]), late, str(b["date"])),
            id_holder=who,
        )
        if issued.replayed:  # another press checked it in meanwhile: its ticket
            found = await self.store.get(str(b["code"]))
            b = found if found is not None else b
            return CheckInView(self._view(b), issued, bool(b.get("late")), again=True)
        done = {**b, "state": "checked_in", "ticket": issued.ticket.id, "late": late}
        return CheckInView(self._view(done), issued, late, again=False)

    async def _again(self, b: Booking) -> CheckInView:
        view = await self.hall.status(str(b["ticket"]), str(b["ticket_secret"]))
        issued = IssuedView(view, str(b["ticket_secret"]), replayed=True)
        return CheckInView(self._view(b), issued, bool(b.get("late")), again=True)

    # -- periodic work ---------------------------------------------------------------------

    async def sweep(self) -> tuple[int, int]:
        """Send the reminders that are due and count the no-shows; each booking's once, even
        when two processes sweep at the same time. Returns (reminders, no-shows)."""
        s = self.hall.config.appointments
        if s is None:
            return 0, 0
        now_ms = round(self.hall.clock.now() * 1000)
        reminded = missed = 0
        for code in await self.store.due("remind", now_ms):
            done, entries = await self.store.remind(code)
            self.hall.outlet.publish_now(entries)
            reminded += done
        for code in await self.store.due("noshow", now_ms):
            b = await self.store.get(code)
            id_key = str(b["id"]) if b is not None else "-"
            missed += await self.store.no_show(
                code,
                str(b["date"]) if b is not None else "-",
                id_key,
                s.no_show_days * 86_400_000,
                s.no_show_limit,
                s.block_days * 86_400_000,
            )
        return reminded, missed


def _as_booking(b: NewBooking) -> Booking:
    return {
        "code": b.code,
        "service": b.service,
        "start": b.start_ms,
        "end": b.end_ms,
        "state": "booked",
        "phone": b.phone,
    }
