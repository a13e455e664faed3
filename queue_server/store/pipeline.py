"""An auto-pipelined Redis connection for the hall scripts: every command sent in one turn of
the event loop goes out in one write on one connection, and the replies come back in order.

Why: under load, redis-py's pool hands each request its own connection (a wait on the pool,
one write and one read system call per command, and as many Redis wake-ups). Here 64
concurrent requests cost Redis one read and the server one write per loop turn, and a window's
`next` waits behind at most the scripts already sent, never for a free connection.

Commands are RESP bytes, packed once where they repeat (`Packed`: a hall's fixed keys); a
reply is decoded like redis-py's with ``decode_responses`` (hiredis). A lost connection fails
what waits on it with redis-py's ConnectionError (so the outage log and the 503s are the same)
and the next command connects again. A Redis that stops answering for `REPLY_TIMEOUT` is
treated as lost.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import hiredis
from redis._parsers.base import BaseParser
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse
from redis.exceptions import TimeoutError as RedisTimeoutError

CONNECT_TIMEOUT = 3.0
REPLY_TIMEOUT = 10.0  # seconds without any reply while commands wait: the link is dead


@dataclass(frozen=True, slots=True)
class Packed:
    """Some of a command's arguments as RESP bulk strings, packed once; `items` keeps them for
    clients that pack commands themselves (a Redis Cluster)."""

    items: tuple[str | int, ...]
    data: bytes

    @classmethod
    def of(cls, items: Iterable[str | int]) -> Packed:
        items = tuple(items)
        # Built as text and encoded once (every issue packs ~20 arguments): an ASCII string's
        # length is its length in bytes; others are measured encoded.
        out = []
        for x in items:
            s = x if type(x) is str else str(x)
            out.append(f"${len(s) if s.isascii() else len(s.encode())}\r\n{s}\r\n")
        return cls(items, "".join(out).encode())

    def __len__(self) -> int:
        return len(self.items)


def command(*parts: Packed) -> bytes:
    """A whole command from its packed parts."""
    n = sum([len(p.items) for p in parts])
    return b"*%d\r\n" % n + b"".join([p.data for p in parts])


def endpoint(redis: Any) -> dict[str, Any] | None:
    """Where a redis-py client connects (host and port, or a socket path; auth and db), or
    None when this module cannot take its place (TLS, a Redis Cluster)."""
    pool = getattr(redis, "connection_pool", None)
    if pool is None or issubclass(pool.connection_class, SSLConnection):
        return None
    kw = pool.connection_kwargs
    where: dict[str, Any] = {
        "username": kw.get("username"),
        "password": kw.get("password"),
        "db": int(kw.get("db") or 0),
    }
    if issubclass(pool.connection_class, UnixDomainSocketConnection):
        where["path"] = kw["path"]
    else:
        where["host"], where["port"] = kw.get("host", "localhost"), int(kw.get("port", 6379))
    return where


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: Pipeline) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader(
            protocolError=InvalidResponse,
            replyError=BaseParser.parse_error,
            encoding="utf-8",
        )
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.out: list[bytes] = []
        self.flushing = False
        self.progress = time.monotonic()  # last reply, or when the first command began waiting
        self.lost: Exception | None = None
        self.gone = asyncio.get_running_loop().create_future()  # the socket is closed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream: always a Transport

    def send(self, cmd: bytes) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if self.lost is not None or self.transport is None:
            fut.set_exception(RedisConnectionError(f"Redis connection lost: {self.lost}"))
            return fut
        if not self.waiting:
            self.progress = time.monotonic()
        self.waiting.append(fut)
        self.out.append(cmd)
        if not self.flushing:  # one write for every command of this loop turn
            self.flushing = True
            loop.call_soon(self.flush)
        return fut

    def flush(self) -> None:
        self.flushing = False
        if self.out and self.transport is not None and not self.transport.is_closing():
            data, self.out = b"".join(self.out), []
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        self.progress = time.monotonic()
        while True:
            try:
                reply = self.reader.gets()
            except InvalidResponse as exc:
                self.drop(RedisConnectionError(f"Redis protocol error: {exc}"))
                return
            if reply is False:
                return
            if not self.waiting:  # cannot happen unless Redis speaks out of turn
                continue
            fut = self.waiting.popleft()
            if fut.done():  # its caller was cancelled; its reply is skipped, in order
                continue
            if isinstance(reply, Exception):
                fut.set_exception(reply)
            else:
                fut.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.fail(RedisConnectionError(f"Redis closed the connection: {exc or 'EOF'}"))
        if not self.gone.done():
            self.gone.set_result(None)

    def fail(self, exc: Exception) -> None:
        """Everything waiting fails with `exc`; the next command connects again."""
        self.lost = self.lost or exc
        while self.waiting:
            fut = self.waiting.popleft()
            if not fut.done():
                fut.set_exception(exc)
        self.out = []
        self.owner.forget(self)

    def drop(self, exc: Exception) -> None:
        self.fail(exc)
        if self.transport is not None:
            self.transport.abort()


class Pipeline:
    """One auto-pipelined connection, connected on first use and again after a loss."""

    def __init__(self, where: dict[str, Any], reply_timeout: float = REPLY_TIMEOUT) -> None:
        self.where = where
        self.reply_timeout = reply_timeout
        self._tick = min(1.0, reply_timeout / 3)
        self._proto: _Protocol | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    def forget(self, proto: _Protocol) -> None:
        if self._proto is proto:
            self._proto = None

    async def execute(self, cmd: bytes) -> Any:
        """Send one packed command (see `command`) and wait for its reply; a reply that is an
        error is raised as redis-py raises it."""
        proto = self._proto
        if proto is None:
            proto = await self._connect()
        return await proto.send(cmd)

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a client is used on one event loop at a time
            await self.aclose()
            self._loop = loop
        if self._connecting is None:
            self._connecting = loop.create_future()
            loop.create_task(self._open(loop)).add_done_callback(self._opened)
        # shielded: one caller cancelled must not cancel the others' connection
        return await asyncio.shield(self._connecting)

    def _opened(self, task: asyncio.Task[_Protocol]) -> None:
        fut, self._connecting = self._connecting, None
        if fut is None or fut.done():
            return
        if task.cancelled():
            fut.set_exception(RedisConnectionError("connecting to Redis was cancelled"))
        elif (exc := task.exception()) is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(task.result())
        fut.exception()  # marked retrieved: every waiter may have gone

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Protocol:
        w = self.where
        proto: _Protocol | None = None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                if "path" in w:
                    _, proto = await loop.create_unix_connection(lambda: _Protocol(self), w["path"])
                else:
                    _, proto = await loop.create_connection(
                        lambda: _Protocol(self), w["host"], w["port"]
                    )
                if w["password"]:
                    who = [w["username"]] if w["username"] else []
                    await proto.send(command(Packed.of(["AUTH", *who, w["password"]])))
                if w["db"]:
                    await proto.send(command(Packed.of(["SELECT", w["db"]])))
        except BaseException as exc:
            if proto is not None:
                proto.drop(RedisConnectionError("the connection failed while opening"))
            if isinstance(exc, TimeoutError):
                raise RedisTimeoutError("timed out connecting to Redis") from None
            if isinstance(exc, OSError):
                raise RedisConnectionError(f"cannot connect to Redis: {exc}") from None
            raise
        self._proto = proto
        if self._watchdog is None:
            self._watchdog = loop.call_later(self._tick, self._watch)
        return proto

    def _watch(self) -> None:
        """Every tick: a link whose commands got no reply for `reply_timeout` is dropped."""
        self._watchdog = None
        proto, loop = self._proto, self._loop
        if proto is None or loop is None or loop.is_closed():
            return
        if proto.waiting and time.monotonic() - proto.progress > self.reply_timeout:
            proto.drop(RedisTimeoutError(f"Redis did not answer for {self.reply_timeout:g} s"))
            return
        self._watchdog = loop.call_later(self._tick, self._watch)

    async def aclose(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        proto, self._proto = self._proto, None
        if proto is None:
            return
        proto.fail(RedisConnectionError("the connection was closed"))
        if proto.transport is not None and not proto.transport.is_closing():
            proto.transport.close()
        if asyncio.get_running_loop() is self._loop:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await proto.gone


_HEADS: dict[tuple[str, int], Packed] = {}  # (sha, number of keys) -> "EVALSHA sha n"


def script_command(sha: str, keys: Sequence[Packed], args: Sequence[Packed]) -> bytes:
    """EVALSHA with its keys and arguments, each given as packed parts."""
    nkeys = sum(len(k) for k in keys)
    head = _HEADS.get((sha, nkeys))
    if head is None:
        if len(_HEADS) >= 1024:
            _HEADS.clear()
        head = _HEADS[sha, nkeys] = Packed.of(["EVALSHA", sha, nkeys])
    return command(head, *keys, *args)
