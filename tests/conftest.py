"""Fixtures: a real Redis and a real Mosquitto per test session, isolated per test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from queue_server.app import PUBLISHERS, Options, create_app
from queue_server.clock import ManualClock
from queue_server.config import HallConfig, load_hall
from queue_server.protocol import decode, notices_in
from queue_server.settings import parse_mqtt_url
from queue_server.store.connect import connect
from tests.services import ROOT, SECRET, Broker, RedisCluster, RedisServer

pytest_plugins = ["tests.browser_support"]  # the `browser` fixture of the browser tests

DEMO = ROOT / "config" / "halls" / "demo.toml"
# Thursday 2026-11-26 10:00 in Shanghai: the demo hall is open.
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
W = {n: {"Authorization": f"Bearer demo-window-{n}"} for n in range(1, 8)}
MANAGER = {"Authorization": "Bearer demo-manager"}
KIOSK = {"Authorization": "Bearer demo-kiosk-1"}


CLUSTER = os.environ.get("HALLCALL_TEST_REDIS") == "cluster"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One Redis for the session; a 3-master Redis Cluster with HALLCALL_TEST_REDIS=cluster
    (its url is redis+cluster://, which the server and `connect` understand)."""
    root = tmp_path_factory.mktemp("redis")
    server = RedisCluster(root).start() if CLUSTER else RedisServer(root).start()
    yield server  # type: ignore[misc]
    server.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(tmp_path_factory.mktemp("mosquitto")).start()
    yield b
    b.stop()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = connect(redis_server.url)
    await client.flushall()
    yield client
    await client.aclose()


def demo_hall(hall_id: str | None = None, **queue: Any) -> HallConfig:
    """The demo hall under a fresh id (so retained MQTT topics never leak between tests)."""
    cfg = load_hall(DEMO)
    info = cfg.hall.model_copy(update={"id": hall_id or f"t{uuid.uuid4().hex[:10]}"})
    q = cfg.queue.model_copy(update=queue)
    return cfg.model_copy(update={"hall": info, "queue": q})


def wide_numbers(cfg: HallConfig, width: int = 6) -> HallConfig:
    """The hall with no capacity and `width`-digit numbers: room for a flood of tickets."""
    services = [s.model_copy(update={"width": width, "capacity": None}) for s in cfg.services]
    return cfg.model_copy(update={"services": services})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def hall_cfg() -> HallConfig:
    return demo_hall()


@dataclass
class Api:
    client: TestClient[Any, Any]
    hall: str
    clock: ManualClock
    app: Any

    def path(self, rest: str = "") -> str:
        return f"/api/v1/halls/{self.hall}{rest}"

    async def issue(self, service: str = "A", staff: bool = False, **extra: Any) -> dict[str, Any]:
        """Take a ticket; `staff` sends window 1's token (boosted classes need one); with a
        phone it is an online ticket (no token), without one it comes from the kiosk."""
        headers = W[1] if staff else None if extra.get("phone") else KIOSK
        resp = await self.client.post(
            self.path("/tickets"), json={"service": service, **extra}, headers=headers
        )
        assert resp.status == 201, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body

    async def act(
        self, window: int, action: str, body: Any = None, status: int = 200
    ) -> dict[str, Any]:
        resp = await self.client.post(
            self.path(f"/windows/{window}/{action}"), json=body, headers=W[window]
        )
        assert resp.status == status, await resp.text()
        out: dict[str, Any] = await resp.json()
        return out


@pytest.fixture
async def api(
    redis: Redis,
    redis_server: RedisServer,
    broker: Broker,
    clock: ManualClock,
    hall_cfg: HallConfig,
) -> AsyncIterator[Api]:
    options = Options(
        redis_url=redis_server.url,
        mqtt=parse_mqtt_url(broker.url()),
        secret=SECRET.encode(),
        snapshot_interval=0.01,
    )
    app = create_app({hall_cfg.id: hall_cfg}, options, clock)
    client = TestClient(TestServer(app))
    await client.start_server()
    await until_live(app)
    yield Api(client, hall_cfg.id, clock, app)
    await client.close()


async def until_live(app: Any, timeout: float = 10.0) -> None:
    """Until every hall's relay is connected and caught up, so a test's first call goes out
    at once (not later, from a replay, after the test subscribed)."""
    async with asyncio.timeout(timeout):
        while not all(p.relay.live for p in app[PUBLISHERS].values()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@dataclass
class Subscriber:
    """A real MQTT client collecting decoded messages."""

    client: aiomqtt.Client
    seen: list[tuple[str, dict[str, Any], bool]] = field(default_factory=list)
    history: list[tuple[str, dict[str, Any], bool]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    messages: list[tuple[str, int]] = field(default_factory=list)  # (topic, entries) per message

    def add(self, topic: str, body: dict[str, Any], retained: bool) -> None:
        self.seen.append((topic, body, retained))
        self.history.append((topic, body, retained))
        self.arrived.set()

    async def get(
        self, topic_suffix: str, timeout: float = 5.0, where: Any = None
    ) -> dict[str, Any]:
        """The first message not yet taken whose topic ends with `topic_suffix` (and that
        matches `where`); waits for it."""
        async with asyncio.timeout(timeout):
            while True:
                for i, (topic, body, _) in enumerate(self.seen):
                    if topic.endswith(topic_suffix) and (where is None or where(body)):
                        del self.seen[i]
                        return body
                self.arrived.clear()
                await self.arrived.wait()

    def all(self, topic_suffix: str) -> list[dict[str, Any]]:
        return [b for t, b, _ in self.seen if t.endswith(topic_suffix)]


@contextlib.asynccontextmanager
async def subscribe(
    broker: Broker, topics: list[str], user: str = "hallcall-server"
) -> AsyncIterator[Subscriber]:
    async with aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username=user,
        password=broker.passwords[user],
        identifier=f"test-{uuid.uuid4().hex[:8]}",
    ) as client:
        sub = Subscriber(client)
        for t in topics:
            await client.subscribe(t, qos=1)

        async def pump() -> None:
            async for msg in client.messages:
                topic, body = str(msg.topic), decode(bytes(msg.payload))
                # a notify message carries one notice or a burst's: one entry each
                items = notices_in(body) if topic.endswith("/notify") else [body]
                sub.messages.append((topic, len(items)))
                for item in items:
                    sub.add(topic, item, bool(msg.retain))

        task = asyncio.create_task(pump())
        try:
            yield sub
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


def demo_file(tmp_path: Path, text: str, name: str = "hall.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
