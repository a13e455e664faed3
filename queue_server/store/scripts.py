"""The Lua scripts, each one atomic state change, built from lua/*.lua with common.lua first."""

from __future__ import annotations

from functools import cache
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from queue_server.domain.eta import EWMA_ALPHA

STREAM_MAX = 50_000  # events kept per hall; consumers (stats, SMS outbox) read well within it
RECENT_MAX = 20  # recent calls kept for the board
TICKET_TTL = 2 * 86_400  # a ticket's record outlives its day for next-day ratings and reads

NAMES = ("issue", "next", "recall", "step", "citizen", "status", "snapshot", "rules", "seed")


@cache
def source(name: str) -> str:
    lua = resources.files("queue_server.store").joinpath("lua")
    common = (
        lua.joinpath("common.lua")
        .read_text(encoding="utf-8")
        .replace("__STREAM_MAX__", str(STREAM_MAX))
        .replace("__RECENT_MAX__", str(RECENT_MAX))
        .replace("__TICKET_TTL__", str(TICKET_TTL))
        .replace("__EWMA_ALPHA__", repr(EWMA_ALPHA))
    )
    return common + "\n" + lua.joinpath(f"{name}.lua").read_text(encoding="utf-8")


def register(redis: Redis) -> dict[str, AsyncScript]:
    return {name: redis.register_script(source(name)) for name in NAMES}
