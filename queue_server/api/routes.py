"""The route table: each route names its body and response models and who may call it.

The wrapper parses and validates the body with the named model, checks the token, maps
errors to JSON ``{"error", "message"}``; the OpenAPI document is generated from this table.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError

from queue_server import metrics
from queue_server.api import idempotency
from queue_server.api import models as m
from queue_server.api.guard import LIMITS, check_failures, check_public, token_failed
from queue_server.api.idempotency import Answer
from queue_server.config import DEMO_TOKEN_HASHES, hash_token
from queue_server.errors import STATUS, Refused
from queue_server.outage import Outage
from queue_server.store.hall_store import Claim

if TYPE_CHECKING:
    from queue_server.hall import Hall

log = logging.getLogger(__name__)

# "pad": a window's rating pad token, or without a token the ticket's secret (ratings)
Auth = Literal["public", "ticket", "window", "manager", "pad"]
Handler = Callable[[web.Request, BaseModel | None], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    auth: Auth = "public"
    body: type[BaseModel] | None = None
    body_required: bool = True
    response: type[BaseModel] | None = None
    status: int = 200
    idempotent: bool = False  # honours an Idempotency-Key header (window actions, issuing)
    # the handler claims the key in its own atomic store change (request[CLAIM]; issuing)
    # instead of the generic idempotency.once, and sets request[REPLAYED] on a repeat
    claims: bool = False


@dataclass(frozen=True)
class Principal:
    role: Literal["window", "manager", "kiosk", "sms", "pad", "desk"]
    window: str = ""  # the window's id (its pad's too), or the kiosk's or guide desk's

    @property
    def label(self) -> str:
        if self.role == "pad":
            return f"rating pad {self.window}"
        return self.role if self.role in ("manager", "sms") else f"{self.role} {self.window}"


HALLS: web.AppKey[dict[str, Hall]] = web.AppKey("halls")
TOKENS: web.AppKey[dict[str, dict[str, Principal]]] = web.AppKey("tokens")  # hall -> sha256 ->
DEMO_WARNED: web.AppKey[set[str]] = web.AppKey("demo_warned")
PRINCIPAL = web.RequestKey("principal", Principal)
# the same or None (no token), always set by the wrapper: `caller` reads it without the
# KeyError that `request.get(PRINCIPAL)` raises and catches inside on every token-less request
CALLER: web.RequestKey[Principal | None] = web.RequestKey("caller")
SECRET = web.AppKey("secret", bytes)  # HALLCALL_SECRET: keys digests of request bodies
OUTAGE = web.AppKey("outage", Outage)  # Redis: logged when it starts and when it ends
# set by the wrapper for a route that `claims`: its Idempotency-Key (None: no key), and
# whether its handler answered a repeat
CLAIM: web.RequestKey[Claim | None] = web.RequestKey("claim")
REPLAYED = web.RequestKey("replayed", bool)


def error_response(
    code: str,
    message: str,
    status: int,
    retry_after: int | None = None,
    next_open: datetime | None = None,
) -> web.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    body = m.Error(error=code, message=message, next_open=next_open)
    return web.json_response(
        body.model_dump(mode="json", exclude_none=True), status=status, headers=headers
    )


_DIGESTS: dict[str, str] = {}  # valid tokens -> their SHA-256 (kiosks, windows: every request)


def principal(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused(
            "unauthorized",
            "send the window's or manager's token as 'Authorization: Bearer <token>'",
        )
    hall = request.match_info["hall"]
    check_failures(request, hall)  # an address guessing tokens waits out the minute
    token = token.strip()
    digest = _DIGESTS.get(token) or hash_token(token)
    found = request.app[TOKENS].get(hall, {}).get(digest)
    if found is None:
        token_failed(request, hall)
        raise Refused("unauthorized", f"the token is not valid for hall {hall}")
    if len(_DIGESTS) < 4096:  # only valid ones are kept: a flood of wrong ones adds nothing
        _DIGESTS[token] = digest
    warned = request.app[DEMO_WARNED]
    if digest in DEMO_TOKEN_HASHES and digest not in warned:
        warned.add(digest)
        log.warning(
            "hall %s: the public demo token of %s is in use; replace it before going live",
            hall,
            found.label,
        )
    return found


def authorize(request: web.Request, auth: Auth) -> Principal | None:
    if auth in ("public", "ticket"):
        # Token-less requests spend their address's allowance; a token (a kiosk's, staff's)
        # exempts them, so it must be a valid one.
        if "hall" not in request.match_info:
            return None
        if "Authorization" not in request.headers:
            check_public(request, request.match_info["hall"])
            return None
        return principal(request)
    if auth == "pad" and "Authorization" not in request.headers:
        check_public(request, request.match_info["hall"])
        return None  # the holder with the ticket's secret
    p = principal(request)
    if p.role == "sms":
        raise Refused("forbidden", "the SMS gateway's token only reads ticket states")
    if (p.role == "pad") != (auth == "pad"):  # a pad's token rates and does nothing else
        raise Refused(
            "forbidden",
            "a rating pad's token only rates" if p.role == "pad" else "only a rating pad rates",
        )
    if auth == "manager" and p.role != "manager":
        raise Refused("forbidden", "this needs a manager's token")
    if auth == "window" and p.role in ("kiosk", "desk"):
        raise Refused("forbidden", f"a {p.role}'s token only issues tickets")
    if auth == "window" and p.role == "window" and p.window != request.match_info["window"]:
        raise Refused(
            "forbidden",
            f"this token belongs to window {p.window}, not window {request.match_info['window']}",
        )
    return p


MAX_BODY = 64 * 1024  # bytes; every request body here is a small JSON object


async def read_body(request: web.Request) -> bytes:
    """The body, within the body timeout; a client that stops sending or goes away is a
    client error (never a store outage). The handler wakes once, when the whole body is in,
    not once per chunk: a slow upload that trickles a byte a second costs nearly nothing
    (aiohttp stops reading a socket whose unread data passes its buffer's high-water mark)."""
    if (request.content_length or 0) > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(MAX_BODY, request.content_length or 0)
    try:
        if request.content.is_eof():  # the usual small body came with the head: no timer
            return await request.read()
        async with asyncio.timeout(request.app[LIMITS].body_timeout):
            await request.content.wait_eof()
            return await request.read()
    except TimeoutError:
        raise Refused("body_timeout", "the request body did not arrive in time") from None
    except (ConnectionError, RequestPayloadError) as exc:
        raise Refused("client_gone", f"the client stopped sending: {exc}") from None


async def parse_body(request: web.Request, route: Route) -> BaseModel | None:
    if route.body is None:
        return None
    raw = await read_body(request)
    if not raw.strip():
        if route.body_required:
            raise Refused("bad_json", "the request needs a JSON body")
        return route.body()
    try:  # the usual valid body: parsed and checked in one pass over the bytes
        return route.body.model_validate_json(raw)
    except ValidationError:
        pass  # anything wrong is named as before, by the two steps below
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise Refused("bad_json", f"the body is not valid JSON: {reason}") from None
    try:
        return route.body.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "body"
        code = err["type"] if err["type"] in STATUS else "invalid_request"  # e.g. invalid_phone
        raise Refused(code, f"{where}: {err['msg']}") from None


def caller(request: web.Request) -> Principal | None:
    """Whose token the wrapper checked, or None when none was sent."""
    return request.get(CALLER)


def sms_reader(request: web.Request) -> bool:
    """True when the request carries the hall's SMS gateway token (it reads any ticket)."""
    return "Authorization" in request.headers and principal(request).role == "sms"


def check_path(request: web.Request) -> None:
    """Unknown halls and windows are named before any token is looked at."""
    hall_id = request.match_info.get("hall")
    if hall_id is None:
        return
    hall = request.app[HALLS].get(hall_id)
    if hall is None:
        raise Refused("unknown_hall", f"no hall {hall_id!r} on this server")
    window = request.match_info.get("window")
    if window is not None and hall.config.window(window) is None:
        raise Refused("unknown_window", f"hall {hall_id} has no window {window!r}")


async def _answer(route: Route, request: web.Request, body: BaseModel | None) -> Answer:
    """The handler's answer or refusal as it will be stored for an Idempotency-Key."""
    try:
        result = await route.handler(request, body)
    except Refused as exc:
        error = m.Error(error=exc.code, message=exc.message, next_open=exc.next_open)
        return Answer(exc.status, error.model_dump_json(exclude_none=True))
    return Answer(route.status, result.model_dump_json(by_alias=True))


def idempotency_scope(request: web.Request, who: Principal | None) -> str:
    """Whose keys these are: a window's, or for issuing the kiosk's or staff's (so one
    device's keys never meet another's); callers without a token share one scope."""
    window = request.match_info.get("window")
    if window is not None:
        return window
    return "issue:" + (f"{who.role}:{who.window}" if who is not None else "-")


async def claim_of(request: web.Request, who: Principal | None, key: str) -> Claim:
    hall = request.match_info["hall"]
    print_ = idempotency.fingerprint(
        request.method, request.path, await request.read(), request.app[SECRET]
    )
    slot = idempotency.slot(hall, idempotency_scope(request, who), idempotency.check_key(key))
    return Claim(slot, print_, idempotency.TTL_SECONDS)


def secret_of(request: web.Request, holder: str) -> str:
    """The holder's secret (a ticket's, a booking's), from X-Ticket-Secret or ?secret=."""
    secret = request.headers.get("X-Ticket-Secret") or request.query.get("secret", "")
    if not secret:
        raise Refused("bad_secret", f"send the {holder}'s secret as X-Ticket-Secret or ?secret=")
    return secret


def store_answered(request: web.Request) -> None:
    """A hall's route succeeded, so Redis answers: ends a logged outage."""
    if "hall" in request.match_info:
        request.app[OUTAGE].ok()


JSON = "application/json"


def json_body(model: BaseModel) -> bytes:
    """A model's JSON as bytes, as `model_dump_json(by_alias=True)` writes it (bytes go to
    the socket as they are; a str would be wrapped and encoded again by aiohttp)."""
    return model.__pydantic_serializer__.to_json(model, by_alias=True)


def wrap(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            check_path(request)
            who = authorize(request, route.auth)
            request[CALLER] = who
            if who is not None:
                request[PRINCIPAL] = who
            body = await parse_body(request, route)
            key = request.headers.get(idempotency.HEADER) if route.idempotent else None
            if key is None or route.claims:
                if route.claims:
                    request[CLAIM] = None if key is None else await claim_of(request, who, key)
                    request[REPLAYED] = False
                result = await route.handler(request, body)
                status = route.status
                store_answered(request)
                resp = web.Response(body=json_body(result), status=status, content_type=JSON)
                if route.claims and request[REPLAYED]:
                    resp.headers["Idempotent-Replayed"] = "true"
                return resp
            answer = await idempotency.once(
                request.app[HALLS][request.match_info["hall"]].store.redis,
                request.match_info["hall"],
                idempotency_scope(request, who),
                idempotency.check_key(key),
                idempotency.fingerprint(
                    request.method, request.path, await request.read(), request.app[SECRET]
                ),
                lambda: _answer(route, request, body),
            )
            status = answer.status
            store_answered(request)
            resp = web.Response(body=answer.body, status=status, content_type=JSON)
            if answer.replayed:
                resp.headers["Idempotent-Replayed"] = "true"
            return resp
        except Refused as exc:
            status = exc.status
            if exc.code == "client_gone":  # nobody reads the answer; not the server's fault
                log.debug("%s %s: %s", request.method, request.path, exc.message)
            return error_response(exc.code, exc.message, status, exc.retry_after, exc.next_open)
        except (RedisError, OSError) as exc:
            status = 503
            request.app[OUTAGE].failed(exc, f"{request.method} {request.path}")
            return error_response("unavailable", "the queue store is unavailable; try again", 503)
        except asyncio.CancelledError:  # the client went away and aiohttp was told to cancel
            status = 400
            log.debug("%s %s: the client went away", request.method, request.path)
            raise
        except web.HTTPException as exc:  # aiohttp's own (body too large): JSON by middleware
            status = exc.status
            raise
        except Exception:  # a bug: say so in JSON, keep the details in the log
            status = 500
            log.exception("%s %s failed", request.method, request.path)
            return error_response("internal", "the server failed on this request", 500)
        finally:
            metrics.child(metrics.HTTP, route.path, str(status)).observe(
                time.perf_counter() - started
            )

    return handle
