"""Phone numbers: one canonical form, only mainland mobile numbers, and a keyed digest.

Every way of writing one number (``+86 138-1234-5678``, ``0086…``, ``086…``, ``0…``, ``00…``,
``+0…``) becomes the same 11 digits, so the per-phone daily limit cannot be dodged by
rewriting the number. The per-phone counter key is an HMAC with a secret kept outside Redis:
a copy of Redis does not reveal who took tickets (11-digit numbers are cheap to enumerate,
so a bare hash would).
"""

from __future__ import annotations

import re
from functools import cache

from queue_server.domain.keyed import KeyedHash

MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
"""A mainland mobile number in its canonical form (the only numbers SMS notices reach)."""

_SEPARATORS = re.compile(r"[\s().\-\u3000\uff08\uff09\uff0d]")
_RAW = re.compile(r"^\+?[0-9]{1,20}$")
MAX_LENGTH = 32


class PhoneError(ValueError):
    """Not a mainland mobile number; the message is one line for the citizen."""


def canonical_phone(raw: str) -> str:
    """The 11-digit form of a mainland mobile number, or PhoneError."""
    if MOBILE.fullmatch(raw):  # already canonical, as most apps send it (no "\n" after it)
        return raw
    if len(raw) > MAX_LENGTH:
        raise PhoneError("the phone number is too long")
    digits = _SEPARATORS.sub("", raw)
    if not _RAW.match(digits):
        raise PhoneError("a phone number has only digits, an optional leading + and separators")
    if digits.startswith("+") and not digits.startswith(("+0", "+86")):
        raise PhoneError("not a mainland mobile number (another country's code)")
    digits = digits.lstrip("+").lstrip("0")  # 00 / 0 trunk and international prefixes
    if len(digits) == 13 and digits.startswith("86"):  # China's country code
        digits = digits[2:]
    elif len(digits) > 13 and digits.startswith("86"):  # 86 0 138…: a trunk 0 after the code
        digits = digits[2:].lstrip("0")
    if not MOBILE.match(digits):
        raise PhoneError("not a mainland mobile number (11 digits starting with 13-19)")
    return digits


def phone_key(secret: bytes, hall: str, phone: str) -> str:
    """The per-hall digest that names a phone's counters in Redis (HMAC-SHA256, 128 bits):
    `hmac.new(secret, f"{hall}:{phone}", sha256).hexdigest()[:32]`, from the key states made
    once per (secret, hall), with the hall's prefix already hashed in (domain/keyed.py)."""
    return _keyed(secret, hall).digest(phone.encode())[:16].hex()


@cache
def _keyed(secret: bytes, hall: str) -> KeyedHash:
    return KeyedHash(secret, f"{hall}:".encode())
