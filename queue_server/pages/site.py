"""Page routes: thin handlers that call the hall's use cases and render templates.

Pages are public; each request spends from its address's allowance like the token-less API
routes. The kiosk page itself holds no token: the kiosk's browser keeps it (see kiosk.js).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from aiohttp import web
from aiohttp_sse import sse_response
from redis.exceptions import RedisError
from yarl import URL

from queue_server.api.guard import LIMITS, check_public
from queue_server.api.guard import trusted as proxies_trust
from queue_server.api.routes import HALLS
from queue_server.config import DAYS, HallConfig, WindowHours
from queue_server.domain import rating
from queue_server.errors import Refused
from queue_server.pages import i18n, qr
from queue_server.pages.feed import HallFeed
from queue_server.views import HallView, TicketView

if TYPE_CHECKING:
    from queue_server.hall import Hall

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
JINJA = web.AppKey("pages_jinja", jinja2.Environment)
FEEDS: web.AppKey[dict[str, HallFeed]] = web.AppKey("pages_feeds")
LANG = web.AppKey("pages_lang", str)
QUEUED = ("waiting", "transferred")
OVER = ("done", "finished", "cancelled", "expired")  # the record says "done" once served
_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:]{1,255}$")  # a host[:port], nothing that ends a URL
PING_SECONDS = 10.0  # a page that has gone is noticed at the next ping
Page = Callable[[web.Request, "Hall", dict[str, Any]], Awaitable[web.StreamResponse]]


def setup(app: web.Application, lang: str = "zh") -> None:
    """Add the pages to the app; call after the app's own lifecycle is registered (the feeds
    tee each hall's outlet, which that lifecycle creates)."""
    app[JINJA] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app[LANG] = lang
    app[FEEDS] = {}
    app.cleanup_ctx.append(_feeds)
    app.on_shutdown.append(_close_feeds)
    app.router.add_get("/hall/{hall}", page(hall_page))
    app.router.add_get("/kiosk/{hall}", page(kiosk_page))
    app.router.add_get("/kiosk/{hall}/t/{ticket}", page(printed_ticket))
    app.router.add_get("/desk/{hall}", page(desk_page))
    app.router.add_get("/m/{hall}/t/{ticket}", page(status_page))
    app.router.add_get("/m/{hall}/t/{ticket}/live", page(status_live))
    app.router.add_post("/m/{hall}/t/{ticket}/{action:cancel|rejoin}", page(citizen_form))
    app.router.add_static("/static/pages/", HERE / "static")


async def _feeds(app: web.Application) -> AsyncIterator[None]:
    for hall_id, hall in app[HALLS].items():
        app[FEEDS][hall_id] = HallFeed(hall)
    yield
    for feed in app[FEEDS].values():
        await feed.stop()


async def _close_feeds(app: web.Application) -> None:
    for feed in app[FEEDS].values():
        feed.close()


