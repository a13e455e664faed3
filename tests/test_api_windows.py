"""Every window action over HTTP, with the MQTT messages it causes; several halls at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web import Application, Request

from queue_server.app import Options, create_app
from queue_server.clock import ManualClock
from queue_server.domain import eta
from queue_server.domain.priority import MINUTE_MS
from queue_server.settings import parse_mqtt_url
from tests.conftest import KIOSK, MANAGER, Api, W, demo_hall, subscribe
from tests.services import SECRET, Broker, RedisServer


async def test_recall_then_no_show_with_notices(api: Api, broker: Broker) -> None:
    async with subscribe(broker, [f"hallcall/{api.hall}/#"]) as sub:
        t = await api.issue("A", phone="13700001234", staff=True, **{"class": "green"})
        await api.act(1, "next")
        first = await sub.get("/calls")
        assert first["green"] is True and first["kind"] == "call"
        for n in (1, 2):
            out = await api.act(1, "recall")
            assert out["ticket"]["recalls"] == n
            again = await sub.get("/calls")
            assert again["kind"] == "recall" and again["seq"] == first["seq"] + n
        out = await api.act(1, "recall")
        assert out["ticket"]["state"] == "missed"
        missed = await sub.get("/notify", where=lambda b: b["kind"] == "missed")
        assert missed["number"] == "A001" and missed["phone"] == "13700001234"
        panel = await sub.get("/windows/1", where=lambda b: b["current"] is None and b["seq"] > 3)
        assert panel["waiting"] == {"A": 0}
        api.clock.advance(120)
        back = await api.client.post(
            api.path(f"/tickets/{t['id']}/rejoin"), headers={"X-Ticket-Secret": t["secret"]}
        )
        assert back.status == 200 and (await back.json())["state"] == "waiting"


async def test_skip_park_unpark_call_transfer_pause(api: Api, broker: Broker) -> None:
    a1, a2, a3 = (await api.issue("A"), await api.issue("A"), await api.issue("A"))
    await api.act(2, "next")
    skipped = await api.act(2, "skip")
    assert skipped["ticket"]["id"] == a1["id"] and skipped["ticket"]["state"] == "missed"
    await api.act(2, "next")
    parked = await api.act(2, "park")
    assert parked["ticket"]["state"] == "parked"
    state = await (await api.client.get(api.path("/windows/2"), headers=W[2])).json()
    assert state["parked"] == ["A002"] and state["current"] is None
    assert state["services"] == {"A": 0, "B": 10}
    called = await api.act(2, "call", {"number": "A003"})
    assert called["ticket"]["id"] == a3["id"]
    async with subscribe(broker, [f"hallcall/{api.hall}/calls"]) as sub:
        back = await api.act(2, "unpark", {"number": "A002"})
        assert back["ticket"]["id"] == a2["id"] and back["finished"] == "A003"
        # the earlier call of A003 may still reach this new subscriber under load
        call = await sub.get("/calls", where=lambda c: c["number"] == "A002")
        assert call["kind"] == "unpark"
    moved = await api.act(2, "transfer", {"service": "C"})
    assert moved["ticket"]["state"] == "transferred" and moved["ticket"]["service"] == "C"
    async with subscribe(broker, [f"hallcall/{api.hall}/board"]) as sub:
        await api.act(5, "pause", {"reason": "午休"})
        board = await sub.get("/board", where=lambda b: b["windows"][4]["paused"])
        assert (board["windows"][4]["state"], board["windows"][4]["reason"]) == ("paused", "午休")
    assert (await api.act(5, "next", status=409))["error"] == "window_paused"
    state = await (await api.client.get(api.path("/windows/5"), headers=W[5])).json()
    assert state["reason"] == "午休"
    info = await (await api.client.get(api.path())).json()
    assert {w["id"]: w["paused"] for w in info["windows"]}["5"] is True
    waits = {s["id"]: s for s in info["services"]}
    assert waits["C"]["waiting"] == 1
    # window 5 paused; window 6 serves C among three services: it is free and would call
    # the C ticket waiting; a new one waits for it to free up again (a third of its time)
    expected = eta.estimate(1, eta.Handling.prior(15 * MINUTE_MS), 1 / 3, free=1)
    assert expected is not None and waits["C"]["eta_minutes"] == expected.minutes
    await api.act(5, "resume")
    got = await api.act(5, "next")
    assert got["ticket"]["number"] == "A002"  # the transferred citizen, still A002


async def test_status_shows_place_and_wait(api: Api) -> None:
    tickets = [await api.issue("B") for _ in range(4)]
    last = tickets[-1]
    resp = await api.client.get(
        api.path(f"/tickets/{last['id']}"), headers={"X-Ticket-Secret": last["secret"]}
    )
    body = await resp.json()
    assert body["ahead"] == 3 and body["eta_minutes"] is not None
    await api.act(4, "next")
    body = await (
        await api.client.get(api.path(f"/tickets/{last['id']}"), params={"secret": last["secret"]})
    ).json()
    assert body["ahead"] == 2
    cancel = await api.client.post(
        api.path(f"/tickets/{last['id']}/cancel"), headers={"X-Ticket-Secret": last["secret"]}
    )
    assert (await cancel.json())["state"] == "cancelled"


@pytest.fixture
async def two_halls(
    redis_server: RedisServer, redis: object, broker: Broker
) -> AsyncIterator[tuple[TestClient[Request, Application], str, str]]:
    a, b = demo_hall(f"ha{uuid.uuid4().hex[:6]}"), demo_hall(f"hb{uuid.uuid4().hex[:6]}")
    app = create_app(
        {a.id: a, b.id: b},
        Options(
            redis_url=redis_server.url, mqtt=parse_mqtt_url(broker.url()), secret=SECRET.encode()
        ),
        ManualClock(1_795_658_400.0),
    )
    client: TestClient[Request, Application] = TestClient(TestServer(app))
    await client.start_server()
    yield client, a.id, b.id
    await client.close()


async def test_several_halls_are_separate(
    two_halls: tuple[TestClient[Request, Application], str, str], broker: Broker
) -> None:
    client, a, b = two_halls
    halls = await (await client.get("/api/v1/halls")).json()
    assert {h["id"] for h in halls["halls"]} == {a, b}
    async with subscribe(broker, [f"hallcall/{a}/calls", f"hallcall/{b}/calls"]) as sub:
        for hall in (a, a, b):
            r = await client.post(
                f"/api/v1/halls/{hall}/tickets", json={"service": "A"}, headers=KIOSK
            )
            assert r.status == 201
        r = await client.post(f"/api/v1/halls/{b}/windows/1/next", headers=W[1])
        assert (await r.json())["ticket"]["number"] == "A001"  # b's own numbering
        r = await client.post(f"/api/v1/halls/{a}/windows/2/next", headers=W[2])
        assert (await r.json())["ticket"]["number"] == "A001"  # a's own numbering
        call_b = await sub.get(f"{b}/calls")
        call_a = await sub.get(f"{a}/calls")
        # each hall's call on its own topic only, with its own window and counter
        assert (call_b["window"], call_b["seq"]) == ("1", 1)
        assert (call_a["window"], call_a["seq"]) == ("2", 1)
        await asyncio.sleep(0.1)  # a call that leaked to the other hall's topic would be here
        assert sub.all("/calls") == []
    r = await client.get(f"/api/v1/halls/{a}/rules", headers=MANAGER)
    assert r.status == 200
    info = await (await client.get(f"/api/v1/halls/{a}")).json()
    assert info["services"][0]["waiting"] == 1  # a's second ticket


async def test_only_green_channel_calls_are_marked_green(api: Api, broker: Broker) -> None:
    async with subscribe(broker, [f"hallcall/{api.hall}/calls"]) as sub:
        await api.client.post(
            api.path("/tickets"), headers=W[1], json={"service": "A", "class": "appointment"}
        )
        await api.issue("A", staff=True, **{"class": "green"})
        await api.act(1, "next")
        await api.act(1, "next")
        first, second = await sub.get("/calls"), await sub.get("/calls")
        assert (first["number"], first["green"]) == ("A002", True)  # 30 min boost beats 15
        assert (second["number"], second["green"]) == ("A001", False)


async def test_english_when_asked(redis_server: RedisServer, redis: object, broker: Broker) -> None:
    cfg = demo_hall()
    app = create_app(
        {cfg.id: cfg},
        Options(
            redis_url=redis_server.url,
            lang="en",
            mqtt=parse_mqtt_url(broker.url()),
            secret=SECRET.encode(),
        ),
        ManualClock(1_795_658_400.0),
    )
    client: TestClient[Request, Application] = TestClient(TestServer(app))
    await client.start_server()
    try:
        async with subscribe(broker, [f"hallcall/{cfg.id}/calls"]) as sub:
            r = await client.post(
                f"/api/v1/halls/{cfg.id}/tickets", json={"service": "A"}, headers=KIOSK
            )
            assert (await r.json())["service_name"] == "Household registration"
            await client.post(f"/api/v1/halls/{cfg.id}/windows/3/next", headers=W[3])
            assert (await sub.get("/calls"))["window_name"] == "Window 3"
        info = await (await client.get(f"/api/v1/halls/{cfg.id}")).json()
        assert info["name"] == "Demo District Government Service Centre"
    finally:
        await client.close()
