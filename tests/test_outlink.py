"""The server's publishing MQTT client (queue_server.outlink) against a real Mosquitto, with the
production users and ACL."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from queue_server.link import MqttTarget, parse_mqtt_url
from queue_server.outlink import Outlink, OutlinkError, Will
from tests.services import Broker, free_port


def topic(rest: str) -> str:
    return f"hallcall/o{uuid.uuid4().hex[:8]}/{rest}"


def link(broker: Broker, **kw: Any) -> Outlink:
    return Outlink(parse_mqtt_url(broker.url()), f"test-out-{uuid.uuid4().hex[:6]}", **kw)


class Raw:
    """A real subscriber that keeps raw payloads per topic."""

    def __init__(self) -> None:
        self.got: list[tuple[str, bytes, bool]] = []
        self.changed = asyncio.Event()

    async def until(self, n: int, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while len(self.got) < n:
                self.changed.clear()
                await self.changed.wait()


@contextlib.asynccontextmanager
async def raw(broker: Broker, *topics: str) -> AsyncIterator[Raw]:
    r = Raw()
    async with aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username="hallcall-server",
        password=broker.passwords["hallcall-server"],
        identifier=f"test-raw-{uuid.uuid4().hex[:8]}",
    ) as client:
        for t in topics:
            await client.subscribe(t, qos=1)

        async def pump() -> None:
            async for m in client.messages:
                r.got.append((str(m.topic), bytes(m.payload), bool(m.retain)))
                r.changed.set()

        task = asyncio.create_task(pump())
        try:
            yield r
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


async def test_qos1_publish_is_acked_and_retained_reaches_a_new_subscriber(broker: Broker) -> None:
    t = topic("board")
    async with link(broker) as out:
        await out.publish(t, b"first", qos=1, retain=True)
        await out.publish(t, b"second", qos=1, retain=True)
        assert out.in_flight == 0
        await out.publish(topic("calls"), b"q0", qos=0)
        async with raw(broker, t) as sub:  # subscribes after: the retained one only
            await sub.until(1)
            assert sub.got == [(t, b"second", True)]
        await out.publish(t, b"", qos=1, retain=True)  # clear it


async def test_the_will_goes_out_when_the_socket_dies_not_on_a_clean_close(broker: Broker) -> None:
    t = topic("status/server")
    async with raw(broker, t) as sub:
        clean = link(broker, will=Will(t, b"gone-clean"))
        async with clean:
            await clean.publish(t, b"online-1", retain=True)
        killed = link(broker, will=Will(t, b"gone"))
        await killed.connect()
        await killed.publish(t, b"online-2", retain=True)
        transport = killed._transport  # no DISCONNECT: as if the process died
        assert transport is not None
        transport.abort()
        await sub.until(3)
        assert [p for _, p, _ in sub.got] == [b"online-1", b"online-2", b"gone"]
        with pytest.raises(OutlinkError):
            await killed.wait_closed()
    async with link(broker) as out:
        await out.publish(t, b"", retain=True)


async def test_ten_thousand_in_flight_all_acked_and_received_once(broker: Broker) -> None:
    t, n = topic("notify"), 10_000
    acked: list[int] = []
    async with raw(broker, t) as sub, link(broker, max_in_flight=n) as out:
        all_acked = asyncio.Event()

        def ack(i: int) -> None:
            acked.append(i)
            if len(acked) == n:
                all_acked.set()

        for i in range(n):
            assert out.send(t, str(i).encode(), functools.partial(ack, i))
        assert out.in_flight > 1_000  # many at once, not one by one
        async with asyncio.timeout(30):
            await all_acked.wait()
        await sub.until(n, timeout=30)
        assert sorted(acked) == list(range(n))
        assert sorted(int(p) for _, p, _ in sub.got) == list(range(n))  # each exactly once
        assert out.in_flight == 0


async def test_the_in_flight_cap_pushes_back_and_never_drops(broker: Broker) -> None:
    t = topic("calls")
    async with raw(broker, t) as sub, link(broker, max_in_flight=3) as out:
        acked: list[int] = []
        assert [out.send(t, b"%d" % i, functools.partial(acked.append, i)) for i in range(4)] == [
            True,
            True,
            True,
            False,  # full: the caller tries again later
        ]
        # awaiting publishes wait for room instead
        await asyncio.gather(*(out.publish(t, b"p%d" % i) for i in range(10)))
        assert acked == [0, 1, 2]
        await sub.until(13)
        assert len(sub.got) == 13


@pytest.fixture
async def own_broker(tmp_path: Path) -> AsyncIterator[Broker]:
    b = Broker(tmp_path / "mq").start()
    yield b
    if b.proc is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(b.proc.pid, signal.SIGCONT)
    b.stop()


async def test_broker_killed_mid_burst_fails_every_waiting_publish(own_broker: Broker) -> None:
    out = link(own_broker, max_in_flight=100)
    await out.connect()
    t = topic("calls")
    pending = [asyncio.create_task(out.publish(t, bytes(100))) for _ in range(5_000)]
    await asyncio.sleep(0)  # the first ones are written
    assert own_broker.proc is not None
    own_broker.proc.kill()
    results = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 10)
    failed = [r for r in results if isinstance(r, OutlinkError)]
    assert failed and all(r is None or isinstance(r, OutlinkError) for r in results)
    with pytest.raises(OutlinkError):
        await asyncio.wait_for(out.wait_closed(), 5)
    assert not out.send(t, b"x", lambda: None)  # refused once down
    with pytest.raises(OutlinkError):
        await out.publish(t, b"x")
    await out.aclose()


async def test_broker_stopped_cleanly_ends_the_link(own_broker: Broker) -> None:
    async with link(own_broker) as out:
        own_broker.stop()  # SIGTERM: Mosquitto closes its sockets
        with pytest.raises(OutlinkError, match=r"closed the connection|connection lost"):
            await asyncio.wait_for(out.wait_closed(), 10)


async def test_a_silent_broker_is_declared_dead_by_keepalive(own_broker: Broker) -> None:
    async with link(own_broker, keepalive=1) as out:
        await out.publish(topic("calls"), b"x")
        assert own_broker.proc is not None
        os.kill(own_broker.proc.pid, signal.SIGSTOP)  # the TCP link stays, nothing answers
        with pytest.raises(OutlinkError, match=r"no packet from the broker for 1\.5 s"):
            await asyncio.wait_for(out.wait_closed(), 5)


async def test_an_idle_link_stays_up_with_pings(broker: Broker) -> None:
    async with link(broker, keepalive=1) as out:
        closed = asyncio.create_task(out.wait_closed())
        done, _ = await asyncio.wait({closed}, timeout=2.5)  # > 1.5 keepalive of idleness
        assert not done and out.is_open
        closed.cancel()
        await out.publish(topic("calls"), b"still up")


async def test_refusals_are_one_clear_line(broker: Broker) -> None:
    bad = MqttTarget("127.0.0.1", broker.port, "hallcall-server", "nope")
    with pytest.raises(OutlinkError, match=r"refused the connection: (bad user name|not auth)"):
        async with Outlink(bad, "test-bad"):
            pass
    nobody = MqttTarget("127.0.0.1", free_port(), "u", "p")
    with pytest.raises(OutlinkError, match=r"^MQTT 127.0.0.1:\d+: ") as err:
        async with Outlink(nobody, "test-nobody"):
            pass
    assert "\n" not in str(err.value)
