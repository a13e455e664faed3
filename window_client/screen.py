"""What the caller panel and the rating pad share: a pygame screen fed by an MQTT link.

Networking apart from drawing: the link and HTTP answers change a state object; the loop
reads input events, redraws only when the state changed (or the clock it shows moved), and
yields to asyncio between frames, so an idle screen costs next to nothing. With a snapshot
folder the frames also go to a PNG file (headless: the SDL dummy driver).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import pygame

from queue_server.link import Link, Message, MqttTarget
from window_client import draw
from window_client.api import ServerApi
from window_client.draw import Button, Fonts

FRAME = 0.02  # seconds between input polls when idle: a key press waits at most this long
# In use (input within the last minute: staff press next, start, finish in a row) the poll is
# faster, so a press waits at most 5 ms; an idle screen keeps the slow poll and its low CPU.
ACTIVE_FRAME = 0.005
ACTIVE_SECONDS = 60.0
INPUT = (pygame.KEYDOWN, pygame.MOUSEBUTTONDOWN, pygame.FINGERDOWN)  # a person using it
SNAPSHOT_EVERY = 0.5  # at most two PNG frames a second


class Versioned(Protocol):
    version: int


S = TypeVar("S", bound=Versioned)


class ScreenApp(Generic[S]):
    kind = "screen"
    size = (560, 440)

    def __init__(
        self, api: ServerApi, window: str, mqtt: MqttTarget | None, state: S, snapshot: Path | None
    ) -> None:
        self.api = api
        self.window = window
        self.mqtt = mqtt
        self.state = state
        self.snapshot = snapshot
        self.fonts = Fonts()
        self.buttons: list[Button] = []
        self.frames = 0
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()  # something to show: draw now, not at the next poll
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiters: list[tuple[Callable[[S], bool], asyncio.Future[float]]] = []
        self._link: Link | None = None

    # -- for the concrete screens ---------------------------------------------------------

    def render(self, surface: pygame.Surface, now: float) -> None:
        raise NotImplementedError

    def handle(self, ev: pygame.event.Event) -> None:
        raise NotImplementedError

    async def on_message(self, msg: Message) -> None:
        raise NotImplementedError

    def on_link(self, up: bool) -> None:
        raise NotImplementedError

    def topics(self) -> list[str]:
        return [f"windows/{self.window}", "hall"]

    def clock(self, now: float) -> int:
        """Changes when the picture must be redrawn for time alone (a running clock)."""
        return 0

    def side_tasks(self) -> list[Coroutine[Any, Any, None]]:
        return []

    # -- shared ---------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run an action beside the loop; the screen redraws as soon as it is done."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self.wake())

    def wake(self) -> None:
        self._wake.set()

    async def _deliver(self, msg: Message) -> None:
        await self.on_message(msg)
        self.wake()

    async def until(self, check: Callable[[S], bool], timeout: float = 5.0) -> float:
        """Wait until a frame showing a state that passes `check` is drawn; the time
        (perf_counter) it was drawn."""
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.append((check, fut))
        async with asyncio.timeout(timeout):
            return await fut

    def stop(self) -> None:
        self._stop.set()
        if self._link is not None:
            self._link.stop()

    @property
    def stopped(self) -> asyncio.Event:
        return self._stop

    @property
    def png(self) -> str:
        return f"{self.kind}-{self.api.hall}-{self.window}.png"

    async def run(self, on_top: bool = False) -> None:
        surface = pygame.display.set_mode(self.size)
        pygame.display.set_caption(f"hallcall {self.api.hall} · {self.kind} {self.window}")
        if on_top:
            with contextlib.suppress(AttributeError, pygame.error):
                pygame.Window.from_display_module().always_on_top = True
        async with asyncio.TaskGroup() as tg:
            if self.mqtt is not None:
                self._link = Link(
                    self.mqtt,
                    self.api.hall,
                    self.topics(),
                    self._deliver,
                    on_state=self.on_link,
                    program=f"hallcall-window/{self.kind}-{self.window}",
                )
                tg.create_task(self._link.run())
            for coro in self.side_tasks():
                tg.create_task(coro)
            tg.create_task(self._loop(surface))

    def _frame(self, surface: pygame.Surface, now: float) -> None:
        self.render(surface, now)
        pygame.display.flip()
        self.frames += 1
        drawn = time.perf_counter()
        for check, fut in list(self._waiters):
            if fut.done():
                self._waiters.remove((check, fut))
            elif check(self.state):
                fut.set_result(drawn)
                self._waiters.remove((check, fut))

    async def _loop(self, surface: pygame.Surface) -> None:
        shown, clock, saved_at, unsaved = -1, -1, 0.0, False
        used = -math.inf  # when input last came (monotonic)
        while not self._stop.is_set():
            events = pygame.event.get()
            for ev in events:
                self.handle(ev)
            if events:  # let a request the input started go out before this frame is drawn
                await asyncio.sleep(0)
            if any(ev.type in INPUT for ev in events):  # not the window's own events
                used = time.monotonic()
            now = time.time()
            tick = self.clock(now)
            if self.state.version != shown or tick != clock or self._waiters:
                shown, clock = self.state.version, tick
                self._frame(surface, now)
                unsaved = True
            if self.snapshot is not None and unsaved and now - saved_at >= SNAPSHOT_EVERY:
                draw.save_png(surface, self.snapshot / self.png)
                saved_at, unsaved = now, False
            active = time.monotonic() - used < ACTIVE_SECONDS
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ACTIVE_FRAME if active else FRAME):
                    await self._wake.wait()
            self._wake.clear()
        if self.snapshot is not None and unsaved:  # the last state, for whoever looks later
            draw.save_png(surface, self.snapshot / self.png)
        for task in list(self._tasks):
            task.cancel()
        await self.api.close()


def run_screen(app: ScreenApp[Any], on_top: bool = False) -> None:
    """Run until SIGTERM or SIGINT, which stop it cleanly (offline status, last frame)."""
    import signal

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, app.stop)
        await app.run(on_top=on_top)

    asyncio.run(main())
