"""Broker access per program: the project's ACL on a real Mosquitto."""

from __future__ import annotations

import asyncio
import uuid

import aiomqtt
import pytest

from queue_server.protocol import Status, encode
from tests.conftest import subscribe
from tests.services import Broker


def client(broker: Broker, user: str | None) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username=user,
        password=broker.passwords.get(user or "", None),
        identifier=f"acl-{uuid.uuid4().hex[:8]}",
    )


async def test_only_the_sms_gateway_reads_notify(broker: Broker) -> None:
    """Mosquitto 2.0 grants the subscription and then withholds the messages it may not read."""
    topics = ["hallcall/acl/notify", "hallcall/acl/board"]
    async with (
        subscribe(broker, topics, user="hallcall-display") as display,
        subscribe(broker, topics, user="hallcall-window") as window,
        subscribe(broker, topics, user="hallcall-sms") as sms,
    ):
        async with client(broker, "hallcall-server") as c:
            await c.publish("hallcall/acl/notify", encode(Status(True, 1.0)), qos=1)
            await c.publish("hallcall/acl/board", encode(Status(True, 2.0)), qos=1)
        assert (await sms.get("/notify"))["time"] == 1.0
        assert (await display.get("/board"))["time"] == 2.0  # published after the notice
        assert (await window.get("/board"))["time"] == 2.0
        assert display.all("/notify") == [] and window.all("/notify") == []


async def test_screens_cannot_publish_calls(broker: Broker) -> None:
    async with subscribe(broker, ["hallcall/acl/calls"]) as sub:
        async with client(broker, "hallcall-display") as c:
            await c.publish("hallcall/acl/calls", encode(Status(True, 1.0)), qos=1)
        async with client(broker, "hallcall-server") as c:
            await c.publish("hallcall/acl/calls", encode(Status(True, 2.0)), qos=1)
        first = await sub.get("/calls")
        await asyncio.sleep(0.2)
        assert first["time"] == 2.0 and sub.all("/calls") == []  # the display's was dropped


async def test_anonymous_and_wrong_passwords_are_refused(broker: Broker) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with client(broker, None):
            pass
    bad = aiomqtt.Client("127.0.0.1", broker.port, username="hallcall-server", password="nope")
    with pytest.raises(aiomqtt.MqttError):
        async with bad:
            pass
