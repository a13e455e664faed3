"""An appointment in real headless Chromium (Debian's, driven by Playwright) against a real
queue server process: book on the phone page, check in at the kiosk, see the ticket ranked by
its slot ahead of a normal ticket taken before it; booking twice, a full slot, someone
else's booking at the kiosk, cancelling on the booking's page. Screenshots under the tmp dir.

The hall is open all day in a time zone where it is 12:xx now, with two-hour slots and a
90-minute grace: the slot under way (12:00-14:00) is bookable and its check-in on time whenever
the test runs, and no slot ends during it (with 10-minute slots one sometimes ended between the
page's load and its submit)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Page, expect

from queue_server.domain.idnumber import check_character
from tests.browser_support import WAIT_MS, Site, serving
from tests.services import KIOSK_TOKEN, Broker, RedisServer, hall_toml

PHONE, OTHER = "13800001111", "13900002222"


def id_number(n: int) -> str:
    first17 = f"11010519491231{n:03d}"
    return first17 + check_character(first17)


def noon_zone() -> str:
    """A fixed-offset zone where it is about noon now (far from midnight's day change)."""
    offset = 12 - datetime.now(UTC).hour
    offset = offset - 24 if offset > 12 else offset
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, broker: Broker
) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("appt-pages")
    hall = f"b{uuid.uuid4().hex[:8]}"
    text = hall_toml(hall, {"1": {"A": 0, "B": 0}}, lambda w: f"win-{w}", timezone=noon_zone())
    days = "\n".join(f'{d} = ["00:00-24:00"]' for d in ("mon", "tue", "wed", "thu", "fri"))
    days += '\nsat = ["00:00-24:00"]\nsun = ["00:00-24:00"]'
    text = text.replace("[queue]\n", "[queue]\nappointment_grace_minutes = 90\n", 1)
    text += f"\n[hours]\n{days}\n\n[appointments]\nslot_minutes = 120\n"
    text += "capacity = { A = 1, B = 2 }\n"
    with serving(root, text, redis_server, broker) as (proc, shots):
        yield Site(proc, hall, shots)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 420, "height": 860})  # a phone
    page = context.new_page()
    yield page
    context.close()


def book(site: Site, page: Page, service: str, n: int, phone: str = PHONE) -> None:
    """Fill and send the booking form for the first slot with places left."""
    page.goto(f"{site.url}/m/{site.hall}/book")
    page.locator(f'a[data-service="{service}"]').click()
    page.locator('input[name="start"]:not([disabled])').first.check()
    page.locator("#phone").fill(phone)
    page.locator("#id_number").fill(id_number(n))
    page.locator("#submit").click()


def test_book_on_the_phone_check_in_at_the_kiosk_ranked_by_slot(site: Site, page: Page) -> None:
    book(site, page, "A", 1)
    page.wait_for_url(re.compile(rf"/m/{site.hall}/book/\w+\?"), timeout=WAIT_MS)
    expect(page.locator("#done")).to_contain_text("预约成功")
    code = page.locator("#code").inner_text()
    assert len(code) == 8
    expect(page.locator("#state")).to_have_text("已预约")
    site.shot(page, "booked")

    # bad input, each said in the page's language and booking nothing
    page.goto(f"{site.url}/m/{site.hall}/book?service=A")
    slot = page.locator("label.slot").first
    expect(slot).to_contain_text("已约满")  # A takes one booking per slot
    expect(slot.locator("input")).to_be_disabled()
    book(site, page, "A", 1)  # the same ID, the same service, the same day: another slot
    expect(page.locator("#message")).to_contain_text("不能重复预约")
    site.shot(page, "booked-twice")
    page.goto(f"{site.url}/m/{site.hall}/book?service=B&lang=en")
    page.locator('input[name="start"]:not([disabled])').first.check()
    page.locator("#phone").fill(PHONE)
    page.locator("#id_number").fill(id_number(1)[:-1] + "0")  # a wrong check digit
    page.locator("#submit").click()
    expect(page.locator("#message")).to_contain_text("check digit does not match")

    normal = site.api("POST", "/tickets", {"service": "A"}, token=KIOSK_TOKEN)  # before it

    page.goto(f"{site.url}/kiosk/{site.hall}#token={KIOSK_TOKEN}&print=0")
    page.locator("#checkin-open").click()
    page.locator("#checkin-code").fill(code)
    page.locator("#checkin-phone").fill(OTHER)  # not the booking's phone
    page.locator("#checkin-go").click()
    expect(page.locator("#message")).to_contain_text("预约码与手机号不符")
    site.shot(page, "kiosk-someone-elses")
    page.locator("#checkin-phone").fill("")
    page.locator("#checkin-code").fill(code.lower())
    page.locator("#checkin-go").click()
    page.wait_for_url(re.compile(rf"/kiosk/{site.hall}/t/"), timeout=WAIT_MS)
    expect(page.locator("#note")).to_contain_text("预约签到成功")
    number = page.locator("#number").inner_text()
    expect(page.locator("#ahead")).to_have_text("0 人")  # ahead of the normal ticket
    site.shot(page, "checked-in-ticket")
    link = page.locator("#status-link").get_attribute("href")
    assert link is not None
    page.goto(site.url + link)
    expect(page.locator("#ahead")).to_have_text("0 人")
    site.shot(page, "checked-in-status")
    own = site.api("GET", f"/tickets/{normal['id']}?secret={normal['secret']}")
    assert own["ahead"] == 1  # the normal ticket, taken earlier, now waits behind it
    again = site.api("POST", "/bookings/checkin", {"code": code}, token=KIOSK_TOKEN)
    assert again["again"] and again["ticket"]["number"] == number
    called = site.api("POST", "/windows/1/next", token="win-1")
    assert called["ticket"]["number"] == number
    expect(page.locator("#state")).to_have_text("已叫号", timeout=WAIT_MS)  # reloaded, called

    # a booking cancelled on its own page frees its place
    book(site, page, "B", 2, phone=OTHER)
    page.wait_for_url(re.compile(rf"/m/{site.hall}/book/\w+\?"), timeout=WAIT_MS)
    page.locator("#cancel").click()
    expect(page.locator("#done")).to_contain_text("预约已取消")
    expect(page.locator("#state")).to_have_text("已取消")
    expect(page.locator("#cancel")).to_have_count(0)
    site.shot(page, "cancelled")
