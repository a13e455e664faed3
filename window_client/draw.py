"""Drawing helpers shared by the panel and the pad: a CJK font, text, buttons, PNG frames."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pygame
import pygame.freetype

# (path, face index): Noto Sans CJK's SC face is index 2 of its .ttc; WenQuanYi has one face.
FONTS = (
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
)

BG = (16, 24, 38)
PANEL = (30, 42, 62)
TEXT = (235, 240, 248)
DIM = (150, 162, 182)
ACCENT = (255, 200, 60)
GOOD = (70, 190, 110)
BAD = (225, 80, 80)
BUTTON = (52, 74, 108)
BUTTON_HOT = (84, 118, 168)

Color = tuple[int, int, int]


def init_video(headless: bool) -> None:
    """Headless (snapshots, tests) uses SDL's dummy driver: no screen is needed."""
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    pygame.display.init()
    pygame.freetype.init()


class Fonts:
    """One CJK face at the sizes a screen uses; rendered texts are cached, so a redraw blits
    surfaces instead of rasterizing glyphs again (a panel redraw drops from ~20 to ~2 ms)."""

    CACHE = 512

    def __init__(self) -> None:
        self._texts: dict[tuple[str, int, Color], pygame.Surface] = {}
        found = next(((p, i) for p, i in FONTS if Path(p).exists()), None)
        # without a CJK font (not installed yet) pygame's own font draws Latin text only
        self.path: str | None = found[0] if found else None
        self.index = found[1] if found else 0
        self._sizes: dict[int, pygame.freetype.Font] = {}

    def get(self, size: int) -> pygame.freetype.Font:
        font = self._sizes.get(size)
        if font is None:
            font = pygame.freetype.Font(self.path, size, font_index=self.index)
            self._sizes[size] = font
        return font

    def text(
        self,
        surface: pygame.Surface,
        pos: tuple[int, int],
        text: str,
        size: int,
        color: Color = TEXT,
        center: bool = False,
    ) -> pygame.Rect:
        key = (text, size, color)
        image = self._texts.get(key)
        if image is None:
            if len(self._texts) >= self.CACHE:  # a running clock makes new texts: start over
                self._texts.clear()
            image, _ = self.get(size).render(text, color)
            self._texts[key] = image
        rect = image.get_rect()
        if center:
            rect.center = pos
        else:
            rect.topleft = pos
        surface.blit(image, rect)
        return rect


@dataclass(frozen=True, slots=True)
class Button:
    rect: pygame.Rect
    action: str
    label: str
    hint: str = ""
    arg: str = ""  # e.g. the service of a transfer, the number to call back

    def draw(self, surface: pygame.Surface, fonts: Fonts, size: int, hot: bool = False) -> None:
        pygame.draw.rect(surface, BUTTON_HOT if hot else BUTTON, self.rect, border_radius=8)
        cy = self.rect.centery - (size // 3 if self.hint else 0)
        fonts.text(surface, (self.rect.centerx, cy), self.label, size, center=True)
        if self.hint:
            fonts.text(
                surface,
                (self.rect.centerx, self.rect.bottom - size // 2 - 2),
                self.hint,
                max(10, size * 2 // 3),
                DIM,
                center=True,
            )


def hit(buttons: list[Button], pos: tuple[int, int]) -> Button | None:
    return next((b for b in buttons if b.rect.collidepoint(pos)), None)


def save_png(surface: pygame.Surface, path: Path) -> None:
    """Write a frame atomically, so a viewer never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    pygame.image.save(surface, str(tmp))
    tmp.replace(path)
