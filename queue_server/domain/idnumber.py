"""Resident ID numbers (居民身份证号码, GB 11643-1999): checked, aged, and kept only as a digest.

An ID number is 17 digits and a check character (ISO 7064 MOD 11-2; ``X`` stands for 10):
six digits of region, eight of birth date, three of sequence. The server checks it, reads the
birth date (the green channel by age), and keeps only an HMAC with the server secret: ID
numbers are few enough to enumerate, so a bare hash would give them away. Never logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"  # the check character for each remainder 0..10
_SEPARATORS = re.compile(r"[\s\-\u3000]")
MAX_LENGTH = 40


class IdNumberError(ValueError):
    """Not a valid resident ID number; the message is one line for the citizen. `kind` says
    what is wrong ("shape", "date" or "check"), so a page can say it in its own language."""

    def __init__(self, message: str, kind: str = "shape") -> None:
        super().__init__(message)
        self.kind = kind


def check_character(first17: str) -> str:
    """The check character GB 11643 puts after these 17 digits."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def canonical_id(raw: str, today: dt.date) -> str:
    """The 18-character form (upper-case X), or IdNumberError naming what is wrong."""
    if len(raw) > MAX_LENGTH:
        raise IdNumberError("the ID number is too long")
    text = _SEPARATORS.sub("", raw).upper()
    if not _SHAPE.match(text):
        raise IdNumberError("an ID number has 17 digits and then a digit or X")
    try:
        born = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise IdNumberError("the ID number's birth date does not exist", "date") from None
    if born > today or born.year < 1880:
        raise IdNumberError("the ID number's birth date is impossible", "date")
    if check_character(text[:17]) != text[17]:
        raise IdNumberError("the ID number's check digit is wrong (a digit mistyped?)", "check")
    return text


def birth_date(id_number: str) -> dt.date:
    """The birth date of a canonical ID number."""
    return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def age_on(id_number: str, day: dt.date) -> int:
    """Full years of age on `day` (a 29 February birthday counts from 1 March)."""
    born = birth_date(id_number)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def id_key(secret: bytes, hall: str, id_number: str) -> str:
    """The per-hall digest that stands for an ID number in Redis (HMAC-SHA256, 128 bits)."""
    return hmac.new(secret, f"{hall}:id:{id_number}".encode(), hashlib.sha256).hexdigest()[:32]


def masked_id(id_number: str) -> str:
    """What a page may show of an ID number: the first and last character only."""
    return f"{id_number[0]}{'*' * 16}{id_number[-1]}" if len(id_number) == 18 else "*" * 18
