"""The guide desk and the kiosk's ID field in real headless Chromium, against a real queue
server process running the demo hall's file (under its own hall id): the desk issues a green
ticket with an ID, a mistyped ID is explained in zh and en and issues nothing, and the ID
numbers never reach the server's log. Screenshots are kept under the test's tmp dir."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from queue_server.domain.idnumber import check_character
from tests.browser_support import WAIT_MS, Site, serving
from tests.conftest import DEMO
from tests.services import Broker, RedisServer


def an_id(first17: str) -> str:
    return first17 + check_character(first17)


ELDER = an_id("11010519500101001")  # over the demo's green age (70)
ADULT = an_id("11010519900505123")
MISTYPED = ADULT[:17] + ("1" if ADULT[17] != "1" else "2")


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, broker: Broker
) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("desk")
    hall = f"d{uuid.uuid4().hex[:8]}"
    text = DEMO.read_text(encoding="utf-8").replace('id = "demo"', f'id = "{hall}"', 1)
    with serving(root, text, redis_server, broker) as (proc, shots):
        yield Site(proc, hall, shots)


def test_the_desk_issues_green_with_an_id_and_explains_a_mistyped_one(
    site: Site, page: Page
) -> None:
    page.goto(f"{site.url}/desk/{site.hall}#token=demo-desk-1")
    assert "#" not in page.url  # the token left the address bar for the desk's storage
    site.shot(page, "desk")
    page.locator("#id_number").fill(MISTYPED)
    page.locator('button[data-service="A"]').click()
    expect(page.locator("#message")).to_contain_text("校验位不符", timeout=WAIT_MS)
    assert site.waiting()["A"] == 0
    site.shot(page, "desk-mistyped-id")

    page.locator('input[name="class"][value="green"]').check()
    page.locator("#id_number").fill(ADULT)
    page.locator('button[data-service="A"]').click()
    expect(page.locator("#issued")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#number")).to_have_text("A001")
    expect(page.locator("#cls")).to_have_text("绿色通道")
    expect(page.locator("#id_number")).to_have_value("")  # the next citizen sees nothing
    href = page.locator("#print").get_attribute("href")
    assert href is not None and href.startswith(f"/kiosk/{site.hall}/t/")
    site.shot(page, "desk-issued")


def test_the_kiosk_takes_an_id_and_explains_a_bad_one(site: Site, page: Page) -> None:
    before = site.waiting()
    page.goto(f"{site.url}/kiosk/{site.hall}#token=demo-kiosk-1&print=0")
    page.locator("#id_number").fill("110105" + "19900230" + "1234")
    page.locator('button[data-service="B"]').click()
    expect(page.locator("#message")).to_contain_text("出生日期不正确", timeout=WAIT_MS)
    page.goto(f"{site.url}/kiosk/{site.hall}?lang=en")
    page.locator("#id_number").fill(MISTYPED)
    page.locator('button[data-service="B"]').click()
    expect(page.locator("#message")).to_contain_text("check digit", timeout=WAIT_MS)
    site.shot(page, "kiosk-mistyped-id-en")
    assert site.waiting() == before
    page.locator("#id_number").fill(ELDER)  # 76: the green channel, without staff
    page.locator('button[data-service="B"]').click()
    page.wait_for_url(f"**/kiosk/{site.hall}/t/**", timeout=WAIT_MS)
    assert site.waiting()["B"] == before["B"] + 1
    log = site.proc.log_text()
    for number in (ELDER, ADULT, MISTYPED):
        assert number[:17] not in log


def test_the_desk_at_200_percent_zoom(site: Site, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 640, "height": 400}, device_scale_factor=2)
    page = context.new_page()
    try:
        page.goto(f"{site.url}/desk/{site.hall}#token=demo-desk-1")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, "the desk scrolls sideways at 200%"
        expect(page.locator('input[name="class"][value="green"]')).to_be_visible()
        site.shot(page, "zoom200-desk")
    finally:
        context.close()
