"""Script calls of the real use cases, queued in order and sent to Redis as one pipeline.

The simulator asks the server many things whose answers it does not need at once (an issued
ticket's ETA only goes into its record). A use case is started here: it runs up to its store
call, whose script call is queued, and waits there. `flush` sends every queued call in one
round trip; Redis runs them in the order queued, as it would have one by one. Then each use
case is resumed in that order with the hall's clock set back to the moment it was started,
so it finishes (ETA, closing time, views) exactly as if it had been answered at once.

A use case here must make exactly one store call; anything else is a simulator bug.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from queue_server.clock import ManualClock
from queue_server.errors import Refused
from queue_server.store import pipeline
from queue_server.store.pipeline import Packed


class SimError(RuntimeError):
    """The server refused what the simulated staff did: a simulator bug, said in one line."""


class Pending:
    """A script's reply still to come: what a use case awaits while its call is queued."""

    __slots__ = ("error", "ready", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.ready = False

    def __await__(self) -> Generator[Pending, None, Any]:
        if not self.ready:
            yield self
        if self.error is not None:
            raise self.error
        return self.value


@dataclass(slots=True)
class _Call:
    command: bytes  # packed for the wire
    reply: Pending
    at: float = 0.0
    coro: Coroutine[Any, Any, Any] | None = None
    then: Callable[[Any], None] | None = None
    what: str = ""


class _Queued:
    """A script as the store runs it (store/scripts.py), its call queued in the batch."""

    def __init__(self, batch: Batch, sha: str) -> None:
        self.batch = batch
        self.sha = sha

    def run(self, keys: Sequence[Packed], args: Sequence[Packed]) -> Pending:
        return self.batch.queue(pipeline.script_command(self.sha, keys, args))


class Batch:
    """Script calls (and plain reads) queued in order, sent in one round trip by `flush`, or
    when `limit` are queued."""

    def __init__(
        self, redis: Redis, clock: ManualClock, limit: int = 2000, timeout: float = 120.0
    ) -> None:
        self.redis = redis
        self.timeout = timeout
        self.clock = clock
        self.limit = limit
        self._calls: list[_Call] = []
        self.round_trips = 0

    async def load(self, scripts: Mapping[str, Any]) -> dict[str, _Queued]:
        """Load the store's scripts into Redis; queueing stand-ins for them."""
        out: dict[str, _Queued] = {}
        for name, script in scripts.items():
            await self.redis.script_load(script.source)
            out[name] = _Queued(self, script.sha)
        return out

    def queue(self, command: bytes) -> Pending:
        reply = Pending()
        self._calls.append(_Call(command, reply))
        return reply

    async def start(
        self, coro: Coroutine[Any, Any, Any], then: Callable[[Any], None], what: str
    ) -> None:
        """Run a use case up to its store call, queue it, and call `then` with its result
        once flushed (a full queue is flushed now)."""
        queued = len(self._calls)
        try:
            waits = coro.send(None)
        except StopIteration as stop:  # answered without Redis
            then(stop.value)
            return
        except Refused as exc:
            raise SimError(f"{what}: {exc.code} {exc.message}") from None
        if len(self._calls) != queued + 1 or waits is not self._calls[-1].reply:
            coro.close()
            raise SimError(f"{what}: the use case waited on something besides one store call")
        call = self._calls[-1]
        call.at, call.coro, call.then, call.what = self.clock.now(), coro, then, what
        if len(self._calls) >= self.limit:
            await self.flush()

    async def read(self, then: Callable[[Any], None], *command: str) -> None:
        """Queue a plain read (HGETALL, …); `then` gets its answer once flushed."""
        packed = pipeline.command(Packed.of(command))
        self._calls.append(_Call(packed, Pending(), self.clock.now(), None, then, command[0]))
        if len(self._calls) >= self.limit:
            await self.flush()

    async def flush(self) -> None:
        """Send every queued call in one round trip and finish their use cases in order."""
        calls, self._calls = self._calls, []
        if not calls:
            return
        pool = self.redis.connection_pool
        conn = await pool.get_connection()  # type: ignore[no-untyped-call]
        results: list[Any] = []
        try:
            await conn.send_packed_command(b"".join(c.command for c in calls), False)
            async with asyncio.timeout(self.timeout):  # one for the batch, not one a reply
                for _ in calls:
                    try:
                        results.append(await conn.read_response(timeout=math.inf))
                    except ResponseError as exc:  # a script's refusal: the use case gets it
                        results.append(exc)
        finally:
            await pool.release(conn)
        self.round_trips += 1
        now = self.clock.now()
        try:
            for c, result in zip(calls, results, strict=True):
                self.clock.set(c.at)
                if isinstance(result, BaseException):
                    c.reply.error = result
                else:
                    c.reply.value = result
                c.reply.ready = True
                if c.then is None:  # set at start; never so here
                    raise SimError(f"{c.what}: queued without an answer's taker")
                if c.coro is None:  # a plain read
                    if c.reply.error is not None:
                        raise SimError(f"{c.what}: {c.reply.error}")
                    c.then(result)
                    continue
                try:
                    c.coro.send(None)
                except StopIteration as stop:
                    c.then(stop.value)
                    continue
                except Refused as exc:
                    raise SimError(f"{c.what}: {exc.code} {exc.message}") from None
                c.coro.close()
                raise SimError(f"{c.what}: the use case made a second store call")
        finally:
            self.clock.set(now)
