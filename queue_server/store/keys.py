"""Every Redis key of hallcall, built here and nowhere else.

All keys of a hall share the hash tag ``{hall}`` so a hall lives in one Redis Cluster slot and
its Lua scripts may touch any of its keys. Scripts receive the prefix and build the same names
(see lua/common.lua); the two must agree.
"""

from __future__ import annotations


def prefix(hall: str) -> str:
    return f"hc:{{{hall}}}:"


def seq(hall: str) -> str:
    return prefix(hall) + "seq"


def callseq(hall: str) -> str:
    return prefix(hall) + "callseq"


def ticket(hall: str, tid: str) -> str:
    return prefix(hall) + f"t:{tid}"


def queue(hall: str, service: str, cls: str) -> str:
    return prefix(hall) + f"q:{service}:{cls}"


def number_counter(hall: str, service: str, day: str) -> str:
    return prefix(hall) + f"num:{service}:{day}"


def phone_counter(hall: str, day: str, phone_digest: str) -> str:
    return prefix(hall) + f"phone:{day}:{phone_digest}"


def window(hall: str, wid: str) -> str:
    return prefix(hall) + f"w:{wid}"


def window_services(hall: str, wid: str) -> str:
    return prefix(hall) + f"wsvc:{wid}"


def parked(hall: str, wid: str) -> str:
    return prefix(hall) + f"parked:{wid}"


def missed(hall: str) -> str:
    return prefix(hall) + "missed"


def rules(hall: str) -> str:
    return prefix(hall) + "rules"


def handle_times(hall: str) -> str:
    return prefix(hall) + "handle"


def recent_calls(hall: str) -> str:
    return prefix(hall) + "recent"


def events(hall: str) -> str:
    return prefix(hall) + "events"


def meta(hall: str) -> str:
    return prefix(hall) + "meta"


def idempotency(hall: str, window: str, key_digest: str) -> str:
    """The stored answer of a window action sent with an Idempotency-Key (10 minutes)."""
    return prefix(hall) + f"idem:{window}:{key_digest}"
