"""The window's own figures: key press -> called number drawn on the caller panel, rating
submitted -> `rated` event in the hall's stream, and the CPU an idle panel and pad use.

The panel runs headless in this process (SDL dummy driver) against the real queue-server
process, Redis and Mosquitto of the demo hall. A key press is a synthetic keypad Enter posted
to pygame's queue; it counts as drawn when a frame showing the new number has been flipped.
A rating is timed from sending it to an XREAD BLOCK on the stream returning its event. Idle
CPU is /proc utime + stime of a `window-client panel` and `pad` process over the interval.

    python -m bench.window [--presses 300] [--ratings 300] [--idle 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pygame
from redis.asyncio import Redis

from bench.common import DEMO, BenchError, Stack, percentiles, server, stack
from queue_server.link import parse_mqtt_url
from queue_server.store import keys
from tests.services import VENV_BIN
from window_client import draw
from window_client import keys as bindings
from window_client.api import ServerApi
from window_client.panel import PanelApp
from window_client.state import PanelState

HALL, WINDOW = "demo", "3"
KIOSK = {"Authorization": "Bearer demo-kiosk-1"}
WINDOW_AUTH = {"Authorization": "Bearer demo-window-3"}
PAD_AUTH = {"Authorization": "Bearer demo-pad-3"}


async def post(http: aiohttp.ClientSession, url: str, headers: dict[str, str], body: Any) -> Any:
    async with http.post(url, json=body, headers=headers) as resp:
        if resp.status not in (200, 201):
            raise BenchError(f"POST {url} answered {resp.status}: {await resp.text()}")
        return await resp.json()


async def issue(http: aiohttp.ClientSession, base: str, n: int) -> None:
    sem = asyncio.Semaphore(16)

    async def one() -> None:
        async with sem:
            await post(http, f"{base}/api/v1/halls/{HALL}/tickets", KIOSK, {"service": "B"})

    await asyncio.gather(*(one() for _ in range(n)))


async def key_to_drawn(s: Stack, base: str, presses: int) -> tuple[list[float], list[float]]:
    """Press -> drawn times, and the HTTP answer times within them (ms)."""
    draw.init_video(headless=True)
    panel = PanelApp(
        ServerApi(base, HALL, "demo-window-3"),
        WINDOW,
        parse_mqtt_url(s.broker.url("hallcall-window")),
        bindings.load(None),
    )
    task = asyncio.create_task(panel.run())
    out: list[float] = []
    answers: list[float] = []
    try:
        await panel.until(lambda st: st.online and st.seq > 0, timeout=20)
        for i in range(presses + 10):
            before = (panel.state.current or {}).get("number")

            def called(st: PanelState, before: Any = before) -> bool:
                return (st.current or {}).get("number") not in (None, before)

            t0 = time.perf_counter()
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_KP_ENTER, mod=0))
            try:
                drawn = await panel.until(called, timeout=10)
            except TimeoutError:
                raise BenchError(
                    f"press {i}: no new number drawn ({panel.state.message})"
                ) from None
            if panel.state.message_bad:
                raise BenchError(f"press {i}: {panel.state.message}")
            if i >= 10:  # the first presses warm up connections and scripts
                out.append((drawn - t0) * 1000)
                answers.append(panel.api.last_ms)
            await panel.until(lambda st: not st.busy)
    finally:
        panel.stop()
        await task
    return out, answers


async def rating_to_event(base: str, redis_url: str, ratings: int) -> list[float]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    stream = keys.events(HALL)
    url = f"{base}/api/v1/halls/{HALL}"
    out: list[float] = []
    try:
        async with aiohttp.ClientSession() as http:
            await issue(http, base, ratings + 10)
            for i in range(ratings + 10):
                called = await post(http, f"{url}/windows/{WINDOW}/next", WINDOW_AUTH, None)
                if not called.get("ticket"):
                    raise BenchError("next called nobody")
                await post(http, f"{url}/windows/{WINDOW}/finish", WINDOW_AUTH, None)
                newest: Any = await redis.xrevrange(stream, count=1)
                last = str(newest[0][0])
                tid = called["ticket"]["id"]
                t0 = time.perf_counter()
                send = asyncio.create_task(
                    post(http, f"{url}/tickets/{tid}/rating", PAD_AUTH, {"level": 5})
                )
                seen = None
                while seen is None:
                    got: Any = await redis.xread({stream: last}, block=5000)
                    if not got:
                        raise BenchError(f"rating {i}: no event within 5 s")
                    for eid, fields in got[0][1]:
                        last = eid
                        if fields.get("type") == "rated" and fields.get("ticket") == tid:
                            seen = time.perf_counter()
                await send
                if i >= 10:
                    out.append((seen - t0) * 1000)
    finally:
        await redis.aclose()
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(s: Stack, base: str, program: str, seconds: float) -> float:
    """Percent of one core a headless `window-client <program>` uses with nothing happening."""
    env = {
        **os.environ,
        "HALLCALL_SERVER_URL": base,
        "HALLCALL_MQTT_URL": s.broker.url("hallcall-window"),
        "HALLCALL_WINDOW_TOKEN": "demo-window-3",
        "HALLCALL_PAD_TOKEN": "demo-pad-3",
    }
    argv = [str(VENV_BIN / "window-client"), program, "--hall", HALL, "--window", WINDOW]
    snap = s.dir / f"snap-{program}"
    with (s.dir / f"{program}.log").open("wb") as log:
        proc = subprocess.Popen([*argv, "--snapshot", str(snap)], env=env, stdout=log, stderr=log)
    try:
        png = snap / f"{program}-{HALL}-{WINDOW}.png"
        deadline = time.monotonic() + 20
        while not png.exists():  # started and drawn: now it only idles
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(
                    f"{program} did not start: {(s.dir / f'{program}.log').read_text()}"
                )
            time.sleep(0.1)
        time.sleep(1.0)  # let it connect and settle; then measure
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu_seconds(proc.pid), time.monotonic()
        if proc.poll() is not None:
            raise BenchError(f"{program} exited while idle")
        return (c1 - c0) / (t1 - t0) * 100
    finally:
        proc.terminate()
        proc.wait(10)


def run(presses: int = 300, ratings: int = 300, idle: float = 10.0) -> None:
    with stack() as s, server(s, DEMO) as srv:

        async def main() -> tuple[list[float], list[float], list[float]]:
            async with aiohttp.ClientSession() as http:
                await issue(http, srv.url, presses + 20)
            drawn, answers = await key_to_drawn(s, srv.url, presses)
            rated = await rating_to_event(srv.url, s.redis.url, ratings)
            return drawn, answers, rated

        # idle first: nothing at the window, no rating pending (a pad asked to rate is not idle)
        cpu = {p: idle_cpu(s, srv.url, p, idle) for p in ("panel", "pad")}
        drawn, answers, rated = asyncio.run(main())
    k, h, r = percentiles(drawn), percentiles(answers), percentiles(rated)
    own = percentiles([d - a for d, a in zip(drawn, answers, strict=True)])
    print("window: caller panel and rating pad (demo hall, window 3, loopback)")
    print(
        f"  key press -> number drawn on the panel ({len(drawn)}): p50 {k['p50']:.1f} ms"
        f"  p90 {k['p90']:.1f}  p99 {k['p99']:.1f}  max {k['max']:.1f}  (target p99 <= 50)"
    )
    print(
        f"    of which the server's HTTP answer: p50 {h['p50']:.1f} ms  p99 {h['p99']:.1f};"
        f" the panel's own part (input poll <= 20 ms, one frame): p50 {own['p50']:.1f} ms"
        f"  p99 {own['p99']:.1f}"
    )
    print(
        f"  rating sent -> rated event in the stream ({len(rated)}): p50 {r['p50']:.2f} ms"
        f"  p90 {r['p90']:.2f}  p99 {r['p99']:.2f}  max {r['max']:.2f}  (target p99 <= 20)"
    )
    print(
        f"  idle CPU over {idle:g} s: panel {cpu['panel']:.2f}%  pad {cpu['pad']:.2f}% of one core"
        "  (target <= 2%)"
    )


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.window")
    p.add_argument("--presses", type=int, default=300)
    p.add_argument("--ratings", type=int, default=300)
    p.add_argument("--idle", type=float, default=10.0)
    a = p.parse_args()
    try:
        run(a.presses, a.ratings, a.idle)
    except BenchError as exc:
        raise SystemExit(f"bench.window FAILED: {exc}") from None


if __name__ == "__main__":
    main()
