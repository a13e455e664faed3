"""The caller panel, headless (SDL dummy driver), driven by synthetic keys and clicks against
a real server, Redis and Mosquitto."""

from __future__ import annotations

from pathlib import Path

import pygame

from tests.conftest import Api, subscribe
from tests.services import Broker
from tests.window_helpers import click, key, running_panel, type_text
from window_client.panel import SIZE


async def test_next_key_shows_the_called_number(api: Api, broker: Broker) -> None:
    ticket = await api.issue("B")
    later = [await api.issue("A"), await api.issue("B")]
    async with running_panel(api, broker) as panel:
        # the next numbers in this window's calling order: its own service B first (A is
        # a secondary service here, 10 minutes behind)
        await panel.until(
            lambda s: s.upcoming == [ticket["number"], later[1]["number"], later[0]["number"]]
        )
        key(pygame.K_KP_ENTER)
        await panel.until(
            lambda s: (
                (s.current or {}).get("number") == ticket["number"]
                and (s.current or {}).get("called_at") is not None
            )  # from the retained snapshot
        )
        assert panel.state.waiting["B"] == 1
        await panel.until(lambda s: s.upcoming == [later[1]["number"], later[0]["number"]])


async def test_recall_counts_down_then_no_show(api: Api, broker: Broker) -> None:
    ticket = await api.issue("B")
    async with running_panel(api, broker) as panel:
        key(pygame.K_F1)
        await panel.until(lambda s: s.recalls_left == 2)
        key(pygame.K_KP_PLUS)
        await panel.until(lambda s: s.recalls_left == 1 and not s.busy)
        click(panel, "recall")
        await panel.until(lambda s: s.recalls_left == 0 and not s.busy)
        key(pygame.K_KP_PLUS)  # past the limit: a no-show
        await panel.until(lambda s: s.current is None and not s.busy)
    resp = await api.client.get(
        api.path(f"/tickets/{ticket['id']}"), headers={"X-Ticket-Secret": ticket["secret"]}
    )
    assert (await resp.json())["state"] == "missed"


async def test_transfer_moves_the_ticket_to_the_other_queue(api: Api, broker: Broker) -> None:
    await api.issue("B")
    async with running_panel(api, broker) as panel:
        key(pygame.K_KP_ENTER)
        await panel.until(lambda s: s.current is not None and s.waiting.get("A") == 0)
        key(pygame.K_F6)
        await panel.until(lambda _: any(b.arg == "A" for b in panel.buttons))
        click(panel, "transfer", "A")
        await panel.until(lambda s: s.current is None and s.waiting.get("A") == 1)
    state = await (
        await api.client.get(
            api.path("/windows/1"), headers={"Authorization": "Bearer demo-window-1"}
        )
    ).json()
    assert state["waiting"] == {"A": 1}


async def test_pause_stops_calls_and_shows_the_reason_on_the_board(
    api: Api, broker: Broker
) -> None:
    await api.issue("B")
    async with (
        subscribe(broker, [f"hallcall/{api.hall}/board"], "hallcall-display") as board,
        running_panel(api, broker) as panel,
    ):
        key(pygame.K_KP9)
        await panel.until(lambda _: panel.prompt is not None)
        type_text("午休")
        await panel.until(lambda s: s.paused and s.reason == "午休")
        shown = await board.get(
            "board", where=lambda b: any(w["id"] == "3" and w["paused"] for w in b["windows"])
        )
        assert next(w for w in shown["windows"] if w["id"] == "3")["reason"] == "午休"
        key(pygame.K_KP_ENTER)
        await panel.until(lambda s: s.message_bad and not s.busy)
        assert panel.state.current is None and panel.state.waiting["B"] == 1
        key(pygame.K_F10)  # resume
        await panel.until(lambda s: not s.paused and not s.busy)


async def test_park_call_back_and_call_a_number(api: Api, broker: Broker) -> None:
    first = await api.issue("B")
    second = await api.issue("B")
    async with running_panel(api, broker) as panel:
        key(pygame.K_KP_ENTER)
        await panel.until(lambda s: (s.current or {}).get("number") == first["number"])
        key(pygame.K_KP0)  # park
        await panel.until(lambda s: s.parked == [first["number"]] and not s.busy)
        key(pygame.K_KP8)  # call a given number: keypad digits only, the window's letter
        type_text(str(int(second["number"][1:])))
        await panel.until(lambda s: (s.current or {}).get("number") == second["number"])
        key(pygame.K_F7)  # park it too, then call the first one back by its button
        await panel.until(lambda s: len(s.parked) == 2 and not s.busy)
        key(pygame.K_KP7)
        await panel.until(lambda _: any(b.arg == first["number"] for b in panel.buttons))
        click(panel, "unpark", first["number"])
        await panel.until(
            lambda s: (
                (s.current or {}).get("number") == first["number"]
                and s.parked == [second["number"]]
            )
        )


async def test_unreachable_server_is_said_and_the_state_kept(api: Api, broker: Broker) -> None:
    from tests.services import free_port

    ticket = await api.issue("B")
    await api.act(3, "next")
    async with running_panel(api, broker, server=f"http://127.0.0.1:{free_port()}") as panel:
        await panel.until(lambda s: (s.current or {}).get("number") == ticket["number"])
        key(pygame.K_KP_ENTER)
        await panel.until(lambda s: not s.reachable and s.message_bad and not s.busy)
        assert (panel.state.current or {}).get("number") == ticket["number"]


async def test_snapshot_writes_png_frames(api: Api, broker: Broker, tmp_path: Path) -> None:
    ticket = await api.issue("B")
    await api.issue("A")
    async with running_panel(api, broker, snapshot=tmp_path) as panel:
        key(pygame.K_KP_ENTER)
        await panel.until(lambda s: (s.current or {}).get("number") == ticket["number"])
    png = tmp_path / f"panel-{api.hall}-3.png"  # the last frame is written on stop
    image = pygame.image.load(str(png))
    assert image.get_size() == SIZE


async def test_broker_away_the_panel_says_so_reads_http_and_recovers(
    api: Api, tmp_path: Path
) -> None:
    """The panel's own broker (the server publishes elsewhere): stopped, the panel says it is
    offline and shows the window from HTTP; started again, it reconnects by itself."""
    own = Broker(tmp_path / "mqtt").start()
    try:
        async with running_panel(api, own, synced=False, offline_poll=0.1) as panel:
            own.stop()
            await panel.until(lambda s: not s.online)
            ticket = await api.issue("B")
            await api.act(3, "next")
            await panel.until(lambda s: (s.current or {}).get("number") == ticket["number"])
            own.start()  # the same port and passwords
            await panel.until(lambda s: s.online, timeout=15)
            assert (panel.state.current or {}).get("number") == ticket["number"]
    finally:
        own.stop()
