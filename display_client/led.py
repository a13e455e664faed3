"""A window's LED strip (窗口屏) as a frame: bright single-colour text on black, no
anti-aliasing (an LED controller shows it as a screen region, pixel for pixel).

Top line: the current number (blinking while it flashes) or the paused mark; bottom line:
"请A012号到3号窗口", the pause reason or the idle text, scrolling when too long.
"""

from __future__ import annotations

import math

from display_client import state as st
from display_client.frame import RGB, Fill, Frame, Item, Label, Measure, fit
from display_client.words import WORDS

BG: RGB = (0, 0, 0)
LED: RGB = (255, 48, 0)
SCROLL_SPEED = 0.6  # strip heights per second
FLASH_PERIOD = 0.5


def _line(
    items: list[Item],
    text: str,
    box: tuple[int, int, int, int],
    size: int,
    measure: Measure,
    role: str,
    now: float,
) -> float:
    """One line centred in `box`, or scrolling through it when too long; returns when it next
    moves."""
    x, y, w, h = box
    tw, th = measure(text, size)
    ty = y + (h - th) // 2
    if tw <= w:
        items.append(Label(text, x + (w - tw) // 2, ty, size, LED, role, crisp=True))
        return math.inf
    speed = max(h * SCROLL_SPEED * 2, 20.0)
    span = tw + w // 2
    offset = int(now * speed) % span
    items.append(Label(text, x + w - offset, ty, size, LED, role, clip=box, crisp=True))
    return now + 1 / 30


def compose(
    s: st.ScreenState, size: tuple[int, int], now: float, now_wall: float, measure: Measure
) -> Frame:
    width, height = size
    lang = st.language(s, now_wall)
    words = WORDS[lang]
    items: list[Item] = [Fill((0, 0, width, height), BG)]
    p = s.panel or st.Panel("", "")
    name = st.window_name(s, p.window, lang, p.name)
    top = (0, 0, width, height // 2)
    bottom = (0, height // 2, width, height - height // 2)
    nxt = math.inf
    if p.paused:
        size_top = fit(measure, words["paused_strip"], int(height * 0.42), width)
        nxt = min(nxt, _line(items, words["paused_strip"], top, size_top, measure, "top", now))
        if p.reason:
            nxt = min(
                nxt, _line(items, p.reason, bottom, int(height * 0.38), measure, "bottom", now)
            )
    elif p.number and p.state in ("called", "serving"):
        age = now - p.since
        flash = s.hall.display.flash_seconds
        lit = True
        if p.state == "called" and age < flash:
            phase = int(age / FLASH_PERIOD)
            lit = phase % 2 == 0
            nxt = p.since + min((phase + 1) * FLASH_PERIOD, flash)
        if lit:
            size_top = fit(measure, p.number, int(height * 0.46), width)
            _line(items, p.number, top, size_top, measure, "number", now)
        text = words["call"].format(number=p.number, window=name)
        step = st.step_tag(s, p.service, p.step, p.steps, lang)
        text = f"{text} {step}" if step else text
        nxt = min(nxt, _line(items, text, bottom, int(height * 0.38), measure, "bottom", now))
    else:
        idle = s.hall.display.idle.get(lang)
        size_idle = fit(measure, idle, int(height * 0.42), width)
        nxt = min(nxt, _line(items, idle, (0, 0, width, height), size_idle, measure, "idle", now))
    if not s.online:  # a small hollow square in the corner: the strip is offline
        d = max(height // 8, 3)
        items.append(Fill((width - d - 1, 1, d, d), LED))
        items.append(Fill((width - d, 2, d - 2, d - 2), BG))
    period = s.hall.display.alternate_seconds
    nxt = min(nxt, now + period - now_wall % period)
    return Frame(tuple(items), nxt)
