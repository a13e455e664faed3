"""A link that a router silently dropped (no FIN, no RST: bytes just stop) is noticed by MQTT
keepalive; the screen marks itself offline, reconnects, and shows the next call."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict

import aiomqtt
import pytest

from display_client import state as st
from display_client.feed import Feed
from display_client.store import Store
from queue_server.link import MqttTarget
from queue_server.protocol import Board, Call, encode, topic_board, topic_calls
from tests.services import Broker


class Router:
    """A TCP relay to the broker that can go silent: while frozen it forwards nothing, in
    either direction, on old or new connections, and closes nothing."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.frozen = False
        self.thawed = asyncio.Event()
        self.thawed.set()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()  # closed at the end (see close)

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await r.read(65536):
                if self.frozen:
                    await self.thawed.wait()
                    return  # a link that went dark stays dark
                w.write(data)
                await w.drain()

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.writers.add(w)
        await self.thawed.wait()
        br, bw = await asyncio.open_connection("127.0.0.1", self.port)
        self.writers.add(bw)
        await asyncio.gather(self._pipe(r, bw), self._pipe(br, w))
        for writer in (w, bw):
            writer.close()

    def freeze(self) -> None:
        self.frozen = True
        self.thawed.clear()

    def thaw(self) -> None:
        self.frozen = False
        self.thawed.set()

    async def close(self) -> None:
        """Close every connection while the loop runs: a writer left to the garbage collector
        after the loop closed warns ("loop is closed") inside whichever test runs then."""
        for w in self.writers:
            w.close()
        for w in self.writers:
            with contextlib.suppress(ConnectionError, OSError):
                await w.wait_closed()


@pytest.fixture
async def router(broker: Broker) -> AsyncIterator[tuple[Router, int]]:
    r = Router(broker.port)
    server = await asyncio.start_server(r._handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield r, port
    r.thaw()
    server.close()
    await r.close()


async def test_a_silently_dropped_link_is_noticed_and_recovered(
    broker: Broker, router: tuple[Router, int]
) -> None:
    r, port = router
    hall = f"k{uuid.uuid4().hex[:8]}"
    store = Store(st.empty(hall))
    target = MqttTarget("127.0.0.1", port, "hallcall-display", broker.passwords["hallcall-display"])
    feed = Feed(store, target, hall, keepalive=1)
    task = asyncio.create_task(feed.run())

    async def until(cond: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not cond():
                store.changed.clear()
                await store.changed.wait()

    try:
        await until(lambda: store.state.online, 10)
        r.freeze()
        # nothing but keepalive can notice: the socket stays open and quiet
        await until(lambda: not store.state.online, 10)
        async with aiomqtt.Client(
            "127.0.0.1",
            broker.port,
            username="hallcall-server",
            password=broker.passwords["hallcall-server"],
            identifier=f"test-{uuid.uuid4().hex[:8]}",
        ) as pub:
            c = Call("e1", "A001", "A", "3", "3号窗口", "call", False, time.time(), 1)
            b = Board(hall, "大厅", 1, 1, time.time(), recent=[asdict(c)])
            await pub.publish(topic_calls(hall), encode(c), qos=1)  # while the screen is dark
            await pub.publish(topic_board(hall), encode(b), qos=1, retain=True)
            r.thaw()
            await until(lambda: store.state.online, 10)
            await until(lambda: [x.number for x in store.state.recent] == ["A001"], 10)
            c2 = Call("e2", "A002", "A", "3", "3号窗口", "call", False, time.time(), 2)
            await pub.publish(topic_calls(hall), encode(c2), qos=1)
            await until(lambda: store.state.entries[0].call.number == "A002", 10)
    finally:
        feed.stop()
        await task
