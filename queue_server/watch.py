"""``queue-server watch``: print a hall's MQTT messages decoded, one JSON line each.

For integrators wiring screens: what the server sends, as a program of yours would see it with
its own broker user. A payload that is not a hallcall message is reported in one line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import TextIO

import aiomqtt

from queue_server.link import MqttTarget
from queue_server.protocol import PREFIX, ProtocolError, decode


async def watch(
    target: MqttTarget, hall: str, out: TextIO = sys.stdout, count: int | None = None
) -> None:
    """Print messages under hallcall/{hall}/ until interrupted (or `count` were printed)."""
    async with aiomqtt.Client(
        target.host,
        target.port,
        username=target.username,
        password=target.password,
        identifier=f"hallcall-watch-{uuid.uuid4().hex[:8]}",
    ) as client:
        await client.subscribe(f"{PREFIX}/{hall}/#", qos=1)
        seen = 0
        async for msg in client.messages:
            payload = msg.payload if isinstance(msg.payload, bytes) else b""
            try:
                body: object = decode(payload)
            except ProtocolError as exc:
                body = {"error": str(exc)}
            line = {"topic": str(msg.topic), "retained": msg.retain, "message": body}
            print(json.dumps(line, ensure_ascii=False, default=str), file=out, flush=True)
            seen += 1
            if count is not None and seen >= count:
                return


def run(target: MqttTarget, hall: str) -> int:
    try:
        asyncio.run(watch(target, hall))
    except KeyboardInterrupt:
        return 0
    except aiomqtt.MqttError as exc:
        print(f"queue-server watch: MQTT {target.host}:{target.port}: {exc}", file=sys.stderr)
        return 1
    return 0
