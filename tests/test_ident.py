"""ID numbers, the guide desk and anti-touting (防黄牛), through the API on real Redis.

The demo hall: max_per_id 3, agents 30 by default, green channel from 70; the kiosk's daily
cap is lowered here to 6 so it can be reached."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from queue_server.config import ConfigError, HallConfig, load_hall
from queue_server.domain.idnumber import check_character
from tests.conftest import DEMO, KIOSK, MANAGER, T0, Api, demo_file, demo_hall

DESK = {"Authorization": "Bearer demo-desk-1"}
KIOSK_CAP = 6


def an_id(born: str, seq: str = "001", region: str = "110105") -> str:
    first = region + born + seq
    return first + check_character(first)


ELDER = an_id("19500101")  # 76 on the test day
ADULT = an_id("19900505", "123")  # 36
OTHER = an_id("19851111", "456")


@pytest.fixture
def hall_cfg() -> HallConfig:
    cfg = demo_hall()
    kiosks = [k.model_copy(update={"max_per_day": KIOSK_CAP}) for k in cfg.kiosks]
    return cfg.model_copy(update={"kiosks": kiosks})


async def post(
    api: Api, body: dict[str, Any], headers: dict[str, str] | None = KIOSK, path: str = "/tickets"
) -> tuple[int, dict[str, Any]]:
    resp = await api.client.post(api.path(path), json=body, headers=headers)
    out: dict[str, Any] = await resp.json()
    return resp.status, out


async def manager(api: Api, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    resp = await api.client.request(method, api.path(path), json=body, headers=MANAGER)
    return resp.status, await resp.json()


async def test_the_desk_issues_green_and_the_kiosk_cannot(api: Api) -> None:
    status, t = await post(api, {"service": "A", "class": "green"}, DESK)
    assert status == 201 and t["class"] == "green" and t["phone"] is None, t
    status, t = await post(api, {"service": "B", "class": "green", "phone": "13800001234"}, DESK)
    assert status == 201 and t["phone"] == "138****1234"
    status, err = await post(api, {"service": "A", "class": "green"}, KIOSK)
    assert (status, err["error"]) == (403, "staff_only")
    # a desk only issues: no window action, no manager route
    resp = await api.client.post(api.path("/windows/1/next"), headers=DESK)
    assert resp.status == 403 and (await resp.json())["error"] == "forbidden"
    resp = await api.client.get(api.path("/blacklist"), headers=DESK)
    assert resp.status == 403
    # a desk's slot time is an appointment check-in, as for other staff
    slot = datetime.fromtimestamp(T0, UTC).isoformat()
    status, t = await post(api, {"service": "C", "class": "appointment", "slot_start": slot}, DESK)
    assert status == 201 and t["class"] == "appointment"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (ADULT[:17] + ("0" if ADULT[17] != "0" else "1"), "invalid_id_check"),
        ("110105" + "19900230" + "1230", "invalid_id_date"),
        ("110105" + "20300101" + "1230", "invalid_id_date"),
        ("11010519900505123", "invalid_id"),
        ("1101051990050512345", "invalid_id"),
        ("ABCDEFGHIJKLMNOPQR", "invalid_id"),
    ],
)
async def test_a_bad_id_number_is_refused_and_nothing_is_issued(
    api: Api, raw: str, code: str
) -> None:
    status, err = await post(api, {"service": "A", "id_number": raw})
    assert (status, err["error"]) == (400, code), err
    assert raw not in err["message"]
    t = await api.issue("A")
    assert t["number"] == "A001"  # the refused one took no number


async def test_per_id_limit_and_a_registered_agent(api: Api) -> None:
    forms = [ADULT, ADULT[:6] + " " + ADULT[6:14] + " " + ADULT[14:], ADULT.lower()]
    for form in forms:  # every way of writing it is the same ID
        status, t = await post(api, {"service": "A", "id_number": form}, DESK)
        assert status == 201, t
    status, err = await post(api, {"service": "B", "id_number": ADULT}, DESK)
    assert (status, err["error"]) == (429, "id_limit")
    status, t = await post(api, {"service": "B", "id_number": OTHER})  # another ID is free
    assert status == 201
    # registered as an agent (代办) with 5 a day: two more, then refused again
    status, entry = await manager(
        api, "POST", "/agents", {"id_number": ADULT, "label": "某代办公司", "max_per_day": 5}
    )
    assert status == 201 and entry["masked"] == ADULT[0] + "*" * 16 + ADULT[-1], entry
    assert entry["max_per_day"] == 5 and len(entry["key"]) == 32
    for _ in range(2):
        status, t = await post(api, {"service": "B", "id_number": ADULT}, DESK)
        assert status == 201, t
    status, err = await post(api, {"service": "B", "id_number": ADULT}, DESK)
    assert (status, err["error"]) == (429, "id_limit")
    status, listed = await manager(api, "GET", "/agents")
    assert [e["key"] for e in listed["entries"]] == [entry["key"]]
    status, _ = await manager(api, "DELETE", f"/agents/{entry['key']}")
    assert status == 200
    assert (await manager(api, "GET", "/agents"))[1]["entries"] == []


async def test_an_id_of_the_green_age_gets_the_green_channel(api: Api) -> None:
    status, elder = await post(api, {"service": "A", "id_number": ELDER})
    assert status == 201 and elder["class"] == "green"
    status, adult = await post(api, {"service": "A", "id_number": ADULT})
    assert status == 201 and adult["class"] == "normal"
    # a desk's explicit class stays what the desk chose
    status, appt = await post(
        api, {"service": "A", "class": "appointment", "id_number": ELDER}, DESK
    )
    assert status == 201 and appt["class"] == "appointment"
    out = await api.act(1, "next")
    assert out["ticket"]["number"] == elder["number"]


async def test_blacklist_refuses_without_the_reason_until_it_expires(api: Api) -> None:
    until = datetime.fromtimestamp(T0 + 3600, UTC).isoformat()
    reason = "多次代抢号源倒卖"
    status, entry = await manager(
        api, "POST", "/blacklist", {"id_number": ADULT, "reason": reason, "until": until}
    )
    assert status == 201 and entry["note"] == reason, entry
    for headers in (KIOSK, DESK):
        status, err = await post(api, {"service": "A", "id_number": ADULT}, headers)
        assert (status, err["error"]) == (403, "blacklisted")
        assert reason not in err["message"]
    status, listed = await manager(api, "GET", "/blacklist")
    assert [(e["key"], e["note"]) for e in listed["entries"]] == [(entry["key"], reason)]
    api.clock.advance(3601)  # expired: issued again, and no longer listed
    status, t = await post(api, {"service": "A", "id_number": ADULT})
    assert status == 201, t
    assert (await manager(api, "GET", "/blacklist"))[1]["entries"] == []
    # by the digest the manager's list shows, with no end; then removed
    status, again = await manager(api, "POST", "/blacklist", {"key": entry["key"], "reason": "x"})
    assert status == 201 and again["masked"] == "" and again["until"] is None
    status, err = await post(api, {"service": "A", "id_number": ADULT})
    assert err["error"] == "blacklisted"
    status, gone = await manager(api, "DELETE", f"/blacklist/{entry['key']}")
    assert status == 200 and gone["note"] == "x"
    status, t = await post(api, {"service": "A", "id_number": ADULT})
    assert status == 201
    status, err = await manager(api, "DELETE", f"/blacklist/{entry['key']}")
    assert (status, err["error"]) == (404, "unknown_id")


async def test_blacklist_requests_are_checked(api: Api) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"reason": "x"}, "invalid_request"),  # neither number nor key
        ({"id_number": ADULT, "key": "0" * 32, "reason": "x"}, "invalid_request"),
        ({"id_number": ADULT[:-1] + "Y", "reason": "x"}, "invalid_id"),
        ({"id_number": ADULT, "reason": ""}, "invalid_request"),
        (
            {"id_number": ADULT, "reason": "x", "until": "2020-01-01T00:00:00+08:00"},
            "invalid_request",
        ),
        ({"key": "Z" * 32, "reason": "x"}, "invalid_request"),
    ]
    for body, code in cases:
        status, err = await manager(api, "POST", "/blacklist", body)
        assert (status, err["error"]) == (400, code), (body, err)
    assert (await manager(api, "GET", "/blacklist"))[1]["entries"] == []


async def test_a_kiosk_has_a_daily_cap(api: Api) -> None:
    for _ in range(KIOSK_CAP):
        await api.issue("B")
    status, err = await post(api, {"service": "B"})
    assert (status, err["error"]) == (429, "device_limit")
    status, _ = await post(api, {"service": "B"}, DESK)  # the desk is not the kiosk
    assert status == 201
    api.clock.advance(86_400)  # a new day
    status, t = await post(api, {"service": "B"})
    assert status == 201 and t["number"] == "B001"


async def test_the_managers_list_of_who_took_several(api: Api) -> None:
    for _ in range(3):
        await post(api, {"service": "A", "id_number": OTHER}, DESK)
    await post(api, {"service": "A", "id_number": ADULT})  # once: not listed
    for service in ("A", "B"):
        await api.issue(service, phone="13900001111")
    await api.issue("C", phone="13700002222")
    status, report = await manager(api, "GET", "/several-tickets")
    assert status == 200 and report["min"] == 2
    assert [(r["count"], r["numbers"]) for r in report["ids"]] == [(3, ["A001", "A002", "A003"])]
    assert len(report["ids"][0]["who"]) == 32 and report["ids"][0]["agent"] is False
    assert [(r["who"], r["count"]) for r in report["phones"]] == [("139****1111", 2)]
    text = repr(report)
    assert OTHER not in text and "13900001111" not in text
    # the digest blacklists the ID without the manager ever seeing the number
    key = report["ids"][0]["who"]
    status, _ = await manager(api, "POST", "/blacklist", {"key": key, "reason": "倒号"})
    status, err = await post(api, {"service": "B", "id_number": OTHER})
    assert err["error"] == "blacklisted"


async def all_of_redis(redis: Redis) -> str:
    """Every key and value in Redis, as text."""
    out: list[str] = []
    async for key in redis.scan_iter(count=1000):
        kind = await redis.type(key)
        out.append(str(key))
        if kind == "string":
            out.append(str(await redis.get(key)))
        elif kind == "hash":
            out.append(repr(await redis.hgetall(key)))
        elif kind == "list":
            out.append(repr(await redis.lrange(key, 0, -1)))
        elif kind == "set":
            out.append(repr(await redis.smembers(key)))
        elif kind == "zset":
            out.append(repr(await redis.zrange(key, 0, -1, withscores=True)))
        elif kind == "stream":
            out.append(repr(await redis.xrange(key)))
        else:
            raise AssertionError(f"unexpected type {kind!r} of {key!r}")
    return "\n".join(out)


async def test_no_id_number_in_redis_or_the_log(
    api: Api, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps({"service": "A", "id_number": ELDER, "phone": "13800001111"}).encode()
    with caplog.at_level(logging.DEBUG):
        # the kiosk's press, with its Idempotency-Key: the stored request print is keyed
        resp = await api.client.post(
            api.path("/tickets"),
            data=body,
            headers={**KIOSK, "Idempotency-Key": "k1", "Content-Type": "application/json"},
        )
        assert resp.status == 201
        await post(api, {"service": "B", "class": "green", "id_number": ADULT}, DESK)
        await post(api, {"service": "B", "id_number": ADULT[:17] + "0"}, DESK)  # refused
        until = (datetime.fromtimestamp(T0, UTC) + timedelta(days=30)).isoformat()
        await manager(
            api, "POST", "/blacklist", {"id_number": OTHER, "reason": "r", "until": until}
        )
        await post(api, {"service": "C", "id_number": OTHER})  # refused: blacklisted
        await manager(api, "POST", "/agents", {"id_number": ELDER, "label": "代办"})
        await manager(api, "GET", "/several-tickets")
        await api.act(1, "next")
    stored = await all_of_redis(redis)
    assert "d:" in stored and "idblack" in stored and "idagents" in stored  # it did look
    assert ":idem:" in stored
    bare = b"\0".join((b"POST", api.path("/tickets").encode(), body))
    assert hashlib.sha256(bare).hexdigest() not in stored
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    for number in (ELDER, ADULT, OTHER):
        # the digits of the number, and its 17 digits before the check character
        assert number[:17] not in stored, number
        assert number[:17] not in logged, number


async def test_the_desk_and_kiosk_pages(api: Api) -> None:
    resp = await api.client.get(f"/desk/{api.hall}")
    html = await resp.text()
    assert resp.status == 200 and "导办台取号" in html and 'value="green"' in html
    assert "年满 70 周岁" in html and "desk.js" in html and "demo-desk" not in html
    resp = await api.client.get(f"/desk/{api.hall}", params={"lang": "en"})
    assert "Guide desk" in await resp.text()
    resp = await api.client.get(f"/kiosk/{api.hall}")
    html = await resp.text()
    assert 'id="id_number"' in html and "invalid_id_check" in html  # its error texts
    resp = await api.client.get("/static/pages/desk.js")
    assert resp.status == 200
    assert resp.status == 200


def test_the_hall_file_names_a_green_class_that_exists(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8").replace('green_class = "green"', 'green_class = "old"')
    with pytest.raises(ConfigError, match=r"ids\.green_class: unknown class 'old'$") as err:
        load_hall(demo_file(tmp_path, text))
    assert "\n" not in str(err.value)
    dup = DEMO.read_text(encoding="utf-8") + '\n[[desks]]\nid = "1"\nname = { zh = "x" }\n'
    dup += f'token_sha256 = "{"0" * 64}"\n'
    with pytest.raises(ConfigError, match=r"desks: duplicate id '1'"):
        load_hall(demo_file(tmp_path, dup))