def page(handler: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Hall lookup, language, rate limit; refusals and outages as a page in that language."""

    async def handle(request: web.Request) -> web.StreamResponse:
        lang = i18n.pick(request.query.get("lang"), request.app[LANG])
        ctx = context(request, lang)
        hall = request.app[HALLS].get(request.match_info["hall"])
        if hall is None:
            return render(request, "error.html", ctx, message=ctx["t"]["not_found"], status=404)
        ctx["hall_name"] = hall.config.hall.name.get(lang)
        try:
            check_public(request, hall.id)
            return await handler(request, hall, ctx)
        except Refused as exc:
            msg = i18n.error_text(ctx["t"], exc.code)
            return render(request, "error.html", ctx, message=msg, status=exc.status)
        except (RedisError, OSError) as exc:
            log.warning("%s %s: %s", request.method, request.path, exc)
            msg = ctx["t"]["err_other"]
            return render(request, "error.html", ctx, message=msg, status=503)

    return handle


def context(request: web.Request, lang: str) -> dict[str, Any]:
    other = "en" if lang == "zh" else "zh"
    return {
        "lang": lang,
        "t": i18n.TEXTS[lang],
        "switch_url": str(request.rel_url.update_query(lang=other)),
    }


def render(
    request: web.Request, name: str, ctx: dict[str, Any], status: int = 200, **more: Any
) -> web.Response:
    html = request.app[JINJA].get_template(name).render(**ctx, **more)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


# -- what pages show ----------------------------------------------------------------------


def minutes(t: dict[str, str], eta: int | None) -> str:
    return t["no_window"] if eta is None else t["minutes"].format(n=eta)


def ticket_fields(v: TicketView, cfg: HallConfig, lang: str) -> dict[str, Any]:
    """A ticket as the pages (and the live feed) show it, in `lang`."""
    t = i18n.TEXTS[lang]
    service = cfg.service(v.service)
    window = cfg.window(v.window) if v.window else None
    queued = v.state in QUEUED
    return {
        "number": v.number,
        "service": service.name.get(lang) if service else v.service,
        "state": v.state,
        "state_text": t.get(f"state_{v.state}", v.state),
        "ahead": v.ahead,
        "ahead_text": t["people"].format(n=v.ahead) if queued and v.ahead is not None else "",
        "eta_text": minutes(t, v.eta_minutes) if queued else "",
        "called_text": t["called_to"].format(w=window.name.get(lang))
        if window and v.state in ("called", "serving")
        else "",
        "taken_at": datetime.fromtimestamp(v.issued_at, cfg.tz).strftime("%Y-%m-%d %H:%M"),
        "step_text": step_text(v, cfg, lang),
    }


def step_text(v: TicketView, cfg: HallConfig, lang: str) -> str:
    """一票到底: "第2步 / 共2步（缴费）" for a ticket of several steps, "" otherwise."""
    if len(v.steps) < 2 or not 0 < v.step <= len(v.steps):
        return ""
    service = cfg.service(v.steps[v.step - 1])
    name = service.name.get(lang) if service else v.steps[v.step - 1]
    return i18n.TEXTS[lang]["step"].format(n=v.step, m=len(v.steps), s=name)


def public_base(request: web.Request, cfg: HallConfig) -> str:
    """Where citizens' phones reach this server (QR codes, links to carry away): the hall
    file's `public_url`; else, from a trusted proxy, its X-Forwarded-Proto/-Host; else the
    address the request came to."""
    if cfg.hall.public_url:
        return cfg.hall.public_url.rstrip("/")
    origin = request.url.origin()
    peer = request.remote or ""
    proxies = request.app[LIMITS].trusted_proxies
    if proxies and proxies_trust(peer, proxies):
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
        host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
        if proto in ("http", "https"):
            origin = origin.with_scheme(proto)
        if host and _HOST.match(host):
            return f"{origin.scheme}://{host}"
    return str(origin)


def guide_url(hall: str, service: str, lang: str) -> str:
    """A service's guide page (办事指南, pages/guides.py)."""
    return str(URL.build(path=f"/hall/{hall}/guide/{service}", query={"lang": lang}))


def status_url(hall: str, ticket: str, secret: str, lang: str) -> str:
    return str(URL.build(path=f"/m/{hall}/t/{ticket}", query={"secret": secret, "lang": lang}))


async def services_of(hall: Hall, lang: str) -> tuple[list[dict[str, Any]], HallView]:
    info = await hall.info()
    t = i18n.TEXTS[lang]
    cfg = hall.config
    names = {s.id: s.name.get(lang) for s in cfg.services}
    guides = {s.id: guide_url(hall.id, s.id, lang) for s in cfg.services if s.guide}
    return [
        {
            "id": s.id,
            "name": names[s.id],
            "guide": guides.get(s.id, ""),
            "waiting": s.waiting,
            "wait": minutes(t, s.eta_minutes),
            "open": s.eta_minutes is not None,
            "remaining": "—" if s.remaining is None else str(s.remaining),
            "full": s.full,
            "full_text": full_text(t, s.next_open, hall.clock.now(), hall.config) if s.full else "",
        }
        for s in info.services
    ], info


def full_text(t: dict[str, str], reopens: datetime | None, now: float, cfg: HallConfig) -> str:
    """ "今日号源已满" (or, for an hourly quota, "号源已满"), and when tickets come again."""
    today = datetime.fromtimestamp(now, cfg.tz).date()
    if reopens is None:
        return t["full_today"]
    local = reopens.astimezone(cfg.tz)
    later_day = local.date() > today
    when = local.strftime("%m-%d %H:%M" if later_day else "%H:%M")
    return (t["full_today"] if later_day else t["full_now"]) + " " + t["reopens"].format(t=when)


# -- pages --------------------------------------------------------------------------------


async def hall_page(request: web.Request, hall: Hall, ctx: dict[str, Any]) -> web.Response:
    lang, cfg = ctx["lang"], hall.config
    services, info = await services_of(hall, lang)
    t = ctx["t"]
    names = t["days"].split(",")
    hours = [
        (t["weekday"].format(d=names[i]), ", ".join(getattr(cfg.hours, d)) or t["closed"])
        for i, d in enumerate(DAYS)
    ]
    paused = {w.id: w.paused for w in info.windows}
    shut = {w.id for w in info.windows if not w.open_now}
    windows = [
        {
            "name": w.name.get(lang),
            "services": ", ".join(s.name.get(lang) for s in cfg.services if s.id in w.services),
            "paused": paused.get(w.id, False),
            "closed": w.id in shut,
            "hours": _week(t, w.hours) if w.hours else "",
        }
        for w in cfg.windows
    ]
    return render(
        request,
        "hall.html",
        ctx,
        hall=hall.id,
        services=services,
        windows=windows,
        hours=hours,
        closed_dates=[d.isoformat() for d in cfg.hours.closed_dates],
        makeup_dates=[
            f"{d.isoformat()} ({t['weekday'].format(d=names[DAYS.index(w)])})"
            for d, w in cfg.hours.makeup_dates.items()
        ],
        open_now=info.open_now,
        address=cfg.hall.address.get(lang),
        booking=cfg.hall.booking.get(lang),
        book_url=f"/m/{hall.id}/book?lang={lang}" if cfg.appointments else "",  # 预约
        notices=[n.get(lang) for n in cfg.hall.notices],
    )


def _week(t: dict[str, str], week: WindowHours) -> str:
    """A window's own hours in one line: "星期一 08:30-12:00; 星期六 09:00-12:00"."""
    names = t["days"].split(",")
    days = [(names[i], getattr(week, d)) for i, d in enumerate(DAYS)]
    return "; ".join(f"{t['weekday'].format(d=n)} {', '.join(s)}" for n, s in days if s)


async def kiosk_page(request: web.Request, hall: Hall, ctx: dict[str, Any]) -> web.Response:
    services, _ = await services_of(hall, ctx["lang"])
    return render(
        request,
        "kiosk.html",
        ctx,
        hall=hall.id,
        services=services,
        errors_json=_errors_json(ctx),
        green_age=hall.config.ids.green_age,
        booking_open=hall.config.appointments is not None,  # 预约签到
    )


def _errors_json(ctx: dict[str, Any]) -> str:
    errors = {k[4:]: v for k, v in ctx["t"].items() if k.startswith("err_")}
    return json.dumps(errors, ensure_ascii=False)


async def desk_page(request: web.Request, hall: Hall, ctx: dict[str, Any]) -> web.Response:
    """The guide desk (导办台): any class, with or without a phone or ID number. Like the
    kiosk's, the page holds no token: the desk's browser keeps it (desk.js)."""
    lang = ctx["lang"]
    services, _ = await services_of(hall, lang)
    classes = [{"id": c.id, "name": c.name.get(lang)} for c in hall.config.classes]
    return render(
        request,
        "desk.html",
        ctx,
        hall=hall.id,
        services=services,
        classes=classes,
        class_names_json=json.dumps({c["id"]: c["name"] for c in classes}, ensure_ascii=False),
        errors_json=_errors_json(ctx),
        green_age=hall.config.ids.green_age,
    )


async def printed_ticket(request: web.Request, hall: Hall, ctx: dict[str, Any]) -> web.Response:
    """The ticket as the kiosk prints it from the browser, on 58 or 80 mm paper."""
    tid, secret, lang = request.match_info["ticket"], request.query.get("secret", ""), ctx["lang"]
    view = await hall.status(tid, secret)
    link = status_url(hall.id, tid, secret, lang)
    absolute = public_base(request, hall.config) + link
    paper = "58" if request.query.get("paper") == "58" else "80"
    return render(
        request,
        "ticket.html",
        ctx,
        hall=hall.id,
        ticket=ticket_fields(view, hall.config, lang),
        qr=qr.svg(absolute, scale=2 if paper == "58" else 3),
        link=link,
        paper=paper,
        address=hall.config.hall.address.get(lang),
        note=ctx["t"].get(f"note_{request.query.get('note', '')}", ""),  # an appointment's
        printed=request.query.get("printed") == "1",  # by the server, on ESC/POS: not again
    )


async def status_page(request: web.Request, hall: Hall, ctx: dict[str, Any]) -> web.Response:
    tid, secret, lang = request.match_info["ticket"], request.query.get("secret", ""), ctx["lang"]
    view = await hall.status(tid, secret)
    done = request.query.get("done", "")
    error = request.query.get("error", "")
    return render(
        request,
        "status.html",
        ctx,
        hall=hall.id,
        ticket_id=tid,
        secret=secret,
        ticket=ticket_fields(view, hall.config, lang),
        live_url=str(
            URL.build(path=request.path + "/live", query={"secret": secret, "lang": lang})
        ),
        done=ctx["t"].get(f"{done}_ok", "") if done in ("cancelled", "rejoined", "rated") else "",
        error=i18n.error_text(ctx["t"], error) if error.isidentifier() else "",
        can_cancel=view.state in QUEUED,
        can_rejoin=view.state == "missed",
        can_rate=view.state == "done" and not view.rated,
        guide=guide_url(hall.id, view.service, lang) if _has_guide(hall, view.service) else "",
        rating=rating_form(hall, lang),
        over=view.state in OVER,
    )


def _has_guide(hall: Hall, service: str) -> bool:
    found = hall.config.service(service)
    return bool(found and found.guide)


def rating_form(hall: Hall, lang: str) -> dict[str, Any]:
    """What the status page's rating form (好差评) shows, in `lang`."""
    cfg = hall.config.rating
    return {
        "levels": [(n, words.get(lang) or words["zh"]) for n, words in rating.LEVELS.items()],
        "reasons": list(cfg.reasons),
        "points": [(p, words.get(lang) or words["zh"]) for p, words in rating.POINTS.items()]
        if cfg.points
        else [],
        "bad_at_most": rating.BAD_AT_MOST,
    }


async def status_live(request: web.Request, hall: Hall, ctx: dict[str, Any]) -> web.StreamResponse:
    """Server-sent events: the ticket's fields each time they change, until it is over."""
    tid, lang = request.match_info["ticket"], ctx["lang"]
    view = await hall.status(tid, request.query.get("secret", ""))  # checks the secret
    feed = request.app[FEEDS][hall.id]
    async with sse_response(request, ping_interval=PING_SECONDS) as sse:
        # the ping task ends when a write fails: the page has gone, stop watching for it
        gone = asyncio.ensure_future(sse.wait())
        try:
            async with feed.watch(tid, view) as watcher:
                gone.add_done_callback(lambda _: watcher.close())
                shown: tuple[TicketView, dict[str, Any]] | None = None
                while (current := await watcher.next()) is not None:
                    shown = current, live_fields(shown, current, hall.config, lang)
                    await sse.send(json.dumps(shown[1], ensure_ascii=False), event="ticket")
                    if current.state in OVER:
                        break
        finally:
            gone.cancel()
    return sse


def live_fields(
    shown: tuple[TicketView, dict[str, Any]] | None, v: TicketView, cfg: HallConfig, lang: str
) -> dict[str, Any]:
    """A page's next fields: while its ticket only moves up its queue, just the place and the
    wait change (a call reaches every open page at once: this is per page and per call)."""
    if shown is None or _kind(shown[0]) != _kind(v):
        return ticket_fields(v, cfg, lang)
    t = i18n.TEXTS[lang]
    queued = v.state in QUEUED
    return shown[1] | {
        "ahead": v.ahead,
        "ahead_text": t["people"].format(n=v.ahead) if queued and v.ahead is not None else "",
        "eta_text": minutes(t, v.eta_minutes) if queued else "",
    }


def _kind(v: TicketView) -> tuple[str, str, str | None]:
    return v.state, v.service, v.window


async def citizen_form(request: web.Request, hall: Hall, ctx: dict[str, Any]) -> web.Response:
    """Cancel or rejoin from the status page's plain form; then back to it."""
    form = await request.post()
    tid, action = request.match_info["ticket"], request.match_info["action"]
    secret = str(form.get("secret", ""))
    await hall.citizen(tid, secret, action)
    done = "cancelled" if action == "cancel" else "rejoined"
    target = URL(status_url(hall.id, tid, secret, ctx["lang"])).update_query(done=done)
    raise web.HTTPSeeOther(location=str(target))
