"""Bad input gets a clear JSON error and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from queue_server.api.routes import HALLS
from queue_server.config import HallConfig
from tests.conftest import KIOSK, MANAGER, Api, W, demo_hall


async def seq(api: Api) -> int:
    value: int = await api.app[HALLS][api.hall].store.seq()
    return value


async def expect(api: Api, method: str, path: str, status: int, code: str, **kw: Any) -> str:
    before = await seq(api)
    resp = await api.client.request(method, path, **kw)
    body = await resp.json()
    assert resp.status == status, body
    assert body["error"] == code, body
    assert body["message"] and "\n" not in body["message"]
    assert await seq(api) == before, "a refused request changed the hall"
    message: str = body["message"]
    return message


async def test_ticket_requests(api: Api) -> None:
    t = api.path("/tickets")
    await expect(api, "POST", t, 400, "bad_json", data=b'{"service": "A"')
    await expect(api, "POST", t, 400, "bad_json", data=b"")
    await expect(api, "POST", t, 400, "invalid_request", json=["A"])
    msg = await expect(api, "POST", t, 400, "invalid_request", json={"service": "a"})
    assert msg.startswith("service:")
    await expect(api, "POST", t, 400, "invalid_request", json={"service": "A", "color": "red"})
    await expect(api, "POST", t, 400, "invalid_phone", json={"service": "A", "phone": "12ab"})
    await expect(api, "POST", t, 400, "unknown_service", json={"service": "Z"})
    await expect(api, "POST", t, 400, "phone_required", json={"service": "A"})  # online
    # the channel comes from the token, never the body
    await expect(api, "POST", t, 400, "invalid_request", json={"service": "A", "channel": "kiosk"})
    await expect(api, "POST", t, 400, "unknown_class", json={"service": "A", "class": "vip"})
    await expect(api, "POST", t, 403, "staff_only", json={"service": "A", "class": "appointment"})
    await expect(
        api,
        "POST",
        t,
        401,
        "unauthorized",
        headers={"Authorization": "Bearer nope"},
        json={"service": "A", "class": "appointment"},
    )
    await expect(
        api, "POST", "/api/v1/halls/nowhere/tickets", 404, "unknown_hall", json={"service": "A"}
    )
    await expect(api, "POST", t, 413, "too_large", data=b"x" * 70_000)
    await expect(
        api,
        "POST",
        t,
        403,
        "staff_only",
        json={"service": "A", "slot_start": "2026-11-26T08:00:00+08:00"},
    )
    await expect(
        api,
        "POST",
        t,
        400,
        "invalid_request",
        headers=W[2],  # too early
        json={"service": "A", "slot_start": "2026-11-26T11:30:00+08:00"},
    )
    await expect(
        api,
        "POST",
        t,
        400,
        "invalid_request",
        headers=W[2],
        json={"service": "A", "slot_start": "2026-11-26T10:30:00"},
    )  # no zone


async def test_appointments_keep_the_bound(api: Api) -> None:
    """On time: its place is the slot, never before it arrives. Late: the normal queue."""
    t = api.path("/tickets")

    async def book(slot: str) -> dict[str, Any]:
        resp = await api.client.post(
            t, headers=W[2], json={"service": "A", "class": "appointment", "slot_start": slot}
        )
        assert resp.status == 201, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body

    walk_in = await api.issue("A")  # 10:00
    api.clock.advance(5 * 60)
    on_time = await book("2026-11-26T09:55:00+08:00")  # place 10:05 − 15 min boost = 09:50
    assert on_time["class"] == "appointment" and on_time["ahead"] == 0
    late = await book("2026-11-26T09:30:00+08:00")  # 35 min late: past the 15 min grace
    assert late["class"] == "normal" and late["ahead"] == 2
    early = await book("2026-11-26T10:45:00+08:00")  # place 10:45 − 15 = 10:30: after them
    assert early["ahead"] == 3
    called = [(await api.act(1, "next"))["ticket"]["number"] for _ in range(4)]
    assert called == [on_time["number"], walk_in["number"], late["number"], early["number"]]


async def test_ticket_secret_and_unknown_ticket(api: Api) -> None:
    t = await api.issue("A")
    await expect(
        api,
        "GET",
        api.path("/tickets/20261126-A999"),
        404,
        "unknown_ticket",
        params={"secret": "x" * 22},
    )
    await expect(api, "GET", api.path(f"/tickets/{t['id']}"), 403, "bad_secret")
    await expect(
        api,
        "POST",
        api.path(f"/tickets/{t['id']}/cancel"),
        403,
        "bad_secret",
        headers={"X-Ticket-Secret": "y" * 22},
    )
    await expect(
        api,
        "POST",
        api.path(f"/tickets/{t['id']}/rejoin"),
        409,
        "illegal_transition",
        headers={"X-Ticket-Secret": t["secret"]},
    )


async def test_window_requests(api: Api) -> None:
    await api.issue("A")
    nxt = api.path("/windows/1/next")
    await expect(api, "POST", nxt, 401, "unauthorized")
    await expect(api, "POST", nxt, 401, "unauthorized", headers={"Authorization": "Basic x"})
    await expect(
        api, "POST", nxt, 401, "unauthorized", headers={"Authorization": "Bearer demo-window-99"}
    )
    msg = await expect(api, "POST", nxt, 403, "forbidden", headers=W[2])
    assert "window 2" in msg
    await expect(api, "POST", api.path("/windows/9/next"), 404, "unknown_window", headers=W[1])
    await expect(api, "POST", api.path("/windows/1/dance"), 404, "not_found", headers=W[1])
    await expect(api, "GET", api.path("/windows/1/next"), 405, "method_not_allowed", headers=W[1])
    await expect(api, "POST", api.path("/windows/1/finish"), 409, "no_current", headers=W[1])
    await expect(api, "POST", api.path("/windows/1/call"), 400, "bad_json", headers=W[1])
    await expect(
        api,
        "POST",
        api.path("/windows/1/call"),
        400,
        "invalid_request",
        headers=W[1],
        json={"number": "001"},
    )
    await expect(api, "POST", nxt, 400, "bad_json", headers=W[1], data=b"{")
    # the manager may act for any window
    ok = await api.client.post(nxt, headers=MANAGER)
    assert ok.status == 200 and (await ok.json())["ticket"]["number"] == "A001"
    await expect(
        api,
        "POST",
        api.path("/windows/1/transfer"),
        400,
        "unknown_service",
        headers=W[1],
        json={"service": "Z"},
    )
    await expect(
        api,
        "POST",
        api.path("/windows/1/transfer"),
        409,
        "same_service",
        headers=W[1],
        json={"service": "A"},
    )


async def test_rules_requests(api: Api) -> None:
    r = api.path("/rules")
    await expect(api, "PATCH", r, 401, "unauthorized", json={})
    await expect(api, "PATCH", r, 403, "forbidden", headers=W[1], json={})
    msg = await expect(
        api,
        "PATCH",
        r,
        422,
        "rules_rejected",
        headers=MANAGER,
        json={"boost_minutes": {"green": 120}},
    )
    assert "135 min" in msg and "90 min" in msg
    for status, code, body in [
        (400, "unknown_class", {"boost_minutes": {"vip": 10}}),
        (404, "unknown_window", {"window_services": {"99": {"A": 0}}}),
        (400, "unknown_service", {"window_services": {"1": {"Q": 0}}}),
        (422, "rules_rejected", {"window_services": {"1": {}}}),
        (400, "invalid_request", {"recall_limit": -1}),
    ]:
        await expect(api, "PATCH", r, status, code, headers=MANAGER, json=body)
    rules = await (await api.client.get(r, headers=MANAGER)).json()
    assert rules["boost_minutes"]["green"] == 30 and rules["starvation_bound_minutes"] == 45


@pytest.mark.parametrize("hall_cfg", [demo_hall(issue_outside_hours=False)])
async def test_closed_hall_takes_no_tickets(api: Api, hall_cfg: HallConfig) -> None:
    api.clock.advance(12 * 3600)  # 22:00 in Shanghai
    await expect(
        api, "POST", api.path("/tickets"), 409, "hall_closed", json={"service": "A"}, headers=KIOSK
    )
    api.clock.advance(-12 * 3600)
    assert (await api.issue("A"))["number"] == "A001"


async def test_odd_bytes_get_json_errors(api: Api) -> None:
    t = await api.issue("A")
    await expect(
        api,
        "GET",
        api.path(f"/tickets/{t['id']}"),
        403,
        "bad_secret",
        params={"secret": "中文秘密"},
    )
    await expect(
        api,
        "POST",
        api.path("/windows/1/next"),
        401,
        "unauthorized",
        headers={"Authorization": "Bearer \udcff\udcfe"},
    )
    await expect(api, "POST", api.path("/tickets"), 400, "bad_json", data=b"[" * 60_000)


async def test_phone_limit_counts_every_way_of_writing_it(api: Api) -> None:
    # the forms that once got 15 tickets past a limit of 5
    forms = ["013912345678", "+0013912345678", "08613912345678", "+008613912345678"]
    for form in [*forms, "139-1234-5678"]:
        await api.issue("B", phone=form)
    await expect(
        api,
        "POST",
        api.path("/tickets"),
        429,
        "phone_limit",
        json={"service": "A", "phone": "139 1234 5678"},
    )


async def test_no_tickets_for_a_service_no_window_serves(api: Api) -> None:
    resp = await api.client.patch(
        api.path("/rules"),
        headers=MANAGER,
        json={"window_services": {"5": {"B": 0}, "6": {"A": 0, "B": 0}}},
    )
    assert resp.status == 200
    await expect(
        api,
        "POST",
        api.path("/tickets"),
        409,
        "service_unavailable",
        json={"service": "C"},
        headers=KIOSK,
    )
