"""Issue 7's leftovers on a real server, Redis and Mosquitto: transfer to a window (API, CLI
and the panel's key), one staff member at one window at a time, and the panel's recall limit
following a manager's live change."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pygame
import pytest

from tests.conftest import MANAGER, Api, W, subscribe
from tests.services import Broker
from tests.window_helpers import click, key, running_panel, server_url, type_text
from window_client import cli


async def test_transfer_to_a_window_goes_to_the_front_of_its_own_queue(
    api: Api, broker: Broker
) -> None:
    older = [await api.issue("C"), await api.issue("C")]  # waiting for window 5 before it
    api.clock.advance(60)
    t = await api.issue("A")
    await api.act(1, "next")
    refused = await api.act(1, "transfer", {"window": "99"}, status=404)
    assert refused["error"] == "unknown_window"
    assert (await api.act(1, "transfer", {"window": "1"}, status=409))["error"] == "same_window"
    both = await api.act(1, "transfer", {"window": "5", "service": "B"}, status=400)
    assert both["error"] == "invalid_request"
    async with subscribe(broker, [f"hallcall/{api.hall}/windows/5"]) as sub:
        moved = await api.act(1, "transfer", {"window": "5"})
        assert (moved["ticket"]["state"], moved["ticket"]["window"]) == ("transferred", "5")
        panel = await sub.get("/windows/5", where=lambda b: b["queued"] == ["A001"])
        assert panel["upcoming"][0] == "A001"
    seen = await (
        await api.client.get(
            api.path(f"/tickets/{t['id']}"), headers={"X-Ticket-Secret": t["secret"]}
        )
    ).json()
    assert (seen["state"], seen["ahead"], seen["window"]) == ("transferred", 0, "5")
    # window 1 does not get it back; window 5 calls it before the older C tickets
    assert (await api.act(1, "next"))["ticket"] is None
    assert (await api.act(5, "next"))["ticket"]["number"] == "A001"
    assert (await api.act(5, "next"))["ticket"]["number"] == older[0]["number"]
    state = await (await api.client.get(api.path("/windows/5"), headers=W[5])).json()
    assert state["queued"] == []


async def test_a_ticket_called_elsewhere_or_cancelled_leaves_the_window_queue(api: Api) -> None:
    a = await api.issue("A", phone="13700001234")
    b = await api.issue("A")
    await api.act(1, "next")
    await api.act(1, "transfer", {"window": "4"})
    await api.act(1, "next")
    await api.act(1, "transfer", {"window": "4"})
    cancel = await api.client.post(
        api.path(f"/tickets/{a['id']}/cancel"), headers={"X-Ticket-Secret": a["secret"]}
    )
    assert cancel.status == 200
    assert (await api.act(2, "call", {"number": b["number"]}))["ticket"]["window"] == "2"
    assert (await api.act(4, "next"))["ticket"] is None  # both gone from window 4's queue


async def test_transfer_to_a_window_from_the_cli(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HALLCALL_WINDOW_TOKEN", "demo-window-3")
    await api.issue("B")
    await api.act(3, "next")

    async def run(*argv: str) -> tuple[int, dict[str, Any]]:
        args = ["transfer", "--hall", api.hall, "--window", "3", "--server", server_url(api)]
        code = await asyncio.to_thread(cli.main, [*args, "--json", *argv])
        return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    code, out = await run("--to-window", "42")
    assert (code, out["error"]) == (4, "unknown_window")
    code, out = await run("--to-window", "4")
    assert (code, out["ticket"]["window"]) == (0, "4")
    assert (await api.act(4, "next"))["ticket"]["number"] == "B001"


async def test_panel_transfers_to_a_window_by_key_and_by_button(api: Api, broker: Broker) -> None:
    await api.issue("B")
    await api.issue("B")
    async with running_panel(api, broker) as panel:
        await panel.until(lambda s: "6" in s.window_names)
        key(pygame.K_KP_ENTER)
        await panel.until(lambda s: s.current is not None and not s.busy)
        key(pygame.K_KP_DIVIDE)  # the keypad's transfer key, then the window's number
        await panel.until(lambda _: panel.prompt is not None)
        type_text("6")
        await panel.until(lambda s: s.current is None and not s.busy)
        key(pygame.K_KP_ENTER)
        await panel.until(lambda s: s.current is not None and not s.busy)
        key(pygame.K_F6)
        await panel.until(lambda _: any(b.arg == "w:4" for b in panel.buttons))
        click(panel, "transfer", "w:4")
        await panel.until(lambda s: s.current is None and not s.busy)
    assert (await api.act(6, "next"))["ticket"]["number"] == "B001"
    assert (await api.act(4, "next"))["ticket"]["number"] == "B002"


async def test_one_staff_member_signs_in_at_one_window_at_a_time(api: Api) -> None:
    me = {"staff": "1001", "pin": "1111"}
    assert (await api.act(1, "signin", me))["staff"] == "1001"
    again = await api.act(2, "signin", me, status=409)
    assert again["error"] == "already_signed_in" and "window 1" in again["message"]
    assert (await api.act(1, "signin", me))["staff"] == "1001"  # the same window: fine
    await api.act(1, "signout")
    assert (await api.act(2, "signin", me))["staff"] == "1001"
    # replaced at window 2 by a colleague, 1001 is free to sign in elsewhere
    await api.act(2, "signin", {"staff": "1002", "pin": "2222"})
    assert (await api.act(3, "signin", me))["staff"] == "1001"
    assert (await api.act(4, "signin", {"staff": "1002", "pin": "2222"}, status=409))[
        "error"
    ] == "already_signed_in"


async def test_the_panel_shows_the_live_recall_limit(api: Api, broker: Broker) -> None:
    await api.issue("B")
    async with running_panel(api, broker) as panel:
        key(pygame.K_KP_ENTER)
        await panel.until(lambda s: s.recalls_left == 2 and not s.busy)  # the file's limit
        resp = await api.client.patch(api.path("/rules"), json={"recall_limit": 4}, headers=MANAGER)
        assert resp.status == 200, await resp.text()
        await panel.until(lambda s: s.recall_limit == 4 and s.recalls_left == 4)
