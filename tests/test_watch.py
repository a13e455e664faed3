"""`queue-server watch` prints what a program sees, decoded; bad payloads in one line."""

from __future__ import annotations

import asyncio
import io
import json

import aiomqtt

from queue_server.protocol import Status, encode
from queue_server.settings import parse_mqtt_url
from queue_server.watch import watch
from tests.services import Broker


async def test_watch_decodes_and_reports_bad_payloads(broker: Broker) -> None:
    out = io.StringIO()
    task = asyncio.create_task(
        watch(parse_mqtt_url(broker.url("hallcall-display")), "w1", out, count=3)
    )
    async with aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username="hallcall-server",
        password=broker.passwords["hallcall-server"],
    ) as c:
        # retained, so they reach the watcher whenever it subscribes
        await c.publish("hallcall/w1/board", encode(Status(True, 5.0)), qos=1, retain=True)
        await c.publish("hallcall/w1/windows/1", b"\xc1 not msgpack", qos=1, retain=True)
        await c.publish("hallcall/w1/windows/2", b"\x93\x01\x02\x03", qos=1, retain=True)
    async with asyncio.timeout(5):
        await task
    lines = {(x := json.loads(raw))["topic"]: x for raw in out.getvalue().splitlines()}
    assert lines["hallcall/w1/board"]["message"]["time"] == 5.0
    assert lines["hallcall/w1/windows/1"]["message"]["error"].startswith("not a msgpack payload")
    assert lines["hallcall/w1/windows/2"]["message"]["error"] == "payload is a list, not a map"
