"""The Lua scripts, each one atomic state change, built from lua/*.lua.

Hall scripts get common.lua first (it names the KEYS and ARGV every hall script shares; see
its header); the relay's own small scripts (lease, retire) stand alone.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from queue_server.domain import eta
from queue_server.store.keys import DAY_TTL

STREAM_MAX = 50_000  # events kept per hall; consumers read well within it
RECENT_MAX = 20  # recent calls kept for the board

HALL_SCRIPTS = (
    "issue",
    "next",
    "recall",
    "step",
    "citizen",
    "status",
    "snapshot",
    "rules",
    "staff",
    "rate",
)
PLAIN_SCRIPTS = ("lease", "retire")


@cache
def source(name: str) -> str:
    lua = resources.files("queue_server.store").joinpath("lua")
    own = lua.joinpath(f"{name}.lua").read_text(encoding="utf-8")
    if name in PLAIN_SCRIPTS:
        return own
    common = (
        lua.joinpath("common.lua")
        .read_text(encoding="utf-8")
        .replace("__STREAM_MAX__", str(STREAM_MAX))
        .replace("__RECENT_MAX__", str(RECENT_MAX))
        .replace("__DAY_TTL__", str(DAY_TTL))
        .replace("__ALPHA_MIN__", repr(eta.ALPHA_MIN))
        .replace("__PRIOR_WEIGHT__", repr(eta.PRIOR_WEIGHT))
        .replace("__PRIOR_CV__", repr(eta.PRIOR_CV))
        .replace("__CAP__", repr(eta.CAP))
        .replace("__DROP__", repr(eta.DROP))
    )
    return common + "\n" + own


def register(redis: Any) -> dict[str, Any]:
    """The scripts as redis-py Script objects (EVALSHA, loading on NOSCRIPT), for a Redis or a
    RedisCluster client."""
    return {name: redis.register_script(source(name)) for name in HALL_SCRIPTS + PLAIN_SCRIPTS}
