"""Print a ticket just issued at a kiosk with an ESC/POS printer, or void it: a number is
never held by nobody. With `on_fail = "reprint"` the job is sent again (a fresh connection)
up to `reprints` more times before the ticket is voided."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from queue_server import metrics
from queue_server.config import Kiosk, Printer
from queue_server.errors import Refused
from queue_server.printing.device import PrintError, send
from queue_server.printing.slip import Slip, job
from queue_server.views import IssuedView

if TYPE_CHECKING:
    from queue_server.hall import Hall

log = logging.getLogger(__name__)

# What a slip says, in the hall's language (the kiosk page's words for the browser print).
WORDS = {
    "zh": {"ahead": "前面还有 {n} 人", "wait": "预计等候 {n} 分钟", "scan": "扫码查看排队进度"},
    "en": {"ahead": "{n} ahead of you", "wait": "About {n} min", "scan": "Scan to follow"},
}


def slip_of(hall: Hall, issued: IssuedView, link: str) -> Slip:
    t, lang = issued.ticket, hall.lang if hall.lang in WORDS else "zh"
    words, cfg = WORDS[lang], hall.config
    service = cfg.service(t.service)
    return Slip(
        hall=cfg.hall.name.get(lang),
        number=t.number,
        service=service.name.get(lang) if service else t.service,
        ahead=words["ahead"].format(n=t.ahead) if t.ahead is not None else "",
        wait=words["wait"].format(n=t.eta_minutes) if t.eta_minutes is not None else "",
        taken_at=datetime.fromtimestamp(t.issued_at, cfg.tz).strftime("%Y-%m-%d %H:%M"),
        link=link,
        scan=words["scan"],
    )


async def print_or_void(hall: Hall, kiosk: Kiosk, issued: IssuedView, link: str) -> None:
    """Print the ticket on the kiosk's printer; if it cannot be printed, cancel it and raise
    Refused("print_failed")."""
    printer: Printer | None = kiosk.printer
    if printer is None:
        return
    data = job(slip_of(hall, issued, link), printer.paper)
    tries = 1 + (printer.reprints if printer.on_fail == "reprint" else 0)
    for attempt in range(1, tries + 1):
        try:
            await asyncio.to_thread(send, printer, data)
            metrics.PRINTS.labels(hall.id, "printed").inc()
            return
        except PrintError as exc:
            log.warning(
                "hall %s kiosk %s: ticket %s not printed (try %d of %d): %s",
                hall.id,
                kiosk.id,
                issued.ticket.number,
                attempt,
                tries,
                exc,
            )
    await hall.citizen(issued.ticket.id, issued.secret, "cancel")
    metrics.PRINTS.labels(hall.id, "voided").inc()
    log.warning("hall %s kiosk %s: ticket %s voided", hall.id, kiosk.id, issued.ticket.number)
    raise Refused("print_failed", "the ticket could not be printed and was voided")
