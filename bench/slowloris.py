"""A flood of slow clients against the real server, with its default limits.

Half the clients never finish their request head (slowloris: one more header line every
second), half send a complete head and then their body one byte a second (slow upload).
They come from many loopback addresses (127.1.2.1, 127.1.3.1, …), at most `--per-address`
from each, below the server's per-address cap. Meanwhile an honest client on 127.0.0.1
(window 3's panel) asks for its window's state, on a new connection each time, and the time
of each answer is recorded. Printed: the honest client's latency before, during and after
the flood, how long the server took to cut every slow client, how many over-the-cap
connections from one address were refused at once, and the server's RSS before, during and
after the flood.

    python -m bench.slowloris [--clients 4000] [--per-address 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import time

import aiohttp

from bench.common import DEMO, BenchError, percentiles, rss_mb, server, stack
from tests.services import HttpProcess

HEAD = b"GET /api/v1/halls/demo HTTP/1.1\r\nHost: x\r\n"
UPLOAD = (
    b"POST /api/v1/halls/demo/tickets HTTP/1.1\r\nHost: x\r\n"
    b"Authorization: Bearer demo-kiosk-1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 4000\r\n\r\n"
)


def source(i: int, per_address: int) -> str:
    n = i // per_address + 1  # 127.0.1.1, …: every loopback address reaches 127.0.0.1
    return f"127.{1 + n // 250}.{n % 250 + 1}.1"


class Slow:
    """One slow client: trickles bytes until the server closes the connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.closed_at = 0.0
        self.answer = b""

    async def trickle(self, first: bytes, drip: bytes) -> None:
        self.writer.write(first)
        read = asyncio.create_task(self.reader.read(4096))
        with contextlib.suppress(ConnectionError):
            while not read.done():
                await asyncio.wait([read], timeout=1.0)
                if not read.done():
                    self.writer.write(drip)
        with contextlib.suppress(ConnectionError):
            self.answer = await read
            while chunk := await self.reader.read(4096):
                self.answer += chunk
        self.closed_at = time.perf_counter()
        self.writer.close()


PANEL = {"Authorization": "Bearer demo-window-3"}


async def probe(url: str, n: int, every: float) -> list[float]:
    """`n` requests for window 3's state, each on a new connection; milliseconds each."""
    out: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
        for _ in range(n):
            t0 = time.perf_counter()
            try:
                async with s.get(url, headers=PANEL) as r:
                    await r.read()
            except aiohttp.ClientError as exc:
                raise BenchError(f"the honest client failed: {exc}") from None
            if r.status != 200:
                raise BenchError(f"the honest client got {r.status}")
            out.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(every)
    return out


async def over_cap(port: int, tries: int) -> int:
    """Connections from one address past its cap: how many the server closed at once."""
    conns = []
    for _ in range(tries):
        addr = ("127.9.9.9", 0)
        conns.append(await asyncio.open_connection("127.0.0.1", port, local_addr=addr))
    refused = 0
    for reader, writer in conns:
        try:
            async with asyncio.timeout(0.2):
                refused += await reader.read(1) == b""
        except (TimeoutError, ConnectionError):
            refused += 0
        writer.close()
    return refused


async def flood(srv: HttpProcess, clients: int, per_address: int) -> None:
    port = int(srv.url.rsplit(":", 1)[1])
    url = f"{srv.url}/api/v1/halls/demo/windows/3"
    before = await probe(url, 20, 0.02)
    rss_before = rss_mb(srv.pid)
    slow: list[Slow] = []
    t0 = time.perf_counter()
    for i in range(clients):
        addr = (source(i, per_address), 0)
        r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=addr)
        slow.append(Slow(r, w))
    tasks = [
        asyncio.create_task(
            s.trickle(HEAD, b"X-a: b\r\n") if i % 2 == 0 else s.trickle(UPLOAD + b"{", b" ")
        )
        for i, s in enumerate(slow)
    ]
    opened = time.perf_counter() - t0
    during = await probe(url, 100, 0.02)
    refused = await over_cap(port, 200)
    rss_peak = rss_mb(srv.pid)
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    cut = max(s.closed_at for s in slow) - t0
    cut_408 = sum(s.answer.startswith(b"HTTP/1.1 408") for s in slow[1::2])
    await asyncio.sleep(1.0)  # let the server drop what it held for them
    after = await probe(url, 20, 0.02)
    rss_after = rss_mb(srv.pid)
    b, d, a = percentiles(before), percentiles(during), percentiles(after)
    print(f"slowloris: {clients} slow clients from {clients // per_address} addresses")
    print(f"  opened in {opened:.1f} s; every one cut by the server {cut:.1f} s after the first")
    print(f"  slow uploads answered 408 body_timeout: {cut_408} of {len(slow[1::2])}")
    print(f"  200 more from one address: {refused} closed at once (per-address cap)")
    for name, p in (("before", b), ("during", d), ("after", a)):
        print(
            f"  honest client, new connection each, {name:<6}: p50 {p['p50']:.1f} ms, "
            f"p99 {p['p99']:.1f} ms, max {p['max']:.1f} ms"
        )
    print(
        f"  server RSS: {rss_before:.1f} MB before, {rss_peak:.1f} MB during, "
        f"{rss_after:.1f} MB after (peak VmHWM {rss_mb(srv.pid, 'VmHWM'):.1f} MB)"
    )
    if cut_408 != len(slow[1::2]):
        raise BenchError("some slow uploads were not answered 408")


def run(clients: int = 4000, per_address: int = 100) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this process holds them all
    with stack() as s, server(s, DEMO) as srv:
        asyncio.run(flood(srv, clients, per_address))
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.slowloris")
    p.add_argument("--clients", type=int, default=4000)
    p.add_argument("--per-address", type=int, default=100)
    a = p.parse_args()
    run(a.clients, a.per_address)


if __name__ == "__main__":
    main()
