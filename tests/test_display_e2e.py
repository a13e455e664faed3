"""End to end: the real queue server (in-process, real Redis and Mosquitto) and `display-client`
as its own headless process, read through its PNGs (tesseract) and its WAVs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pygame
import pytest

from display_client.voice.pack import Pack
from display_client.voice.tokens import Token
from tests.conftest import Api, subscribe
from tests.display_support import DisplayProcess, has_red_badge, shows_number
from tests.services import Broker

# Generous deadlines: a screen process starting (pygame, fonts, voice) and drawing on a
# loaded machine may take tens of seconds; a passing test waits only until its frame comes.
WAIT = 60.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """This module's own Mosquitto (the `api` server uses it too): a test here restarts it,
    which must not disturb other modules' clients of the session broker."""
    b = Broker(tmp_path_factory.mktemp("display-broker")).start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One clip pack for the module, so each screen process starts speaking at once."""
    folder = tmp_path_factory.mktemp("pack")
    names = [f"{n}号窗口" for n in range(1, 6)] + ["6号窗口（综合）"]
    Pack(folder).build([Token("zh", w, w) for w in ["请", "号", "到", "办理", *names]])
    return folder


@pytest.fixture
def screens() -> Iterator[list[DisplayProcess]]:
    started: list[DisplayProcess] = []
    yield started
    for p in started:
        p.stop()


def tv(
    screens: list[DisplayProcess], folder: Path, api: Api, broker: Broker, pack: Path
) -> DisplayProcess:
    p = DisplayProcess.start(
        folder, "tv", api.hall, broker.url("hallcall-display"),
        "--size", "1280x720", "--audio-dir", str(folder / "audio"), "--voice-pack", str(pack),
    )  # fmt: skip
    screens.append(p)
    return p


async def wait_number(p: DisplayProcess, number: str, timeout: float = WAIT) -> None:
    def shows(surface: pygame.Surface) -> bool:
        return shows_number(surface, number)

    shows.__name__ = f"shows_{number}"
    await asyncio.to_thread(p.wait_frame, shows, "tv", timeout)


async def call_next(api: Api, window: int = 3) -> str:
    await api.issue("B")
    body = await api.act(window, "next")
    return str(body["ticket"]["number"])


async def test_a_call_is_shown_and_spoken(
    api: Api, broker: Broker, pack: Path, tmp_path: Path, screens: list[DisplayProcess]
) -> None:
    p = tv(screens, tmp_path, api, broker, pack)
    led = DisplayProcess.start(
        tmp_path, "led", api.hall, broker.url("hallcall-display"), "--window", "3"
    )
    screens.append(led)
    await asyncio.to_thread(p.wait_frame, lambda s: s.get_size() == (1280, 720), "tv", WAIT)
    # subscribed (its status says online after subscribing): a call made before that is only
    # on the retained board, shown but not spoken
    async with subscribe(broker, [f"hallcall/{api.hall}/status/#"]) as sub:
        await sub.get("/status/hallcall-display/tv", timeout=WAIT, where=lambda b: b["online"])
    number = await call_next(api)
    await wait_number(p, number)
    # the voice: one announcement for the call, non-silent, in the audio folder
    # (polled, not checked on new frames: the screen may draw its last frame before the clip)
    audio = tmp_path / "audio"
    async with asyncio.timeout(WAIT):
        while not list(audio.glob(f"*-{number}.wav")):  # noqa: ASYNC110  (another process's file)
            await asyncio.sleep(0.05)

    # the strip shows something other than its idle frame now (lit LED pixels in its top half)
    def lit(surface: pygame.Surface) -> bool:
        top = pygame.surfarray.array3d(surface.subsurface((0, 0, 256, 32)))
        return int((top[:, :, 0] == 255).sum()) > 100

    await asyncio.to_thread(led.wait_frame, lit, "led-3", WAIT)


async def test_broker_restart_and_a_screen_restart(
    api: Api, broker: Broker, pack: Path, tmp_path: Path, screens: list[DisplayProcess]
) -> None:
    p = tv(screens, tmp_path, api, broker, pack)
    first = await call_next(api)
    await wait_number(p, first)
    broker.stop()
    try:
        await asyncio.to_thread(p.wait_frame, has_red_badge, "tv", WAIT)
    finally:
        broker.start()
    # the server's link and the screen's come back by themselves; a call made now shows
    await asyncio.to_thread(p.wait_frame, lambda s: not has_red_badge(s), "tv", WAIT)
    after = await call_next(api)
    await wait_number(p, after)
    # the screen goes away; a call made meanwhile is on it after it restarts (from board)
    p.stop()
    missed = await call_next(api, window=4)
    p2 = tv(screens, tmp_path / "again", api, broker, pack)
    await wait_number(p2, missed)
