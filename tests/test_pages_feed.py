"""The live status pages across server processes: two queue servers share one Redis; pages
opened at one follow calls made at the other (the feed follows the hall's event stream)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.services import KIOSK_TOKEN, Broker, HttpProcess, RedisServer, hall_toml

KIOSK = {"Authorization": f"Bearer {KIOSK_TOKEN}"}


@dataclass
class Pair:
    hall: str
    a: HttpProcess
    b: HttpProcess


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, broker: Broker
) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("feed")
    hall = f"f{uuid.uuid4().hex[:8]}"
    config = root / "hall.toml"
    windows = {"1": {"A": 0}, "2": {"A": 0, "B": 0}}
    config.write_text(hall_toml(hall, windows, lambda w: f"win-{w}"), encoding="utf-8")
    procs = [
        HttpProcess.queue_server(
            config, redis_server.url, broker.url(), root / f"{n}.log", "--instance", n
        )
        for n in ("a", "b")
    ]
    try:
        for p in procs:
            p.wait()
        yield Pair(hall, *procs)
    finally:
        for p in procs:
            p.stop()


async def post(s: aiohttp.ClientSession, url: str, body: Any = None, **headers: str) -> Any:
    async with s.post(url, json=body, headers=headers) as resp:
        assert resp.status in (200, 201), await resp.text()
        return await resp.json()


async def tickets(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    name = ""
    async for raw in resp.content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and name == "ticket":
            yield json.loads(line.split(":", 1)[1])


async def test_a_call_at_one_process_moves_pages_open_at_the_other(pair: Pair) -> None:
    api_a = f"{pair.a.url}/api/v1/halls/{pair.hall}"
    api_b = f"{pair.b.url}/api/v1/halls/{pair.hall}"
    async with aiohttp.ClientSession() as s:
        issued = [await post(s, f"{api_a}/tickets", {"service": "A"}, **KIOSK) for _ in range(3)]
        opened = [
            await s.get(
                f"{pair.a.url}/m/{pair.hall}/t/{t['id']}/live?secret={t['secret']}",
                timeout=aiohttp.ClientTimeout(total=None),
            )
            for t in issued[1:]
        ]
        assert [r.status for r in opened] == [200, 200]
        second, third = (tickets(r) for r in opened)
        async with asyncio.timeout(15):
            assert (await anext(second))["ahead"] == 1
            assert (await anext(third))["ahead"] == 2
            # window 1 calls at process b: the pages open at process a follow
            await post(s, f"{api_b}/windows/1/next", Authorization="Bearer win-1")
            assert (await anext(second))["ahead"] == 0
            assert (await anext(third))["ahead"] == 1
            await post(s, f"{api_b}/windows/1/next", Authorization="Bearer win-1")
            called = await anext(second)
            assert called["state"] == "called" and "1号窗口" in called["called_text"]
            assert (await anext(third))["ahead"] == 0
            # the holder cancels at process b: the page at a says so, and ends
            cancel = f"{api_b}/tickets/{issued[2]['id']}/cancel?secret={issued[2]['secret']}"
            await post(s, cancel)
            gone = await anext(third)
            assert gone["state"] == "cancelled"
            with pytest.raises(StopAsyncIteration):
                await anext(third)
        for r in opened:
            r.close()
