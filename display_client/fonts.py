"""The CJK font: Noto Sans CJK SC (the Simplified Chinese face of the .ttc), or WenQuanYi.

`pygame.font` cannot choose a face inside a .ttc (it takes the Japanese one), so text goes
through `pygame.freetype` with the face index.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pygame.freetype

NOTO = Path("/usr/share/fonts/opentype/noto")
# (path, face index): 0 JP, 1 KR, 2 SC, 3 TC in Noto CJK's collections
CANDIDATES = (
    (NOTO / "NotoSansCJK-Bold.ttc", 2),
    (NOTO / "NotoSansCJK-Regular.ttc", 2),
    (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
)
PROBE = "请号到窗口办理绿色通道0123456789"


class FontMissing(RuntimeError):
    """No usable CJK font; the message is one line naming the Debian package."""


@dataclass(frozen=True, slots=True)
class FontChoice:
    path: Path
    index: int


def find_font() -> FontChoice:
    """HALLCALL_FONT (a path, with `#index` for a collection) or the first Debian CJK font."""
    env = os.environ.get("HALLCALL_FONT")
    if env:
        name, _, face = env.partition("#")
        if not Path(name).is_file() or not (face or "0").isdigit():
            raise FontMissing(f"HALLCALL_FONT: no font file {env} (path[#face])")
        return FontChoice(Path(name), int(face or 0))
    for path, index in CANDIDATES:
        if path.is_file():
            return FontChoice(path, index)
    raise FontMissing(
        "no CJK font found: install the Debian package fonts-noto-cjk "
        "(apt-get install fonts-noto-cjk)"
    )


def load(choice: FontChoice) -> pygame.freetype.Font:
    """The font, checked to have the hall's Chinese glyphs (a wrong face lacks them)."""
    if not pygame.freetype.get_init():
        pygame.freetype.init()
    try:
        font = pygame.freetype.Font(str(choice.path), 24, font_index=choice.index)
    except (OSError, pygame.error) as exc:
        raise FontMissing(f"cannot open font {choice.path}: {exc}") from exc
    if any(m is None for m in font.get_metrics(PROBE)):
        raise FontMissing(
            f"{choice.path} lacks Chinese glyphs: install the Debian package fonts-noto-cjk"
        )
    font.pad = False
    font.origin = False
    return font
