"""Frames of the TV board and the LED strip, painted with the real CJK font.

Golden screenshots live in tests/golden/; after a deliberate change of the look, regenerate
them with
    HALLCALL_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_display_render.py -k golden
and look at the PNGs before committing them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pygame
import pygame.freetype
import pytest

import display_client  # noqa: F401
from display_client import led, tv
from display_client import state as st
from display_client.fonts import find_font, load
from display_client.frame import Fill, Label, Measure, font_measure, labels, paint
from queue_server.protocol import decode, encode
from queue_server.snapshots import Waits, build_board
from tests.conftest import demo_hall

GOLDEN = Path(__file__).parent / "golden"
WALL = 1795140000.0  # 2026-11-20 10:00 Shanghai: a fixed clock for the golden frames
NOW = 1000.0

HALL = st.Hall(
    "demo",
    st.Text("示范区政务服务中心", "Demo District Government Service Centre"),
    languages=("zh", "en"),
    windows={str(n): st.Text(f"{n}号窗口", f"Window {n}") for n in range(1, 7)},
    notices=(st.Text("老年人、残疾人、孕妇请走绿色通道", "Green channel for the elderly"),),
)


@pytest.fixture(scope="module")
def font() -> Iterator[pygame.freetype.Font]:
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    pygame.freetype.init()
    yield load(find_font())


@pytest.fixture(scope="module")
def measure(font: pygame.freetype.Font) -> Measure:
    return font_measure(font)


def board_state(online: bool = True, n_calls: int = 5) -> st.ScreenState:
    s = st.set_online(st.apply_hall(st.empty("demo"), HALL), online)
    for i in range(1, n_calls + 1):
        c = st.ShownCall(f"A{i:03d}", str(i % 6 + 1), "", i == 2, "call", i, f"e{i}", 0.0)
        s = st.add_call(s, c, NOW - (n_calls - i) * 11)
    c = st.ShownCall("A012", "3", "3号窗口", False, "call", 99, "e99", 0.0)
    s = st.add_call(s, c, NOW)
    return st.apply_board(
        s,
        {
            "services": [
                {
                    "id": "A",
                    "name": "户籍业务",
                    "waiting": 12,
                    "eta_minutes": 18,
                    "eta_range": [12, 26],
                },
                {"id": "B", "name": "社保医保", "waiting": 3, "eta_minutes": None},
            ],
            "windows": [
                {
                    "id": str(i),
                    "name": f"{i}号窗口",
                    "paused": i == 4,
                    "current": "",
                    "state": "idle",
                    "reason": "午休" if i == 4 else "",
                }
                for i in range(1, 7)
            ],
        },
    )


def draw(
    font: pygame.freetype.Font, items: tuple[Fill | Label, ...], size: tuple[int, int]
) -> pygame.Surface:
    surface = pygame.Surface(size)
    paint(surface, font, items)
    return surface


def ink(surface: pygame.Surface, rect: pygame.Rect, color: tuple[int, int, int]) -> int:
    """Pixels of exactly `color` inside `rect`."""
    sub = surface.subsurface(rect.clip(surface.get_rect()))
    return sum(
        1
        for x in range(sub.get_width())
        for y in range(sub.get_height())
        if sub.get_at((x, y))[:3] == color
    )


def label_rect(measure: Measure, lab: Label) -> pygame.Rect:
    w, h = measure(lab.text, lab.size)
    return pygame.Rect(lab.x, lab.y, w, h)


@pytest.mark.parametrize("size", [(1280, 720), (3840, 2160), (1080, 1920)])
def test_layout_holds_and_the_number_is_drawn(
    font: pygame.freetype.Font, measure: Measure, size: tuple[int, int]
) -> None:
    s = board_state()
    frame = tv.compose(s, size, NOW + 6, WALL, measure)  # past the flash: yellow on black
    screen = pygame.Rect(0, 0, *size)
    for lab in labels(frame.items):
        if lab.clip is None:
            assert screen.contains(label_rect(measure, lab)), (lab.role, lab.text, size)
    (num,) = labels(frame.items, "now.0.number")
    assert num.text == "A012" and num.size >= size[1] * 0.05
    # the pixels: the same ink as the number drawn alone at that size
    surface = draw(font, frame.items, size)
    rect = label_rect(measure, num)
    alone = pygame.Surface(rect.size)
    font.antialiased = True
    font.render_to(alone, (0, 0), "A012", tv.YELLOW, size=num.size)
    expected = ink(alone, alone.get_rect(), tv.YELLOW)
    assert expected > 50
    assert ink(surface, rect, tv.YELLOW) == pytest.approx(expected, rel=0.02)
    # no two texts of the large rows overlap
    rows = [label_rect(measure, lab) for lab in labels(frame.items, "now.")]
    for i, a in enumerate(rows):
        assert all(not a.colliderect(b) for b in rows[i + 1 :])


def shown_in(s: st.ScreenState, lang: str) -> float:
    """A wall time at which the board shows `lang`."""
    return WALL + next(x for x in range(120) if st.language(s, WALL + x) == lang)


@pytest.mark.parametrize(
    ("lang", "shown"), [("zh", ["约12–26分钟", "--"]), ("en", ["about 12–26 min", "--"])]
)
def test_the_board_shows_each_service_s_wait_range(
    measure: Measure, lang: str, shown: list[str]
) -> None:
    s = board_state()
    wall = shown_in(s, lang)
    for size in ((1280, 720), (1080, 1920)):
        frame = tv.compose(s, size, NOW + 6, wall, measure)
        etas = [labels(frame.items, f"services.{i}.eta")[0] for i in range(2)]
        assert [lab.text for lab in etas] == shown
        # fitted into its column, beside the waiting count, at a readable size
        (count,) = labels(frame.items, "services.0.waiting")
        assert label_rect(measure, etas[0]).left > label_rect(measure, count).right
        assert etas[0].size >= count.size * 0.5


@pytest.mark.parametrize(
    ("given", "shown"),
    [([7, 7], "约7分钟"), ([5, 2], "约7分钟"), (["5", 9], "约7分钟"), (None, "约7分钟")],
)
def test_no_range_or_a_bad_one_shows_the_single_number(
    measure: Measure, given: object, shown: str
) -> None:
    s = st.apply_board(
        board_state(),
        {
            "services": [
                {"id": "A", "name": "户籍业务", "waiting": 2, "eta_minutes": 7, "eta_range": given}
            ]
        },
    )
    wall = shown_in(s, "zh")
    frame = tv.compose(s, (1280, 720), NOW + 6, wall, measure)
    assert labels(frame.items, "services.0.eta")[0].text == shown


def test_a_service_past_its_cut_off_says_no_more_tickets(measure: Measure) -> None:
    """The server's board marks a service that issues no more tickets now (here past its
    16:30 cut-off on a Monday); the TV says so in its wait column, in red."""
    cfg = demo_hall(issue_outside_hours=False)
    a = cfg.services[0].model_copy(update={"issue_until": "16:30"})
    cfg = cfg.model_copy(update={"services": [a, *cfg.services[1:]]})
    snap = {"seq": 1, "call_seq": 0, "recent": [], "windows": [], "waiting": []}
    waits: Waits = {s.id: (2, 7, None) for s in cfg.services}
    monday = datetime(2026, 11, 23, 16, 45, tzinfo=cfg.tz).timestamp()
    body = decode(encode(build_board(cfg, snap, "zh", monday, waits)))
    assert [sv["stopped"] for sv in body["services"]] == [True, False, False, False]
    earlier = decode(encode(build_board(cfg, snap, "zh", monday - 3600, waits)))
    assert not any(sv["stopped"] for sv in earlier["services"])
    first_says(measure, body, {"zh": "已停止取号", "en": "No more tickets"})


def first_says(measure: Measure, board: dict[str, Any], said: dict[str, str]) -> None:
    """The TV shows the first service's wait column as `said` (per language), in red, and
    the second one's as a wait."""
    s = st.apply_board(board_state(), board)
    for lang, text in said.items():
        frame = tv.compose(s, (1280, 720), NOW + 6, shown_in(s, lang), measure)
        eta = labels(frame.items, "services.0.eta")[0]
        assert (eta.text, eta.color) == (text, tv.RED)
        assert labels(frame.items, "services.1.eta")[0].text != text


