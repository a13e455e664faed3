"""HTTP handlers: thin, each one call into the hall's use cases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, cast

from aiohttp import web
from pydantic import BaseModel

from queue_server import ratings, staffing
from queue_server.api import models as m
from queue_server.api import present
from queue_server.api.booking import BOOKING_ROUTES
from queue_server.api.ident_handlers import ID_ROUTES
from queue_server.api.routes import (
    CLAIM,
    HALLS,
    PRINCIPAL,
    REPLAYED,
    Route,
    caller,
    secret_of,
    sms_reader,
)
from queue_server.errors import Refused
from queue_server.hall import ACTIONS
from queue_server.pages.guides import guide_fields
from queue_server.pages.site import guide_url, public_base, status_url
from queue_server.printing.kiosk import print_or_void
from queue_server.views import IssuedView, RulesChange

if TYPE_CHECKING:
    from queue_server.config import Kiosk
    from queue_server.hall import Hall


def _hall(request: web.Request) -> Hall:
    return request.app[HALLS][request.match_info["hall"]]


def _secret(request: web.Request) -> str:
    return secret_of(request, "ticket")


async def list_halls(request: web.Request, _: BaseModel | None) -> m.HallList:
    halls = request.app[HALLS].values()
    return m.HallList(halls=[{"id": h.id, "name": h.config.hall.name.get(h.lang)} for h in halls])


async def hall_info(request: web.Request, _: BaseModel | None) -> m.HallInfo:
    return present.hall_info(await _hall(request).info())


def channel_of(request: web.Request, req: m.IssueRequest) -> m.Channel:
    """Who calls decides the channel: a kiosk's token, a staff token (a slot time makes it an
    appointment check-in), or no token at all (online, so a phone number is needed)."""
    who = caller(request)  # the wrapper checked the token, if one was sent
    if who is None:
        return "mobile"
    if who.role == "sms":
        raise Refused("forbidden", "the SMS gateway's token only reads ticket states")
    if who.role == "pad":
        raise Refused("forbidden", "a rating pad's token only rates")
    if who.role == "kiosk":
        return "kiosk"
    if who.role == "desk" and req.slot_start is None:
        return "desk"
    return "appointment" if req.slot_start is not None else "staff"


async def issue(request: web.Request, body: BaseModel | None) -> m.Issued:
    req = cast(m.IssueRequest, body)
    hall = _hall(request)
    channel = channel_of(request, req)
    claim = request[CLAIM]  # the Idempotency-Key, claimed with the ticket
    try:
        out = await hall.issue(
            req.service,
            req.cls,
            channel,
            staff=channel in ("staff", "appointment", "desk"),
            phone=req.phone or "",
            slot_start=req.slot_start,
            id_number=req.id_number or "",
            device=request[PRINCIPAL].window if channel == "kiosk" else "",
            steps=tuple(req.steps or ()),
            claim=claim,
        )
    except Refused:
        # refused before the store (closed since the first try, say): a repeat still gets
        # the ticket its key holds
        again = await hall.claimed(claim) if claim is not None else None
        if again is None:
            raise
        out = again
    if out.replayed:  # printed the first time (a voided one let go of its key)
        request[REPLAYED] = True
        printed = _kiosk_printer(request, hall) is not None
    else:
        try:
            printed = await _print_at_kiosk(request, hall, out)
        except Refused:
            if claim is not None:  # voided: a retry issues anew
                await hall.store.unclaim(claim, out.ticket.id)
            raise
    answer = present.issued(out.ticket, out.secret, hall.config, hall.lang)
    return answer.model_copy(update={"printed": True}) if printed else answer


def _kiosk_printer(request: web.Request, hall: Hall) -> Kiosk | None:
    """The calling kiosk, if it has an ESC/POS printer."""
    who = caller(request)
    kiosk = hall.config.kiosk(who.window) if who is not None and who.role == "kiosk" else None
    return kiosk if kiosk is not None and kiosk.printer is not None else None


async def _print_at_kiosk(request: web.Request, hall: Hall, out: IssuedView) -> bool:
    """A kiosk with an ESC/POS printer gets its ticket printed here (True), or voided (503)."""
    kiosk = _kiosk_printer(request, hall)
    if kiosk is None:
        return False
    link = public_base(request, hall.config) + status_url(
        hall.id, out.ticket.id, out.secret, hall.lang
    )
    await print_or_void(hall, kiosk, out, link)
    return True


async def service_guide(request: web.Request, _: BaseModel | None) -> m.Guide:
    hall = _hall(request)
    g = guide_fields(hall.config, request.match_info["service"], hall.lang)
    return m.Guide(
        service=g["id"],
        name=g["name"],
        materials=g["materials"],
        steps=g["steps"],
        fees=g["fees"],
        time_limit=g["time_limit"],
        note=g["note"],
        windows=g["windows"],
        page=guide_url(hall.id, g["id"], hall.lang),
    )


async def ticket_status(request: web.Request, _: BaseModel | None) -> m.Ticket:
    hall, tid = _hall(request), request.match_info["ticket"]
    if sms_reader(request):  # the SMS gateway checks tickets it holds no secret of
        found = await hall.store.status(tid)
        t = await hall.status(tid, str(found[0].get("secret", "")) if found else "")
    else:
        t = await hall.status(tid, _secret(request))
    return present.ticket(t, hall.config, hall.lang)


def citizen_action(action: str) -> Callable[[web.Request, BaseModel | None], Awaitable[m.Ticket]]:
    async def handler(request: web.Request, _: BaseModel | None) -> m.Ticket:
        hall = _hall(request)
        t = await hall.citizen(request.match_info["ticket"], _secret(request), action)
        return present.ticket(t, hall.config, hall.lang)

    return handler


def window_action(action: str) -> Route:
    async def handler(request: web.Request, body: BaseModel | None) -> m.WindowResult:
        hall = _hall(request)
        out = await hall.act(
            request.match_info["window"],
            action,
            service=(body.service or "") if isinstance(body, m.TransferRequest) else "",
            to_window=(body.window or "") if isinstance(body, m.TransferRequest) else "",
            number=body.number if isinstance(body, m.NumberRequest) else "",
            reason=body.reason if isinstance(body, m.PauseRequest) else "",
            case=(body.case or "") if isinstance(body, m.FinishRequest) else "",
        )
        return present.outcome(out, hall.config, hall.lang)

    body: type[BaseModel] = m.Empty
    if action == "transfer":
        body = m.TransferRequest
    elif action in ("call", "unpark"):
        body = m.NumberRequest
    elif action == "pause":
        body = m.PauseRequest
    elif action == "finish":
        body = m.FinishRequest
    return Route(
        "POST",
        f"/api/v1/halls/{{hall}}/windows/{{window}}/{action}",
        handler,
        summary=f"window staff: {action}",
        auth="window",
        body=body,
        body_required=body not in (m.Empty, m.PauseRequest, m.FinishRequest),
        response=m.WindowResult,
        idempotent=True,
    )


def staff_action(action: str) -> Route:
    async def handler(request: web.Request, body: BaseModel | None) -> m.StaffResult:
        hall, window = _hall(request), request.match_info["window"]
        if isinstance(body, m.SigninRequest):
            return present.staff(await staffing.signin(hall, window, body.staff, body.pin))
        return present.staff(await staffing.signout(hall, window))

    signin = action == "signin"
    return Route(
        "POST",
        f"/api/v1/halls/{{hall}}/windows/{{window}}/{action}",
        handler,
        summary="staff signs in at the window with id and PIN (5 wrong PINs lock the id)"
        if signin
        else "the signed-in staff member signs out",
        auth="window",
        body=m.SigninRequest if signin else m.Empty,
        body_required=signin,
        response=m.StaffResult,
        idempotent=True,
    )


async def rate(request: web.Request, body: BaseModel | None) -> m.Rated:
    hall, req = _hall(request), cast(m.RatingRequest, body)
    pad = request.get(PRINCIPAL)
    view = await ratings.rate(
        hall,
        request.match_info["ticket"],
        req.level,
        req.reasons,
        req.scores,
        req.comment,
        pad_window=pad.window if pad is not None else "",
        secret=None if pad is not None else _secret(request),
    )
    return present.rated(view)


async def window_state(request: web.Request, _: BaseModel | None) -> m.WindowState:
    hall = _hall(request)
    view = await hall.window_state(request.match_info["window"])
    return present.window_state(view, hall.config, hall.lang)


async def get_rules(request: web.Request, _: BaseModel | None) -> m.RulesOut:
    return present.rules(await _hall(request).rules())


async def patch_rules(request: web.Request, body: BaseModel | None) -> m.RulesOut:
    who = request[PRINCIPAL].label
    patch = cast(m.RulesPatch, body)
    change = RulesChange(**patch.model_dump())
    return present.rules(await _hall(request).change_rules(change, who))


H = "/api/v1/halls/{hall}"
ROUTES: list[Route] = [
    Route("GET", "/api/v1/halls", list_halls, "halls on this server", response=m.HallList),
    Route(
        "GET",
        H,
        hall_info,
        "a hall: services, waits, windows, hours, how to book",
        response=m.HallInfo,
    ),
    Route(
        "POST",
        f"{H}/tickets",
        issue,
        "take a ticket: with a kiosk's token, a staff token (staff-only classes, slot "
        "times), or none (online: a phone number is needed)",
        body=m.IssueRequest,
        response=m.Issued,
        status=201,
        idempotent=True,  # a kiosk's double tap or retried press gives one ticket
        claims=True,  # in the issue script itself (store/lua/issue.lua)
    ),
    Route(
        "GET",
        f"{H}/services/{{service}}/guide",
        service_guide,
        "a service's guide (办事指南): materials, steps, fees, time limit, windows",
        response=m.Guide,
    ),
    Route(
        "GET",
        f"{H}/tickets/{{ticket}}",
        ticket_status,
        "a ticket's state, place and wait",
        auth="ticket",
        response=m.Ticket,
    ),
    Route(
        "POST",
        f"{H}/tickets/{{ticket}}/cancel",
        citizen_action("cancel"),
        "the holder cancels a waiting ticket",
        auth="ticket",
        response=m.Ticket,
    ),
    Route(
        "POST",
        f"{H}/tickets/{{ticket}}/rejoin",
        citizen_action("rejoin"),
        "the holder rejoins after a missed call, within the hall's time",
        auth="ticket",
        response=m.Ticket,
    ),
    Route(
        "GET",
        f"{H}/windows/{{window}}",
        window_state,
        "a window's panel state",
        auth="window",
        response=m.WindowState,
    ),
    *[window_action(a) for a in ACTIONS],
    *[staff_action(a) for a in ("signin", "signout")],
    Route(
        "POST",
        f"{H}/tickets/{{ticket}}/rating",
        rate,
        "好差评: rate a finished service once (the window's rating pad, or the holder with the "
        "ticket secret); 2 and below need a reason",
        auth="pad",
        body=m.RatingRequest,
        response=m.Rated,
        status=201,
    ),
    Route(
        "GET",
        f"{H}/rules",
        get_rules,
        "live priority rules and their starvation bound",
        auth="manager",
        response=m.RulesOut,
    ),
    Route(
        "PATCH",
        f"{H}/rules",
        patch_rules,
        "change priority rules and window services "
        "live; refused if the starvation bound would pass the hall's limit",
        auth="manager",
        body=m.RulesPatch,
        response=m.RulesOut,
    ),
    *ID_ROUTES,
]
ROUTES += BOOKING_ROUTES  # appointments (预约): api/booking.py
