"""The API end to end on real Redis and Mosquitto, with a real MQTT subscriber."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import MANAGER, Api, W, subscribe
from tests.services import Broker


async def test_issue_call_and_mqtt(api: Api, broker: Broker) -> None:
    hall = api.hall
    async with subscribe(broker, [f"hallcall/{hall}/#"]) as sub:
        t1 = await api.issue("A", phone="13800001111")
        assert t1["number"] == "A001" and t1["ahead"] == 0
        assert t1["phone"] == "138****1111" and len(t1["secret"]) >= 16
        t2 = await api.issue("A")
        assert t2["number"] == "A002" and t2["ahead"] == 1

        taken = await sub.get("/notify")
        assert taken["kind"] == "ticket_taken" and taken["phone"] == "13800001111"

        out = await api.act(3, "next")
        # window 3 serves B first and A with a 10-minute offset: A001 is only seconds old,
        # but B is empty, so A001 is the lowest score.
        assert out["ticket"]["number"] == "A001" and out["ticket"]["state"] == "called"
        call = await sub.get("/calls")
        assert call["number"] == "A001" and call["window"] == "3"
        assert call["window_name"] == "3号窗口" and call["kind"] == "call" and call["seq"] == 1
        called = await sub.get("/notify", where=lambda b: b["kind"] == "called")
        assert called["window"] == "3"
        board = await sub.get("/board", where=lambda b: b["call_seq"] == 1)
        assert board["recent"][0]["number"] == "A001"
        assert {s["id"]: s["waiting"] for s in board["services"]}["A"] == 1
        panel = await sub.get("/windows/3", where=lambda b: b["current"] is not None)
        assert panel["current"]["number"] == "A001" and panel["v"] == 1
    # the phone number travels only on notify
    assert any("13800001111" in repr(b) for t, b, _ in sub.history if t.endswith("/notify"))
    assert not any("13800001111" in repr(b) for t, b, _ in sub.history if not t.endswith("/notify"))


async def test_status_needs_secret(api: Api) -> None:
    t = await api.issue("B")
    ok = await api.client.get(
        api.path(f"/tickets/{t['id']}"), headers={"X-Ticket-Secret": t["secret"]}
    )
    assert ok.status == 200
    body: dict[str, Any] = await ok.json()
    assert body["state"] == "waiting" and body["ahead"] == 0 and "secret" not in body
    bad = await api.client.get(api.path(f"/tickets/{t['id']}"), params={"secret": "x" * 22})
    assert bad.status == 403 and (await bad.json())["error"] == "bad_secret"


async def test_window_lifecycle(api: Api) -> None:
    a = await api.issue("A")
    await api.act(1, "next")
    started = await api.act(1, "start")
    assert started["ticket"]["state"] == "serving"
    api.clock.advance(300)
    done = await api.act(1, "finish")
    assert done["ticket"]["state"] == "done" and done["ticket"]["id"] == a["id"]
    again = await api.act(1, "finish", status=409)
    assert again["error"] == "no_current"


async def test_manager_rules_change_next_call(api: Api) -> None:
    n = await api.issue("A")
    api.clock.advance(60)
    g = await api.issue("A", staff=True, **{"class": "green"})
    resp = await api.client.patch(
        api.path("/rules"), json={"boost_minutes": {"green": 0}}, headers=MANAGER
    )
    assert resp.status == 200, await resp.text()
    rules = await resp.json()
    assert rules["boost_minutes"]["green"] == 0
    out = await api.act(1, "next")
    assert out["ticket"]["id"] == n["id"]  # without the boost, the older ticket goes first
    resp = await api.client.patch(
        api.path("/rules"), json={"boost_minutes": {"green": 30}}, headers=MANAGER
    )
    assert (await resp.json())["starvation_bound_minutes"] == 45
    await api.issue("A")
    out = await api.act(1, "next")
    assert out["ticket"]["id"] == g["id"]
    forbidden = await api.client.get(api.path("/rules"), headers=W[1])
    assert forbidden.status == 403


async def test_manager_moves_a_window_to_another_service(api: Api, broker: Broker) -> None:
    await api.issue("A")
    b = await api.issue("B")
    resp = await api.client.patch(
        api.path("/rules"), json={"window_services": {"1": {"B": 0}}}, headers=MANAGER
    )
    body = await resp.json()
    assert resp.status == 200 and body["window_services"]["1"] == {"B": 0}
    assert body["window_services"]["2"] == {"A": 0, "B": 10}  # other windows keep theirs
    out = await api.act(1, "next")
    assert out["ticket"]["id"] == b["id"]
    state = await (await api.client.get(api.path("/windows/1"), headers=W[1])).json()
    assert state["services"] == {"B": 0} and state["waiting"] == {"B": 0}
    async with subscribe(broker, [f"hallcall/{api.hall}/windows/1"]) as sub:
        await asyncio.sleep(0.2)  # let earlier snapshot rounds settle
        await api.issue("B")  # window 1's panel now follows queue B
        # the retained panel from before `next` may also show B: 1 waiting, and no current
        panel = await sub.get(
            "/windows/1", where=lambda p: p["waiting"] == {"B": 1} and p["current"]
        )
        assert panel["current"]["number"] == "B001"
