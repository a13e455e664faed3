"""Helpers for the window client's tests: a headless panel on the `api` fixture's server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pygame
from redis.asyncio import Redis

from queue_server.link import parse_mqtt_url
from queue_server.store import keys as store_keys
from tests.conftest import Api
from tests.services import Broker
from window_client import draw, keys
from window_client.api import ServerApi
from window_client.pad import PadApp
from window_client.panel import PanelApp
from window_client.screen import ScreenApp

# Seconds per HTTP try of a test's panel or pad: generous, as the `api` server answers on the
# test's own event loop, which a loaded machine slows (a refused connection still fails at once).
TRY = 10.0


def server_url(api: Api) -> str:
    return str(api.client.make_url("")).rstrip("/")


def key(code: int, text: str = "") -> None:
    """A key press as the keyboard or a USB keypad sends it."""
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=code, unicode=text, mod=0))


def type_text(text: str) -> None:
    for ch in text:
        key(ord(ch.lower()) if ch.isascii() else 0, ch)
    key(pygame.K_RETURN, "\r")


def click(app: ScreenApp[Any], action: str, arg: str = "") -> None:
    """A mouse click on the button of `action` (and `arg`) as the panel drew it last."""
    button = next(b for b in app.buttons if b.action == action and (not arg or b.arg == arg))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=button.rect.center, button=1))


@contextlib.asynccontextmanager
async def running_panel(
    api: Api,
    broker: Broker | None,
    window: str = "3",
    token: str | None = None,
    server: str | None = None,
    synced: bool = True,
    **options: Any,
) -> AsyncIterator[PanelApp]:
    """A headless panel; `synced`: wait for the server's retained snapshots too."""
    draw.init_video(headless=True)
    pygame.event.clear()
    app = PanelApp(
        ServerApi(server or server_url(api), api.hall, token or f"demo-window-{window}", TRY),
        window,
        parse_mqtt_url(broker.url("hallcall-window")) if broker else None,
        keys.load(None),
        **options,
    )
    task = asyncio.create_task(app.run())
    try:
        if broker is not None:
            await app.until(
                lambda s: s.online and (not synced or (s.seq > 0 and bool(s.service_names)))
            )
        yield app
    finally:
        app.stop()
        await task


@contextlib.asynccontextmanager
async def running_pad(
    api: Api, broker: Broker, window: str = "3", timeout: float | None = None, lang: str = "zh"
) -> AsyncIterator[PadApp]:
    draw.init_video(headless=True)
    pygame.event.clear()
    app = PadApp(
        ServerApi(server_url(api), api.hall, f"demo-pad-{window}", TRY),
        window,
        parse_mqtt_url(broker.url("hallcall-window")),
        lang=lang,
        timeout=timeout,
    )
    task = asyncio.create_task(app.run())
    try:
        await app.until(lambda s: s.online and bool(s.reason_choices))
        yield app
    finally:
        app.stop()
        await task


async def hall_events(redis: Redis, hall: str) -> list[dict[str, str]]:
    """The hall's event stream, oldest first."""
    raw: Any = await redis.xrange(store_keys.events(hall))
    return [dict(fields) for _, fields in raw]
