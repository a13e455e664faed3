"""The booking pages under the phone site (预约): choose a service and a slot, give a phone and
an ID number; the booking's own page (its code, the check-in time, cancel). Plain forms that
work without JavaScript; refusals are shown in the page's language and book nothing."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from aiohttp import web
from yarl import URL

from queue_server.appointments import Appointments, BookingView
from queue_server.appt_task import APPOINTMENTS
from queue_server.domain.phones import PhoneError, canonical_phone
from queue_server.errors import STATUS, Refused
from queue_server.pages import i18n
from queue_server.pages.site import page, render

if TYPE_CHECKING:
    from queue_server.hall import Hall


def setup(app: web.Application) -> None:
    app.router.add_get("/m/{hall}/book", page(book_page))
    app.router.add_post("/m/{hall}/book", page(book_form))
    app.router.add_get("/m/{hall}/book/{code}", page(booking_page))
    app.router.add_post("/m/{hall}/book/{code}/cancel", page(cancel_form))


def _appts(request: web.Request, hall: Hall) -> Appointments:
    return request.app[APPOINTMENTS][hall.id]


def _day(day: dt.date, lang: str, t: dict[str, str]) -> str:
    name = t["days"].split(",")[day.weekday()]
    if lang == "zh":
        return f"{day.month}月{day.day}日 {t['weekday'].format(d=name)}"
    return f"{name} {day:%d %b}"


async def _form(
    request: web.Request, hall: Hall, ctx: dict[str, Any], service: str, **more: Any
) -> web.Response:
    appts, lang, t = _appts(request, hall), ctx["lang"], ctx["t"]
    bookable = [s for s in hall.config.services if s.id in appts.settings.capacity]
    days: list[dict[str, Any]] = []
    if service:
        for s in await appts.free_slots(service):
            label = _day(s.start.date(), lang, t)
            if not days or days[-1]["label"] != label:
                days.append({"label": label, "slots": []})
            days[-1]["slots"].append(
                {
                    "value": s.start.isoformat(),
                    "text": f"{s.start:%H:%M}–{s.end:%H:%M}",
                    "left": t["book_left"].format(n=s.left) if s.left else t["book_full"],
                    "full": s.left == 0,
                }
            )
    return render(
        request,
        "book.html",
        ctx,
        status=more.pop("status", 200),
        hall=hall.id,
        services=[{"id": s.id, "name": s.name.get(lang)} for s in bookable],
        service=service,
        days=days,
        **more,
    )


async def book_page(request: web.Request, hall: Hall, ctx: dict[str, Any]) -> web.Response:
    _appts(request, hall).settings  # noqa: B018 (refuses a hall without appointments)
    return await _form(request, hall, ctx, request.query.get("service", ""))


async def book_form(request: web.Request, hall: Hall, ctx: dict[str, Any]) -> web.Response:
    form = await request.post()
    service, phone = str(form.get("service", "")), str(form.get("phone", ""))
    try:
        try:
            canonical = canonical_phone(phone)
        except PhoneError:
            raise Refused("invalid_phone", "not a mobile number") from None
        try:
            start = dt.datetime.fromisoformat(str(form.get("start", "")))
        except ValueError:
            raise Refused("unknown_slot", "choose a time") from None
        appts = _appts(request, hall)
        v = await appts.book(service, start, canonical, str(form.get("id_number", "")), ctx["lang"])
    except Refused as exc:
        message = i18n.error_text(ctx["t"], exc.code)
        status = STATUS.get(exc.code, 400)
        return await _form(request, hall, ctx, service, error=message, phone=phone, status=status)
    target = booking_link(hall.id, v.code, v.secret or "", ctx["lang"], done="booked")
    raise web.HTTPSeeOther(location=target)


def booking_link(hall: str, code: str, secret: str, lang: str, done: str = "") -> str:
    query = {"secret": secret, "lang": lang} | ({"done": done} if done else {})
    return str(URL.build(path=f"/m/{hall}/book/{code}", query=query))


def booking_fields(v: BookingView, hall: Hall, lang: str) -> dict[str, Any]:
    t, q = i18n.TEXTS[lang], hall.config.queue
    service = hall.config.service(v.service)
    opens = v.start - dt.timedelta(minutes=q.appointment_early_minutes)
    closes = v.start + dt.timedelta(minutes=q.appointment_grace_minutes)
    return {
        "code": v.code,
        "service": service.name.get(lang) if service else v.service,
        "time": f"{_day(v.start.date(), lang, t)} {v.start:%H:%M}–{v.end:%H:%M}",
        "state": v.state,
        "state_text": t.get(f"booking_{v.state}", v.state),
        "phone": v.phone,
        "hint": t["book_hint"].format(from_=f"{opens:%H:%M}", to=f"{closes:%H:%M}"),
    }


async def booking_page(request: web.Request, hall: Hall, ctx: dict[str, Any]) -> web.Response:
    code, secret = request.match_info["code"], request.query.get("secret", "")
    v = await _appts(request, hall).booking(code, secret)
    done = request.query.get("done", "")
    t = ctx["t"]
    return render(
        request,
        "booking.html",
        ctx,
        hall=hall.id,
        secret=secret,
        booking=booking_fields(v, hall, ctx["lang"]),
        done=t["book_done"]
        if done == "booked"
        else t["book_cancelled_ok"]
        if done == "cancelled"
        else "",
        can_cancel=v.state == "booked",
    )


async def cancel_form(request: web.Request, hall: Hall, ctx: dict[str, Any]) -> web.Response:
    form = await request.post()
    code, secret = request.match_info["code"], str(form.get("secret", ""))
    await _appts(request, hall).cancel(code, secret)
    raise web.HTTPSeeOther(location=booking_link(hall.id, code, secret, ctx["lang"], "cancelled"))
