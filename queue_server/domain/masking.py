"""Masked forms of personal data, for everything but the SMS gateway."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """138****5678: the first three and last four digits, as Chinese services print them."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str) -> str:
    """张* / 欧阳** : the first character only."""
    return name[:1] + "*" * (len(name) - 1) if name else ""
