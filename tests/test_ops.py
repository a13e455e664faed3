"""Ops endpoints and the generated OpenAPI document."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from queue_server.api import models as m
from queue_server.api.handlers import ROUTES
from queue_server.api.openapi import REF
from queue_server.clock import ManualClock
from queue_server.protocol import Status, encode
from queue_server.publisher import HallPublisher
from queue_server.relay import Relay
from queue_server.settings import parse_mqtt_url
from queue_server.store.scripts import register
from tests.conftest import T0, Api, subscribe
from tests.services import Broker


async def test_healthz_and_metrics(api: Api) -> None:
    for _ in range(50):  # the publisher connects in the background
        health = await (await api.client.get("/healthz")).json()
        if health["status"] == "ok":
            break
        await asyncio.sleep(0.05)
    assert health == {"redis": True, "mqtt": {api.hall: True}, "status": "ok"}
    await api.issue("B")
    text = await (await api.client.get("/metrics")).text()
    assert f'hallcall_tickets_issued_total{{hall="{api.hall}",service="B"}} 1.0' in text
    assert "hallcall_http_seconds_bucket" in text


async def test_openapi_is_generated_from_the_models(api: Api) -> None:
    spec = await (await api.client.get("/api/v1/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    for r in ROUTES:
        op = spec["paths"][r.path][r.method.lower()]
        if r.body is not None:
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref == REF.format(model=r.body.__name__)
    schemas = spec["components"]["schemas"]
    issue = m.IssueRequest.model_json_schema(by_alias=True, ref_template=REF)
    assert schemas["IssueRequest"]["properties"] == issue["properties"]
    assert "class" in schemas["IssueRequest"]["properties"]
    assert set(schemas["Ticket"]["required"]) >= {"id", "number", "state"}
    window_actions = [p for p in spec["paths"] if "/windows/{window}/" in p]
    assert len(window_actions) == 13  # 11 actions, staff signin and signout


async def test_snapshot_rounds_are_coalesced(broker: Broker, redis: Redis) -> None:
    """200 changes while a snapshot round is being read make one more round, not 200."""
    rounds: list[set[str] | None] = []
    release, reading = asyncio.Event(), asyncio.Event()

    async def snapshot(windows: set[str] | None) -> tuple[int, list[tuple[str, bytes]]]:
        rounds.append(windows)
        if len(rounds) == 2:
            reading.set()
            await release.wait()  # a slow read: changes pile up meanwhile
        return len(rounds), [("hallcall/coal/board", encode(Status(True, len(rounds))))]

    async def seq() -> int:
        return len(rounds)

    relay = Relay(redis, register(redis), "coal", "t", lambda e: ("", b""), ManualClock(T0))
    await relay.register()
    pub = HallPublisher("coal", parse_mqtt_url(broker.url()), relay, min_interval=0.01)
    pub.bind(snapshot, seq)
    async with subscribe(broker, ["hallcall/coal/board"]) as sub:
        task = asyncio.create_task(pub.run())
        try:
            await sub.get("/board")  # the full round after connecting
            pub.mark({"1"})
            await reading.wait()
            for i in range(200):
                pub.mark({str(i % 6 + 1)})
            release.set()
            await sub.get("/board", where=lambda b: b["time"] == 3)
            await asyncio.sleep(0.1)
            assert len(rounds) == 3, rounds
            assert rounds[2] == {str(n) for n in range(1, 7)}  # every marked window, once
        finally:
            pub.stop()
            await task
