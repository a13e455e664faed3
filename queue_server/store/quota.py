"""Quota counters: day-keyed counters the issue script checks and counts in one atomic step.

A quota is (counter, cap, code): the script refuses the ticket with `code` when any counter
has reached its cap, checking every cap before it counts anything (a refusal changes nothing),
then adds one to each. The counters are the day's keys (``keys.day_counter``) and expire with
the day. The first counter of an issue is always the service's number counter, whose count is
the ticket's number. To add a limit (per ID, per device, …) add one Quota to the list the use
case passes (queue_server/quotas.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Quota:
    counter: str  # the day counter's name, e.g. "phone:<key>"; never a phone or ID in clear
    cap: int  # refused once the counter has reached it: a whole number >= 0
    code: str  # the refusal's code (errors.STATUS)
    message: str  # the refusal's one-line message
    reopens: float | None = None  # epoch seconds when it lets tickets through again, if known


def number_counter(service: str) -> str:
    return f"num:{service}"


def number(service: str, cap: int, message: str, reopens: float | None = None) -> Quota:
    """The service's number counter: its count is the ticket's number."""
    return Quota(number_counter(service), cap, "capacity_full", message, reopens)


def phone_counter(phone_key: str) -> str:
    return f"phone:{phone_key}"


def phone(phone_key: str, cap: int) -> Quota:
    message = f"this phone has taken {cap} tickets today"
    return Quota(phone_counter(phone_key), cap, "phone_limit", message)
