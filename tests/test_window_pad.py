"""The rating pad and the rating route: a finished ticket brings the five levels, a tap records
the rating once, for that window only, within the hall's time (real server, Redis, Mosquitto;
the pad headless, tapped with synthetic mouse events)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from redis.asyncio import Redis

from queue_server.config import HallConfig
from queue_server.store import keys
from tests.conftest import Api, W, demo_hall
from tests.services import Broker
from tests.window_helpers import click, hall_events, running_pad

PAD = {n: {"Authorization": f"Bearer demo-pad-{n}"} for n in range(1, 7)}


async def rate(
    api: Api, ticket: str, body: Any, headers: dict[str, str] | None = None, status: int = 201
) -> dict[str, Any]:
    resp = await api.client.post(api.path(f"/tickets/{ticket}/rating"), json=body, headers=headers)
    assert resp.status == status, await resp.text()
    out: dict[str, Any] = await resp.json()
    return out


async def serve(api: Api, window: int = 3, case: str | None = None) -> dict[str, Any]:
    """A citizen served and finished at `window`."""
    ticket = await api.issue("B")
    await api.act(window, "next")
    await api.act(window, "finish", {"case": case} if case else None)
    return ticket


async def stored(redis: Redis, api: Api, ticket: str) -> dict[str, Any] | None:
    raw = await redis.hget(keys.ratings(api.hall, ticket.split("-")[0]), ticket)
    return json.loads(raw) if raw else None


async def test_finishing_shows_the_levels_and_a_tap_records_the_rating(
    api: Api, broker: Broker, redis: Redis
) -> None:
    async with running_pad(api, broker) as pad:
        ticket = await serve(api, case="BJ2026-0001")
        await pad.until(lambda s: s.screen == "rate" and s.number == ticket["number"])
        assert [b.label for b in pad.buttons] == [
            "非常满意",
            "满意",
            "基本满意",
            "不满意",
            "非常不满意",
        ]
        click(pad, "level", "5")
        await pad.until(lambda s: s.screen == "thanks" and not s.note)
    got = await stored(redis, api, ticket["id"])
    assert got is not None
    assert (got["level"], got["window"], got["service"], got["case"], got["channel"]) == (
        5,
        "3",
        "B",
        "BJ2026-0001",
        "pad",
    )
    assert "phone" not in got and "secret" not in got
    rated = [f for f in await hall_events(redis, api.hall) if f["type"] == "rated"]
    assert len(rated) == 1 and rated[0]["ticket"] == ticket["id"] and rated[0]["level"] == "5"
    again = await rate(api, ticket["id"], {"level": 4}, PAD[3], status=409)  # a second tap
    assert again["error"] == "already_rated"


async def test_a_bad_rating_needs_a_reason(api: Api, broker: Broker, redis: Redis) -> None:
    async with running_pad(api, broker) as pad:
        ticket = await serve(api)
        await pad.until(lambda s: s.screen == "rate")
        click(pad, "level", "2")
        await pad.until(lambda s: s.screen == "reason")
        click(pad, "submit")  # no reason yet: nothing is sent
        click(pad, "reason", "办事效率")
        await pad.until(lambda s: s.reasons == ["办事效率"])
        assert await stored(redis, api, ticket["id"]) is None
        click(pad, "submit")
        await pad.until(lambda s: s.screen == "thanks")
    got = await stored(redis, api, ticket["id"])
    assert got is not None and (got["level"], got["reasons"]) == (2, ["办事效率"])
    other = await serve(api)
    refused = await rate(api, other["id"], {"level": 1}, PAD[3], status=422)
    assert refused["error"] == "reason_needed"


async def test_the_timeout_records_nothing(api: Api, broker: Broker, redis: Redis) -> None:
    async with running_pad(api, broker, timeout=0.3) as pad:
        ticket = await serve(api)
        await pad.until(lambda s: s.screen == "rate")
        await pad.until(lambda s: s.screen == "idle")
        assert pad.buttons == []  # the levels are gone: a late tap hits nothing
    assert await stored(redis, api, ticket["id"]) is None
    # it could have been rated: the holder still may, with the secret
    got = await rate(api, ticket["id"], {"level": 4}, {"X-Ticket-Secret": ticket["secret"]})
    assert (got["level"], got["wording"]) == (4, "满意")


async def test_who_may_rate_what(api: Api) -> None:
    ticket = await serve(api, window=3)
    other = await rate(api, ticket["id"], {"level": 5}, PAD[4], status=403)  # another pad
    assert other["error"] == "wrong_window"
    window = await rate(api, ticket["id"], {"level": 5}, W[3], status=403)  # a window token
    assert window["error"] == "forbidden"
    bad = await rate(api, ticket["id"], {"level": 5}, {"X-Ticket-Secret": "nope"}, status=403)
    assert bad["error"] == "bad_secret"
    waiting = await api.issue("B")
    early = await rate(api, waiting["id"], {"level": 5}, PAD[3], status=409)
    assert early["error"] == "not_finished"
    api.clock.advance(25 * 3600)  # past the hall's rating time (a day)
    late = await rate(api, ticket["id"], {"level": 5}, PAD[3], status=409)
    assert late["error"] == "rating_closed"


async def test_a_pad_token_does_nothing_but_rate(api: Api) -> None:
    await api.issue("B")
    for path, body in (
        ("/windows/3/next", None),
        ("/windows/3", None),
        ("/rules", None),
        ("/tickets", {"service": "A", "class": "green"}),
    ):
        method = api.client.get if body is None and not path.endswith("next") else api.client.post
        resp = await method(api.path(path), json=body, headers=PAD[3])
        assert resp.status == 403, (path, await resp.text())
        assert (await resp.json())["error"] == "forbidden"
    state = await (await api.client.get(api.path("/windows/3"), headers=W[3])).json()
    assert state["current"] is None and state["waiting"]["B"] == 1


async def test_rating_input_is_checked(api: Api, redis: Redis) -> None:
    ticket = await serve(api)
    for body in (
        {"level": 0},
        {"level": 6},
        {"level": "5"},
        {"level": 5, "reasons": ["天气"]},
        {"level": 5, "comment": "x" * 201},
        {"level": 5, "scores": {"speed": 5}},
        {"level": 5, "who": "me"},
    ):
        refused = await rate(api, ticket["id"], body, PAD[3], status=400)
        assert refused["error"] in ("invalid_request", "bad_json"), body
    got = await rate(api, ticket["id"], {"level": 3, "comment": "电话 13800001111 回访"}, PAD[3])
    assert got["level"] == 3
    kept = await stored(redis, api, ticket["id"])
    assert (
        kept is not None and kept["comment"] == "电话 *********** 回访"
    )  # the rater stays anonymous


def with_points() -> HallConfig:
    cfg = demo_hall()
    return cfg.model_copy(update={"rating": cfg.rating.model_copy(update={"points": True})})


@pytest.mark.parametrize("hall_cfg", [with_points()])
async def test_a_hall_that_asks_per_point_scores(api: Api, broker: Broker, redis: Redis) -> None:
    async with running_pad(api, broker) as pad:
        ticket = await serve(api)
        await pad.until(lambda s: s.screen == "rate")
        click(pad, "level", "4")
        await pad.until(lambda s: s.screen == "points" and len(s.points) == 4)
        click(pad, "submit_points")  # not every point scored: nothing is sent
        for point in ("overall", "efficiency", "competence", "attitude"):
            click(pad, "score", f"{point}:{5 if point == 'attitude' else 4}")
        await pad.until(lambda s: len(s.scores) == 4)
        assert await stored(redis, api, ticket["id"]) is None
        click(pad, "submit_points")
        await pad.until(lambda s: s.screen == "thanks" and not s.note)
    got = await stored(redis, api, ticket["id"])
    assert got is not None and got["scores"] == {
        "overall": 4,
        "efficiency": 4,
        "competence": 4,
        "attitude": 5,
    }
    other = await serve(api)  # without the scores this hall asks for: refused
    refused = await rate(api, other["id"], {"level": 4}, PAD[3], status=400)
    assert refused["error"] == "invalid_request"


async def test_the_pad_speaks_english(api: Api, broker: Broker) -> None:
    async with running_pad(api, broker, lang="en") as pad:
        await serve(api)
        await pad.until(lambda s: s.screen == "rate")
        assert [b.label for b in pad.buttons] == [
            "Very satisfied",
            "Satisfied",
            "Basically satisfied",
            "Dissatisfied",
            "Very dissatisfied",
        ]
