"""The phone site over real HTTP (real Redis and Mosquitto): take a ticket remotely with a
phone number, refusals in the page's language with nothing issued, rate a finished service
from the status page, the service guides, and the public address in the QR link."""

from __future__ import annotations

import ipaddress
import re

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import make_mocked_request

from queue_server.api.guard import LIMITS
from queue_server.config import HallConfig
from queue_server.limits import ServerLimits
from queue_server.pages import qr
from queue_server.pages.site import public_base
from tests.conftest import Api, demo_hall

PUBLIC = "https://hall.example.gov.cn"


async def text(resp: ClientResponse, status: int = 200) -> str:
    body = await resp.text()
    assert resp.status == status, body[:500]
    return body


async def waiting(api: Api) -> dict[str, int]:
    info = await (await api.client.get(api.path())).json()
    return {s["id"]: s["waiting"] for s in info["services"]}


async def test_the_phone_page_takes_a_ticket_for_a_phone_and_lands_on_its_status(
    api: Api,
) -> None:
    await api.issue("B")
    html = await text(await api.client.get(f"/m/{api.hall}"))
    assert 'name="phone"' in html and "required" in html and "手机取号" in html
    assert f'href="/hall/{api.hall}/guide/A?lang=zh"' in html  # each service's guide
    resp = await api.client.post(
        f"/m/{api.hall}/take", data={"service": "B", "phone": "+86 138-0013-8000"}
    )
    page = await text(resp)  # followed the 303 to the status page
    assert re.search(rf"/m/{api.hall}/t/\d{{8}}-B\d+\?secret=", str(resp.url))
    assert "前面还有" in page and "1 人" in page and "取消排队" in page
    assert "13800138000" not in page  # the phone is never shown
    assert (await waiting(api))["B"] == 2
    ticket = str(resp.url).split("/t/")[1].split("?")[0]
    status = await api.client.get(
        api.path(f"/tickets/{ticket}"), params={"secret": resp.url.query["secret"]}
    )
    body = await status.json()
    assert body["phone"] == "138****8000"  # taken online: the phone, masked, is its limit


@pytest.mark.parametrize(
    ("lang", "form", "said"),
    [
        ("zh", {"service": "A", "phone": "1380000"}, "手机号格式不正确"),
        ("en", {"service": "A", "phone": "1380000"}, "not a valid mobile number"),
        ("zh", {"service": "A", "phone": " "}, "网上取号需要填写手机号"),
        ("en", {"service": "Z", "phone": "13800138000"}, "Please choose a service"),
    ],
)
async def test_a_refused_ticket_is_explained_on_the_page_and_nothing_is_issued(
    api: Api, lang: str, form: dict[str, str], said: str
) -> None:
    resp = await api.client.post(f"/m/{api.hall}/take?lang={lang}", data=form)
    html = await resp.text()
    assert resp.status == 400 and said in html, html[:400]
    assert f'value="{form["phone"]}"' in html  # what the citizen typed stays in the form
    assert sum((await waiting(api)).values()) == 0


async def test_the_phone_limit_is_the_online_channels_limit(api: Api) -> None:
    for _ in range(5):  # the demo hall's max_per_phone
        ok = await api.client.post(
            f"/m/{api.hall}/take", data={"service": "A", "phone": "13900139000"}
        )
        assert ok.status == 200
    sixth = await api.client.post(
        f"/m/{api.hall}/take?lang=en", data={"service": "A", "phone": "0086 139 0013 9000"}
    )
    assert sixth.status == 429 and "most tickets" in await sixth.text()
    assert (await waiting(api))["A"] == 5


