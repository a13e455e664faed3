"""End to end: the wait range travels with the ETA (issue answer, status, board, notice)."""

from __future__ import annotations

from typing import Any

from tests.conftest import T0, Api, subscribe
from tests.services import Broker


async def test_the_answer_the_status_the_board_and_the_notice_carry_the_range(
    api: Api, broker: Broker
) -> None:
    # Service C: window 5 serves it first, window 6 shares itself among A, B and C.
    async with subscribe(broker, [f"hallcall/{api.hall}/#"]) as sub:
        for _ in range(6):
            await api.issue("C")
        await api.act(5, "next")
        await api.act(6, "next")
        api.clock.advance(3)  # the live inputs are reread (both windows now busy)
        t = await api.issue("C", phone="13800002222")
        assert t["ahead"] == 4
        low, high = t["eta_range"]
        assert 0 < low <= t["eta_minutes"] <= high and not t["eta_after_close"]
        status = await api.client.get(
            api.path(f"/tickets/{t['id']}"), params={"secret": t["secret"]}
        )
        body: dict[str, Any] = await status.json()
        assert body["eta_range"] == [low, high] and body["eta_minutes"] == t["eta_minutes"]
        notice = await sub.get("/notify", where=lambda b: b["kind"] == "ticket_taken")
        assert notice["eta_range"] == [low, high] and notice["eta_minutes"] == t["eta_minutes"]

        def c_of(board: dict[str, Any]) -> dict[str, Any]:
            return next(s for s in board["services"] if s["id"] == "C")

        def busy(board: dict[str, Any]) -> bool:  # windows 5 and 6 at work, as at the issue
            return all(w["state"] == "called" for w in board["windows"][4:6])

        board = await sub.get("/board", where=lambda b: c_of(b)["waiting"] == 5 and busy(b))
        c = c_of(board)
        assert c["eta_range"][0] <= c["eta_minutes"] <= c["eta_range"][1]
        assert c["eta_minutes"] >= t["eta_minutes"]  # one more is ahead of a new ticket


async def test_a_ticket_due_after_closing_is_told_not_today(api: Api) -> None:
    for _ in range(4):
        await api.issue("C")
    await api.act(5, "next")
    await api.act(6, "next")
    api.clock.set(T0 + 7 * 3600 + 25 * 60)  # 17:25, five minutes before closing
    t = await api.issue("C")
    assert t["eta_after_close"] is True
    assert t["eta_minutes"] == 5 and t["eta_range"][1] == 5
    info = await (await api.client.get(api.path())).json()
    c = next(s for s in info["services"] if s["id"] == "C")
    assert c["eta_range"][1] <= 5
