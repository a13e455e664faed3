"""Abuse and bad clients (issue 5, part 4): one test per finding."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from queue_server.api.routes import HALLS
from queue_server.config import load_hall
from queue_server.domain.phones import PhoneError, canonical_phone, phone_key
from queue_server.domain.text import clean_text
from queue_server.settings import Settings, SettingsError, require_secret
from queue_server.store import keys
from tests.conftest import DEMO, KIOSK, Api, W, demo_file, subscribe
from tests.services import ROOT, SECRET, Broker

# -- phones: one form, mainland mobiles only, an HMAC key ------------------------------------

FORMS = [
    "13912345678",
    "013912345678",  # 0…
    "0013912345678",  # 00…
    "+013912345678",  # +0…
    "08613912345678",  # 086…
    "+008613912345678",  # +0086…
    "8613912345678",
    "+8613912345678",
    "008613912345678",
    "+86 139-1234-5678",
    "(139) 1234.5678",
    "+86 0 139 1234 5678",
]


def test_every_way_of_writing_a_number_is_one_number() -> None:
    assert {canonical_phone(f) for f in FORMS} == {"13912345678"}


@pytest.mark.parametrize(
    "bad",
    [
        *("12ab", "", "+", "01012345678", "12912345678", "1391234567", "139123456789"),
        *("+14155550100", "86" + "1" * 40, "1391234567８"),
    ],
)
def test_only_mainland_mobile_numbers(bad: str) -> None:
    with pytest.raises(PhoneError):
        canonical_phone(bad)


def test_phone_key_is_keyed_and_per_hall() -> None:
    a = phone_key(b"k" * 16, "demo", "13912345678")
    assert a == phone_key(b"k" * 16, "demo", "13912345678")
    assert a != phone_key(b"j" * 16, "demo", "13912345678")
    assert a != phone_key(b"k" * 16, "other", "13912345678")


async def test_the_phone_counter_key_is_an_hmac(api: Api, redis: Redis) -> None:
    await api.issue("A", phone="+86 139 0000 1111")
    key = phone_key(SECRET.encode(), api.hall, "13900001111")
    names = [k async for k in redis.scan_iter("*")]
    day = api.app[HALLS][api.hall].store.day()
    assert keys.phone_counter(api.hall, day, key) in names, names
    assert not any("13900001111" in k for k in names)


async def test_invalid_phone_is_named(api: Api) -> None:
    resp = await api.client.post(
        api.path("/tickets"), json={"service": "A", "phone": "010-12345678"}
    )
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "invalid_phone", body
    assert body["message"].startswith("phone: ") and "mainland mobile" in body["message"]


# -- the channel comes from the caller's token ----------------------------------------------


async def channel(api: Api, body: dict[str, Any], headers: dict[str, str] | None) -> str:
    resp = await api.client.post(api.path("/tickets"), json=body, headers=headers)
    out = await resp.json()
    assert resp.status == 201, out
    found = await api.app[HALLS][api.hall].store.status(out["id"])
    assert found is not None
    return str(found[0]["channel"])


async def test_channel_is_decided_by_who_calls(api: Api) -> None:
    assert await channel(api, {"service": "A"}, KIOSK) == "kiosk"
    assert await channel(api, {"service": "A", "phone": "13900002222"}, None) == "mobile"
    assert await channel(api, {"service": "A"}, W[2]) == "staff"
    slot = {"service": "A", "slot_start": "2026-11-26T10:00:00+08:00"}
    assert await channel(api, slot, W[2]) == "appointment"
    # without a token nobody vouches for the citizen: online tickets need a phone number
    resp = await api.client.post(api.path("/tickets"), json={"service": "A"})
    assert resp.status == 400 and (await resp.json())["error"] == "phone_required"
    # a body cannot claim to be a kiosk
    body = {"service": "A", "channel": "kiosk"}
    resp = await api.client.post(api.path("/tickets"), json=body)
    assert resp.status == 400 and (await resp.json())["message"].startswith("channel:")
    # a kiosk issues tickets, nothing else: no staff-only class, no window action
    resp = await api.client.post(
        api.path("/tickets"), json={"service": "A", "class": "green"}, headers=KIOSK
    )
    assert resp.status == 403 and (await resp.json())["error"] == "staff_only"
    resp = await api.client.post(api.path("/windows/1/next"), headers=KIOSK)
    assert resp.status == 403 and (await resp.json())["error"] == "forbidden"


# -- HALLCALL_SECRET --------------------------------------------------------------------------


def test_secret_settings(tmp_path: Path) -> None:
    env = {"HALLCALL_CONFIG": str(DEMO)}
    with pytest.raises(SettingsError, match="HALLCALL_SECRET: not set"):
        require_secret(Settings.from_env(env))
    with pytest.raises(SettingsError, match="shorter than 16 bytes"):
        Settings.from_env(env | {"HALLCALL_SECRET": "short"})
    file = tmp_path / "secret"
    file.write_text("s" * 20 + "\n")
    got = Settings.from_env(env | {"HALLCALL_SECRET_FILE": str(file)})
    assert require_secret(got) == b"s" * 20
    with pytest.raises(SettingsError, match="HALLCALL_SECRET_FILE: cannot read"):
        Settings.from_env(env | {"HALLCALL_SECRET_FILE": str(tmp_path / "none")})


def test_the_server_refuses_to_start_without_a_secret() -> None:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "queue-server"), "--config", str(DEMO)],
        env={"PATH": "/usr/bin:/bin", "HALLCALL_SECRET": "too-short"},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr == "queue-server: HALLCALL_SECRET: the secret is shorter than 16 bytes\n"


# -- free text --------------------------------------------------------------------------------

HOSTILE = "午休\x00\x07\x1b[2J\u202e<img src=x onerror=alert(1)>\u2066\u200f\ud800\n 稍后\t回来"


def test_clean_text_drops_controls_and_bidi() -> None:
    out = clean_text(HOSTILE)
    assert out == "午休[2J<img src=x onerror=alert(1)> 稍后 回来"
    assert clean_text("  a\u200b\u200d b  ") == "a b"
    assert clean_text("Window 3 办理") == "Window 3 办理"  # plain text is left alone


async def test_a_pause_reason_reaches_screens_clean(api: Api, broker: Broker) -> None:
    async with subscribe(broker, [f"hallcall/{api.hall}/board"]) as sub:
        await api.act(1, "pause", {"reason": HOSTILE})
        board = await sub.get("/board", where=lambda b: any(w["paused"] for w in b["windows"]))
    shown = next(w["reason"] for w in board["windows"] if w["id"] == "1")
    assert shown == clean_text(HOSTILE)
    state = await (await api.client.get(api.path("/windows/1"), headers=W[1])).json()
    assert state["reason"] == shown
    resp = await api.client.post(
        api.path("/windows/2/pause"), json={"reason": "x" * 61}, headers=W[2]
    )
    assert resp.status == 400 and (await resp.json())["message"].startswith("reason:")


def test_hall_file_texts_are_cleaned(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8").replace(
        'notices = [\n  { zh = "老年人', 'notices = [\n  { zh = "\\u202e\\u0007老年人'
    )
    hall = load_hall(demo_file(tmp_path, text))
    assert hall.hall.notices[0].zh.startswith("老年人")
