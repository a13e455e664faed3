"""Which clips make an announcement (pure).

A template such as "请{number}号到{window}办理" becomes tokens: the literal words, the ticket
number spoken character by character ("A", "0", "1", "2": "A012" read whole would be "A 零
十二"), and the window name as one clip. Chinese literal text is cut into the words of a small
lexicon and otherwise into single characters; other text into words.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

ZH_DIGITS = "零一二三四五六七八九"
EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LEXICON = ("办理", "窗口", "前往", "柜台", "业务", "请到", "号码")
_FIELD = re.compile(r"\{(number|window)\}")
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[\u3400-\u9fff]+|[A-Za-z0-9']+")
UNSAFE = re.compile(r"[/\\\x00]")

CHIME = "chime"


@dataclass(frozen=True, slots=True)
class Token:
    """One clip: `key` names its file (``{lang}/{key}.wav``); `say` is what synthesis reads."""

    lang: str
    key: str
    say: str

    @property
    def file(self) -> str:
        return f"{self.lang}/{UNSAFE.sub('_', self.key)}.wav"


def _say_char(ch: str, lang: str) -> str:
    if ch.isdigit():
        return ZH_DIGITS[int(ch)] if lang == "zh" else EN_DIGITS[int(ch)]
    return ch


def number_tokens(number: str, lang: str) -> list[Token]:
    """A ticket number, character by character."""
    return [Token(lang, ch.upper(), _say_char(ch, lang)) for ch in number if ch.isalnum()]


def _cjk_words(run: str) -> list[str]:
    out, i = [], 0
    while i < len(run):
        for word in sorted(LEXICON, key=len, reverse=True):
            if run.startswith(word, i):
                out.append(word)
                i += len(word)
                break
        else:
            out.append(run[i])
            i += 1
    return out


def literal_tokens(text: str, lang: str) -> list[Token]:
    out: list[Token] = []
    for word in _WORD.findall(text):
        if _CJK.match(word):
            out += [Token(lang, w, w) for w in _cjk_words(word)]
        else:
            out.append(Token(lang, word.lower(), word))
    return out


def announcement(template: str, number: str, window: str, lang: str) -> list[Token]:
    """The tokens of one spoken call in one language; `window` is the window's name in that
    language, one clip (espeak-ng reads "12号窗口" as 十二号窗口)."""
    out: list[Token] = []
    pos = 0
    for m in _FIELD.finditer(template):
        out += literal_tokens(template[pos : m.start()], lang)
        if m.group(1) == "number":
            out += number_tokens(number, lang)
        else:
            out.append(Token(lang, window, window))
        pos = m.end()
    out += literal_tokens(template[pos:], lang)
    return out


def template_words(template: str, lang: str) -> list[Token]:
    """The literal words of a template (what every call in that language says)."""
    return literal_tokens(_FIELD.sub(" ", template), lang)


def base_tokens(lang: str) -> list[Token]:
    """Every token any ticket number may need: digits and letters."""
    chars = string.digits + string.ascii_uppercase
    return [Token(lang, ch, _say_char(ch, lang)) for ch in chars]