def test_a_service_with_its_days_tickets_taken_says_fully_booked(measure: Measure) -> None:
    """号源: A's 3 tickets of the day are given or held by bookings (snapshot.lua's
    `issued`), so the board marks it full and the TV says 今日号源已满 in red."""
    cfg = demo_hall()
    a = cfg.services[0].model_copy(update={"capacity": 3})
    cfg = cfg.model_copy(update={"services": [a, *cfg.services[1:]]})
    snap = {"seq": 1, "call_seq": 0, "recent": [], "windows": [], "waiting": []}
    waits: Waits = {s.id: (2, 7, None) for s in cfg.services}
    for issued, full in (([["A", 1, 1], ["B", 5, 0]], False), ([["A", 2, 1]], True)):
        body = decode(encode(build_board(cfg, snap | {"issued": issued}, "zh", NOW, waits)))
        assert [sv["full"] for sv in body["services"]] == [full, False, False, False]
    first_says(measure, body, {"zh": "今日号源已满", "en": "Fully booked today"})


def test_flash_starts_and_stops(measure: Measure) -> None:
    s = board_state()
    flash = s.hall.display.flash_seconds

    def lit(at: float) -> bool:
        items = tv.compose(s, (1920, 1080), at, WALL, measure).items
        return any(isinstance(i, Fill) and i.color == tv.FLASH_BG for i in items)

    assert lit(NOW + 0.1)
    assert not lit(NOW + 0.6)  # blinking: off half the time
    assert lit(NOW + 1.1)
    assert not any(lit(NOW + flash + 0.1 + k * 0.25) for k in range(4))
    frame = tv.compose(s, (1920, 1080), NOW + 0.1, WALL, measure)
    assert frame.next_change <= NOW + 0.5  # the loop wakes for the next blink


