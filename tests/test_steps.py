"""One ticket, several steps (一票到底), on a real server, Redis and Mosquitto: the ticket goes
through both services with one number, keeps its place by its original time, the overtaking
bound holds, and the call, the screens, the SMS text and the status page show the step."""

from __future__ import annotations

import json
import os
import random
from typing import Any

import pygame.freetype
from redis.asyncio import Redis

from display_client import led, tv
from display_client import state as st
from display_client.fonts import find_font, load
from display_client.frame import font_measure, labels
from queue_server.api.routes import HALLS
from queue_server.domain.priority import Waiting, pick, starvation_bound_ms
from queue_server.protocol import decode, encode
from queue_server.snapshots import hall_message
from queue_server.store import keys
from queue_server.store.hall_store import policy_from_config
from sms_gateway.texts import HallTexts, render
from tests.conftest import Api, subscribe
from tests.services import Broker

PHONE = "13700001234"


async def status(api: Api, t: dict[str, Any]) -> dict[str, Any]:
    resp = await api.client.get(
        api.path(f"/tickets/{t['id']}"), headers={"X-Ticket-Secret": t["secret"]}
    )
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def screens_show(call: dict[str, Any], hall_body: dict[str, Any]) -> tuple[str, str]:
    """What the TV's large row and the window's LED strip draw for a call message."""
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    pygame.freetype.init()
    measure = font_measure(load(find_font()))
    s = st.apply_hall(st.empty(hall_body["hall"], call["window"]), st.parse_hall(hall_body))
    s = st.set_online(st.add_call(s, st.call_of(call), 100.0), True)
    (tag,) = labels(tv.compose(s, (1280, 720), 100.0, 0.0, measure).items, "now.0.step")
    (strip,) = labels(led.compose(s, (512, 64), 100.0, 0.0, measure).items, "bottom")
    return tag.text, strip.text


async def test_two_steps_one_number_its_place_kept_and_the_step_shown(
    api: Api, broker: Broker
) -> None:
    hall_body = decode(encode(hall_message(api.app[HALLS][api.hall].config, "zh", 0.0)))
    async with subscribe(broker, [f"hallcall/{api.hall}/#"]) as sub:
        t = await api.issue("C", phone=PHONE, steps=["C", "D"])
        assert (t["number"], t["step"], t["steps"]) == ("C001", 1, ["C", "D"])
        api.clock.advance(60)
        between = [await api.issue("D"), await api.issue("D")]  # payment tickets taken later
        called = await api.act(5, "next")
        assert called["ticket"]["step"] == 1
        call = await sub.get("/calls")
        assert (call["number"], call["service"], call["step"], call["steps"]) == ("C001", "C", 1, 2)
        api.clock.advance(300)
        done = await api.act(5, "finish")
        # queued for payment at its original place: before the two taken after it
        assert (done["ticket"]["service"], done["ticket"]["state"]) == ("D", "waiting")
        mid = await status(api, t)
        assert (mid["number"], mid["step"], mid["ahead"], mid["window"]) == ("C001", 2, 0, None)
        assert (await status(api, between[0]))["ahead"] == 1
        # the window's pad is offered no rating before the last step
        panel5 = await sub.get("/windows/5", where=lambda b: b["today"].get("served") == 1)
        assert panel5["finished"] is None
        await api.act(7, "next")
        call = await sub.get("/calls")
        assert (call["number"], call["service"], call["step"], call["steps"]) == ("C001", "D", 2, 2)
        panel7 = await sub.get("/windows/7", where=lambda b: b["current"] is not None)
        assert (panel7["current"]["step"], panel7["current"]["steps"]) == (2, 2)
        # the SMS notices of the second step are new events, with the step in their text
        notice = await sub.get("/notify", where=lambda b: b["kind"] == "called" and b["step"] == 2)
        assert notice["key"] == f"{t['id']}/called/0/s2" and notice["service"] == "D"
        text = render(notice, HallTexts.from_message(hall_body), "zh")
        assert text.endswith("请C001号到7号窗口（缴费）办理（第2步/共2步：缴费）"), text
        en_notice = {**notice, "lang": "en", "service_name": "", "window_name": ""}
        en = render(en_notice, HallTexts.from_message(hall_body), "en")
        assert "(step 2 of 2: Payment)" in en
        first = await sub.get("/notify", where=lambda b: b["kind"] == "called" and b["step"] == 1)
        assert first["key"] == f"{t['id']}/called/0"
        assert (await api.act(7, "finish"))["ticket"]["state"] == "done"
        rated = await sub.get("/windows/7", where=lambda b: b["finished"] is not None)
        assert rated["finished"]["number"] == "C001"
        # the payment tickets taken meanwhile come next
        assert (await api.act(7, "next"))["ticket"]["number"] == between[0]["number"]
    assert screens_show(call, hall_body) == ("(2/2 缴费)", "请C001号到7号窗口（缴费） (2/2 缴费)")


