"""Masked forms of personal data, for everything but the SMS gateway."""

from __future__ import annotations

import re

_PHONE = re.compile(r"^\+?[0-9]{6,15}$")


def normalize_phone(phone: str) -> str:
    """One form per number, so the per-phone limit cannot be dodged by writing it another way:
    separators dropped, China's country code (+86, 0086, 86) removed from mobile numbers."""
    digits = re.sub(r"[\s().-]", "", phone)
    for prefix in ("+86", "0086", "86"):
        rest = digits.removeprefix(prefix)
        if rest != digits and len(rest) == 11 and rest.startswith("1"):
            return rest
    return digits


def valid_phone(phone: str) -> bool:
    return bool(_PHONE.match(phone))


def mask_phone(phone: str) -> str:
    """138****5678: the first three and last four digits, as Chinese services print them."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
