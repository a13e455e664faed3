"""The manager's anti-touting routes (防黄牛): ID blacklist, registered agents, and today's
list of IDs and phones that took several tickets. Thin: each calls one use case."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from aiohttp import web
from pydantic import BaseModel

from queue_server import identity
from queue_server.api import ident_models as im
from queue_server.api.routes import HALLS, PRINCIPAL, Route
from queue_server.store.id_store import Kind

if TYPE_CHECKING:
    from queue_server.hall import Hall

H = "/api/v1/halls/{hall}"


def _hall(request: web.Request) -> Hall:
    return request.app[HALLS][request.match_info["hall"]]


def _at(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


def entry(v: identity.ListEntryView) -> im.IdEntry:
    return im.IdEntry(
        key=v.key,
        masked=v.masked,
        note=v.note,
        until=_at(v.until),
        at=datetime.fromtimestamp(v.at, UTC),
        by=v.by,
        max_per_day=v.max_per_day,
    )


def _add(kind: Kind) -> Callable[[web.Request, BaseModel | None], Awaitable[im.IdEntry]]:
    async def handler(request: web.Request, body: BaseModel | None) -> im.IdEntry:
        req = cast(im.BlacklistRequest | im.AgentRequest, body)
        note = req.reason if isinstance(req, im.BlacklistRequest) else req.label
        cap = req.max_per_day if isinstance(req, im.AgentRequest) else None
        view = await identity.add(
            _hall(request),
            kind,
            req.id_number,
            req.key,
            note,
            req.until,
            request[PRINCIPAL].label,
            max_per_day=cap,
        )
        return entry(view)

    return handler


def _list(kind: Kind) -> Callable[[web.Request, BaseModel | None], Awaitable[im.IdEntries]]:
    async def handler(request: web.Request, _: BaseModel | None) -> im.IdEntries:
        return im.IdEntries(
            entries=[entry(v) for v in await identity.entries(_hall(request), kind)]
        )

    return handler


def _remove(kind: Kind) -> Callable[[web.Request, BaseModel | None], Awaitable[im.IdEntry]]:
    async def handler(request: web.Request, _: BaseModel | None) -> im.IdEntry:
        return entry(await identity.remove(_hall(request), kind, request.match_info["key"]))

    return handler


async def several(request: web.Request, _: BaseModel | None) -> im.TicketsReport:
    r = await identity.report(_hall(request))

    def rows(counts: list[identity.CountView]) -> list[im.TicketCount]:
        return [
            im.TicketCount(who=c.who, count=c.count, numbers=c.numbers, agent=c.agent)
            for c in counts
        ]

    return im.TicketsReport(day=r.day, min=r.min, ids=rows(r.ids), phones=rows(r.phones))


def _routes(kind: Kind, body: type[BaseModel], what: str) -> list[Route]:
    return [
        Route(
            "GET",
            f"{H}/{kind}",
            _list(kind),
            f"{what}: the live entries",
            "manager",
            response=im.IdEntries,
        ),
        Route(
            "POST",
            f"{H}/{kind}",
            _add(kind),
            f"{what}: add an ID by number or digest (replaces its entry)",
            "manager",
            body=body,
            response=im.IdEntry,
            status=201,
        ),
        Route(
            "DELETE",
            f"{H}/{kind}/{{key}}",
            _remove(kind),
            f"{what}: remove an ID by digest",
            "manager",
            response=im.IdEntry,
        ),
    ]


ID_ROUTES: list[Route] = [
    *_routes("blacklist", im.BlacklistRequest, "ID blacklist (a blacklisted ID gets no ticket)"),
    *_routes("agents", im.AgentRequest, "registered agents (代办): a higher daily cap"),
    Route(
        "GET",
        f"{H}/several-tickets",
        several,
        "today's IDs (digests) and phones (masked) that took several tickets, most first",
        "manager",
        response=im.TicketsReport,
    ),
]