async def test_steps_must_start_with_the_service_and_name_known_services(api: Api) -> None:
    for steps, code in ((["A", "D"], "invalid_request"), (["C", "Z"], "unknown_service")):
        resp = await api.client.post(
            api.path("/tickets"), json={"service": "C", "steps": steps, "phone": PHONE}
        )
        assert resp.status == 400 and (await resp.json())["error"] == code
    resp = await api.client.post(
        api.path("/tickets"), json={"service": "C", "steps": ["C"] * 9, "phone": PHONE}
    )
    assert resp.status == 400
    one = await api.issue("C", phone=PHONE, steps=["C"])  # one step: a plain ticket
    assert one["step"] is None and one["steps"] is None


async def test_a_transfer_moves_the_step_and_the_chain_goes_on(api: Api) -> None:
    t = await api.issue("A", phone=PHONE, steps=["A", "D"])
    await api.act(1, "next")
    moved = await api.act(1, "transfer", {"service": "C"})
    assert moved["ticket"]["steps"] == ["C", "D"]
    await api.act(5, "next")
    await api.act(5, "finish")
    assert ((await status(api, t))["service"], (await status(api, t))["step"]) == ("D", 2)


async def test_the_overtaking_bound_holds_with_second_steps(api: Api, redis: Redis) -> None:
    """Tickets of one and two steps, green ones among them, called by windows sharing
    services: every call is the policy's pick, and no waiting ticket is overtaken by one that
    joined more than the bound after it."""
    cfg = api.app[HALLS][api.hall].config
    rules = policy_from_config(cfg)
    bound = starvation_bound_ms(rules.boosts, rules.offsets)
    rnd = random.Random(9)
    kinds: list[dict[str, Any]] = [
        {"service": "C", "steps": ["C", "D"]},
        {"service": "B", "steps": ["B", "D"], "staff": True},
        {"service": "D"},
        {"service": "B"},
        {"service": "D", "staff": True, "class": "green"},
    ]
    checked = second_steps = 0
    for _ in range(60):
        api.clock.advance(rnd.randint(20, 240))
        if rnd.random() < 0.5:
            extra = dict(rnd.choice(kinds))
            await api.issue(extra.pop("service"), **extra)
            continue
        window = rnd.choice(["4", "5", "7"])
        raw = await redis.hgetall(keys.tickets(api.hall, _day(api)))
        records = {str(tid): json.loads(r) for tid, r in raw.items()}
        waiting = [
            Waiting(tid, r["service"], r["class"], int(r["base"]) // 1000)
            for tid, r in records.items()
            if r["state"] in ("waiting", "transferred") and r["service"] in rules.offsets[window]
        ]
        out = await api.act(int(window), "next")
        if out["ticket"] is None:
            assert not waiting
            continue
        x = next(w for w in waiting if w.id == out["ticket"]["id"])
        chosen = pick(waiting, rules, window)
        assert chosen is not None and chosen.id == x.id
        for w in waiting:
            assert x.base_ms - w.base_ms <= bound, (x, w, bound)
        checked += 1
        second_steps += int(records[x.id].get("step", 0) == 2)
    assert checked >= 15 and second_steps >= 2, (checked, second_steps)


def _day(api: Api) -> str:
    return str(api.app[HALLS][api.hall].store.day())


async def test_the_status_page_shows_the_step_in_both_languages(api: Api) -> None:
    t = await api.issue("C", phone=PHONE, steps=["C", "D"])
    page = f"/m/{api.hall}/t/{t['id']}?secret={t['secret']}"

    async def shown(lang: str) -> str:
        resp = await api.client.get(f"{page}&lang={lang}")
        assert resp.status == 200
        return await resp.text()

    assert '<p class="step" id="step">第1步 / 共2步（不动产登记）</p>' in await shown("zh")
    await api.act(5, "next")
    await api.act(5, "finish")
    assert '<p class="step" id="step">第2步 / 共2步（缴费）</p>' in await shown("zh")
    assert "Step 2 of 2 (Payment)" in await shown("en")
    one = await api.issue("C", phone=PHONE)  # one step: no step line
    resp = await api.client.get(f"/m/{api.hall}/t/{one['id']}?secret={one['secret']}")
    assert 'id="step"' not in await resp.text()
