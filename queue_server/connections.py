"""Open HTTP connections, capped in total and per client address.

A flood of connections that never finish a request (slowloris) or upload slowly ties up a
file descriptor and a buffer each. The header and body timeouts (see ``app.py``,
``api/routes.py``) end each one after a few seconds; these caps keep a flood from reaching the
open-file limit meanwhile, where the server would stop accepting anyone. A connection over a
cap is closed at once, before aiohttp sees it: no request handler, no buffers.

The guard sits between the event loop and aiohttp's protocol as a thin protocol that forwards
every callback, so aiohttp itself is used as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import resource
import signal
from collections import Counter
from collections.abc import Callable
from typing import cast

from aiohttp import web

from queue_server import metrics
from queue_server.limits import ServerLimits

log = logging.getLogger(__name__)
FD_RESERVE = 256  # descriptors kept for Redis, MQTT, logs and the listening socket
TRIM_AFTER = 1_000  # open connections: past this many, memory is given back once they go


def give_back_memory() -> None:
    """Return the memory a flood of connections held to the OS. Their request objects are in
    reference cycles that only a full collection frees, and glibc keeps freed heap for reuse:
    without both, RSS would stay at the flood's peak for good. Once per flood; a few ms."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class ConnectionGuard:
    def __init__(self, limits: ServerLimits, trim: Callable[[], None] = give_back_memory) -> None:
        self.max_total = limits.max_connections
        self.max_per_ip = limits.max_connections_per_ip
        self.total = 0
        self.peak = 0  # most open since memory was last given back
        self.trim = trim
        self.per_ip: Counter[str] = Counter()

    def admit(self, ip: str) -> bool:
        if self.total >= self.max_total:
            metrics.CONNECTIONS_REFUSED.labels("total").inc()
            return False
        if self.per_ip[ip] >= self.max_per_ip:
            metrics.CONNECTIONS_REFUSED.labels("per_ip").inc()
            return False
        self.total += 1
        self.peak = max(self.peak, self.total)
        self.per_ip[ip] += 1
        metrics.CONNECTIONS.set(self.total)
        return True

    def release(self, ip: str) -> None:
        self.total -= 1
        self.per_ip[ip] -= 1
        if self.per_ip[ip] <= 0:
            del self.per_ip[ip]  # bounded memory: only addresses with open connections
        metrics.CONNECTIONS.set(self.total)
        if self.peak >= TRIM_AFTER and self.total <= self.peak // 10:  # a flood went
            self.peak = self.total
            asyncio.get_running_loop().call_later(1.0, self.trim)  # after its stragglers

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: GuardedProtocol(self, inner)


class GuardedProtocol(asyncio.Protocol):
    """Admits a connection under the caps and hands it to aiohttp's protocol; else closes it."""

    def __init__(self, guard: ConnectionGuard, inner: Callable[[], asyncio.Protocol]) -> None:
        self.guard = guard
        self.make_inner = inner
        self.inner: asyncio.Protocol | None = None
        self.ip = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if peer else ""
        if not self.guard.admit(ip):
            cast(asyncio.Transport, transport).abort()  # at once, nothing buffered
            return
        self.ip = ip
        self.inner = self.make_inner()
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.inner is not None:
            self.guard.release(self.ip)
            inner, self.inner = self.inner, None
            inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()


def raise_open_files(limits: ServerLimits) -> ServerLimits:
    """Raise the open-file soft limit to the hard limit, and lower the connection caps to
    what fits under it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    room = soft - FD_RESERVE if soft != resource.RLIM_INFINITY else limits.max_connections
    total = max(1, min(limits.max_connections, room))
    per_ip = min(limits.max_connections_per_ip, total)
    return ServerLimits(
        header_timeout=limits.header_timeout,
        body_timeout=limits.body_timeout,
        max_connections=total,
        max_connections_per_ip=per_ip,
        trusted_proxies=limits.trusted_proxies,
    )


async def serve(
    app: web.Application, host: str, port: int, limits: ServerLimits, reuse_port: bool
) -> None:
    """Run the app on host:port behind the connection guard until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # the app's startup: Redis, publishers (StartupError on failure)
    try:
        handler = runner.server  # aiohttp's protocol factory, made by setup()
        if handler is None:
            raise RuntimeError("the app runner has no server after setup")
        guard = ConnectionGuard(limits)
        server = await loop.create_server(
            guard.factory(handler), host, port, reuse_port=reuse_port, backlog=1024
        )
        log.info(
            "connections: at most %d open, %d per address; headers within %gs, bodies within %gs",
            limits.max_connections,
            limits.max_connections_per_ip,
            limits.header_timeout,
            limits.body_timeout,
        )
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            server.close()
    finally:
        await runner.cleanup()  # closes open connections, then the app's cleanup (offline)
