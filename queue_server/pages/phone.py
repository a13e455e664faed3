"""The phone site: take a ticket remotely (`/m/{hall}`, a phone number needed, as for every
online ticket) and rate a finished service from the ticket's status page. Plain forms: the
pages work without JavaScript; refusals come back on the same page in its language."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from yarl import URL

from queue_server import ratings
from queue_server.domain import rating
from queue_server.domain.phones import PhoneError, canonical_phone
from queue_server.errors import Refused
from queue_server.pages import i18n
from queue_server.pages.site import page, render, services_of, status_url

if TYPE_CHECKING:
    from queue_server.hall import Hall

FIELD_MAX = 200  # form fields longer than this are refused before any use


def setup(app: web.Application) -> None:
    app.router.add_get("/m/{hall}", page(phone_page))
    app.router.add_post("/m/{hall}/take", page(take))
    app.router.add_post("/m/{hall}/t/{ticket}/rate", page(rate))


async def phone_page(
    request: web.Request,
    hall: Hall,
    ctx: dict[str, Any],
    error: str = "",
    picked: str = "",
    phone: str = "",
    status: int = 200,
) -> web.Response:
    services, info = await services_of(hall, ctx["lang"])
    return render(
        request,
        "phone.html",
        ctx,
        status=status,
        hall=hall.id,
        services=services,
        open_now=info.open_now,
        error=error,
        picked=picked or next((s["id"] for s in services if s["open"]), ""),
        phone=phone,
    )


async def take(request: web.Request, hall: Hall, ctx: dict[str, Any]) -> web.Response:
    """The phone page's form: a ticket for the given phone, then its status page; a refusal
    shows the page again with the citizen's entries and the reason."""
    form = await request.post()
    service = str(form.get("service", ""))[:FIELD_MAX]
    raw_phone = str(form.get("phone", ""))[:FIELD_MAX]
    t = ctx["t"]
    try:
        if not raw_phone.strip():
            raise Refused("phone_required", "tickets taken online need a phone number")
        try:
            phone = canonical_phone(raw_phone)
        except PhoneError:
            raise Refused("invalid_phone", "not a mainland mobile number") from None
        issued = await hall.issue(
            service, "normal", "mobile", staff=False, phone=phone, lang=ctx["lang"]
        )
    except Refused as exc:
        return await phone_page(
            request,
            hall,
            ctx,
            error=i18n.error_text(t, exc.code),
            picked=service,
            phone=raw_phone,
            status=exc.status,
        )
    target = status_url(hall.id, issued.ticket.id, issued.secret, ctx["lang"])
    raise web.HTTPSeeOther(location=target)


async def rate(request: web.Request, hall: Hall, ctx: dict[str, Any]) -> web.Response:
    """The status page's rating form (好差评): five levels, reasons for a bad one."""
    form = await request.post()
    tid = request.match_info["ticket"]
    secret = str(form.get("secret", ""))[:FIELD_MAX]
    target = URL(status_url(hall.id, tid, secret, ctx["lang"]))
    try:
        level = int(str(form.get("level", "0"))[:2] or 0)
    except ValueError:
        level = 0
    reasons = [str(r)[:FIELD_MAX] for r in form.getall("reason", [])][:10]
    scores: dict[str, int] = {}
    for point in rating.POINTS:
        value = str(form.get(f"score_{point}", ""))
        if value.isdigit():
            scores[point] = int(value)
    comment = str(form.get("comment", ""))[:FIELD_MAX]
    try:
        await ratings.rate(hall, tid, level, reasons, scores, comment, secret=secret)
    except Refused as exc:
        if exc.code in ("bad_secret", "unknown_ticket"):
            raise
        raise web.HTTPSeeOther(location=str(target.update_query(error=exc.code))) from None
    raise web.HTTPSeeOther(location=str(target.update_query(done="rated")))
