"""The citizen pages in real headless Chromium (Debian's, driven by Playwright) against a
real queue server process: take a ticket at the kiosk, open its QR link, watch the place
fall as windows call, get called; a malformed phone; the pages at 200% zoom. Screenshots
are kept under the test's tmp dir."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from queue_server.config import hash_token
from queue_server.pages import qr
from tests import browser_support
from tests.browser_support import WAIT_MS, serving
from tests.services import KIOSK_TOKEN, Broker, HttpProcess, RedisServer, hall_toml

ESCPOS_TOKEN = "test-kiosk-escpos"  # a second kiosk, whose ESC/POS printer is a file here


def modules(svg: str) -> str:
    """The dark modules of a QR code's SVG (its path), whatever the markup around it."""
    found = re.search(r'class="qrline"[^>]* d="([^"]+)"', svg)
    assert found is not None, svg[:200]
    return found.group(1)


class Site(browser_support.Site):
    def __init__(self, proc: HttpProcess, hall: str, shots: Path, printer: Path) -> None:
        super().__init__(proc, hall, shots)
        self.printer = printer

    def next(self, window: str) -> Any:
        return self.api("POST", f"/windows/{window}/next", token=f"win-{window}")


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, broker: Broker
) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("pages")
    hall = f"p{uuid.uuid4().hex[:8]}"
    windows = {"1": {"A": 0}, "2": {"A": 0, "B": 0}}
    guide = (  # after the last [[services]] (C): its guide
        '[services.guide]\nmaterials = [{ zh = "不动产权属证明", en = "Proof of title" }]\n'
        'fees = { zh = "每件80元", en = "80 yuan" }\n'
    )
    printer = root / "lp0"
    printer.touch()
    kiosk2 = (
        f'\n[[kiosks]]\nid = "k2"\nname = {{ zh = "取号机2" }}\n'
        f'token_sha256 = "{hash_token(ESCPOS_TOKEN)}"\n'
        f'printer = {{ kind = "file", device = "{printer}" }}\n'
    )
    with serving(
        root, hall_toml(hall, windows, lambda w: f"win-{w}") + guide + kiosk2, redis_server, broker
    ) as (proc, shots):
        yield Site(proc, hall, shots, printer)


def test_kiosk_ticket_qr_link_live_place_and_the_call(site: Site, page: Page) -> None:
    for _ in range(2):  # two citizens ahead
        site.api("POST", "/tickets", {"service": "A"}, token=KIOSK_TOKEN)
    page.goto(f"{site.url}/kiosk/{site.hall}#token={KIOSK_TOKEN}&print=0")
    assert "#" not in page.url  # the token left the address bar for the kiosk's storage
    site.shot(page, "kiosk")
    page.locator('button[data-service="A"]').dblclick()  # a double tap
    page.wait_for_url(re.compile(rf"/kiosk/{site.hall}/t/"), timeout=WAIT_MS)
    site.shot(page, "ticket")
    page.emulate_media(media="print")
    site.shot(page, "ticket-print")
    pdf = page.pdf(prefer_css_page_size=True)  # what the kiosk's printer gets
    (site.shots / "ticket.pdf").write_bytes(pdf)
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert len(boxes) == 1, boxes  # one slip
    width, height = (float(x) * 25.4 / 72 for x in boxes[0])
    assert round(width) == 80 and round(height) == 140  # mm: the roll, never A4 or Letter
    assert site.waiting()["A"] == 3  # the double tap gave one ticket
    number = page.locator("#number").inner_text()
    expect(page.locator("#ahead")).to_have_text("2 人")
    link = page.locator("#status-link").get_attribute("href")
    assert link is not None
    # the QR code is the status page's link
    drawn = page.locator(".qr path.qrline").get_attribute("d")
    assert drawn is not None and drawn == modules(qr.svg(site.url + link))

    page.emulate_media(media="screen")
    page.goto(site.url + link)
    status = page.locator("#status")
    expect(status).to_have_attribute("data-connected", "1", timeout=WAIT_MS)
    expect(page.locator("#ahead")).to_have_text("2 人")
    site.shot(page, "status-2-ahead")
    site.next("1")
    expect(page.locator("#ahead")).to_have_text("1 人", timeout=WAIT_MS)
    site.next("2")
    expect(page.locator("#ahead")).to_have_text("0 人", timeout=WAIT_MS)
    site.shot(page, "status-0-ahead")
    called = site.next("1")
    assert called["ticket"]["number"] == number
    expect(page.locator("#called")).to_have_text("请到 1号窗口 办理", timeout=WAIT_MS)
    expect(page.locator("#state")).to_have_text("已叫号")
    expect(page.locator("#queued")).to_be_hidden()  # no place or wait once called
    expect(page.locator("#cancel")).to_have_count(0)
    site.shot(page, "status-called")


