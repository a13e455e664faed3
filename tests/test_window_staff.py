"""Staff sign-in at a window: the panel and the CLI, wrong PINs, the lockout, and the staff
id on every event of the window (real server, Redis, Mosquitto)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pygame
import pytest
from redis.asyncio import Redis

from queue_server.config import HallConfig, StaffMember
from queue_server.domain.secrets import hash_secret
from tests.conftest import Api, demo_hall
from tests.services import Broker
from tests.window_helpers import hall_events, key, running_panel, server_url, type_text
from window_client import cli

# Generous deadlines: under load (2 cores, several suites) a frame or an answer may take
# seconds; a passing test waits only as long as it must.
WAIT = 30.0
FAST = b"0123456789abcdef"


def fast_staff(**rules: Any) -> HallConfig:
    """The demo hall with its staff's PINs hashed at scrypt's lowest cost (tests stay quick)."""
    cfg = demo_hall()
    staff = [
        StaffMember(id=s.id, name=s.name, department=s.department, secret_hash=h)
        for s, h in zip(
            cfg.staff,
            [hash_secret(pin, FAST, log2_n=10) for pin in ("1111", "2222", "3333")],
            strict=True,
        )
    ]
    return cfg.model_copy(
        update={"staff": staff, "staff_rules": cfg.staff_rules.model_copy(update=rules)}
    )


@pytest.fixture
def hall_cfg() -> HallConfig:
    return fast_staff()


async def cli_run(api: Api, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    args = [argv[0], "--hall", api.hall, "--window", "3", "--server", server_url(api), "--json"]
    args += ["--timeout", str(WAIT)]
    code = await asyncio.to_thread(cli.main, [*args, *argv[1:]])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1]) if out else {}


async def test_panel_sign_in_shows_the_staff_and_events_carry_the_id(
    api: Api, broker: Broker, redis: Redis
) -> None:
    await api.issue("B")
    async with running_panel(api, broker) as panel:
        key(pygame.K_F11)
        await panel.until(lambda _: panel.prompt is not None, WAIT)
        type_text("1001")
        type_text("1111")
        await panel.until(lambda s: s.staff == "1001 张*" and not s.busy, WAIT)
        key(pygame.K_KP_ENTER)
        await panel.until(lambda s: s.current is not None and not s.busy, WAIT)
        key(pygame.K_KP_MULTIPLY)  # finish
        await panel.until(lambda s: s.today.get("served") == 1 and s.staff == "1001 张*", WAIT)
        key(pygame.K_F12)  # sign out
        await panel.until(lambda s: s.staff == "" and not s.busy, WAIT)
    seen = await hall_events(redis, api.hall)
    by_type = {e["type"]: e for e in seen}
    for etype in ("signin", "call", "finish", "signout"):
        assert by_type[etype].get("staff") == "1001", (etype, seen)


async def test_cli_sign_in_wrong_pin_and_lockout(
    api: Api,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("HALLCALL_WINDOW_TOKEN", "demo-window-3")
    monkeypatch.setenv("HALLCALL_STAFF_PIN", "2222")
    code, out = await cli_run(api, capsys, "signin", "--staff", "1002")
    assert (code, out["staff"], out["name"]) == (0, "1002", "李*")
    code, out = await cli_run(api, capsys, "signout")
    assert (code, out["staff"]) == (0, "1002")
    code, out = await cli_run(api, capsys, "signout")
    assert (code, out["error"]) == (4, "not_signed_in")
    monkeypatch.setenv("HALLCALL_STAFF_PIN", "9999")
    for _ in range(5):
        code, out = await cli_run(api, capsys, "signin", "--staff", "1002")
        assert (code, out["error"]) == (5, "bad_pin")
    monkeypatch.setenv("HALLCALL_STAFF_PIN", "2222")  # the right PIN, too late
    with caplog.at_level(logging.WARNING):
        code, out = await cli_run(api, capsys, "signin", "--staff", "1002")
    assert (code, out["error"]) == (5, "staff_locked")
    assert "locked for 15 more minutes" in out["message"]
    assert any("staff id 1002 locked for 15 min" in r.getMessage() for r in caplog.records)
    code, out = await cli_run(api, capsys, "signin", "--staff", "1001")  # others still may
    assert code == 5 and out["error"] == "bad_pin"  # (1001's PIN is 1111)
    code, out = await cli_run(api, capsys, "signin", "--staff", "nobody")
    assert (code, out["error"]) == (5, "bad_pin")  # an unknown id says no more than a bad PIN


@pytest.mark.parametrize("hall_cfg", [fast_staff(require_signin=True)])
async def test_a_hall_may_require_sign_in_before_next(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALLCALL_WINDOW_TOKEN", "demo-window-3")
    ticket = await api.issue("B")
    code, out = await cli_run(api, capsys, "next")
    assert (code, out["error"]) == (4, "signin_required")
    monkeypatch.setenv("HALLCALL_STAFF_PIN", "3333")
    assert (await cli_run(api, capsys, "signin", "--staff", "1003"))[0] == 0
    code, out = await cli_run(api, capsys, "next")
    assert (code, out["ticket"]["number"]) == (0, ticket["number"])
