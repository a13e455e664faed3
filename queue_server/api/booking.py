"""Appointment routes (预约): slots, booking, the booking's view and cancel, kiosk check-in.
Models, handlers and the route table of this part of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, cast

from aiohttp import web
from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError
from yarl import URL

from queue_server.api import models as m
from queue_server.api import present
from queue_server.api.routes import PRINCIPAL, Route, secret_of
from queue_server.appointments import Appointments, BookingView, CheckInView
from queue_server.appt_task import APPOINTMENTS
from queue_server.domain import limits
from queue_server.domain.idnumber import MAX_LENGTH as ID_MAX
from queue_server.domain.phones import MAX_LENGTH, PhoneError, canonical_phone
from queue_server.errors import Refused


def _phone(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return canonical_phone(value)
    except PhoneError as exc:
        raise PydanticCustomError("invalid_phone", str(exc)) from None


class SlotOut(m.Body):
    start: datetime
    end: datetime
    left: int = Field(description="places still free")


class SlotList(m.Body):
    service: str
    slots: list[SlotOut]


class BookRequest(m.Body):
    service: str = Field(pattern=limits.SERVICE_ID)
    start: datetime = Field(description="the slot's start, with its offset (from the slots)")
    phone: str = Field(
        max_length=MAX_LENGTH, description="a mainland mobile number: confirmation, reminder"
    )
    id_number: str = Field(
        max_length=ID_MAX, description="resident ID number (GB 11643); kept only as a digest"
    )
    lang: Literal["zh", "en"] = Field(default="zh", description="the language of the SMS")

    _one_form = field_validator("phone", mode="before")(_phone)


class Booking(m.Body):
    code: str = Field(description="the booking code, shown at check-in")
    service: str
    service_name: str
    start: datetime
    end: datetime
    state: str = Field(description="booked, cancelled, checked_in, no_show")
    phone: str = Field(description="masked")
    ticket: str | None = Field(default=None, description="its ticket, once checked in")
    late: bool = False


class Booked(Booking):
    secret: str = Field(description="shown once: the key to view and cancel the booking")
    cancel_url: str = Field(description="the booking's page, where it can be cancelled")


class CheckInRequest(m.Body):
    code: str | None = Field(default=None, max_length=20, description="the booking code")
    phone: str | None = Field(
        default=None,
        max_length=MAX_LENGTH,
        description="the booking's phone: alone, today's booking of that phone; with a code, "
        "it must be the booking's",
    )

    _one_form = field_validator("phone", mode="before")(_phone)


class CheckedIn(m.Body):
    booking: Booking
    ticket: m.Issued
    late: bool = Field(description="past the check-in window: a normal ticket")
    again: bool = Field(description="checked in before: the same ticket")


def _appts(request: web.Request) -> Appointments:
    return request.app[APPOINTMENTS][request.match_info["hall"]]


def _secret(request: web.Request) -> str:
    return secret_of(request, "booking")


def booking_url(hall: str, code: str, secret: str, lang: str) -> str:
    return str(URL.build(path=f"/m/{hall}/book/{code}", query={"secret": secret, "lang": lang}))


def booking_out(v: BookingView, appts: Appointments) -> Booking:
    service = appts.hall.config.service(v.service)
    return Booking(
        code=v.code,
        service=v.service,
        service_name=service.name.get(appts.hall.lang) if service else v.service,
        start=v.start,
        end=v.end,
        state=v.state,
        phone=v.phone,
        ticket=v.ticket,
        late=v.late,
    )


async def list_slots(request: web.Request, _: BaseModel | None) -> SlotList:
    service = request.match_info["service"]
    found = await _appts(request).free_slots(service)
    return SlotList(
        service=service, slots=[SlotOut(start=s.start, end=s.end, left=s.left) for s in found]
    )


async def book(request: web.Request, body: BaseModel | None) -> Booked:
    req, appts = cast(BookRequest, body), _appts(request)
    v = await appts.book(req.service, req.start, req.phone, req.id_number, req.lang)
    secret = v.secret or ""  # a new booking carries its secret
    return Booked(
        **booking_out(v, appts).model_dump(),
        secret=secret,
        cancel_url=booking_url(appts.hall.id, v.code, secret, req.lang),
    )


async def get_booking(request: web.Request, _: BaseModel | None) -> Booking:
    appts = _appts(request)
    return booking_out(await appts.booking(request.match_info["code"], _secret(request)), appts)


async def cancel(request: web.Request, _: BaseModel | None) -> Booking:
    appts = _appts(request)
    return booking_out(await appts.cancel(request.match_info["code"], _secret(request)), appts)


def checked_in(v: CheckInView, appts: Appointments) -> CheckedIn:
    hall = appts.hall
    return CheckedIn(
        booking=booking_out(v.booking, appts),
        ticket=present.issued(v.issued.ticket, v.issued.secret, hall.config, hall.lang),
        late=v.late,
        again=v.again,
    )


async def check_in(request: web.Request, body: BaseModel | None) -> CheckedIn:
    who = request.get(PRINCIPAL)
    if who is None or who.role not in ("kiosk", "window"):
        raise Refused("unauthorized", "check-in is at the hall: send a kiosk's token")
    req, appts = cast(CheckInRequest, body), _appts(request)
    return checked_in(await appts.check_in(req.code or "", req.phone or ""), appts)


H = "/api/v1/halls/{hall}"
BOOKING_ROUTES: list[Route] = [
    Route(
        "GET",
        f"{H}/slots/{{service}}",
        list_slots,
        "预约: a service's bookable slots (today and the days ahead) with places left",
        response=SlotList,
    ),
    Route(
        "POST",
        f"{H}/bookings",
        book,
        "预约: book a slot with a phone and an ID number (one per ID per service per day)",
        body=BookRequest,
        response=Booked,
        status=201,
    ),
    Route(
        "POST",
        f"{H}/bookings/checkin",
        check_in,
        "预约签到 at the kiosk (its token): by booking code or phone; on time an appointment "
        "ticket placed by its slot, late a normal ticket; twice: the same ticket",
        body=CheckInRequest,
        response=CheckedIn,
        idempotent=True,
    ),
    Route(
        "GET",
        f"{H}/bookings/{{code}}",
        get_booking,
        "预约: a booking, with its secret",
        auth="ticket",
        response=Booking,
    ),
    Route(
        "POST",
        f"{H}/bookings/{{code}}/cancel",
        cancel,
        "预约: cancel a booking (its secret); the slot is free again",
        auth="ticket",
        response=Booking,
    ),
]
