"""The screens' own words in Chinese and English (the hall's names come from the broker)."""

from __future__ import annotations

from datetime import datetime

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "now": "正在呼叫",
        "recent": "最近呼叫",
        "waiting": "等候人数",
        "windows": "窗口状态",
        "people": "{n}人",
        "eta": "约{m}分钟",
        "eta_range": "约{low}–{high}分钟",
        "stopped": "已停止取号",
        "full": "今日号源已满",
        "paused": "暂停",
        "open": "空闲",
        "green": "绿色通道",
        "offline": "离线",
        "call": "请{number}号到{window}",
        "paused_strip": "暂停服务",
        "sep": "：",
    },
    "en": {
        "now": "Now calling",
        "recent": "Recent calls",
        "waiting": "Waiting",
        "windows": "Windows",
        "people": "{n}",
        "eta": "≈{m} min",
        "eta_range": "about {low}–{high} min",
        "stopped": "No more tickets",
        "full": "Fully booked today",
        "paused": "Paused",
        "open": "Open",
        "green": "Green channel",
        "offline": "OFFLINE",
        "call": "{number} to {window}",
        "paused_strip": "Paused",
        "sep": ": ",
    },
}


def eta_text(lang: str, minutes: int | None, span: tuple[int, int] | None) -> str:
    """A service's wait on the board: the range when there is one ("约10–20分钟"), else the
    single number, else "--"."""
    words = WORDS[lang]
    if span is not None and span[0] < span[1]:
        return words["eta_range"].format(low=span[0], high=span[1])
    return words["eta"].format(m=minutes) if minutes is not None else "--"


_WEEKDAYS_ZH = "一二三四五六日"


def date_text(when: datetime, lang: str) -> str:
    if lang == "en":
        return when.strftime("%a %d %b %Y")
    return f"{when.year}年{when.month}月{when.day}日 星期{_WEEKDAYS_ZH[when.weekday()]}"
