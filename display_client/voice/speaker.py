"""The voice worker: one thread that owns the clip pack and speaks calls in order.

Calls are queued as they arrive and announced one after another, never overlapping and never
dropped (the queue is unbounded: a burst of 20 calls gives 20 announcements). Drawing never
waits for it. An announcement is joined from cached clips, so its first sample goes out at
once; a clip not yet in the pack is synthesised on the spot (tens of milliseconds).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from display_client.state import Hall, ShownCall
from display_client.voice import audio
from display_client.voice.pack import Pack, VoiceUnavailable
from display_client.voice.policy import hall_tokens, mode_at, round_tokens

log = logging.getLogger(__name__)

ROUND_PAUSE = 0.8  # seconds of silence after each round
OnStart = Callable[[ShownCall, float], None]  # call, monotonic time of its first sample


class Output(Protocol):
    def emit(self, samples: audio.Samples, call: ShownCall) -> None:
        """Play (or write) and return when done, so announcements never overlap."""


class FileOutput:
    """Writes each announcement as ``NNNNN-<number>.wav`` (for headless screens and tests)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        existing = [p.name.split("-")[0] for p in folder.glob("*.wav")]
        self.count = max((int(x) for x in existing if x.isdigit()), default=0)

    def emit(self, samples: audio.Samples, call: ShownCall) -> None:
        self.count += 1
        path = self.folder / f"{self.count:05d}-{call.number}.wav"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(audio.wav_bytes(samples))
        os.replace(tmp, path)


class DeviceOutput:
    """Plays through SDL audio; without a sound device it warns once and stays silent."""

    def __init__(self) -> None:
        import pygame
        import pygame.mixer

        self._mixer = pygame.mixer
        try:
            pygame.mixer.init(frequency=audio.RATE, size=-16, channels=1)
            self.ok = True
        except pygame.error as exc:
            log.warning("no sound device (%s): calls are shown, not spoken", exc)
            self.ok = False

    def emit(self, samples: audio.Samples, call: ShownCall) -> None:
        if not self.ok:
            return
        sound = self._mixer.Sound(buffer=samples.tobytes())
        channel = sound.play()
        deadline = time.monotonic() + sound.get_length() + 1.0
        while channel is not None and channel.get_busy() and time.monotonic() < deadline:
            time.sleep(0.02)


@dataclass(frozen=True, slots=True)
class _Prepare:
    hall: Hall


@dataclass(frozen=True, slots=True)
class _Say:
    call: ShownCall
    hall: Hall


class Speaker:
    def __init__(
        self,
        pack: Pack,
        output: Output,
        *,
        on_start: OnStart | None = None,
        on_fatal: Callable[[str], None] | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.pack = pack
        self.output = output
        self.hall: Hall | None = None
        self.spoken = 0
        self._on_start = on_start
        self._on_fatal = on_fatal
        self._wall = wall
        self._queue: queue.Queue[_Prepare | _Say | None] = queue.Queue()
        self._early: list[ShownCall] = []
        self._thread = threading.Thread(target=self._work, name="voice", daemon=True)
        self._thread.start()

    def configure(self, hall: Hall) -> None:
        """The hall's (new) settings: its clips are made before the next call is spoken."""
        self.hall = hall
        self._queue.put(_Prepare(hall))
        early, self._early = self._early, []
        for call in early:
            self._queue.put(_Say(call, hall))

    def submit(self, call: ShownCall) -> None:
        """Queue a call; before the hall's settings are known it waits for them."""
        if self.hall is None:
            self._early.append(call)
        else:
            self._queue.put(_Say(call, self.hall))

    def close(self, timeout: float = 30.0) -> None:
        """Finish what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def idle(self) -> bool:
        return self._queue.unfinished_tasks == 0

    def _local(self, hall: Hall) -> datetime:
        try:
            tz = ZoneInfo(hall.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            tz = None
        return datetime.fromtimestamp(self._wall(), tz)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                if isinstance(job, _Prepare):
                    self._prepare(job.hall)
                else:
                    self._say(job.call, job.hall)
            except VoiceUnavailable as exc:
                log.error("%s", exc)
                if self._on_fatal is not None:
                    self._on_fatal(str(exc))
            except Exception:  # the worker must outlive one bad clip or call
                log.exception("voice: could not announce")
            finally:
                self._queue.task_done()

    def _prepare(self, hall: Hall) -> None:
        mode = hall.voice.mode
        if mode == "speech":
            made = self.pack.build(hall_tokens(hall))
            if made:
                log.info("voice pack: made %d clips in %s", made, self.pack.folder)

    def assemble(self, call: ShownCall, hall: Hall) -> audio.Samples | None:
        """The whole announcement (all rounds), or None when the hall is silent now."""
        mode = mode_at(hall.voice, self._local(hall).time())
        tokens = round_tokens(hall, call, mode)
        if not tokens:
            return None
        one = audio.join([self.pack.clip(t) for t in tokens], gap=0.04)
        one = audio.join([one, audio.silence(ROUND_PAUSE)], gap=0)
        whole = audio.join([one] * hall.voice.repeat, gap=0)
        return audio.scaled(whole, hall.voice.volume)

    def _say(self, call: ShownCall, hall: Hall) -> None:
        samples = self.assemble(call, hall)
        if samples is None:
            return
        if self._on_start is not None:
            self._on_start(call, time.monotonic())
        self.output.emit(samples, call)
        self.spoken += 1
