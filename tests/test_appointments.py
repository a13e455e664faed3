"""Appointments (预约) through the API on real Redis and Mosquitto, with a frozen clock (the
demo hall, Thursday 2026-11-26 10:00 in Shanghai): slots, booking, a full slot, booking
twice, cancel, check-in early / on time / late / twice / someone else's, no-shows and the
block, the day-before reminder sent once by two sweeps at once."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from queue_server.api.routes import HALLS
from queue_server.appointments import Appointments
from queue_server.appt_task import APPOINTMENTS, Sweeper
from queue_server.config import Hours
from queue_server.domain import slots
from queue_server.domain.idnumber import check_character
from tests.conftest import KIOSK, Api, subscribe
from tests.services import Broker

TZ = ZoneInfo("Asia/Shanghai")
PHONE, OTHER = "13800001111", "13900002222"


def id_number(n: int) -> str:
    first17 = f"11010519491231{n:03d}"
    return first17 + check_character(first17)


def at(day: int, hhmm: str) -> str:
    h, m = hhmm.split(":")
    return datetime(2026, 11, day, int(h), int(m), tzinfo=TZ).isoformat()


def appts(api: Api) -> Appointments:
    found: Appointments = api.app[APPOINTMENTS][api.hall]
    return found


async def book(
    api: Api, start: str, n: int = 1, service: str = "A", phone: str = PHONE, status: int = 201
) -> dict[str, Any]:
    resp = await api.client.post(
        api.path("/bookings"),
        json={"service": service, "start": start, "phone": phone, "id_number": id_number(n)},
    )
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    return body


async def check_in(api: Api, status: int = 200, **body: str) -> dict[str, Any]:
    resp = await api.client.post(api.path("/bookings/checkin"), json=body, headers=KIOSK)
    out: dict[str, Any] = await resp.json()
    assert resp.status == status, out
    return out


async def left(api: Api, start: str, service: str = "A") -> int:
    resp = await api.client.get(api.path(f"/slots/{service}"))
    found = [s for s in (await resp.json())["slots"] if s["start"] == start]
    assert len(found) == 1, start
    n: int = found[0]["left"]
    return n


def test_slots_follow_the_hours() -> None:
    hours = Hours(thu=["08:30-12:00", "13:30-17:45"], sat=["09:00-12:00"], closed_dates=[])
    thu = slots.slots_on(hours, date(2026, 11, 26), TZ, 30)
    assert [s.key for s in thu][:2] == ["0830", "0900"] and thu[6].key == "1130"
    assert thu[7].key == "1330" and thu[-1].key == "1700"  # 17:30-17:45 is no whole slot
    assert len(slots.slots_on(hours, date(2026, 11, 28), TZ, 30)) == 6
    assert slots.slots_on(hours, date(2026, 11, 29), TZ, 30) == []  # Sunday: closed
    closed = Hours(thu=["08:30-12:00"], closed_dates=[date(2026, 11, 26)])
    assert slots.slots_on(closed, date(2026, 11, 26), TZ, 30) == []
    assert slots.clean_code(" abcd-2345 ") == "ABCD2345" and slots.clean_code("ABCD0123") == ""


async def test_book_a_full_slot_twice_and_cancel(api: Api, broker: Broker) -> None:
    resp = await api.client.get(api.path("/slots/A"))
    listed = (await resp.json())["slots"]
    assert listed[0]["start"] == at(26, "10:00")  # 09:30-10:00 is over at 10:00
    assert all(s["left"] == 4 for s in listed)
    assert not any(s["start"].startswith("2026-11-29") for s in listed)  # Sunday is closed
    async with subscribe(broker, [f"hallcall/{api.hall}/#"]) as sub:
        first = await book(api, at(26, "10:30"), 1)
        assert len(first["code"]) == 8 and len(first["secret"]) >= 16
        assert first["phone"] == "138****1111" and first["state"] == "booked"
        assert first["cancel_url"].startswith(f"/m/{api.hall}/book/{first['code']}?secret=")
        sms = await sub.get("/notify")
        assert sms["kind"] == "appointment_booked" and sms["code"] == first["code"]
        assert sms["slot"] == "11月26日 10:30" and sms["phone"] == PHONE
    assert not any(PHONE in repr(b) for t, b, _ in sub.history if not t.endswith("/notify"))

    for n in (2, 3, 4):
        await book(api, at(26, "10:30"), n)
    assert await left(api, at(26, "10:30")) == 0
    full = await book(api, at(26, "10:30"), 5, status=409)
    assert full["error"] == "slot_full"
    twice = await book(api, at(26, "11:00"), 1, status=409)  # same ID, same service, same day
    assert twice["error"] == "already_booked"
    await book(api, at(26, "11:00"), 1, service="B")  # another service is another booking
    await book(api, at(27, "11:00"), 1)  # and another day

    path = api.path(f"/bookings/{first['code']}")
    wrong = await api.client.post(path + "/cancel", headers={"X-Ticket-Secret": "x" * 22})
    assert wrong.status == 403 and (await wrong.json())["error"] == "bad_secret"
    done = await api.client.post(path + "/cancel", headers={"X-Ticket-Secret": first["secret"]})
    assert done.status == 200 and (await done.json())["state"] == "cancelled"
    assert await left(api, at(26, "10:30")) == 1  # the slot is free again
    again = await api.client.post(path + "/cancel", headers={"X-Ticket-Secret": first["secret"]})
    assert again.status == 409 and (await again.json())["error"] == "booking_closed"
    await book(api, at(26, "10:30"), 5)  # the freed place
    await book(api, at(26, "11:30"), 1)  # the cancelled booking's ID may book that day again
    await no_raw_id(api, id_number(1))


async def no_raw_id(api: Api, raw: str) -> None:
    """The ID number is nowhere in Redis: keys, strings, hashes, sets, sorted sets, streams."""
    redis = api.app[HALLS][api.hall].store.redis
    seen = 0
    async for key in redis.scan_iter(count=1000):
        kind = await redis.type(key)
        value: Any = {
            "string": redis.get,
            "hash": redis.hgetall,
            "set": redis.smembers,
            "zset": lambda k: redis.zrange(k, 0, -1),
            "stream": lambda k: redis.xrange(k),
            "list": lambda k: redis.lrange(k, 0, -1),
        }[kind](key)
        text = f"{key} {await value}"
        assert raw not in text and raw[:17] not in text, key
        seen += 1
    assert seen > 10  # the bookings' keys were there to look at


async def test_bad_bookings_are_refused_and_book_nothing(api: Api) -> None:
    bad_id = id_number(1)[:-1] + ("0" if id_number(1)[-1] != "0" else "1")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"start": at(26, "10:30"), "id_number": bad_id}, 400, "invalid_id_check"),
        ({"start": at(26, "10:30"), "id_number": "12345"}, 400, "invalid_id"),
        ({"start": at(26, "10:30"), "phone": "12345"}, 400, "invalid_phone"),
        ({"start": at(26, "10:15")}, 400, "unknown_slot"),  # not a slot start
        ({"start": at(26, "09:00")}, 400, "unknown_slot"),  # over
        ({"start": at(29, "10:00")}, 400, "unknown_slot"),  # Sunday
        ({"start": "2026-12-10T10:00:00+08:00"}, 400, "unknown_slot"),  # beyond 7 days
        ({"start": "2026-11-26T10:30:00"}, 400, "invalid_request"),  # no offset
        ({"start": at(26, "10:30"), "service": "Z"}, 400, "unknown_service"),
        ({"start": at(26, "10:30"), "id_number": None}, 400, "invalid_request"),
    ]
    for change, status, code in cases:
        body = {"service": "A", "phone": PHONE, "id_number": id_number(1)} | change
        resp = await api.client.post(api.path("/bookings"), json=body)
        answer = await resp.json()
        assert (resp.status, answer["error"]) == (status, code), (change, answer)
        assert "\n" not in answer["message"]
    assert await left(api, at(26, "10:30")) == 4


async def test_check_in_early_on_time_twice_late_and_someone_elses(api: Api) -> None:
    on_time = await book(api, at(26, "10:30"), 1)
    later = await book(api, at(26, "12:00"), 2, phone=OTHER)
    late = await book(api, at(26, "10:00"), 3, service="B", phone=OTHER)

    no_token = await api.client.post(api.path("/bookings/checkin"), json={"code": "X"})
    assert no_token.status == 401
    early = await check_in(api, 409, code=later["code"])  # 12:00: check-in opens at 11:00
    assert early["error"] == "checkin_too_early" and "11:00" in early["message"]
    other = await check_in(api, 403, code=on_time["code"], phone=OTHER)
    assert other["error"] == "booking_mismatch"
    unknown = await check_in(api, 404, code="ABCDEFGH")
    assert unknown["error"] == "unknown_booking"

    normal = await api.issue("A")  # a citizen without a booking, at 10:00
    first = await check_in(api, code=on_time["code"].lower(), phone=PHONE)
    t = first["ticket"]
    assert t["class"] == "appointment" and not first["late"] and not first["again"]
    assert first["booking"]["state"] == "checked_in" and first["booking"]["ticket"] == t["id"]
    # placed by its slot: 10:30 less the appointment boost (15 min) is after 10:00
    assert t["ahead"] == 1
    api.clock.advance(20 * 60)
    walk_in = await api.issue("A")  # 10:20: after the slot's place, so behind it
    assert walk_in["ahead"] == 2
    twice = await check_in(api, code=on_time["code"])
    assert twice["again"] and twice["ticket"]["id"] == t["id"]
    assert twice["ticket"]["secret"] == t["secret"]
    called = await api.act(1, "next")
    assert called["ticket"]["id"] == normal["id"]
    assert (await api.act(1, "next"))["ticket"]["id"] == t["id"]  # before the walk-in

    # 10:20: the 10:00 slot's window closed at 10:15: a normal ticket, said so
    by_phone = await check_in(api, phone=OTHER)
    assert by_phone["booking"]["code"] == late["code"] and by_phone["late"]
    assert by_phone["ticket"]["class"] == "normal" and by_phone["ticket"]["service"] == "B"
    cancel = await api.client.post(
        api.path(f"/bookings/{on_time['code']}/cancel"),
        headers={"X-Ticket-Secret": on_time["secret"]},
    )
    assert (await cancel.json())["error"] == "booking_closed"  # checked in: nothing to cancel


async def test_no_shows_block_booking(api: Api) -> None:
    for n, (service, hhmm) in enumerate((("A", "10:00"), ("B", "10:30"))):
        await book(api, at(26, hhmm), 9, service=service)
        await book(api, at(26, hhmm), 20 + n, service=service)  # others: one no-show each
    kept = await book(api, at(26, "11:30"), 9, service="C")
    cancelled = await book(api, at(27, "10:00"), 9)  # not counted: cancelled
    await api.client.post(
        api.path(f"/bookings/{cancelled['code']}/cancel"),
        headers={"X-Ticket-Secret": cancelled["secret"]},
    )
    third = await book(api, at(27, "10:00"), 9, service="B")
    api.clock.advance(60 * 60)  # 11:00: the 10:00 and 10:30 windows have closed
    await appts(api).sweep()
    await check_in(api, code=kept["code"])  # on time: no no-show
    assert (await book(api, at(28, "10:00"), 9))["state"] == "booked"  # two: not blocked yet
    api.clock.set(datetime(2026, 11, 27, 10, 30, tzinfo=TZ).timestamp())  # Friday
    await appts(api).sweep()
    blocked = await book(api, at(30, "10:00"), 9, status=403)
    assert blocked["error"] == "booking_blocked" and "30 days" in blocked["message"]
    await book(api, at(30, "10:00"), 21)  # someone else still books
    for b, state in ((kept, "checked_in"), (third, "no_show"), (cancelled, "cancelled")):
        resp = await api.client.get(
            api.path(f"/bookings/{b['code']}"), headers={"X-Ticket-Secret": b["secret"]}
        )
        assert (await resp.json())["state"] == state


async def test_the_reminder_goes_once_with_two_sweeps_at_once(api: Api, broker: Broker) -> None:
    async with subscribe(broker, [f"hallcall/{api.hall}/notify"]) as sub:
        tomorrow = await book(api, at(27, "10:00"), 1)
        dropped = await book(api, at(27, "10:30"), 2)  # cancelled before its reminder
        await api.client.post(
            api.path(f"/bookings/{dropped['code']}/cancel"),
            headers={"X-Ticket-Secret": dropped["secret"]},
        )
        for _ in range(2):
            await sub.get("/notify", where=lambda b: b["kind"] == "appointment_booked")
        assert await appts(api).sweep() == (0, 0)  # 10:00: reminders go at 18:00
        api.clock.set(datetime(2026, 11, 26, 18, 1, tzinfo=TZ).timestamp())
        one, two = Appointments(appts(api).hall), appts(api)
        results = await asyncio.gather(one.sweep(), two.sweep(), two.sweep())
        assert sum(r[0] for r in results) <= 1  # the app's own sweeper may have sent it
        reminder = await sub.get("/notify", where=lambda b: b["kind"] == "appointment_reminder")
        assert reminder["code"] == tomorrow["code"] and reminder["slot"] == "11月27日 10:00"
        assert reminder["phone"] == PHONE
        late = await book(api, at(27, "11:00"), 3)  # booked after 18:00: no reminder
        await sub.get("/notify", where=lambda b: b["code"] == late["code"])
        await appts(api).sweep()
        marker = await book(api, at(27, "11:30"), 4)  # published after anything swept above
        await sub.get("/notify", where=lambda b: b["code"] == marker["code"])
    assert not [b for _, b, _ in sub.seen if b["kind"] == "appointment_reminder"]


async def test_one_process_holds_the_sweep_lease(api: Api) -> None:
    a, b = Sweeper(appts(api), "one"), Sweeper(appts(api), "two")
    first = await a.tick()
    second = await b.tick()
    # the app's own sweeper may hold it already; never two holders at once
    assert first is None or second is None


def test_the_gateway_words_booking_notices() -> None:
    from dataclasses import asdict

    from queue_server.snapshots import hall_message
    from sms_gateway.gateway import bad_notice
    from sms_gateway.texts import HallTexts, render
    from tests.conftest import demo_hall

    cfg = demo_hall("demo")
    texts = HallTexts.from_message(asdict(hall_message(cfg, "zh", 0.0)))
    notice = {
        "kind": "appointment_reminder",
        "phone": PHONE,
        "number": "ABCD2345",
        "code": "ABCD2345",
        "slot": "11月27日 10:00",
        "service": "A",
        "ticket": "",
    }
    assert bad_notice(notice) == ""
    assert render(notice, texts, "zh") == (
        "【示范区政务服务中心】提醒：您预约了11月27日 10:00办理户籍业务，"
        "预约码ABCD2345，请按时到大厅签到"
    )
    booked = render(
        notice | {"kind": "appointment_booked", "slot": "2026-11-27 10:00"}, texts, "en"
    )
    assert "Booked: Household registration at 2026-11-27 10:00, booking code ABCD2345" in booked


async def test_the_booking_page_without_javascript(api: Api) -> None:
    page = await api.client.get(f"/m/{api.hall}/book?service=A")
    html = await page.text()
    assert page.status == 200, html
    assert 'value="2026-11-26T10:00:00+08:00"' in html and "提交预约" in html
    form = {"service": "A", "start": at(26, "10:30"), "phone": "1380013", "id_number": "1"}
    bad = await api.client.post(f"/m/{api.hall}/book?lang=en", data=form)
    assert bad.status == 400 and "not a valid mobile number" in await bad.text()
    form |= {"phone": PHONE, "id_number": id_number(1)}
    done = await api.client.post(f"/m/{api.hall}/book", data=form, allow_redirects=False)
    assert done.status == 303, await done.text()
    shown = await api.client.get(done.headers["Location"])
    text = await shown.text()
    assert "预约成功" in text and "09:30 至 10:45" in text and "取消预约" in text
    assert await left(api, at(26, "10:30")) == 3


async def test_only_slots_still_on_time_are_offered_and_pages_link_them(api: Api) -> None:
    api.clock.advance(20 * 60)  # 10:20: the 10:00 slot's check-in closed at 10:15
    resp = await api.client.get(api.path("/slots/A"))
    assert (await resp.json())["slots"][0]["start"] == at(26, "10:30")
    gone = await book(api, at(26, "10:00"), 1, status=400)
    assert gone["error"] == "unknown_slot"
    hall = await (await api.client.get(f"/hall/{api.hall}")).text()
    assert f'id="book-link" href="/m/{api.hall}/book?lang=zh"' in hall
    kiosk = await (await api.client.get(f"/kiosk/{api.hall}?lang=en")).text()
    assert 'id="checkin-open"' in kiosk and "Appointment check-in" in kiosk
