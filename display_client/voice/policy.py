"""What a call sounds like under the hall's voice settings (pure): the mode in force (quiet
hours switch to the quiet mode) and the clips of one round, in order."""

from __future__ import annotations

from datetime import time

from display_client.state import Hall, ShownCall, Voice
from display_client.voice.tokens import CHIME, Token, announcement, template_words

PAUSE = "pause"  # a silence between rounds, not a clip


def _span(text: str) -> tuple[time, time]:
    a, _, b = text.partition("-")
    return time.fromisoformat(a), time.fromisoformat(b)


def mode_at(voice: Voice, local: time) -> str:
    """ "speech", "chime" or "off" at local time `local`."""
    for span in voice.quiet_hours:
        start, end = _span(span)
        inside = start <= local < end if start <= end else (local >= start or local < end)
        if inside:
            return voice.quiet_mode
    return voice.mode


def window_names(hall: Hall, window: str, fallback: str) -> dict[str, str]:
    text = hall.windows.get(window)
    return {"zh": text.zh if text else fallback, "en": text.get("en") if text else fallback}


def round_tokens(hall: Hall, call: ShownCall, mode: str) -> list[Token]:
    """One round of the announcement: the chime, then the call in each voice language."""
    if mode == "off":
        return []
    out = [Token("", CHIME, "")]
    if mode == "speech":
        names = window_names(hall, call.window, call.window_name)
        for lang in hall.voice.languages:
            template = hall.voice.template.get(lang)
            out += announcement(template, call.number, names[lang], lang)
    return out


def hall_tokens(hall: Hall) -> list[Token]:
    """The words of the hall's templates and every window name, per voice language."""
    out: dict[str, Token] = {}
    for lang in hall.voice.languages:
        template = hall.voice.template.get(lang)
        for t in template_words(template, lang):
            out.setdefault(t.file, t)
        for name in hall.windows.values():
            t = Token(lang, name.get(lang), name.get(lang))
            out.setdefault(t.file, t)
    return list(out.values())
