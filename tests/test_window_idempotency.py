"""Idempotency-Key on window actions: a retry returns the first answer and changes nothing,
also when the duplicate reaches another server process at the same moment."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from queue_server.store import keys
from tests.conftest import DEMO, Api, W
from tests.services import Broker, HttpProcess, RedisServer
from tests.window_helpers import server_url
from window_client.api import Outcome, ServerApi


async def post(api: Api, action: str, key: str | None, body: Any = None) -> tuple[int, Any, str]:
    headers = {**W[3], **({"Idempotency-Key": key} if key else {})}
    resp = await api.client.post(api.path(f"/windows/3/{action}"), json=body, headers=headers)
    return resp.status, await resp.json(), resp.headers.get("Idempotent-Replayed", "")


async def test_a_retried_next_calls_one_citizen(api: Api, redis: Redis) -> None:
    first = await api.issue("B")
    second = await api.issue("B")
    a = await post(api, "next", "press-1")
    b = await post(api, "next", "press-1")
    assert a[0] == b[0] == 200 and a[1] == b[1] and (a[2], b[2]) == ("", "true")
    assert a[1]["ticket"]["number"] == first["number"]
    state = await (await api.client.get(api.path("/windows/3"), headers=W[3])).json()
    assert state["waiting"]["B"] == 1  # the second citizen still waits
    c = await post(api, "next", "press-2")  # a new press is a new action
    assert c[1]["ticket"]["number"] == second["number"]
    found = [k async for k in redis.scan_iter(match=keys.idempotency(api.hall, "3", "*"))]
    assert len(found) == 2
    for k in found:  # answers are kept 10 minutes
        assert 590 < await redis.ttl(k) <= 600


async def test_refusals_are_replayed_and_keys_are_checked(api: Api) -> None:
    refused = await post(api, "skip", "k1")
    assert refused[0] == 409 and refused[1]["error"] == "no_current"
    await api.issue("B")
    await api.act(3, "next")
    again = await post(api, "skip", "k1")  # the same key: the same refusal, nothing skipped
    assert again[:2] == refused[:2] and again[2] == "true"
    state = await (await api.client.get(api.path("/windows/3"), headers=W[3])).json()
    assert state["current"]["state"] == "called"
    other = await post(api, "pause", "k1")  # the key of another request
    assert (other[0], other[1]["error"]) == (422, "idempotency_mismatch")
    bad = await post(api, "pause", "x" * 201)
    assert (bad[0], bad[1]["error"]) == (400, "invalid_request")
    reason = await post(api, "pause", "k2", {"reason": "午休"})
    changed = await post(api, "pause", "k2", {"reason": "会议"})  # same key, other body
    assert reason[0] == 200 and changed[1]["error"] == "idempotency_mismatch"


async def test_one_key_at_two_server_processes_at_once(
    tmp_path: Path, redis_server: RedisServer, redis: Redis, broker: Broker
) -> None:
    servers = [
        HttpProcess.queue_server(DEMO, redis_server.url, broker.url(), tmp_path / f"s{i}.log")
        for i in range(2)
    ]
    try:
        for s in servers:
            await asyncio.to_thread(s.wait)
        base = [f"{s.url}/api/v1/halls/demo" for s in servers]
        auth = {"Authorization": "Bearer demo-window-3"}
        async with aiohttp.ClientSession() as http:
            for _ in range(4):
                kiosk = {"Authorization": "Bearer demo-kiosk-1"}
                async with http.post(
                    f"{base[0]}/tickets", json={"service": "B"}, headers=kiosk
                ) as r:
                    assert r.status == 201

            async def call(url: str, key: dict[str, str]) -> dict[str, Any]:
                async with http.post(f"{url}/windows/3/next", headers=key) as r:
                    assert r.status == 200
                    out: dict[str, Any] = json.loads(await r.text())
                    return out

            for press in range(1, 4):  # each press's key reaches both processes at once
                key = {"Idempotency-Key": f"press-{press}", **auth}
                a, b = await asyncio.gather(call(base[0], key), call(base[1], key))
                assert a == b and a["ticket"]["number"] == f"B{press:03d}"
            async with http.get(f"{base[1]}/windows/3", headers=auth) as r:
                assert (await r.json())["waiting"]["B"] == 1
    finally:
        for s in servers:
            s.stop()


async def test_the_client_retries_a_lost_answer_with_the_same_key(api: Api) -> None:
    """A proxy that passes the first `next` on but loses its answer: the client retries once
    with the same key and gets the first answer; one citizen is called."""
    await api.issue("B")
    await api.issue("B")
    seen: list[str] = []
    released = asyncio.Event()

    async def forward(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Idempotency-Key", ""))
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                request.method,
                server_url(api) + request.path_qs,
                data=await request.read(),
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            ) as r,
        ):
            body = await r.read()
        if len(seen) == 1:  # the answer is lost: the client gives up after 0.5 s
            await released.wait()
        return web.Response(body=body, status=r.status, content_type="application/json")

    proxy = web.Application()
    proxy.router.add_route("*", "/{tail:.*}", forward)
    async with TestServer(proxy) as server:
        client = ServerApi(str(server.make_url("")), api.hall, "demo-window-3", timeout=0.5)
        async with client:
            reply = await client.act("3", "next")
        released.set()
    assert reply.outcome is Outcome.DONE and reply.number == "B001"
    assert len(seen) == 2 and seen[0] == seen[1] != ""
    state = await (await api.client.get(api.path("/windows/3"), headers=W[3])).json()
    assert state["waiting"]["B"] == 1
