"""The Lua scripts, each one atomic state change, built from lua/*.lua.

Hall scripts get common.lua first (it names the KEYS and ARGV every hall script shares; see
its header); the relay's own small scripts (lease, retire) stand alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from redis.exceptions import NoScriptError

from queue_server.domain import eta
from queue_server.store.keys import DAY_TTL
from queue_server.store.pipeline import Packed, command, script_command

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
    # appointments (预约)
    "appt_book",
    "appt_cancel",
    "appt_sweep",
    "places",
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


class Script:
    """One Lua script, run with EVALSHA (loaded again on NOSCRIPT, as after a Redis restart).

    On a client from `store.connect` it goes through the auto-pipelined connection, with its
    keys and arguments in packed parts (`run`: the hall's fixed part is packed once); on any
    other client (a Redis Cluster) through redis-py's own script object."""

    def __init__(self, redis: Any, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 (Redis names it so)
        self._link = getattr(redis, "pipeline_link", None)
        self._fallback = redis.register_script(source)

    async def run(self, keys: Sequence[Packed], args: Sequence[Packed]) -> Any:
        if self._link is None:
            return await self._fallback(
                keys=[k for p in keys for k in p.items], args=[a for p in args for a in p.items]
            )
        cmd = script_command(self.sha, keys, args)
        try:
            return await self._link.execute(cmd)
        except NoScriptError:
            await self._link.execute(command(Packed.of(["SCRIPT", "LOAD", self.source])))
            return await self._link.execute(cmd)

    async def load(self) -> None:
        """Load the script now (at startup), so the first burst of calls meets no NOSCRIPT."""
        if self._link is not None:
            await self._link.execute(command(Packed.of(["SCRIPT", "LOAD", self.source])))

    async def __call__(self, keys: Sequence[str | int] = (), args: Sequence[str | int] = ()) -> Any:
        return await self.run((Packed.of(keys),), (Packed.of(args),))


def register(redis: Any) -> dict[str, Script]:
    """The scripts, for a Redis or a RedisCluster client."""
    return {name: Script(redis, source(name)) for name in HALL_SCRIPTS + PLAIN_SCRIPTS}