def test_a_kiosk_with_an_escpos_printer_prints_once(site: Site, page: Page) -> None:
    """The server prints on the kiosk's ESC/POS printer: the browser does not print again
    (without print=0 set on that kiosk); a kiosk without one prints from the browser."""
    page.add_init_script("window.prints = 0; window.print = () => { window.prints += 1; };")
    numbers = []
    for token, prints in ((ESCPOS_TOKEN, 0), (KIOSK_TOKEN, 1)):
        page.goto(f"{site.url}/kiosk/{site.hall}#token={token}")
        page.locator('button[data-service="B"]').click()
        page.wait_for_url(re.compile(rf"/kiosk/{site.hall}/t/"), timeout=WAIT_MS)
        numbers.append(page.locator("#number").inner_text())
        assert page.evaluate("window.prints") == prints, token
    slips = site.printer.read_bytes()  # the server printed the first kiosk's only
    assert numbers[0].encode() in slips and numbers[1].encode() not in slips


def test_a_malformed_phone_is_explained_and_issues_nothing(site: Site, page: Page) -> None:
    before = site.waiting()
    page.goto(f"{site.url}/kiosk/{site.hall}#token={KIOSK_TOKEN}&print=0")
    page.locator("#phone").fill("1380013")
    page.locator('button[data-service="B"]').click()
    expect(page.locator("#message")).to_contain_text("手机号格式不正确", timeout=WAIT_MS)
    site.shot(page, "kiosk-bad-phone")
    page.goto(f"{site.url}/kiosk/{site.hall}?lang=en")  # the token stays with the kiosk
    page.locator("#phone").fill("phone?")
    page.locator('button[data-service="B"]').click()
    expect(page.locator("#message")).to_contain_text("not a valid mobile number")
    assert site.waiting() == before


def test_pages_at_200_percent_zoom(site: Site, browser: Browser) -> None:
    # 200% zoom of a 1280x800 screen: half the CSS pixels, each drawn twice as large
    context = browser.new_context(viewport={"width": 640, "height": 400}, device_scale_factor=2)
    page = context.new_page()
    try:
        for path in (
            f"/hall/{site.hall}",
            f"/m/{site.hall}",
            f"/hall/{site.hall}/guide/C",
            f"/kiosk/{site.hall}#token={KIOSK_TOKEN}&print=0",
        ):
            page.goto(site.url + path)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways at 200%"
            site.shot(page, "zoom200-" + "-".join(path.split("#")[0].split("/")[1:4:2]))
        button = page.locator('button[data-service="C"]')
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box is not None and box["width"] <= 640 and box["height"] >= 80
        expect(page.locator(".top a.switch")).to_be_visible()
    finally:
        context.close()


def test_take_a_ticket_on_the_phone_watch_the_place_fall_then_rate(site: Site, page: Page) -> None:
    ahead = site.waiting()["A"] + 2
    for _ in range(2):
        site.api("POST", "/tickets", {"service": "A"}, token=KIOSK_TOKEN)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(f"{site.url}/m/{site.hall}")
    site.shot(page, "phone")
    page.locator('label[data-service="A"] input').check()
    page.locator("#phone").fill("138 0013 8000")
    page.locator("#submit").click()
    page.wait_for_url(re.compile(rf"/m/{site.hall}/t/"), timeout=WAIT_MS)
    expect(page.locator("#status")).to_have_attribute("data-connected", "1", timeout=WAIT_MS)
    expect(page.locator("#ahead")).to_have_text(f"{ahead} 人")
    assert "13800138000" not in page.content()
    number = page.locator(".number").inner_text()
    site.shot(page, "phone-status")
    while True:  # window 1 serves A only: each call moves the page one place
        called = site.next("1")["ticket"]["number"]
        if called == number:
            break
        ahead -= 1
        expect(page.locator("#ahead")).to_have_text(f"{ahead} 人", timeout=WAIT_MS)
    expect(page.locator("#called")).to_have_text("请到 1号窗口 办理", timeout=WAIT_MS)
    for action in ("start", "finish"):
        site.api("POST", f"/windows/1/{action}", token="win-1")
    # done: the page reloads itself with the rating form (好差评)
    expect(page.locator("#rate")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#state")).to_have_text("已办结")
    site.shot(page, "phone-rate")
    page.get_by_label("非常满意").check()
    page.locator("#rate-submit").click()
    expect(page.locator(".message.ok")).to_have_text("感谢您的评价！", timeout=WAIT_MS)
    expect(page.locator("#rate")).to_have_count(0)
    site.shot(page, "phone-rated")


def test_a_service_guide_page_prints_on_a4(site: Site, page: Page) -> None:
    page.goto(f"{site.url}/kiosk/{site.hall}?lang=en#token={KIOSK_TOKEN}&print=0")
    page.locator('a[data-guide="C"]').click()  # the kiosk links each service's guide
    expect(page.locator(".materials")).to_contain_text("Proof of title", timeout=WAIT_MS)
    expect(page.locator("#fees")).to_have_text("80 yuan")
    expect(page.locator("#windows")).to_have_count(0)  # no window of this hall serves C
    site.shot(page, "guide")
    pdf = page.pdf(prefer_css_page_size=True)
    (site.shots / "guide.pdf").write_bytes(pdf)
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    width, height = (float(x) * 25.4 / 72 for x in boxes[0])
    assert round(width) == 210 and round(height) == 297  # A4
