"""Running `display-client` as a real process and reading its PNGs (OCR by tesseract)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pygame
import pygame.freetype

import display_client  # noqa: F401
from display_client import state as st
from display_client import tv
from display_client.fonts import find_font, load
from display_client.frame import Label, font_measure, labels
from tests.services import ROOT, poll_child, stop_child

BIN = str(Path(sys.executable).parent / "display-client")
SIZE = (1280, 720)


@dataclass
class DisplayProcess:
    proc: subprocess.Popen[bytes]
    dir: Path
    log: Path

    @classmethod
    def start(
        cls, folder: Path, mode: str, hall: str, mqtt_url: str, *flags: str
    ) -> DisplayProcess:
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / f"{mode}.log"
        argv = [BIN, mode, "--hall", hall, "--mqtt-url", mqtt_url, "--headless"]
        argv += ["--snapshot", str(folder), *flags]
        with log.open("ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        return cls(proc, folder, log)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def png(self, name: str = "tv") -> Path:
        return self.dir / f"{name}.png"

    def wait_frame(
        self, check: Callable[[pygame.Surface], Any], name: str = "tv", timeout: float = 10.0
    ) -> Any:
        """Until the newest PNG passes `check` (returns something truthy); returns that."""
        path, seen = self.png(name), [-1]

        def new_frame_passes() -> Any:
            if not path.exists() or path.stat().st_mtime_ns == seen[0]:
                return None
            seen[0] = path.stat().st_mtime_ns
            return check(pygame.image.load(str(path)))

        what = f"display-client: a frame passing {check.__name__}"
        return poll_child(self.proc, new_frame_passes, timeout, what, self.log)

    def stop(self) -> None:
        stop_child(self.proc)


_FONT: list[pygame.freetype.Font] = []


def _font() -> pygame.freetype.Font:
    if not _FONT:
        pygame.freetype.init()
        _FONT.append(load(find_font()))
    return _FONT[0]


def _row_label(number: str, row: int, size: tuple[int, int]) -> Label:
    """Where the TV draws `number` when it is in large row `row` (layout is deterministic)."""
    s = st.set_online(st.empty("x"), True)
    calls = [number, *(f"Z{90 + k}" for k in range(row))]
    for k, n in enumerate(calls):
        s = st.add_call(s, st.ShownCall(n, "1", "1", False, "call", k + 1, f"e{k}", 0.0), 0.0)
    frame = tv.compose(s, size, 100.0, 0.0, font_measure(_font()))
    (lab,) = labels(frame.items, f"now.{row}.number")
    return lab


def shows_number(surface: pygame.Surface, number: str) -> bool:
    """True when one of the TV's large rows shows `number`: its fully inked pixels match the
    number drawn alone with the same font and size (yellow on black, or black on the yellow
    flash) in 95% of their union."""
    for row in range(st.DEFAULT_SLOTS):
        lab = _row_label(number, row, surface.get_size())
        w, h = font_measure(_font())(number, lab.size)
        alone = pygame.Surface((w, h))
        _font().antialiased = True
        _font().render_to(alone, (0, 0), number, tv.YELLOW, size=lab.size)
        ref = np.all(pygame.surfarray.array3d(alone) == tv.YELLOW, axis=2)
        box = pygame.Rect(lab.x, lab.y, w, h)
        if not surface.get_rect().contains(box):
            continue
        shot = pygame.surfarray.array3d(surface.subsurface(box))
        for color in (tv.YELLOW, tv.BG):  # steady, or inverted while it flashes
            ink = np.all(shot == color, axis=2)
            if int((ref & ink).sum()) / int((ref | ink).sum()) > 0.95:
                return True
    return False


def has_red_badge(surface: pygame.Surface) -> bool:
    """The header's red "offline" badge is there."""
    r = tv.regions(*surface.get_size())
    rgb = pygame.surfarray.array3d(surface.subsurface(r.header))
    red = (rgb[:, :, 0] == tv.RED[0]) & (rgb[:, :, 1] == tv.RED[1]) & (rgb[:, :, 2] == tv.RED[2])
    return int(red.sum()) > 500
