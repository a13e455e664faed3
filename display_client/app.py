"""One screen program: the MQTT feed, the render loop and (on the TV) the voice worker, wired
together. The feed and the screen are asyncio tasks; the voice is its own thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from display_client import fonts, led, tv
from display_client import state as st
from display_client.feed import Feed
from display_client.screen import Screen, Snapshots, open_display
from display_client.store import Store
from display_client.voice.pack import Pack, espeak_missing
from display_client.voice.speaker import DeviceOutput, FileOutput, Output, Speaker
from queue_server.link import parse_mqtt_url

log = logging.getLogger(__name__)


class Fatal(RuntimeError):
    """Stops the program; the message is one line."""


@dataclass(frozen=True, slots=True)
class Options:
    mode: Literal["tv", "led"]
    hall: str
    mqtt_url: str
    size: tuple[int, int]
    window: str | None = None
    headless: bool = False
    snapshot: Path | None = None
    voice: bool = True
    audio_dir: Path | None = None
    pack: Path = Path("var/voice-pack")
    overrides: Path | None = None
    name: str = ""
    keepalive: int = 15

    @property
    def program(self) -> str:
        return self.name or (self.mode if self.mode == "tv" else f"led-{self.window}")


def voice_problem(hall: st.Hall, missing: str | None) -> tuple[bool, str] | None:
    """Without espeak-ng (`missing` says why): a hall that speaks stops the program; one that
    only chimes, or is silent, runs with a warning."""
    if missing is None:
        return None
    if hall.voice.mode == "speech":
        return True, f"{missing} (hall {hall.id} has voice mode speech)"
    return False, f"{missing}; hall {hall.id} has voice mode {hall.voice.mode}: no speech"


class App:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.fatal: str | None = None
        target = parse_mqtt_url(opts.mqtt_url)
        self.font = fonts.load(fonts.find_font())
        self.store = Store(st.empty(opts.hall, opts.window))
        self.speaker: Speaker | None = None
        if opts.voice and opts.mode == "tv":
            output: Output = FileOutput(opts.audio_dir) if opts.audio_dir else DeviceOutput()
            self.speaker = Speaker(Pack(opts.pack, opts.overrides), output, on_fatal=self._fatal)
        self.feed = Feed(
            self.store,
            target,
            opts.hall,
            window=opts.window if opts.mode == "led" else None,
            program=f"hallcall-display/{opts.program}",
            on_call=self.speaker.submit if self.speaker else None,
            on_hall=self._on_hall,
            keepalive=opts.keepalive,
        )
        surface = open_display(opts.size, opts.headless, f"hallcall {opts.hall} {opts.program}")
        snaps = Snapshots(opts.snapshot, opts.program) if opts.snapshot else None
        compose = tv.compose if opts.mode == "tv" else led.compose
        self.screen = Screen(self.store, compose, surface, self.font, snaps)
        self._loop: asyncio.AbstractEventLoop | None = None

    def _on_hall(self, hall: st.Hall) -> None:
        if self.speaker is None:
            return
        problem = voice_problem(hall, espeak_missing())
        if problem is not None:
            fatal, message = problem
            if fatal:
                self._fatal(message)
                return
            log.warning("%s", message)
        self.speaker.configure(hall)

    def _fatal(self, message: str) -> None:
        """From any thread: stop with this one line."""

        def stop() -> None:
            self.fatal = message
            self.stop()

        if self._loop is not None:
            self._loop.call_soon_threadsafe(stop)

    def stop(self) -> None:
        self.screen.stop()
        self.feed.stop()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                self._loop.add_signal_handler(sig, self.stop)
        log.info(
            "%s for hall %s on %s:%s",
            self.opts.program,
            self.opts.hall,
            self.feed.link.target.host,
            self.feed.link.target.port,
        )
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.feed.run())
                screen = tg.create_task(self.screen.run())
                await screen
                self.feed.stop()
        finally:
            if self.speaker is not None:
                self.speaker.close()
        if self.fatal:
            raise Fatal(self.fatal)
