"""好差评 ratings: who may rate (the pad of the window that finished the ticket, or the holder of
its secret), the hall's rules (reasons, points), then one atomic change that stores the rating
and appends a `rated` event. The rater stays anonymous."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import TYPE_CHECKING

from queue_server.domain import rating
from queue_server.errors import Refused
from queue_server.views import RatedView

if TYPE_CHECKING:
    from queue_server.hall import Hall

KEEP_SECONDS = 35 * 86_400  # a month of reports, and the provincial upload, read them


async def rate(
    hall: Hall,
    tid: str,
    level: int,
    reasons: Sequence[str],
    scores: dict[str, int],
    comment: str,
    pad_window: str = "",
    secret: str | None = None,
) -> RatedView:
    """`pad_window`: the rating pad's window; else `secret` must be the ticket's."""
    cfg = hall.config.rating
    try:
        r = rating.check(level, reasons, scores, comment, cfg.reasons, cfg.points)
    except rating.RatingRefused as exc:
        raise Refused(exc.code, exc.message) from None
    found = await hall.do(hall.store.status(tid))
    if found is None:
        raise Refused("unknown_ticket", f"no ticket {tid} in hall {hall.id}")
    record = found[0]
    if secret is not None:
        given = secret.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(str(record.get("secret", "")).encode(), given):
            raise Refused("bad_secret", "the ticket secret does not match")
    window = str(record.get("window") or "")
    if not window or record.get("state") != "done":
        raise Refused("not_finished", "only a finished service can be rated")
    body = {
        "level": r.level,
        "reasons": list(r.reasons),
        "scores": r.scores,
        "comment": r.comment,
        "version": rating.WORDING_VERSION,
    }
    _, at_ms, entries = await hall.do(
        hall.store.rate(tid, window, pad_window, round(cfg.minutes * 60_000), KEEP_SECONDS, body)
    )
    hall.after(entries, {window})
    return RatedView(
        tid,
        str(record["number"]),
        r.level,
        rating.LEVELS[r.level].get(hall.lang) or rating.LEVELS[r.level]["zh"],
        rating.WORDING_VERSION,
        at_ms / 1000,
    )
