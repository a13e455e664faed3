"""Citizen pages over real HTTP (real Redis and Mosquitto): the hall page, the kiosk's
idempotent issue, the printed ticket, the live status feed, cancel and rejoin forms."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from aiohttp import ClientResponse

from tests.conftest import KIOSK, Api


async def text(resp: ClientResponse, status: int = 200) -> str:
    body = await resp.text()
    assert resp.status == status, body[:500]
    return body


async def test_hall_page_shows_services_waits_windows_hours_in_both_languages(api: Api) -> None:
    await api.issue("A")
    await api.issue("A")
    html = await text(await api.client.get(f"/hall/{api.hall}"))
    assert 'lang="zh-CN"' in html and "办公时间" in html and "如何办理" in html
    row = re.search(r'<tr data-service="A">(.*?)</tr>', html, re.S)
    assert row is not None and '<td class="waiting">2</td>' in row.group(1)
    assert "分钟" in row.group(1)
    assert "<script" not in html  # plain HTML: works without JavaScript
    assert f"/hall/{api.hall}?lang=en" in html  # the language switch
    en = await text(await api.client.get(f"/hall/{api.hall}?lang=en"))
    assert 'lang="en"' in en and "Opening hours" in en and "How to book" in en
    assert "办公时间" not in en
    missing = await api.client.get("/hall/nosuchhall")
    assert missing.status == 404 and "找不到" in await missing.text()


async def test_a_double_tap_at_the_kiosk_gives_one_ticket(api: Api) -> None:
    key = {"Idempotency-Key": "press-1", **KIOSK}
    first, second = await asyncio.gather(
        *(api.client.post(api.path("/tickets"), json={"service": "B"}, headers=key) for _ in "ab")
    )
    one, two = await first.json(), await second.json()
    assert first.status == second.status == 201
    assert one["id"] == two["id"] and one["secret"] == two["secret"]
    assert "true" in (
        first.headers.get("Idempotent-Replayed"),
        second.headers.get("Idempotent-Replayed"),
    )
    again = await api.client.post(api.path("/tickets"), json={"service": "A"}, headers=key)
    assert again.status == 422 and (await again.json())["error"] == "idempotency_mismatch"
    info = await (await api.client.get(api.path())).json()
    assert {s["id"]: s["waiting"] for s in info["services"]}["B"] == 1
    assert {s["id"]: s["waiting"] for s in info["services"]}["A"] == 0
    # another press is another ticket
    other = await api.client.post(
        api.path("/tickets"), json={"service": "B"}, headers={"Idempotency-Key": "press-2", **KIOSK}
    )
    assert (await other.json())["id"] != one["id"]


async def test_a_malformed_phone_issues_nothing(api: Api) -> None:
    resp = await api.client.post(
        api.path("/tickets"),
        json={"service": "A", "phone": "1380000"},
        headers={"Idempotency-Key": "press-x", **KIOSK},
    )
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_phone"
    info = await (await api.client.get(api.path())).json()
    assert all(s["waiting"] == 0 for s in info["services"])


async def test_printed_ticket_fits_the_roll_and_links_its_status_page(api: Api) -> None:
    t = await api.issue("A")
    url = f"/kiosk/{api.hall}/t/{t['id']}?secret={t['secret']}"
    html = await text(await api.client.get(url))
    # (not "A4" anywhere: the random secret in the page's links may hold those two letters)
    assert "@page { size: 80mm 140mm;" in html and not re.search(r"@page[^}]*A4", html)
    assert t["number"] in html and "<svg" in html and "扫码" in html
    link = f"/m/{api.hall}/t/{t['id']}?secret={t['secret']}&amp;lang=zh"
    assert f'href="{link}"' in html
    narrow = await text(await api.client.get(url + "&paper=58&lang=en"))
    assert "@page { size: 58mm 120mm;" in narrow and "Scan to follow" in narrow
    wrong = await api.client.get(f"/kiosk/{api.hall}/t/{t['id']}?secret=nope&lang=en")
    assert wrong.status == 403 and "does not match" in await wrong.text()


async def events(resp: ClientResponse) -> Any:
    """Yields the data of each SSE event named `ticket`."""
    name = ""
    while True:
        line = (await resp.content.readline()).decode().rstrip("\r\n")
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and name == "ticket":
            yield json.loads(line.split(":", 1)[1])


async def test_status_page_pushes_the_place_as_windows_call_then_the_call(api: Api) -> None:
    for _ in range(2):
        await api.issue("A")
    mine = await api.issue("A")
    page = f"/m/{api.hall}/t/{mine['id']}?secret={mine['secret']}"
    html = await text(await api.client.get(page))
    assert mine["number"] in html and "前面还有" in html and "2 人" in html
    live = re.search(r'data-live="([^"]+)"', html)
    assert live is not None  # the page's own feed address, as its script opens it
    resp = await api.client.get(live.group(1).replace("&amp;", "&"))
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    feed = events(resp)
    async with asyncio.timeout(10):
        assert (await anext(feed))["ahead"] == 2
        await api.act(1, "next")
        assert (await anext(feed))["ahead"] == 1
        await api.act(2, "next")
        assert (await anext(feed))["ahead"] == 0
        called = await api.act(1, "next")
        assert called["ticket"]["number"] == mine["number"]
        last = await anext(feed)
    assert last["state"] == "called" and "请到" in last["called_text"]
    resp.close()
    bad = await api.client.get(f"/m/{api.hall}/t/{mine['id']}/live?secret=wrong")
    assert bad.status == 403


async def test_cancel_and_rejoin_by_plain_forms(api: Api) -> None:
    t = await api.issue("C")
    page = f"/m/{api.hall}/t/{t['id']}?secret={t['secret']}&lang=en"
    assert "Cancel my ticket" in await text(await api.client.get(page))
    resp = await api.client.post(
        f"/m/{api.hall}/t/{t['id']}/cancel?lang=en", data={"secret": t["secret"]}
    )
    html = await text(resp)  # followed the 303 back to the status page
    assert "Cancelled." in html and "Cancel my ticket" not in html
    twice = await api.client.post(
        f"/m/{api.hall}/t/{t['id']}/cancel?lang=en", data={"secret": t["secret"]}
    )
    assert twice.status == 409 and "cannot do that now" in await twice.text()
    wrong = await api.client.post(f"/m/{api.hall}/t/{t['id']}/rejoin", data={"secret": "x"})
    assert wrong.status == 403 and "号码凭证不正确" in await wrong.text()


async def test_rejoin_after_a_miss_by_the_plain_form(api: Api) -> None:
    t = await api.issue("A")
    await api.act(2, "next")
    assert (await api.act(2, "skip"))["ticket"]["state"] == "missed"
    page = f"/m/{api.hall}/t/{t['id']}?secret={t['secret']}"
    html = await text(await api.client.get(page))
    assert "过号" in html and "重新排队" in html and "取消排队" not in html
    resp = await api.client.post(f"/m/{api.hall}/t/{t['id']}/rejoin", data={"secret": t["secret"]})
    html = await text(resp)
    assert "已重新排队。" in html and "等候中" in html and "取消排队" in html
    status = await api.client.get(
        api.path(f"/tickets/{t['id']}"), headers={"X-Ticket-Secret": t["secret"]}
    )
    assert (await status.json())["state"] == "waiting"
