"""Service guides (办事指南一单清, 一次性告知): one page per service with what to bring, the
steps, fees, time limit and the windows that serve it, printable (A4, or the kiosk's roll)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from queue_server.config import HallConfig, Text
from queue_server.errors import Refused
from queue_server.pages.site import page, render

if TYPE_CHECKING:
    from queue_server.hall import Hall


def setup(app: web.Application) -> None:
    app.router.add_get("/hall/{hall}/guide/{service}", page(guide_page))


def guide_fields(cfg: HallConfig, service: str, lang: str) -> dict[str, Any]:
    """A service's guide as the page shows it, in `lang` (its windows from the hall file)."""
    s = cfg.service(service)
    if s is None:
        raise Refused("unknown_service", f"hall {cfg.id} has no service {service}")

    def one(text: Text | None) -> str:
        return text.get(lang) if text else ""

    g = s.guide
    return {
        "id": s.id,
        "name": s.name.get(lang),
        "materials": [m.get(lang) for m in g.materials] if g else [],
        "steps": [x.get(lang) for x in g.steps] if g else [],
        "fees": one(g.fees) if g else "",
        "time_limit": one(g.time_limit) if g else "",
        "note": one(g.note) if g else "",
        "windows": [w.name.get(lang) for w in cfg.windows if s.id in w.services],
        "empty": g is None,
    }


async def guide_page(request: web.Request, hall: Hall, ctx: dict[str, Any]) -> web.Response:
    service = request.match_info["service"]
    if hall.config.service(service) is None:
        return render(request, "error.html", ctx, message=ctx["t"]["not_found"], status=404)
    paper = request.query.get("paper", "")
    return render(
        request,
        "guide.html",
        ctx,
        hall=hall.id,
        guide=guide_fields(hall.config, service, ctx["lang"]),
        paper="80" if paper == "80" else "58" if paper == "58" else "",
    )
