"""The gateway's pure parts and its outbox: texts, dedupe keys, limits, states, settings."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from queue_server.config import ConfigError, load_hall
from queue_server.protocol import HallMessage
from queue_server.snapshots import hall_message
from sms_gateway.limits import PhoneLimit, mask_phone, retry_delay
from sms_gateway.outbox import Outbox, Outcome, dedupe_key
from sms_gateway.settings import Settings, SettingsError, Source
from sms_gateway.texts import HallTexts, provider_template, render
from tests.conftest import DEMO
from tests.test_config import broken


def demo_texts() -> HallTexts:
    message: HallMessage = hall_message(load_hall(DEMO), "zh", 0.0)
    return HallTexts.from_message(asdict(message))


def notice(kind: str, **extra: Any) -> dict[str, Any]:
    base = {
        "kind": kind,
        "phone": "13812345678",
        "number": "A012",
        "service": "A",
        "ticket": "t1",
        "time": 1.0,
        "ahead": 8,
        "eta_minutes": 25,
        "window": "3",
    }
    return {**base, **extra}


def test_texts_from_the_demo_hall() -> None:
    hall = demo_texts()
    guide = "办事指南：http://127.0.0.1:8080/hall/demo/guide/A"  # 办事指南一单清 (issue 9)
    assert render(notice("ticket_taken", eta_range=[18, 34]), hall, "zh") == (
        "【示范区政务服务中心】您已取号A012，前面还有8人，预计等候约18–34分钟。" + guide
    )
    assert render(notice("ticket_taken", eta_range=[18, 34]), hall, "en").endswith(
        "8 ahead of you, about 18–34 minutes to wait. What to bring: "
        "http://127.0.0.1:8080/hall/demo/guide/A?lang=en"
    )
    # a range of one point, or a notice without one (an older server): the single estimate
    assert render(notice("ticket_taken", eta_range=[0, 0]), hall, "zh").endswith(
        "约0分钟。" + guide
    )
    assert render(notice("ticket_taken"), hall, "zh").endswith("预计等候约25分钟。" + guide)
    assert render(notice("ticket_taken", eta_range=["x", 3]), hall, "zh").endswith(
        "约25分钟。" + guide
    )
    assert render(notice("ticket_taken", eta_minutes=None), hall, "zh").endswith(
        "前面还有8人。" + guide
    )
    assert (
        render(notice("near", ahead=3), hall, "zh")
        == "【示范区政务服务中心】请做好准备，前面还有3人"
    )
    assert render(notice("called"), hall, "zh") == "【示范区政务服务中心】请A012号到3号窗口办理"
    assert render(notice("called", window_name="三号窗口"), hall, "zh").endswith(
        "请A012号到三号窗口办理"
    )
    assert "30分钟内重新排队" in render(notice("missed", rejoin_minutes=30), hall, "zh")
    finished = render(notice("finished", secret="s/x"), hall, "zh")
    assert finished.endswith(
        f"评价本次服务：http://127.0.0.1:8080/m/{hall.hall}/t/t1?secret=s%2Fx&lang=zh"
    )
    assert render(notice("finished", secret="s"), hall, "en").endswith("/t/t1?secret=s&lang=en")
    assert render(notice("called"), hall, "en") == (
        "【Demo District Service Centre】Number A012, please go to Window 3"
    )
    assert hall.lang_of(notice("called", lang="en"), "zh") == "en"
    assert hall.lang_of(notice("called", lang="fr"), "zh") == "zh"
    # the hall file's texts survive the outbox (to_message) unchanged
    assert HallTexts.from_message(hall.to_message()) == hall


def test_provider_templates_from_the_demo_hall() -> None:
    hall = demo_texts()
    ali = provider_template(notice("called"), hall, "aliyun", "zh")
    assert ali is not None and ali.code == "SMS_000000003"
    assert ali.params == {"number": "A012", "window": "3号窗口"}
    assert ali.sign_name == "示范区政务服务中心"
    tc = provider_template(notice("missed", rejoin_minutes=30), hall, "tencent", "zh")
    assert tc is not None and tc.params == ["A012", "30"]
    assert provider_template(notice("called"), hall, "console", "zh") is None


def test_bad_sms_sections_are_named(tmp_path: Path) -> None:
    assert "sms.templates: near: unknown field {phone}" in broken(
        tmp_path, 'near = { zh = "请做好准备，前面还有{ahead}人"', 'near = { zh = "{phone}"'
    )
    assert "sms.aliyun.called.params" in broken(
        tmp_path,
        'params = { number = "number", window = "window" }',
        'params = { number = "id_card" }',
    )
    with pytest.raises(ConfigError):
        load_hall(DEMO.with_name("missing.toml"))


def test_dedupe_keys() -> None:
    assert dedupe_key({"key": "t1/called/0", "ticket": "t1", "kind": "called"}) == "t1/called/0"
    assert dedupe_key({"ticket": "t1", "kind": "near"}) == "t1/near"
    assert dedupe_key({"id": "5-0"}) == "id:5-0"
    assert dedupe_key({"a": 1}) == dedupe_key({"a": 1}) != dedupe_key({"a": 2})


def test_limits() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("12345") == "*****"
    limit = PhoneLimit(2, 10)
    assert limit.wait("1", 0) == 0 and limit.wait("1", 1) == 0
    assert limit.wait("1", 2) == pytest.approx(8)
    assert limit.wait("2", 2) == 0  # another phone is not held up
    limit.release("2", 2)  # that send failed: it does not count
    assert limit.wait("2", 3) == 0 and limit.wait("2", 4) == 0 and limit.wait("2", 5) > 0
    assert limit.wait("1", 10.5) == 0
    limit.prune(100)
    assert limit.wait("1", 100) == 0
    delays = [retry_delay(n, 1, 60) for n in (1, 2, 3, 10)]
    assert 0.5 <= delays[0] <= 1 and 1 <= delays[1] <= 2 and 2 <= delays[2] <= 4
    assert 30 <= delays[3] <= 60


async def test_outbox_dedupes_claims_settles_and_forgets(tmp_path: Path) -> None:
    box = await Outbox(tmp_path).open()
    try:
        assert await box.add("h", notice("called", id="1-0"), 10.0)
        assert not await box.add("h", notice("called", id="1-0"), 10.0)  # redelivered
        assert not await box.add("h", notice("called", id="2-0"), 10.0)  # same ticket+kind
        assert await box.add("h", notice("called", id="3-0", key="t1/called/1"), 10.0)  # rejoined
        assert await box.add("other", notice("called", id="1-0"), 10.0)  # another hall
        rows = await box.claim(11.0, 10)
        assert len(rows) == 3 and rows[0].notice["phone"] == "13812345678"
        assert rows[0].idempotency_key == "h/t1/called"
        assert await box.claim(11.0, 10) == []  # claimed rows are not handed out twice
        await box.settle(
            [
                Outcome(rows[0].uid, "sent", 12.0, receipt="r1"),
                Outcome(rows[1].uid, "pending", 20.0, error="down", failed=1),
                Outcome(rows[2].uid, "dead", 12.0, error="bad number", failed=1),
            ]
        )
        assert await box.claim(19.0, 10) == [] and await box.next_due() == 20.0
        assert [r.attempts for r in await box.claim(20.0, 10)] == [1]
        assert await box.recover() == 1  # a crash left it "sending"
        assert await box.depth() == 1
        assert [d["uid"] for d in box.dead_sync()] == [rows[2].uid]
        assert box.retry_dead_sync(None, 30.0) == 1 and box.dead_sync() == []
        assert await box.forget_phones(13.0) == 1  # the sent one, settled at 12
        assert box.counts_sync() == {"sent": 1, "pending": 2}
    finally:
        await box.close()
    again = await Outbox(tmp_path).open()  # what was committed is there after a reopen
    try:
        assert again.counts_sync() == {"sent": 1, "pending": 2}
    finally:
        await again.close()


def test_settings(tmp_path: Path) -> None:
    s = Settings.load(Source.load({}))
    assert (s.provider, s.halls, s.data, s.token) == ("console", ("demo",), Path("var/sms"), "")
    secret = tmp_path / "token"
    secret.write_text("demo-sms\n")
    file = tmp_path / "sms.toml"
    file.write_text('provider = "http"\nhalls = "a, b"\nqps = 20\n')
    env = {
        "HALLCALL_SMS_SETTINGS": str(file),
        "HALLCALL_SMS_TOKEN_FILE": str(secret),
        "HALLCALL_SMS_QPS": "30",
    }
    s = Settings.load(Source.load(env, provider="console"))
    assert (s.provider, s.halls, s.qps, s.token) == ("console", ("a", "b"), 30, "demo-sms")
    for env, name in (
        ({"HALLCALL_SMS_QPS": "fast"}, "HALLCALL_SMS_QPS"),
        ({"HALLCALL_MQTT_URL": "http://x"}, "HALLCALL_MQTT_URL"),
        ({"HALLCALL_SMS_LISTEN": "nowhere"}, "HALLCALL_SMS_LISTEN"),
        ({"HALLCALL_SMS_HALLS": " , "}, "HALLCALL_SMS_HALLS"),
    ):
        with pytest.raises(SettingsError, match=name):
            Settings.load(Source.load(env))