async def test_rate_a_finished_service_from_the_status_page(api: Api) -> None:
    t = await api.issue("A")
    status = f"/m/{api.hall}/t/{t['id']}?secret={t['secret']}"
    assert 'id="rate"' not in await text(await api.client.get(status))  # not served yet
    await api.act(1, "next")
    await api.act(1, "start")
    await api.act(1, "finish")
    html = await text(await api.client.get(status))
    assert "已办结" in html and 'id="rate"' in html and "非常满意" in html and "服务态度" in html
    rate = f"/m/{api.hall}/t/{t['id']}/rate"
    # a poor rating needs a reason: asked again on the same page, nothing stored
    poor = await api.client.post(rate, data={"secret": t["secret"], "level": "2"})
    html = await text(poor)
    assert "请选择原因" in html and 'id="rate"' in html
    wrong = await api.client.post(rate, data={"secret": "nope", "level": "5"})
    assert wrong.status == 403
    done = await api.client.post(
        rate + "?lang=en",
        data={"secret": t["secret"], "level": "2", "reason": "办事效率", "comment": "慢"},
    )
    html = await text(done)
    assert "Thank you for your rating" in html and 'id="rate"' not in html
    again = await api.client.post(rate, data={"secret": t["secret"], "level": "5"})
    assert "已经评价过了" in await text(again)
    stored = await api.client.post(
        api.path(f"/tickets/{t['id']}/rating"),
        json={"level": 5},
        headers={"X-Ticket-Secret": t["secret"]},
    )
    assert stored.status == 409 and (await stored.json())["error"] == "already_rated"


async def test_a_service_guide_in_both_languages_printable(api: Api) -> None:
    html = await text(await api.client.get(f"/hall/{api.hall}/guide/A"))
    assert "户籍业务" in html and "所需材料" in html and "居民身份证原件" in html
    assert "20元" in html and "当场办结" in html and "@page { size: A4;" in html
    windows = re.search(r'<dd id="windows">([^<]+)</dd>', html)
    assert windows is not None and "1号窗口" in windows.group(1)  # from the windows' services
    en = await text(await api.client.get(f"/hall/{api.hall}/guide/C?lang=en&paper=80"))
    assert "What to bring" in en and "Proof of title" in en and "@page { size: 80mm 297mm;" in en
    assert "所需材料" not in en
    missing = await api.client.get(f"/hall/{api.hall}/guide/Q")
    assert missing.status == 404
    for path in (f"/hall/{api.hall}", f"/kiosk/{api.hall}"):  # linked where tickets are taken
        assert f'href="/hall/{api.hall}/guide/B?lang=zh"' in await text(await api.client.get(path))


async def test_the_qr_code_links_the_halls_public_address(api: Api) -> None:
    t = await api.issue("A")
    html = await text(await api.client.get(f"/kiosk/{api.hall}/t/{t['id']}?secret={t['secret']}"))
    link = f"{PUBLIC}/m/{api.hall}/t/{t['id']}?secret={t['secret']}&lang=zh"
    assert qr.svg(link, scale=3) in html  # not the address the kiosk reached the server at


def test_behind_a_trusted_proxy_links_use_its_forwarded_scheme_and_host() -> None:
    app = web.Application()
    app[LIMITS] = ServerLimits(trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),))
    plain = demo_hall()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hall.example.org"}

    def base(peer: str, headers: dict[str, str], cfg: HallConfig = plain) -> str:
        request = make_mocked_request("GET", "/kiosk/x", headers=headers, app=app)
        request = request.clone(remote=peer)
        return public_base(request, cfg)

    assert base("10.1.2.3", forwarded) == "https://hall.example.org"
    assert base("203.0.113.9", forwarded).startswith("http://")  # not a proxy: not believed
    assert "example.org" not in base("203.0.113.9", forwarded)
    bad = {"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "a.org/evil?x="}
    assert "evil" not in base("10.1.2.3", bad) and "javascript" not in base("10.1.2.3", bad)
    assert base("10.1.2.3", forwarded, hall_with_public_url()) == PUBLIC  # the file wins


def hall_with_public_url() -> HallConfig:
    cfg = demo_hall()
    return cfg.model_copy(update={"hall": cfg.hall.model_copy(update={"public_url": PUBLIC})})


@pytest.fixture
def hall_cfg() -> HallConfig:
    """The demo hall with a public address (QR codes, SMS links)."""
    return hall_with_public_url()


async def test_a_service_guide_as_json(api: Api) -> None:
    resp = await api.client.get(api.path("/services/B/guide"))
    body = await resp.json()
    assert resp.status == 200 and body["name"] == "社保医保" and body["fees"] == "不收费"
    assert "居民身份证或社会保障卡" in body["materials"] and "2号窗口" in body["windows"]
    assert body["page"] == f"/hall/{api.hall}/guide/B?lang=zh"
    missing = await api.client.get(api.path("/services/Q/guide"))
    assert missing.status == 400 and (await missing.json())["error"] == "unknown_service"
    spec = await (await api.client.get("/api/v1/openapi.json")).json()
    assert "/api/v1/halls/{hall}/services/{service}/guide" in spec["paths"]
