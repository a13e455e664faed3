"""Citizen pages: the kiosk page's load and first paint, and live status pages at scale.

- kiosk: the page's HTML with its stylesheet and script over HTTP, sequentially, and the
  first contentful paint in headless Chromium (Debian's, via Playwright), fresh each load.
- status pages: `--pages` tickets each with its own page open by server push (SSE; distinct
  tickets), from `--pages`/100 loopback addresses, opened 100 at a time; then window 1
  calls, `--rounds` times: from `next` sent until every page has its new place, beside the
  same call's arrival at an MQTT subscriber. The server's RSS before and with the pages
  open. A page that gets no update, or an error, stops the run.

    python -m bench.pages [--pages 2000] [--rounds 3] [--loads 200] [--paints 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import aiohttp

from bench.common import (
    KIOSK,
    BenchError,
    Watch,
    percentiles,
    rss_mb,
    stack,
    watch,
    window_token,
    write_hall,
)
from queue_server.protocol import topic_calls
from tests.browser_support import ARGS, CHROMIUM
from tests.services import HttpProcess

HALL = "pg"
OPENING = 100  # pages opening at once (then each stays open)


def fmt(p: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:7.1f}" for k, v in p.items()) + "  ms"


async def kiosk_loads(session: aiohttp.ClientSession, base: str, loads: int) -> list[float]:
    out = []
    for _ in range(loads):
        t0 = time.perf_counter()
        for path in (f"/kiosk/{HALL}", "/static/pages/pages.css", "/static/pages/kiosk.js"):
            async with session.get(base + path) as resp:
                if resp.status != 200:
                    raise BenchError(f"GET {path} answered {resp.status}")
                await resp.read()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def first_paints(base: str, loads: int) -> list[float]:
    from playwright.sync_api import sync_playwright  # a dev dependency, like the tests

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(loads):
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{base}/kiosk/{HALL}")
            page.wait_for_function(
                "performance.getEntriesByName('first-contentful-paint').length > 0"
            )
            fcp = page.evaluate(
                "performance.getEntriesByName('first-contentful-paint')[0].startTime"
            )
            out.append(float(fcp))
            context.close()
        browser.close()
    return out


class Page:
    """One open status page: the places it was pushed, and when."""

    def __init__(self) -> None:
        self.updates: list[tuple[float, dict[str, Any]]] = []
        self.arrived = asyncio.Event()
        self.error = ""


async def follow(
    session: aiohttp.ClientSession, url: str, page: Page, opening: asyncio.Semaphore
) -> None:
    """One page: opened while fewer than `opening`'s pages are still opening (citizens do not
    all open theirs in the same millisecond), then kept open."""
    opened = False
    await opening.acquire()
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as resp:
            if resp.status != 200:
                page.error = f"GET {url} answered {resp.status}"
                raise BenchError(page.error)
            event = ""
            async for raw in resp.content:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "ticket":
                    page.updates.append((time.perf_counter(), json.loads(line[5:])))
                    page.arrived.set()
                    if not opened:
                        opened = True
                        opening.release()
    finally:
        if not opened:
            opening.release()


async def issue(session: aiohttp.ClientSession, base: str, n: int) -> list[dict[str, Any]]:
    sem = asyncio.Semaphore(32)

    async def one() -> dict[str, Any]:
        async with (
            sem,
            session.post(
                f"{base}/api/v1/halls/{HALL}/tickets", json={"service": "A"}, headers=KIOSK
            ) as resp,
        ):
            if resp.status != 201:
                raise BenchError(f"issue answered {resp.status}: {await resp.text()}")
            body: dict[str, Any] = await resp.json()
            return body

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def until(pages: list[Page], ahead: list[int | None], timeout: float) -> list[float]:
    """Until every page was pushed its place `ahead[i]` (None: any first update); when each
    got it. A page may also be pushed a fresher wait at the same place: that is no call."""

    def arrived(p: Page, want: int | None) -> float | None:
        return next((t for t, u in p.updates if want is None or u["ahead"] == want), None)

    try:
        async with asyncio.timeout(timeout):
            for p, want in zip(pages, ahead, strict=True):
                while arrived(p, want) is None:
                    if p.error:
                        raise BenchError(p.error)
                    p.arrived.clear()
                    await p.arrived.wait()
    except TimeoutError:
        failed = [p.error for p in pages if p.error]
        if failed:
            raise BenchError(f"{len(failed)} pages failed, first: {failed[0]}") from None
        late = sum(arrived(p, w) is None for p, w in zip(pages, ahead, strict=True))
        raise BenchError(
            f"{late} of {len(pages)} pages did not get their place in {timeout} s"
        ) from None
    return [t for p, w in zip(pages, ahead, strict=True) if (t := arrived(p, w)) is not None]


async def status_pages(base: str, pid: int, w: Watch, n: int, rounds: int) -> None:
    async with aiohttp.ClientSession() as api:
        tickets = await issue(api, base, n + rounds)
    tickets.sort(key=lambda t: t["number"])
    watched = tickets[rounds:]  # the first `rounds` tickets are called; these stay queued
    rss_before = rss_mb(pid)
    pages = [Page() for _ in watched]
    sessions = [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, local_addr=(f"127.0.0.{2 + i}", 0))
        )
        for i in range(n // 100 + 1)
    ]
    opening = asyncio.Semaphore(OPENING)
    tasks = [
        asyncio.create_task(
            follow(
                sessions[i // 100],
                f"{base}/m/{HALL}/t/{t['id']}/live?secret={t['secret']}",
                page,
                opening,
            )
        )
        for i, (t, page) in enumerate(zip(watched, pages, strict=True))
    ]
    try:
        t0 = time.perf_counter()
        await until(pages, [None] * len(pages), 120)
        first = [p.updates[0][1]["ahead"] for p in pages]
        print(
            f"  {n} status pages open by SSE in {time.perf_counter() - t0:.1f} s;"
            f" server RSS {rss_mb(pid):.0f} MB"
        )
        auth = {"Authorization": f"Bearer {window_token(HALL, 1)}"}
        async with aiohttp.ClientSession() as api:
            for r in range(rounds):
                t0 = time.perf_counter()
                async with api.post(
                    f"{base}/api/v1/halls/{HALL}/windows/1/next", headers=auth
                ) as resp:
                    if resp.status != 200:
                        raise BenchError(f"next answered {resp.status}: {await resp.text()}")
                    body = await resp.json()
                answered = (time.perf_counter() - t0) * 1000
                called = await w.arrival((HALL, "1", body["ticket"]["number"]))
                # each page must be pushed exactly its place one call on (none skipped)
                got = await until(pages, [a - r - 1 for a in first], 60)
                lat = [(t - t0) * 1000 for t in got]
                print(f"  call {r + 1}: every page updated   {fmt(percentiles(lat))}")
                print(
                    f"          call at MQTT subscriber {(called - t0) * 1000:7.1f} ms"
                    f"   HTTP answer {answered:7.1f} ms"
                )
        print(
            f"  server RSS with the pages open: {rss_mb(pid):.0f} MB"
            f" (peak {rss_mb(pid, 'VmHWM'):.0f} MB), {rss_before:.0f} MB before they opened:"
            f" growth {rss_mb(pid) - rss_before:.0f} MB (target <= 100 MB)"
        )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for s in sessions:
            await s.close()


async def measure(args: argparse.Namespace) -> None:
    with stack() as s:
        config = write_hall(s, HALL, 1, "A")
        # many pages come from a few loopback addresses here; citizens have their own
        env = {"HALLCALL_MAX_CONNECTIONS_PER_IP": "100000"}
        proc = HttpProcess.queue_server(
            config, s.redis.url, s.broker.url(), s.dir / "server.log", env=env
        )
        try:
            proc.wait()
            base = proc.url
            async with aiohttp.ClientSession() as session:
                await kiosk_loads(session, base, 10)  # warm-up
                loads = await kiosk_loads(session, base, args.loads)
            print(
                f"  kiosk page + CSS + JS over HTTP ({args.loads} loads) {fmt(percentiles(loads))}"
            )
            if args.paints:
                paints = await asyncio.to_thread(first_paints, base, args.paints)
                print(
                    f"  kiosk first contentful paint, Chromium ({args.paints} loads)"
                    f" {fmt(percentiles(paints))}"
                )
            async with watch(s.broker, "hallcall-display", [topic_calls(HALL)]) as w:
                await status_pages(base, proc.pid, w, args.pages, args.rounds)
        finally:
            proc.stop()


def run(pages: int = 2000, rounds: int = 3, loads: int = 200, paints: int = 20) -> None:
    print(f"pages: kiosk page, and {pages} live status pages as window 1 calls", flush=True)
    asyncio.run(measure(argparse.Namespace(pages=pages, rounds=rounds, loads=loads, paints=paints)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--loads", type=int, default=200)
    ap.add_argument("--paints", type=int, default=20)
    a = ap.parse_args()
    run(a.pages, a.rounds, a.loads, a.paints)


if __name__ == "__main__":
    main()
