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
from collections.abc import Callable, Coroutine, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from queue_server.clock import ManualClock
from queue_server.errors import Refused


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


def _bulk(b: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(b), b)


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
        self._packed: dict[str, bytes] = {}  # keys and arguments repeat: packed once
        self._heads: dict[tuple[Any, ...], bytes] = {}

    def _pack(self, *args: Any) -> bytes:
        """A command in the Redis protocol (what redis-py's pack_command makes, for less)."""
        return b"*%d\r\n%s" % (len(args), self._pack_args(args))

    def _pack_args(self, args: Iterable[Any]) -> bytes:
        out = []
        cache = self._packed
        for a in args:
            if type(a) is str:
                chunk = cache.get(a)
                if chunk is None:
                    chunk = _bulk(a.encode())
                    if len(cache) < 50_000:
                        cache[a] = chunk
            else:
                chunk = _bulk(a if isinstance(a, bytes) else str(a).encode())
            out.append(chunk)
        return b"".join(out)

    async def load(self, scripts: Mapping[str, Any]) -> dict[str, Callable[..., Pending]]:
        """Load the store's scripts into Redis; queueing stand-ins for them."""
        out: dict[str, Callable[..., Pending]] = {}
        for name, script in scripts.items():
            sha = await self.redis.script_load(script.script)
            out[name] = self._queuer(sha)
        return out

    def _queuer(self, sha: str) -> Callable[..., Pending]:
        def call(keys: list[str], args: list[Any], client: Any = None) -> Pending:
            reply = Pending()
            known = (sha, *keys)  # the same keys, call after call
            head = self._heads.get(known)
            if head is None:
                head = self._pack_args(("EVALSHA", sha, len(keys), *keys))
                if len(self._heads) < 10_000:
                    self._heads[known] = head
            n = 3 + len(keys) + len(args)
            command = b"*%d\r\n%s%s" % (n, head, self._pack_args(args))
            self._calls.append(_Call(command, reply))
            return reply

        return call

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

    async def read(self, then: Callable[[Any], None], *command: Any) -> None:
        """Queue a plain read (HGETALL, …); `then` gets its answer once flushed."""
        self._calls.append(
            _Call(self._pack(*command), Pending(), self.clock.now(), None, then, command[0])
        )
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
