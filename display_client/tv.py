"""The hall TV board (综合屏) as a frame: pure layout from the screen state.

Landscape: header (hall, date, clock), the large "now calling" rows on the left, recent
calls, waiting per service and the windows on the right, notices at the foot. Portrait stacks
the same regions. Sizes follow the screen, so 1280×720 to 3840×2160 and portrait all hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from display_client import state as st
from display_client.frame import RGB, Fill, Frame, Item, Label, Measure, Rect, fit
from display_client.words import WORDS, date_text, eta_text

BG: RGB = (0, 0, 0)
HEAD: RGB = (12, 30, 66)
WHITE: RGB = (255, 255, 255)
GREY: RGB = (170, 178, 190)
YELLOW: RGB = (255, 214, 0)
GREEN: RGB = (0, 230, 118)
RED: RGB = (255, 82, 82)
FLASH_BG: RGB = (255, 214, 0)
LINE: RGB = (40, 52, 80)
FLASH_PERIOD = 0.5  # seconds on, seconds off
TICKER_SPEED = 0.12  # screen heights per second


@dataclass(frozen=True, slots=True)
class Regions:
    header: Rect
    now: Rect
    recent: Rect
    services: Rect
    windows: Rect
    footer: Rect
    unit: float  # a "point": 1/1000 of the shorter side


def regions(width: int, height: int) -> Regions:
    if width >= height:
        u = height / 1000
        head, foot = int(height * 0.11), int(height * 0.08)
        body_h = height - head - foot
        left = int(width * 0.6)
        right_x, right_w = left + int(u * 20), width - left - int(u * 40)
        rec_h, svc_h = int(body_h * 0.42), int(body_h * 0.27)
        return Regions(
            header=(0, 0, width, head),
            now=(0, head, left, body_h),
            recent=(right_x, head, right_w, rec_h),
            services=(right_x, head + rec_h, right_w, svc_h),
            windows=(right_x, head + rec_h + svc_h, right_w, body_h - rec_h - svc_h),
            footer=(0, height - foot, width, foot),
            unit=u,
        )
    u = width / 1000
    head, foot = int(height * 0.07), int(height * 0.05)
    y, out = head, []
    for share in (0.40, 0.20, 0.13):
        h = int(height * share)
        out.append((int(u * 20), y, width - int(u * 40), h))
        y += h
    windows = (int(u * 20), y, width - int(u * 40), height - foot - y)
    return Regions(
        header=(0, 0, width, head),
        now=(0, head, width, out[0][3]),
        recent=out[1],
        services=out[2],
        windows=windows,
        footer=(0, height - foot, width, foot),
        unit=u,
    )


class _Out:
    """Collects items; places text in boxes (fitted, aligned)."""

    def __init__(self, measure: Measure) -> None:
        self.items: list[Item] = []
        self.measure = measure

    def fill(self, rect: Rect, color: RGB) -> None:
        self.items.append(Fill(rect, color))

    def text(
        self,
        text: str,
        box: Rect,
        size: int,
        color: RGB,
        role: str = "",
        align: str = "left",
    ) -> int:
        """Draws `text` fitted into `box`, vertically centred; returns its width."""
        if not text:
            return 0
        x, y, w, h = box
        size = fit(self.measure, text, min(size, max(h, 6)), w)
        tw, th = self.measure(text, size)
        if align == "right":
            x += w - tw
        elif align == "center":
            x += (w - tw) // 2
        self.items.append(Label(text, x, y + (h - th) // 2, size, color, role))
        return tw


def _clock(hall: st.Hall, now_wall: float) -> datetime:
    try:
        tz = ZoneInfo(hall.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = None
    return datetime.fromtimestamp(now_wall, tz)


def _header(o: _Out, s: st.ScreenState, r: Regions, lang: str, now_wall: float) -> None:
    x, y, w, h = r.header
    o.fill(r.header, HEAD)
    pad = int(r.unit * 24)
    when = _clock(s.hall, now_wall)
    clock_w = o.text(
        when.strftime("%H:%M"), (x, y, w - pad, h), int(h * 0.62), WHITE, "clock", "right"
    )
    date_w = int(w * 0.22)
    o.text(
        date_text(when, lang),
        (w - pad - clock_w - date_w - pad, y, date_w, h),
        int(h * 0.3),
        GREY,
        "date",
        "right",
    )
    name_w = w - clock_w - date_w - 4 * pad
    if not s.online:
        badge = WORDS[lang]["offline"]
        bw = int(w * 0.12)
        o.fill((w - pad - clock_w - date_w - 2 * pad - bw, y + h // 4, bw, h // 2), RED)
        o.text(
            badge,
            (w - pad - clock_w - date_w - 2 * pad - bw, y + h // 4, bw, h // 2),
            int(h * 0.3),
            WHITE,
            "offline",
            "center",
        )
        name_w -= bw + pad
    o.text(s.hall.name.get(lang), (pad, y, name_w, h), int(h * 0.45), WHITE, "hall")


def _now_calling(o: _Out, s: st.ScreenState, r: Regions, lang: str, now: float) -> float:
    """The large rows; returns when the flash next toggles or ends (or inf)."""
    x, y, w, h = r.now
    pad = int(r.unit * 24)
    cap_h = int(h * 0.1)
    o.text(
        WORDS[lang]["now"], (x + pad, y, w - 2 * pad, cap_h), int(cap_h * 0.6), GREY, "now.title"
    )
    row_h = (h - cap_h) // s.slots
    flash = s.hall.display.flash_seconds
    nxt = math.inf
    for i, e in enumerate(s.entries[: s.slots]):
        ry = y + cap_h + i * row_h
        age = now - e.since
        lit = False
        if age < flash:
            phase = int(age / FLASH_PERIOD)
            lit = phase % 2 == 0
            nxt = min(nxt, e.since + min((phase + 1) * FLASH_PERIOD, flash))
        if lit:
            o.fill((x + pad // 2, ry + 2, w - pad, row_h - 4), FLASH_BG)
        fg_num = BG if lit else YELLOW
        fg_txt = BG if lit else WHITE
        num_w = int(w * 0.42)
        o.text(
            e.call.number, (x + pad, ry, num_w, row_h), int(row_h * 0.78), fg_num, f"now.{i}.number"
        )
        arrow_w = int(w * 0.08)
        o.text(
            "→",
            (x + pad + num_w, ry, arrow_w, row_h),
            int(row_h * 0.5),
            fg_txt,
            f"now.{i}.arrow",
            "center",
        )
        name = st.window_name(s, e.call.window, lang, e.call.window_name)
        tx = x + pad + num_w + arrow_w
        step = st.step_tag(s, e.call.service, e.call.step, e.call.steps, lang)
        tag_h = int(row_h * 0.28) if e.call.green or step else 0
        o.text(
            name,
            (tx, ry + int(row_h * 0.05), w - tx - pad, row_h - tag_h - int(row_h * 0.05)),
            int(row_h * 0.5),
            fg_txt,
            f"now.{i}.window",
        )
        tag_y, tag_w = ry + row_h - tag_h - int(row_h * 0.06), w - tx - pad
        green_w = tag_w // 2 if step else tag_w
        if e.call.green:
            o.text(
                WORDS[lang]["green"],
                (tx, tag_y, green_w, tag_h),
                tag_h,
                BG if lit else GREEN,
                f"now.{i}.green",
            )
        if step:  # the step of a ticket of several steps: "(2/2 缴费)"
            sx = tx + (green_w if e.call.green else 0)
            o.text(step, (sx, tag_y, tx + tag_w - sx, tag_h), tag_h, fg_txt, f"now.{i}.step")
        if i:
            o.fill((x + pad, ry, w - 2 * pad, max(1, int(r.unit * 2))), LINE)
    return nxt


def _recent(o: _Out, s: st.ScreenState, r: Regions, lang: str) -> None:
    x, y, w, h = r.recent
    cap_h = int(h * 0.14)
    o.text(WORDS[lang]["recent"], (x, y, w, cap_h), int(cap_h * 0.7), GREY, "recent.title")
    calls = s.recent[: s.hall.display.recent]
    if not calls:
        return
    min_row = max(int(r.unit * 40), 12)
    body = h - cap_h
    cols = 1
    while cols < 5 and math.ceil(len(calls) / cols) * min_row > body:
        cols += 1
    per_col = math.ceil(len(calls) / cols)
    row_h = min(body // per_col, int(r.unit * 60))
    col_w = w // cols
    for i, c in enumerate(calls):
        cx = x + (i // per_col) * col_w
        cy = y + cap_h + (i % per_col) * row_h
        color = GREEN if c.green else WHITE
        o.text(
            c.number,
            (cx, cy, int(col_w * 0.42), row_h),
            int(row_h * 0.8),
            color,
            f"recent.{i}.number",
        )
        name = st.window_name(s, c.window, lang, c.window_name)
        o.text(
            name,
            (cx + int(col_w * 0.45), cy, int(col_w * 0.53), row_h),
            int(row_h * 0.7),
            GREY,
            f"recent.{i}.window",
        )


def _services(o: _Out, s: st.ScreenState, r: Regions, lang: str) -> None:
    x, y, w, h = r.services
    words = WORDS[lang]
    cap_h = int(h * 0.2)
    o.text(words["waiting"], (x, y, w, cap_h), int(cap_h * 0.7), GREY, "services.title")
    if not s.services:
        return
    row_h = min((h - cap_h) // len(s.services), int(r.unit * 56))
    for i, sv in enumerate(s.services):
        ry = y + cap_h + i * row_h
        text = s.hall.services.get(sv.id)
        name = text.get(lang) if text else sv.name
        o.text(name, (x, ry, int(w * 0.5), row_h), int(row_h * 0.7), WHITE, f"services.{i}.name")
        o.text(
            words["people"].format(n=sv.waiting),
            (x + int(w * 0.5), ry, int(w * 0.2), row_h),
            int(row_h * 0.7),
            YELLOW,
            f"services.{i}.waiting",
            "right",
        )
        closed = "full" if sv.full else "stopped" if sv.stopped else ""
        eta = words[closed] if closed else eta_text(lang, sv.eta_minutes, sv.eta_range)
        o.text(
            eta,
            (x + int(w * 0.72), ry, int(w * 0.28), row_h),
            int(row_h * 0.6),
            RED if closed else GREY,
            f"services.{i}.eta",
            "right",
        )


def _windows(o: _Out, s: st.ScreenState, r: Regions, lang: str) -> None:
    x, y, w, h = r.windows
    words = WORDS[lang]
    cap_h = int(h * 0.16)
    o.text(words["windows"], (x, y, w, cap_h), int(cap_h * 0.7), GREY, "windows.title")
    if not s.windows:
        return
    cols = 3 if len(s.windows) > 4 else 2
    rows = math.ceil(len(s.windows) / cols)
    cell_w, cell_h = w // cols, min((h - cap_h) // rows, int(r.unit * 110))
    for i, win in enumerate(s.windows):
        cx, cy = x + (i % cols) * cell_w, y + cap_h + (i // cols) * cell_h
        name = st.window_name(s, win.id, lang, win.name)
        o.text(
            name,
            (cx, cy, cell_w - int(r.unit * 10), cell_h // 2),
            int(cell_h * 0.36),
            WHITE,
            f"windows.{i}.name",
        )
        if win.paused:
            line = words["paused"] + (words["sep"] + win.reason if win.reason else "")
            color = RED
        elif win.current:
            line, color = win.current, YELLOW
        else:
            line, color = words["open"], GREEN
        o.text(
            line,
            (cx, cy + cell_h // 2, cell_w - int(r.unit * 10), cell_h // 2),
            int(cell_h * 0.34),
            color,
            f"windows.{i}.state",
        )


def _footer(o: _Out, s: st.ScreenState, r: Regions, lang: str, now: float) -> float:
    """The notices line, scrolling when too wide; returns when it next moves (or inf)."""
    x, y, w, h = r.footer
    o.fill(r.footer, HEAD)
    text = "　　　".join(n.get(lang) for n in s.notices)
    if not text:
        return math.inf
    size = int(h * 0.5)
    tw, th = o.measure(text, size)
    pad = int(r.unit * 24)
    if tw <= w - 2 * pad:
        o.items.append(Label(text, x + (w - tw) // 2, y + (h - th) // 2, size, WHITE, "notices"))
        return math.inf
    speed = max(r.unit * 1000 * TICKER_SPEED, 30.0)
    span = tw + w // 3
    offset = int(now * speed) % span
    o.items.append(
        Label(text, x + w - offset, y + (h - th) // 2, size, WHITE, "notices", clip=r.footer)
    )
    return now + 1 / 30


def compose(
    s: st.ScreenState, size: tuple[int, int], now: float, now_wall: float, measure: Measure
) -> Frame:
    """The TV frame for state `s` at screen time `now` (monotonic) and wall time `now_wall`."""
    width, height = size
    r = regions(width, height)
    lang = st.language(s, now_wall)
    o = _Out(measure)
    o.fill((0, 0, width, height), BG)
    _header(o, s, r, lang, now_wall)
    flash_next = _now_calling(o, s, r, lang, now)
    _recent(o, s, r, lang)
    _services(o, s, r, lang)
    _windows(o, s, r, lang)
    ticker_next = _footer(o, s, r, lang, now)
    # the next wall-clock minute or language switch
    period = s.hall.display.alternate_seconds
    wall_next = min(60 - now_wall % 60, period - now_wall % period)
    hold_next = math.inf
    if s.pending and s.entries:
        hold_next = s.entries[-1].since + s.hall.display.hold_seconds
    nxt = min(flash_next, ticker_next, now + wall_next, hold_next)
    return Frame(tuple(o.items), nxt)
