"""The MQTT publisher on a real broker: backlog while away, retained snapshots, last will."""

from __future__ import annotations

import asyncio

from queue_server.protocol import Status, encode
from queue_server.publisher import HallPublisher
from queue_server.settings import parse_mqtt_url
from tests.conftest import subscribe
from tests.services import Broker


async def test_backlog_is_kept_bounded_and_sent_in_order(broker: Broker) -> None:
    rounds: list[set[str] | None] = []

    async def snapshot(windows: set[str] | None) -> tuple[int, list[tuple[str, bytes]]]:
        rounds.append(windows)
        return 7, [("hallcall/pubtest/board", encode(Status(online=True, time=7.0)))]

    async def seq() -> int:
        return 7

    pub = HallPublisher("pubtest", parse_mqtt_url(broker.url()), snapshot, seq, max_backlog=5)
    for i in range(8):  # the broker link is not up yet: keep the newest five
        pub.send("hallcall/pubtest/calls", encode(Status(online=True, time=float(i))))
    async with subscribe(broker, ["hallcall/pubtest/#"]) as sub:
        task = asyncio.create_task(pub.run())
        try:
            times = [(await sub.get("/calls"))["time"] for _ in range(5)]
            assert times == [3.0, 4.0, 5.0, 6.0, 7.0]
            assert (await sub.get("/board"))["time"] == 7.0
            assert (await sub.get("/status/server"))["online"] is True
            assert rounds[0] is None  # the first round after connecting republishes everything
            pub.mark({"3"})
            await sub.get("/board")
            assert rounds[-1] == {"3"}
            assert pub.connected
        finally:
            pub.stop()
            async with asyncio.timeout(5):
                await task
        status = await sub.get("/status/server", where=lambda b: not b["online"])
        assert status["client"] == "server"  # a clean stop says offline too