def test_offline_mark(measure: Measure) -> None:
    on = labels(tv.compose(board_state(), (1920, 1080), NOW, WALL, measure).items, "offline")
    off = tv.compose(board_state(online=False), (1920, 1080), NOW, WALL, measure)
    assert not on and [lab.text for lab in labels(off.items, "offline")] in (["离线"], ["OFFLINE"])
    strip = led.compose(st.empty("demo", "3"), (256, 64), NOW, WALL, measure)  # offline by default
    assert any(isinstance(i, Fill) and i.color == led.LED for i in strip.items)


def test_recent_list_takes_fifty_calls(measure: Measure) -> None:
    s = board_state(n_calls=55)
    s = replace(s, hall=replace(s.hall, display=replace(s.hall.display, recent=50)))
    frame = tv.compose(s, (1920, 1080), NOW, WALL, measure)
    numbers = labels(frame.items, "recent.")
    assert len([n for n in numbers if n.role.endswith(".number")]) == 50
    screen = pygame.Rect(0, 0, 1920, 1080)
    assert all(screen.contains(label_rect(measure, n)) for n in numbers)


def test_led_strip_scrolls_long_text(measure: Measure) -> None:
    hall = replace(HALL, windows={"3": st.Text("3号综合业务办理窗口", "Window 3")})
    s = st.set_online(st.apply_hall(st.empty("demo", "3"), hall), True)
    s = st.add_call(s, st.ShownCall("A012", "3", "", False, "call", 1, "e1", 0.0), NOW)

    def bottom(at: float) -> Label:
        (lab,) = labels(led.compose(s, (256, 64), at, WALL, measure).items, "bottom")
        return lab

    first, later = bottom(NOW + 6), bottom(NOW + 6.5)
    assert first.text == "请A012号到3号综合业务办理窗口"
    assert first.clip is not None and first.x != later.x and first.crisp
    short = replace(hall, windows={"3": st.Text("3号", "W3")})
    s2 = st.apply_hall(s, short)
    (lab,) = labels(led.compose(s2, (256, 64), NOW + 6, WALL, measure).items, "bottom")
    assert lab.clip is None  # fits: it stays still
    number = labels(led.compose(s, (256, 64), NOW + 6, WALL, measure).items, "number")
    assert [n.text for n in number] == ["A012"]
    # the number blinks while it flashes
    assert not labels(led.compose(s, (256, 64), NOW + 0.6, WALL, measure).items, "number")


def test_led_idle_and_paused(measure: Measure) -> None:
    s = st.set_online(st.apply_hall(st.empty("demo", "3"), HALL), True)
    (idle,) = labels(led.compose(s, (256, 64), NOW, WALL, measure).items, "idle")
    assert idle.text == "欢迎光临"
    s = st.apply_panel(s, {"paused": True, "reason": "午休", "current": None}, NOW)
    texts = [lab.text for lab in labels(led.compose(s, (256, 64), NOW, WALL, measure).items)]
    assert texts == ["暂停服务", "午休"]


def _golden(name: str, surface: pygame.Surface) -> None:
    path = GOLDEN / f"{name}.png"
    if os.environ.get("HALLCALL_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        pygame.image.save(surface, str(path))
    want = pygame.image.load(str(path))
    assert want.get_size() == surface.get_size()
    a = pygame.image.tobytes(surface, "RGB")
    b = pygame.image.tobytes(want, "RGB")
    differ = sum(1 for i in range(0, len(a), 3) if a[i : i + 3] != b[i : i + 3])
    assert differ / (len(a) // 3) < 0.002, f"{name}: {differ} pixels differ from {path}"


def test_golden_tv(font: pygame.freetype.Font, measure: Measure) -> None:
    frame = tv.compose(board_state(), (1280, 720), NOW + 0.1, WALL, measure)
    _golden("display-tv", draw(font, frame.items, (1280, 720)))


def test_golden_led(font: pygame.freetype.Font, measure: Measure) -> None:
    s = st.set_online(st.apply_hall(st.empty("demo", "3"), HALL), True)
    s = st.add_call(s, st.ShownCall("A012", "3", "", False, "call", 1, "e1", 0.0), NOW)
    frame = led.compose(s, (256, 64), NOW + 6, WALL, measure)
    _golden("display-led", draw(font, frame.items, (256, 64)))
