"""Slow and vanishing clients against the real server process: slowloris headers and slow
uploads are cut after their timeouts, an address past its connection cap is refused at once,
others are answered meanwhile, and an aborted upload is a client error, not an outage."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator

import aiohttp
import pytest

from tests.conftest import DEMO
from tests.services import Broker, HttpProcess, RedisServer

PER_IP = 40
LIMITS = {
    "HALLCALL_HEADER_TIMEOUT": "0.5",
    "HALLCALL_BODY_TIMEOUT": "0.5",
    "HALLCALL_MAX_CONNECTIONS_PER_IP": str(PER_IP),
}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, broker: Broker
) -> Iterator[HttpProcess]:
    log = tmp_path_factory.mktemp("slow") / "server.log"
    proc = HttpProcess.queue_server(DEMO, redis_server.url, broker.url(), log, env=LIMITS)
    try:
        proc.wait()
        yield proc
    finally:
        proc.stop()


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(port: int, source: str) -> Conn:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def closed_by_server(conn: Conn) -> bytes:
    """Everything the server sent until it closed the connection."""
    reader, _ = conn
    out = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := await reader.read(4096):
            out += chunk
    return out


async def test_slow_clients_are_cut_and_others_answered(server: HttpProcess) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    head = b"GET /api/v1/halls/demo HTTP/1.1\r\nHost: x\r\n"  # never finished
    upload = (
        b"POST /api/v1/halls/demo/tickets HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer demo-kiosk-1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"service":'
    )
    loris = [await connect(port, "127.0.0.2") for _ in range(PER_IP)]
    uploads = [await connect(port, "127.0.0.3") for _ in range(PER_IP)]
    for (_, w), data in [*((c, head) for c in loris), *((c, upload) for c in uploads)]:
        w.write(data)
    async with asyncio.timeout(10):
        # one more from a full address is closed at once, before any timeout
        extra = await connect(port, "127.0.0.2")
        assert await closed_by_server(extra) == b""
        # others are answered meanwhile
        async with aiohttp.ClientSession() as s, s.get(f"{server.url}/api/v1/halls/demo") as r:
            assert r.status == 200
        # the slow ones are cut: headers never finished get nothing; slow bodies get a 408
        assert {await closed_by_server(c) for c in loris} == {b""}
        answers = [await closed_by_server(c) for c in uploads]
    assert all(a.startswith(b"HTTP/1.1 408") and b"body_timeout" in a for a in answers)
    for _, w in [*loris, *uploads, extra]:
        w.close()


async def test_an_aborted_upload_is_not_an_outage(server: HttpProcess) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    reader, writer = await connect(port, "127.0.0.1")
    writer.write(
        b"POST /api/v1/halls/demo/tickets HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        b"Authorization: Bearer demo-kiosk-1\r\nContent-Length: 100\r\n\r\n"
    )
    async with asyncio.timeout(10), aiohttp.ClientSession() as s:
        assert (await reader.readline()).startswith(b"HTTP/1.1 100")  # the handler reads
        writer.write(b'{"service"')
        await writer.drain()
        writer.transport.abort()
        route = r'route="/api/v1/halls/\{hall\}/tickets",status="(\d+)"'
        while True:  # until the server has counted it (as a client error)
            async with s.get(f"{server.url}/metrics") as r:
                text = await r.text()
            statuses = set(re.findall(r"hallcall_http_seconds_count\{" + route, text))
            if "400" in statuses:
                break
            await asyncio.sleep(0.02)
    assert not statuses & {"500", "503"}
    log = server.log_text()
    assert " ERROR " not in log and "Traceback" not in log and "unavailable" not in log, log
