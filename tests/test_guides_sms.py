"""The "ticket taken" SMS links the service's guide (办事指南一单清): {guide} filled from the
hall's public address, in the notice's language, for the ticket's own service."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from queue_server.config import ConfigError, HallConfig, load_hall
from queue_server.snapshots import hall_message
from sms_gateway.texts import HallTexts, render
from tests.conftest import DEMO, demo_file


def texts_of(cfg: HallConfig) -> HallTexts:
    return HallTexts.from_message(asdict(hall_message(cfg, "zh", 0.0)))


def taken(service: str, lang: str = "zh") -> dict[str, object]:
    return {
        "kind": "ticket_taken",
        "number": f"{service}001",
        "service": service,
        "ticket": "t1",
        "ahead": 2,
        "eta_minutes": 10,
        "lang": lang,
    }


def test_the_ticket_taken_sms_links_its_services_guide() -> None:
    demo = load_hall(DEMO)
    public = demo.model_copy(
        update={"hall": demo.hall.model_copy(update={"public_url": "https://zw.example.cn/"})}
    )
    hall = texts_of(public)
    assert render(taken("C"), hall, "zh").endswith(
        "办事指南：https://zw.example.cn/hall/demo/guide/C"
    )
    en = render(taken("B", "en"), hall, "en")
    assert en.endswith("What to bring: https://zw.example.cn/hall/demo/guide/B?lang=en")
    # a link the hall file sets wins over the public address
    own = public.model_copy(
        update={"sms": public.sms.model_copy(update={"guide_link": "https://g.cn/{service}"})}
    )
    assert render(taken("A"), texts_of(own), "zh").endswith("办事指南：https://g.cn/A")


def test_a_template_field_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8").replace("{guide}", "{guides}", 1)
    with pytest.raises(ConfigError, match=r"unknown field \{guides\}"):
        load_hall(demo_file(tmp_path, text))
