"""The aiohttp application: halls, their stores and publishers, routes and ops endpoints."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from queue_server import appt_task, pages
from queue_server.announcer import Announcer
from queue_server.api import models as m
from queue_server.api import openapi
from queue_server.api.guard import GUARDS, LIMITS, HallGuard
from queue_server.api.handlers import ROUTES
from queue_server.api.routes import (
    DEMO_WARNED,
    HALLS,
    MAX_BODY,
    OUTAGE,
    SECRET,
    TOKENS,
    Principal,
    error_response,
    wrap,
)
from queue_server.clock import Clock
from queue_server.config import HallConfig
from queue_server.domain.idnumber import id_key
from queue_server.domain.phones import phone_key
from queue_server.hall import Hall
from queue_server.limits import ServerLimits
from queue_server.link import MqttTarget
from queue_server.live import LiveCache
from queue_server.metrics import REGISTRY
from queue_server.outage import Outage
from queue_server.pages import booking as booking_pages
from queue_server.publisher import HallPublisher
from queue_server.relay import Relay
from queue_server.store.connect import connect
from queue_server.store.hall_store import HallStore
from queue_server.store.scripts import register

log = logging.getLogger(__name__)
VERSION = "0.1.0"

REDIS: web.AppKey[Any] = web.AppKey("redis")  # Redis or RedisCluster
PUBLISHERS: web.AppKey[dict[str, HallPublisher]] = web.AppKey("publishers")


class StartupError(RuntimeError):
    """The server cannot start; the message is one line."""


@dataclass(frozen=True)
class Options:
    redis_url: str
    mqtt: MqttTarget
    secret: bytes  # HALLCALL_SECRET: keys the per-phone digests
    lang: str = "zh"
    instance: str = "server"
    snapshot_interval: float = 0.05
    replay_calls_age: float = 60.0  # after an outage, older calls are history (the board)
    limits: ServerLimits = field(default_factory=ServerLimits)


def tokens_of(hall: HallConfig) -> dict[str, Principal]:
    found = {w.token_sha256: Principal("window", w.id) for w in hall.windows}
    found.update({t: Principal("manager") for t in hall.managers.token_sha256})
    found.update({t: Principal("sms") for t in hall.sms.token_sha256})
    found.update({k.token_sha256: Principal("kiosk", k.id) for k in hall.kiosks})
    found.update({d.token_sha256: Principal("desk", d.id) for d in hall.desks})
    found.update(
        {w.pad_token_sha256: Principal("pad", w.id) for w in hall.windows if w.pad_token_sha256}
    )
    return found


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status, "http_error"
        )
        return error_response(code, exc.reason, exc.status)


GC_THRESHOLD = (5_000, 10, 10)


def tune_gc() -> None:
    """For the server process, once its app is built: what was loaded at startup (modules,
    compiled models, hall files) is left out of every later collection (`gc.freeze`), and
    the youngest generation is collected every 5,000 new objects rather than 700. Collections
    took ~7% of the server's CPU while issuing, each full one ~40 ms (bench/issue.py); now
    about 1%. A flood's cycles are still freed: the connection guard collects after it."""
    gc.set_threshold(*GC_THRESHOLD)
    gc.freeze()


def create_app(halls: dict[str, HallConfig], options: Options, clock: Clock) -> web.Application:
    app = web.Application(
        client_max_size=MAX_BODY,
        middlewares=[json_errors],
        # aiohttp closes a connection that has not sent a whole request head within its
        # keep-alive timeout (since connecting or its last response): the header timeout.
        # A body cut short is not waited for after the answer (lingering).
        handler_args={"keepalive_timeout": options.limits.header_timeout, "lingering_time": 0},
    )
    app[LIMITS] = options.limits
    app[GUARDS] = {h.id: HallGuard.of(h.limits) for h in halls.values()}
    app[OUTAGE] = Outage("Redis", logging.getLogger("queue_server.store"))
    app[TOKENS] = {h.id: tokens_of(h) for h in halls.values()}
    app[SECRET] = options.secret
    app[DEMO_WARNED] = set()
    app[HALLS] = {}
    app[PUBLISHERS] = {}

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        redis = connect(options.redis_url)
        try:
            await redis.ping()
        except (RedisError, OSError) as exc:
            await redis.aclose()
            raise StartupError(f"cannot reach Redis at {options.redis_url}: {exc}") from None
        app[REDIS] = redis
        scripts = register(redis)
        for script in scripts.values():
            await script.load()
        tasks: list[asyncio.Task[None]] = []
        for cfg in halls.values():
            store = HallStore(redis, scripts, cfg, clock)
            if await store.seed():
                log.info("hall %s: rules loaded from its config file", cfg.id)
            if cfg.uses_demo_tokens():
                log.warning(
                    "hall %s uses the public demo tokens: anyone can act as its staff", cfg.id
                )
            live = LiveCache(cfg, clock)
            announcer = Announcer(cfg, live, options.lang)
            relay = Relay(
                redis,
                scripts,
                cfg.id,
                options.instance,
                announcer.render,
                clock,
                replay_calls_age=options.replay_calls_age,
            )
            store.outbox = relay.current_id
            await relay.register()
            pub = HallPublisher(
                cfg.id,
                options.mqtt,
                relay,
                instance=options.instance,
                min_interval=options.snapshot_interval,
                outage=app[OUTAGE],
            )
            hall = Hall(
                cfg,
                store,
                live,
                announcer,
                pub,
                clock,
                options.lang,
                phone_key=functools.partial(phone_key, options.secret, cfg.id),
                id_key=functools.partial(id_key, options.secret, cfg.id),
            )
            pub.bind(hall.snapshot_messages, store.seq)
            app[HALLS][cfg.id] = hall
            app[PUBLISHERS][cfg.id] = pub
            tasks.append(asyncio.create_task(pub.run(), name=f"mqtt-{cfg.id}"))
        yield
        for pub in app[PUBLISHERS].values():
            pub.stop()
        _, late = await asyncio.wait(tasks, timeout=4)  # last acks, then "offline"
        for t in late:
            t.cancel()
        if late:
            await asyncio.wait(late, timeout=2)
        await redis.aclose()

    app.cleanup_ctx.append(lifecycle)
    pages.setup(app, options.lang)  # after lifecycle: the pages' feeds tee the halls' outlets
    appt_task.setup(app, options.instance)  # appointments: after lifecycle too
    booking_pages.setup(app)  # 预约: /m/{hall}/book
    for route in ROUTES:
        app.router.add_route(route.method, route.path, wrap(route))
    spec = openapi.build(ROUTES, VERSION)

    async def openapi_json(_: web.Request) -> web.Response:
        return web.json_response(spec)

    async def healthz(request: web.Request) -> web.Response:
        redis_ok = True
        try:
            await request.app[REDIS].ping()
        except (RedisError, OSError):
            redis_ok = False
        mqtt = {h: p.connected for h, p in request.app[PUBLISHERS].items()}
        status: Literal["ok", "degraded", "down"] = (
            "down" if not redis_ok else "ok" if all(mqtt.values()) else "degraded"
        )
        body = m.Health(redis=redis_ok, mqtt=mqtt, status=status)
        return web.json_response(body.model_dump(), status=503 if not redis_ok else 200)

    async def metrics_endpoint(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app.router.add_get("/api/v1/openapi.json", openapi_json)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_endpoint)
    return app
