"""The render loop: composes a frame from the current state and paints it only when it differs
from the last one; sleeps until the state changes or the frame would (clock, flash, scroll).

Headless (`--headless`) it uses SDL's dummy video driver; with a snapshot folder it writes
the frame as ``<name>.png`` (atomically, at most every `min_interval` seconds, always the
newest frame) so tests and newcomers can open it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pygame
import pygame.freetype

from display_client import state as st
from display_client.frame import Frame, Item, Measure, font_measure, paint
from display_client.store import Store

log = logging.getLogger(__name__)

Compose = Callable[[st.ScreenState, tuple[int, int], float, float, Measure], Frame]
MAX_FPS = 30.0


class Snapshots:
    """Writes the newest frame as a PNG, off the render loop's thread."""

    def __init__(self, folder: Path, name: str, min_interval: float = 0.1) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{name}.png"
        self.min_interval = min_interval
        self.written = 0
        self._pending: pygame.Surface | None = None
        self._last = -1e9
        self._task: asyncio.Task[None] | None = None

    def offer(self, surface: pygame.Surface) -> None:
        self._pending = surface.copy()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self._pending is not None:
            wait = self._last + self.min_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            surface, self._pending = self._pending, None
            if surface is None:
                break
            self._last = time.monotonic()
            await asyncio.to_thread(self._save, surface)

    def _save(self, surface: pygame.Surface) -> None:
        tmp = self.path.with_suffix(".tmp.png")
        pygame.image.save(surface, str(tmp))
        os.replace(tmp, self.path)
        self.written += 1

    async def flush(self) -> None:
        if self._task is not None:
            await self._task


def open_display(size: tuple[int, int], headless: bool, title: str) -> pygame.Surface:
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    pygame.display.init()
    flags = 0 if headless else pygame.NOFRAME if os.environ.get("HALLCALL_NOFRAME") else 0
    surface = pygame.display.set_mode(size, flags)
    pygame.display.set_caption(title)
    return surface


class Screen:
    """Draws `store`'s state with `compose` on `surface` until stopped."""

    def __init__(
        self,
        store: Store,
        compose: Compose,
        surface: pygame.Surface,
        font: pygame.freetype.Font,
        snapshots: Snapshots | None = None,
        on_frame: Callable[[int, float], None] | None = None,
    ) -> None:
        self.store = store
        self.compose = compose
        self.surface = surface
        self.font = font
        self.measure = font_measure(font)
        self.snapshots = snapshots
        self.frames = 0
        self._on_frame = on_frame  # (state version drawn, monotonic time painted)
        self._last: tuple[Item, ...] | None = None
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()
        self.store.changed.set()

    def draw_once(self, now: float, now_wall: float) -> Frame:
        """Compose and, if it differs from the last frame, paint and present it."""
        self.store.update(st.tick, now)
        version = self.store.version
        frame = self.compose(self.store.state, self.surface.get_size(), now, now_wall, self.measure)
        if frame.items != self._last:
            paint(self.surface, self.font, frame.items)
            pygame.display.flip()
            self._last = frame.items
            self.frames += 1
            if self._on_frame is not None:
                self._on_frame(version, time.monotonic())
            if self.snapshots is not None:
                self.snapshots.offer(self.surface)
        return frame

    async def run(self) -> None:
        while not self._stop.is_set():
            self.store.changed.clear()
            now = time.monotonic()
            frame = self.draw_once(now, time.time())
            for event in pygame.event.get():
                if event.type == pygame.QUIT:
                    self._stop.set()
            wait = min(max(frame.next_change - time.monotonic(), 1 / MAX_FPS), 1.0)
            if wait > 0:
                try:
                    async with asyncio.timeout(wait):
                        await self.store.changed.wait()
                except TimeoutError:
                    pass
        if self.snapshots is not None:
            await self.snapshots.flush()
