"""Abuse over HTTP: rate limits per address, wrong tokens, aborted uploads, a Redis outage."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from queue_server import metrics
from queue_server.api.guard import client_key, forwarded_ip, mask_ip
from queue_server.app import Options, create_app
from queue_server.clock import ManualClock
from queue_server.config import HallConfig, Limits
from queue_server.connections import ConnectionGuard
from queue_server.domain.ratelimit import FailureWindow, RateLimiter
from queue_server.limits import ServerLimits
from queue_server.outage import Outage
from queue_server.settings import parse_mqtt_url
from tests.conftest import KIOSK, T0, Api, W, demo_hall
from tests.services import SECRET, Broker, RedisServer


@pytest.fixture
def hall_cfg() -> HallConfig:
    cfg = demo_hall()
    limits = Limits(public_per_minute=60, public_burst=3, failed_tokens_per_minute=3)
    return cfg.model_copy(update={"limits": limits})


def sample(counter: object, **labels: str) -> float:
    value = metrics.REGISTRY.get_sample_value(str(counter), labels)
    return value or 0.0


# -- pure parts -----------------------------------------------------------------------------


def test_rate_limiter_refills_and_stays_bounded() -> None:
    rl = RateLimiter(per_minute=60, burst=2, max_keys=100)
    assert rl.take("a", 0.0) == 0 and rl.take("a", 0.0) == 0
    assert rl.take("a", 0.0) == pytest.approx(1.0)  # one a second: next in 1 s
    assert rl.take("b", 0.0) == 0  # addresses are apart
    assert rl.take("a", 1.5) == 0
    for i in range(1000):
        rl.take(f"flood{i}", 2.0)
    assert len(rl) == 100


def test_rate_limiter_forgets_the_least_recently_seen() -> None:
    rl = RateLimiter(per_minute=60, burst=1, max_keys=3)
    assert [rl.take(k, 0.0) for k in "abc"] == [0, 0, 0]
    assert rl.take("a", 0.0) > 0  # a is limited, and now the most recently seen
    assert rl.take("d", 0.0) == 0  # one key too many: b goes
    assert rl.take("a", 0.0) > 0 and rl.take("c", 0.0) > 0  # kept, still limited
    assert rl.take("b", 0.0) == 0  # forgotten: a full bucket again
    assert len(rl) == 3


def test_failure_window_counts_per_minute() -> None:
    fw = FailureWindow(limit=2)
    assert fw.fail("a", 0.0) == 1 and fw.blocked("a", 1.0) == 0
    assert fw.fail("a", 1.0) == 2 and fw.blocked("a", 1.0) == 59
    assert fw.blocked("b", 1.0) == 0
    assert fw.blocked("a", 60.0) == 0 and fw.fail("a", 60.0) == 1  # a new minute


def test_addresses() -> None:
    proxies = (ipaddress.ip_network("10.0.0.0/8"),)
    assert forwarded_ip("203.0.113.9", ["1.2.3.4"], ()) == "203.0.113.9"  # no proxy: peer
    assert forwarded_ip("203.0.113.9", ["1.2.3.4"], proxies) == "203.0.113.9"  # untrusted peer
    # behind the proxy: the last hop the proxy saw; what the client wrote left of it is ignored
    assert forwarded_ip("10.0.0.2", ["6.6.6.6, 198.51.100.7"], proxies) == "198.51.100.7"
    assert forwarded_ip("10.0.0.2", ["198.51.100.7, 10.0.0.3"], proxies) == "198.51.100.7"
    assert forwarded_ip("10.0.0.2", ["junk"], proxies) == "10.0.0.2"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2")
    assert client_key("::ffff:203.0.113.9") == "203.0.113.9"
    assert mask_ip("203.0.113.9") == "203.0.113.x"
    assert mask_ip("2001:db8:1:2:aaaa::1") == "2001:0db8:0001:0002::x"


def test_outage_is_logged_when_it_starts_and_ends(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    outage = Outage("Redis", logging.getLogger("t.outage"), lambda: now[0])
    with caplog.at_level(logging.INFO, "t.outage"):
        for _ in range(1000):
            outage.failed(ConnectionError("refused"))
        now[0] = 4.0
        outage.ok()
        outage.ok()
        now[0] = 5.0  # a stale pooled connection fails once more: part of the same outage
        outage.failed(ConnectionError("reset"))
        outage.ok()
        now[0] = 10.0  # a new outage
        outage.failed(ConnectionError("refused"))
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "Redis unavailable: refused; logged again when it is back"),
        ("INFO", "Redis is back after 4.0 s; 1000 operations failed meanwhile"),
        ("ERROR", "Redis unavailable: refused; logged again when it is back"),
    ]


# -- over HTTP --------------------------------------------------------------------------------


async def test_public_routes_are_rate_limited_per_address(api: Api) -> None:
    before = sample("hallcall_rate_limited_total", hall=api.hall, kind="public")
    for _ in range(3):  # the burst
        assert (await api.client.get(api.path())).status == 200
    resp = await api.client.get(api.path())
    body = await resp.json()
    assert resp.status == 429 and body["error"] == "rate_limited", body
    assert int(resp.headers["Retry-After"]) >= 1
    assert sample("hallcall_rate_limited_total", hall=api.hall, kind="public") == before + 1
    # a kiosk's or staff's token is not limited by address (a hall's kiosks share one)...
    for _ in range(5):
        await api.issue("A")
    assert (await api.client.get(api.path("/windows/1"), headers=W[1])).status == 200
    # ...but only a valid one: any header at all must not buy a way around the limit
    resp = await api.client.get(api.path(), headers={"Authorization": "Bearer guess"})
    assert resp.status == 401


async def test_wrong_tokens_are_throttled_and_logged_once(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    before = sample("hallcall_auth_failures_total", hall=api.hall)
    wrong = {"Authorization": "Bearer not-a-token-1234"}
    with caplog.at_level(logging.INFO, "queue_server"):
        for _ in range(3):
            resp = await api.client.post(api.path("/windows/1/next"), headers=wrong)
            assert resp.status == 401
        for headers in (wrong, W[1], KIOSK):  # the address now waits out the minute
            resp = await api.client.post(api.path("/windows/1/next"), headers=headers)
            assert resp.status == 429 and (await resp.json())["error"] == "rate_limited"
            assert 1 <= int(resp.headers["Retry-After"]) <= 60
    lines = [r.getMessage() for r in caplog.records if "wrong token" in r.getMessage()]
    assert lines == [
        f"hall {api.hall}: wrong token from 127.0.0.x on POST "
        f"/api/v1/halls/{{hall}}/windows/{{window}}/next (more from there this minute are "
        "counted, not logged)"
    ]
    assert "not-a-token" not in caplog.text
    assert sample("hallcall_auth_failures_total", hall=api.hall) == before + 3


async def test_an_aborted_upload_is_a_client_error(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    route = "/api/v1/halls/{hall}/tickets"
    gone = ("hallcall_http_seconds_count", {"route": route, "status": "400"})
    before = sample(gone[0], **gone[1])
    unavailable = sample("hallcall_http_seconds_count", route=route, status="503")
    host, port = api.client.server.host, api.client.server.port
    assert port is not None
    with caplog.at_level(logging.DEBUG, "queue_server"):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            f"POST /api/v1/halls/{api.hall}/tickets HTTP/1.1\r\nHost: x\r\n"
            "Authorization: Bearer demo-kiosk-1\r\nExpect: 100-continue\r\n"
            "Content-Length: 1000\r\nContent-Type: application/json\r\n\r\n".encode()
        )
        async with asyncio.timeout(5):
            assert (await reader.readline()).startswith(b"HTTP/1.1 100")  # the handler runs
            writer.write(b'{"service"')
            await writer.drain()
            writer.transport.abort()  # the client goes away mid-upload
            while sample(gone[0], **gone[1]) == before:  # noqa: ASYNC110  (a metric)
                await asyncio.sleep(0.01)
    assert sample("hallcall_http_seconds_count", route=route, status="503") == unavailable
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "unavailable" not in caplog.text
    assert "went away" in caplog.text or "stopped sending" in caplog.text


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.dir.mkdir()
    server.start()
    yield server
    server.stop()


async def test_a_redis_outage_is_logged_once_each_way(
    own_redis: RedisServer, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = demo_hall()
    app = create_app(
        {cfg.id: cfg},
        Options(
            redis_url=own_redis.url,
            mqtt=parse_mqtt_url(broker.url()),
            secret=SECRET.encode(),
        ),
        ManualClock(T0),
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        with caplog.at_level(logging.INFO, "queue_server"):
            own_redis.stop()
            for _ in range(20):
                resp = await client.post(
                    f"/api/v1/halls/{cfg.id}/tickets", json={"service": "A"}, headers=KIOSK
                )
                assert resp.status == 503
            own_redis.start()  # same port
            async with asyncio.timeout(10):
                while (await client.get(f"/api/v1/halls/{cfg.id}")).status != 200:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
    finally:
        await client.close()
    said = [(r.levelname, r.getMessage()) for r in caplog.records if "Redis" in r.getMessage()]
    assert [lvl for lvl, _ in said] == ["ERROR", "INFO"], said
    assert said[0][1].startswith("Redis unavailable")
    assert said[1][1].startswith("Redis is back after") and "operations failed" in said[1][1]


async def test_connection_caps_and_memory_given_back() -> None:
    trims: list[int] = []
    guard = ConnectionGuard(
        ServerLimits(max_connections=1500, max_connections_per_ip=2),
        trim=lambda: trims.append(guard.total),
    )
    assert guard.admit("a") and guard.admit("a") and not guard.admit("a")  # per address
    assert guard.admit("b")
    for i in range(1497):
        assert guard.admit(f"10.0.{i // 250}.{i % 250}")
    assert guard.total == 1500 and not guard.admit("c")  # in total
    for i in range(1497):
        guard.release(f"10.0.{i // 250}.{i % 250}")
    guard.release("a")
    assert guard.admit("a") and guard.per_ip == {"a": 2, "b": 1}  # no key left behind
    async with asyncio.timeout(5):
        while not trims:  # noqa: ASYNC110  (call_later, after the flood's stragglers)
            await asyncio.sleep(0.05)
    assert trims == [3]
