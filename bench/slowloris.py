"""A flood of slow clients against the real server, with its default limits.

Half the clients never finish their request head (slowloris: one more header line every
second), half send a complete head and then their body one byte a second (slow upload).
They come from many loopback addresses (127.1.2.1, 127.1.3.1, …), at most `--per-address`
from each, below the server's per-address cap. Meanwhile an honest client in its own
process (window 3's panel, on 127.0.0.1) asks for its window's state every 50 ms, on a new
connection each time, for as long as the flood lasts. Printed: the honest client's latency
before, during and after the flood; how long the server took to cut every slow client; how
many of 200 more connections from one address were refused at once (per-address cap); the
server's RSS before, during and after.

    python -m bench.slowloris [--clients 4000] [--per-address 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import time
import urllib.request

import aiohttp

from bench.common import DEMO, BenchError, percentiles, rss_mb, run_module_async, server, stack
from tests.services import HttpProcess

HEAD = b"GET /api/v1/halls/demo HTTP/1.1\r\nHost: x\r\nX-a: b\r\n"
UPLOAD = (
    b"POST /api/v1/halls/demo/tickets HTTP/1.1\r\nHost: x\r\n"
    b"Authorization: Bearer demo-kiosk-1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 4000\r\n\r\n{"service":'
)
PANEL = {"Authorization": "Bearer demo-window-3"}


def source(i: int, per_address: int) -> str:
    n = i // per_address + 1  # every loopback address reaches 127.0.0.1
    return f"127.{1 + n // 250}.{n % 250 + 1}.1"


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
    if not out:
        raise BenchError("the honest client made no request")
    return out


async def honest(url: str, n: int) -> dict[str, float]:
    """The honest client's figures, from its own process (the flood's loop is busy)."""
    out = await run_module_async("slowloris", "--probe", url, f"--probes={n}")
    return {k: float(v) for k, v in out.items()}


class Slow:
    """One slow client: the server's answer (if any) and when it closed the connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.answer = b""
        self.closed_at = 0.0

    async def until_closed(self) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await self.reader.read(4096):
                self.answer += chunk
        self.closed_at = time.perf_counter()
        self.writer.close()


async def drip(slow: list[Slow], slices: int = 10) -> None:
    """One more header line or body byte a second from each client still open, a tenth of
    them every 100 ms (independent clients do not all send at the same instant)."""
    while True:
        for k in range(slices):
            await asyncio.sleep(1.0 / slices)
            for i in range(k, len(slow), slices):
                s = slow[i]
                if not s.closed_at and not s.writer.is_closing():
                    s.writer.write(b"X-b: c\r\n" if i % 2 == 0 else b" ")


def refused(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:  # noqa: S310
        for line in resp.read().decode().splitlines():
            if line.startswith('hallcall_connections_refused_total{reason="per_ip"}'):
                return float(line.split()[-1])
    return 0.0


async def over_cap(srv: HttpProcess, tries: int) -> int:
    """`tries` connections from one more address: how many the server refused at once."""
    port = int(srv.url.rsplit(":", 1)[1])
    before = await asyncio.to_thread(refused, srv.url)
    conns = [
        await asyncio.open_connection("127.0.0.1", port, local_addr=("127.9.9.9", 0))
        for _ in range(tries)
    ]
    await asyncio.sleep(0.5)
    after = await asyncio.to_thread(refused, srv.url)
    for _, w in conns:
        w.close()
    return round(after - before)


async def flood(srv: HttpProcess, clients: int, per_address: int) -> None:
    port = int(srv.url.rsplit(":", 1)[1])
    url = f"{srv.url}/api/v1/halls/demo/windows/3"
    before = await honest(url, 40)
    rss_before = rss_mb(srv.pid)
    slow: list[Slow] = []
    t0 = time.perf_counter()
    for i in range(clients):
        addr = (source(i, per_address), 0)
        r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=addr)
        w.write(HEAD if i % 2 == 0 else UPLOAD)
        slow.append(Slow(r, w))
    opened = time.perf_counter() - t0
    closing = [asyncio.create_task(s.until_closed()) for s in slow]
    dripping = asyncio.create_task(drip(slow))
    during = asyncio.create_task(honest(url, 160))  # about 10 s: until the cut
    capped = await over_cap(srv, 200)
    rss_during = rss_mb(srv.pid)
    await asyncio.wait_for(asyncio.gather(*closing), 60)
    dripping.cancel()
    cut = max(s.closed_at for s in slow) - t0
    uploads = slow[1::2]
    answered_408 = sum(s.answer.startswith(b"HTTP/1.1 408") for s in uploads)
    loris_answered = sum(bool(s.answer) for s in slow[0::2])
    d = await during
    after = await honest(url, 40)
    rss_after = rss_mb(srv.pid)
    print(f"slowloris: {clients} slow clients from {-(-clients // per_address)} addresses")
    print(f"  opened in {opened:.1f} s; the last one cut {cut:.1f} s after the first opened")
    print(
        f"  slow uploads answered 408 body_timeout: {answered_408} of {len(uploads)}; "
        f"unfinished heads answered: {loris_answered} (closed silently)"
    )
    print(f"  200 more from one address: {capped} refused at once (per-address cap 128)")
    for name, p in (("before", before), ("during", d), ("after", after)):
        print(
            f"  honest client, new connection each, {name:<6}: p50 {p['p50']:.1f} ms, "
            f"p99 {p['p99']:.1f} ms, max {p['max']:.1f} ms; {p['over_100ms']:.0f} of "
            f"{p['n']:.0f} over 100 ms"
        )
    print(
        f"  server RSS: {rss_before:.1f} MB before, {rss_during:.1f} MB during, "
        f"{rss_after:.1f} MB after (peak VmHWM {rss_mb(srv.pid, 'VmHWM'):.1f} MB)"
    )
    if answered_408 != len(uploads):
        raise BenchError("some slow uploads were not answered 408")


def run(clients: int = 4000, per_address: int = 100) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this process holds them all
    try:
        with stack() as s, server(s, DEMO) as srv:
            asyncio.run(flood(srv, clients, per_address))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.slowloris")
    p.add_argument("--clients", type=int, default=4000)
    p.add_argument("--per-address", type=int, default=100)
    p.add_argument("--probe", metavar="URL", help="(internal) be the honest client, print JSON")
    p.add_argument("--probes", type=int, default=40)
    a = p.parse_args()
    if a.probe:
        ms = asyncio.run(probe(a.probe, a.probes, 0.05))
        slow = sum(m > 100 for m in ms)
        print(json.dumps(percentiles(ms) | {"n": len(ms), "over_100ms": slow}))
        return
    run(a.clients, a.per_address)


if __name__ == "__main__":
    main()
