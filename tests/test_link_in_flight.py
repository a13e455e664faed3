"""The shared link's `in_flight`: callbacks run together, each message is acknowledged only
after its own callback and every earlier one returned (so a crash loses nothing)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from queue_server.link import Link, Message, parse_mqtt_url
from queue_server.protocol import Notice, encode, topic_notify
from tests.conftest import subscribe
from tests.services import Broker


async def test_callbacks_run_together_and_acknowledge_in_order(broker: Broker) -> None:
    hall, client_id = f"l{uuid.uuid4().hex[:8]}", f"hallcall-sms-test-{uuid.uuid4().hex[:6]}"
    target = parse_mqtt_url(broker.url("hallcall-sms"))
    gate = asyncio.Event()
    started: list[int] = []
    five = asyncio.Event()

    async def blocked_first(msg: Message) -> None:
        started.append(int(msg.body["ahead"]))
        if len(started) == 5:
            five.set()
        if msg.body["ahead"] == 0:
            await gate.wait()  # never returns: message 0 is never acknowledged

    online = asyncio.Event()

    def link(on_message: Callable[[Message], Awaitable[None]]) -> Link:
        return Link(
            target,
            hall,
            ["notify"],
            on_message,
            on_state=lambda up: online.set() if up else online.clear(),
            client_id=client_id,
            persistent=True,
            manual_ack=True,
            in_flight=8,
        )

    first = link(blocked_first)
    running = asyncio.create_task(first.run())
    async with asyncio.timeout(10):
        await online.wait()
        async with subscribe(broker, []) as pub:
            for n in range(5):
                notice = Notice("near", "13800000000", f"A{n:03d}", "A", time.time(), ahead=n)
                await pub.client.publish(topic_notify(hall), encode(notice), qos=1)
        await five.wait()  # 1…4 ran while 0 was still in its callback
    first.stop()
    await running
    assert sorted(started) == [0, 1, 2, 3, 4]

    again: list[int] = []
    all_again = asyncio.Event()

    async def collect(msg: Message) -> None:
        again.append(int(msg.body["ahead"]))
        if len(again) == 5:
            all_again.set()

    second = link(collect)
    running = asyncio.create_task(second.run())
    async with asyncio.timeout(10):
        await all_again.wait()  # none was acknowledged: 0 blocked them all
    second.stop()
    await running
    assert sorted(again) == [0, 1, 2, 3, 4]
