"""The Lua scripts, each one atomic state change, built from lua/*.lua.

Hall scripts get common.lua first (it names the KEYS and ARGV every hall script shares; see
its header); the relay's own small scripts (lease, retire) stand alone.
"""

from __future__ import annotations

import hashlib
import re
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
    return _needed(common, own) + "\n" + own


HELPERS = "\nlocal function fail("  # common.lua's helpers start here; the prelude runs before


def _needed(common: str, own: str) -> str:
    """common.lua with only the helpers `own` uses, itself or through another helper kept.

    Why: a script defines every helper of its text again on each call (a closure each, ~1 k
    Redis instructions), and the issue script uses half of them. The helpers are blocks
    between blank lines, each naming what it defines at column 0 (`local function x`,
    `local X =`); a block is kept when a word of the script or of a kept block is one of its
    names (a word in a comment keeps one too many, never one too few), in the file's order."""
    head, mark, rest = common.partition(HELPERS)
    blocks = (mark.lstrip("\n") + rest).split("\n\n")
    names = [set(re.findall(r"^local (?:function )?(\w+)", b, re.M)) for b in blocks]
    words = set(re.findall(r"\w+", own))
    keep = [not n for n in names]  # a block that defines nothing (a comment) stays
    grew = True
    while grew:
        grew = False
        for i, b in enumerate(blocks):
            if not keep[i] and names[i] & words:
                keep[i], grew = True, True
                words |= set(re.findall(r"\w+", b))
    return head + "\n" + "\n\n".join(b for b, k in zip(blocks, keep, strict=True) if k)


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
