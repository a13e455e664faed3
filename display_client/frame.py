"""A frame as a list of drawing items (pure), and the one function that paints it (pygame).

Composing a frame is pure: a state, a size and the time give the items. The render loop
paints only when the items differ from the last frame's, so an idle screen costs nothing
between clock ticks, and tests read where each text went without looking at pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pygame
import pygame.freetype

RGB = tuple[int, int, int]
Rect = tuple[int, int, int, int]  # x, y, w, h
Measure = Callable[[str, int], tuple[int, int]]  # text, size -> width, height


@dataclass(frozen=True, slots=True)
class Fill:
    rect: Rect
    color: RGB


@dataclass(frozen=True, slots=True)
class Label:
    """`text` at `size` px with its box's top-left at (x, y); `clip` limits where it shows
    (a scrolling line); `crisp` draws without anti-aliasing (LED pixels); `role` names it
    for readers ("now.0.number", "clock")."""

    text: str
    x: int
    y: int
    size: int
    color: RGB
    role: str = ""
    clip: Rect | None = None
    crisp: bool = False


Item = Fill | Label


@dataclass(frozen=True, slots=True)
class Frame:
    items: tuple[Item, ...]
    next_change: float  # screen seconds when the frame would look different with no news


def fit(measure: Measure, text: str, size: int, width: int) -> int:
    """The largest size up to `size` at which `text` fits in `width` pixels."""
    if not text or width <= 0:
        return max(size, 1)
    w, _ = measure(text, size)
    if w <= width:
        return size
    return max(int(size * width / w) - 1, 6)


def font_measure(font: pygame.freetype.Font) -> Measure:
    cache: dict[tuple[str, int], tuple[int, int]] = {}

    def measure(text: str, size: int) -> tuple[int, int]:
        key = (text, size)
        if key not in cache:
            if len(cache) > 4096:
                cache.clear()
            r = font.get_rect(text, size=size)
            cache[key] = (r.width, r.height)
        return cache[key]

    return measure


def paint(surface: pygame.Surface, font: pygame.freetype.Font, items: tuple[Item, ...]) -> None:
    for item in items:
        if isinstance(item, Fill):
            surface.fill(item.color, item.rect)
            continue
        if item.clip is not None:
            surface.set_clip(item.clip)
        font.antialiased = not item.crisp
        font.render_to(surface, (item.x, item.y), item.text, item.color, size=item.size)
        if item.clip is not None:
            surface.set_clip(None)


def labels(items: tuple[Item, ...], role_prefix: str = "") -> list[Label]:
    return [i for i in items if isinstance(i, Label) and i.role.startswith(role_prefix)]
