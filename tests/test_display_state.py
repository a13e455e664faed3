"""Screen state and voice plans (pure: no pygame, no broker)."""

from __future__ import annotations

from dataclasses import replace
from datetime import time

from display_client import state as st
from display_client.voice.policy import hall_tokens, mode_at, round_tokens
from display_client.voice.tokens import announcement, number_tokens

HALL = st.Hall(
    "demo",
    st.Text("示范大厅", "Demo hall"),
    languages=("zh", "en"),
    windows={"3": st.Text("3号窗口", "Window 3"), "6": st.Text("6号窗口（综合）", "Window 6")},
    display=st.Display(hold_seconds=10, flash_seconds=5),
)


def call(n: int, window: str = "3", number: str | None = None) -> st.ShownCall:
    return st.ShownCall(
        number or f"A{n:03d}", window, f"{window}号窗口", False, "call", n, f"e{n}", 0.0
    )


def fresh(window: str | None = None) -> st.ScreenState:
    return st.apply_hall(st.empty("demo", window), HALL)


def test_a_burst_keeps_every_call_large_for_the_hold_time() -> None:
    s = fresh()
    shown_at: dict[str, float] = {}
    gone_at: dict[str, float] = {}
    for i in range(1, 10):  # nine calls within one second, four large slots
        s = st.add_call(s, call(i), 100 + i * 0.1)
    now = 100.0
    while now < 160:
        s = st.tick(s, now)
        large = {e.call.number: e.since for e in s.entries}
        for number, since in large.items():
            shown_at.setdefault(number, since)
        for number in shown_at:
            if number not in large:
                gone_at.setdefault(number, now)
        now += 0.05
    assert len(shown_at) == 9  # every call made it to the large area
    for number, left in gone_at.items():
        assert left - shown_at[number] >= 10.0 - 1e-9, number
    assert [c.number for c in s.recent[:3]] == ["A009", "A008", "A007"]
    assert len(s.entries) == 4 and not s.pending


def test_a_recall_flashes_again_at_the_top() -> None:
    s = fresh()
    for i in range(1, 4):
        s = st.add_call(s, call(i), 100.0 + i)
    assert not st.flashing(s, 110.0)
    s = st.add_call(s, replace(call(1), kind="recall", seq=9, event="e9"), 110.0)
    assert s.entries[0].call.number == "A001" and s.entries[0].since == 110.0
    assert [e.call.number for e in s.entries].count("A001") == 1
    assert st.flashing(s, 112.0) and not st.flashing(s, 115.1)


def test_board_seeds_calls_without_flashing() -> None:
    s = fresh()
    s = st.seed_calls(s, [call(5), call(4), call(3)], now=100.0)
    assert [e.call.number for e in s.entries] == ["A005", "A004", "A003"]
    assert not st.flashing(s, 100.0)
    s = st.add_call(s, call(6), 100.0)  # the settled ones give way at once
    assert s.entries[0].call.number == "A006" and st.flashing(s, 100.0)


def test_panel_follows_calls_and_snapshots() -> None:
    s = fresh("3")
    s = st.add_call(s, call(1, "6"), 1.0)
    assert s.panel is not None and s.panel.number == ""
    s = st.add_call(s, call(2, "3"), 2.0)
    assert s.panel is not None and (s.panel.number, s.panel.state) == ("A002", "called")
    s = st.apply_panel(
        s, {"name": "3号窗口", "paused": True, "reason": "午休", "current": None}, 3.0
    )
    assert s.panel is not None and s.panel.paused and s.panel.reason == "午休"


def test_languages_alternate_only_when_the_hall_has_both() -> None:
    s = fresh()
    assert {st.language(s, t) for t in (0.0, 6.5)} == {"zh", "en"}
    zh_only = st.apply_hall(s, replace(HALL, languages=("zh",)))
    assert {st.language(zh_only, t) for t in (0.0, 6.5)} == {"zh"}


def test_hall_message_parses_settings() -> None:
    hall = st.parse_hall(
        {
            "hall": "h1",
            "name": {"zh": "大厅"},
            "services": [{"id": "A", "name": {"zh": "户籍"}}],
            "windows": [{"id": "1", "name": {"zh": "1号窗口", "en": "Window 1"}}],
            "notices": [{"zh": "通知"}],
            "display": {"hold_seconds": 12, "idle": {"zh": "暂无", "en": "None"}},
            "voice": {"mode": "chime", "repeat": 3},
        }
    )
    assert hall.display.hold_seconds == 12 and hall.display.idle.get("en") == "None"
    assert hall.voice.mode == "chime" and hall.voice.repeat == 3
    assert hall.windows["1"].get("en") == "Window 1" and hall.notices[0].zh == "通知"


def test_number_is_spoken_digit_by_digit() -> None:
    assert [t.say for t in number_tokens("A012", "zh")] == ["A", "零", "一", "二"]
    assert [t.say for t in number_tokens("A012", "en")] == ["A", "zero", "one", "two"]
    tokens = announcement("请{number}号到{window}办理", "A012", "3号窗口", "zh")
    assert [t.key for t in tokens] == ["请", "A", "0", "1", "2", "号", "到", "3号窗口", "办理"]
    en = announcement("Number {number}, please go to {window}", "B7", "Window 3", "en")
    assert [t.key for t in en] == ["number", "B", "7", "please", "go", "to", "Window 3"]


def test_quiet_hours_switch_the_mode() -> None:
    voice = st.Voice(mode="speech", quiet_hours=("12:00-13:30", "22:00-07:00"), quiet_mode="off")
    assert mode_at(voice, time(11, 59)) == "speech"
    assert mode_at(voice, time(12, 30)) == "off"
    assert mode_at(voice, time(23, 0)) == "off" and mode_at(voice, time(6, 0)) == "off"
    assert mode_at(voice, time(7, 0)) == "speech"


def test_a_round_is_the_chime_then_each_language() -> None:
    hall = replace(HALL, voice=st.Voice(languages=("zh", "en")))
    keys = [t.key for t in round_tokens(hall, call(12), "speech")]
    assert keys[0] == "chime" and keys[1:10] == [
        "请",
        "A",
        "0",
        "1",
        "2",
        "号",
        "到",
        "3号窗口",
        "办理",
    ]
    assert "Window 3" in keys and keys.index("Window 3") > keys.index("办理")
    assert [t.key for t in round_tokens(hall, call(12), "chime")] == ["chime"]
    assert round_tokens(hall, call(12), "off") == []
    files = {t.file for t in hall_tokens(hall)}
    assert {"zh/请.wav", "zh/6号窗口（综合）.wav", "en/Window 6.wav", "en/please.wav"} <= files
