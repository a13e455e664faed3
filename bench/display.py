"""Hall screens: frame latency, voice latency, redraw rate and an idle TV's CPU.

Everything against a real Mosquitto (no queue server: this process publishes the hall, board
and calls as the server would, with its user). Printed beside a bare pygame fill-and-flip loop
measured in the same run, so a loaded machine shows in both.

    python -m bench.display [--calls 100] [--rate 5] [--idle-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, replace
from pathlib import Path

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"

import aiomqtt
import pygame

import display_client  # noqa: F401
from bench.common import percentiles, stack
from display_client import state as st
from display_client import tv
from display_client.feed import Feed
from display_client.fonts import find_font, load
from display_client.frame import font_measure, paint
from display_client.screen import Screen
from display_client.store import Store
from display_client.voice.pack import Pack
from display_client.voice.policy import hall_tokens
from display_client.voice.speaker import FileOutput, Speaker
from queue_server.link import Message, parse_mqtt_url
from queue_server.protocol import (
    Board,
    Call,
    HallMessage,
    encode,
    topic_board,
    topic_calls,
    topic_hall,
)
from tests.services import Broker

HALL = "bench"
SIZE = (1920, 1080)
WINDOWS = [{"id": str(n), "name": {"zh": f"{n}号窗口", "en": f"Window {n}"}} for n in range(1, 7)]


def hall_message(notices: bool = True) -> HallMessage:
    return HallMessage(
        hall=HALL,
        name={"zh": "示范区政务服务中心", "en": "Demo District Government Service Centre"},
        address={"zh": "本机"},
        timezone="Asia/Shanghai",
        lang="zh",
        languages=["zh", "en"],
        services=[{"id": "A", "name": {"zh": "户籍业务", "en": "Household registration"}}],
        windows=[{**w, "services": ["A"]} for w in WINDOWS],
        notices=[{"zh": "老年人、残疾人、孕妇请走绿色通道", "en": "Green channel"}]
        if notices
        else [],
        display={"languages": ["zh", "en"], "hold_seconds": 10, "flash_seconds": 5, "recent": 10},
        voice={"mode": "speech", "repeat": 2, "languages": ["zh"], "volume": 0.8},
        time=time.time(),
    )


def call(seq: int) -> Call:
    return Call(
        event=f"e{seq}",
        number=f"A{seq % 1000:03d}",
        service="A",
        window=str(seq % 6 + 1),
        window_name=f"{seq % 6 + 1}号窗口",
        kind="call",
        green=seq % 7 == 0,
        time=time.time(),
        seq=seq,
    )


def bare_fps(seconds: float = 2.0) -> float:
    """A bare pygame loop: fill the 1080p screen and flip, as fast as it goes."""
    surface = pygame.display.set_mode(SIZE)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        surface.fill((n % 255, 0, 0))
        pygame.display.flip()
        n += 1
    return n / (time.perf_counter() - t0)


def redraw_fps(seconds: float = 3.0) -> float:
    """Full 1080p redraws (compose + paint + flip) with 50 recent calls, every frame new."""
    font = load(find_font())
    measure = font_measure(font)
    surface = pygame.display.set_mode(SIZE)
    hall = st.parse_hall(asdict(hall_message()))
    hall = replace(hall, display=replace(hall.display, recent=50))
    s = st.set_online(st.apply_hall(st.empty(HALL), hall), True)
    for i in range(1, 56):
        s = st.add_call(s, st.call_of(asdict(call(i))), 0.0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        # a moving clock time each frame: the frame differs, so it is really drawn
        frame = tv.compose(s, SIZE, 100.0 + n, 1.7e9 + n * 60, measure)
        paint(surface, font, frame.items)
        pygame.display.flip()
        n += 1
    return n / (time.perf_counter() - t0)


async def frame_latency(broker: Broker, calls: int, rate: float) -> list[float]:
    """MQTT message received by the screen's link -> the frame with it painted, in ms."""
    store = Store(st.empty(HALL))
    received: dict[int, float] = {}  # store version after the call -> time received
    lat: list[float] = []

    ready, all_drawn = asyncio.Event(), asyncio.Event()

    def on_frame(version: int, t: float) -> None:
        for v in [v for v in received if v <= version]:
            lat.append((t - received.pop(v)) * 1000)
        if len(lat) == calls:
            all_drawn.set()

    class TimedFeed(Feed):
        async def on_message(self, msg: Message) -> None:
            t = time.monotonic()
            await super().on_message(msg)
            if msg.kind == "calls":
                received[store.version] = t
            if store.state.synced:
                ready.set()

    feed = TimedFeed(store, parse_mqtt_url(broker.url("hallcall-display")), HALL)
    surface = pygame.display.set_mode(SIZE)
    screen = Screen(store, tv.compose, surface, load(find_font()), on_frame=on_frame)
    tasks = [asyncio.create_task(feed.run()), asyncio.create_task(screen.run())]
    async with aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username="hallcall-server",
        password=broker.passwords["hallcall-server"],
        identifier=f"bench-{uuid.uuid4().hex[:6]}",
    ) as pub:
        await pub.publish(topic_hall(HALL), encode(hall_message()), qos=1, retain=True)
        board = Board(HALL, "大厅", 1, 0, time.time())
        await pub.publish(topic_board(HALL), encode(board), qos=1, retain=True)
        async with asyncio.timeout(10):
            await ready.wait()
        t0 = time.monotonic()
        for seq in range(1, calls + 1):
            await asyncio.sleep(max(0.0, t0 + seq / rate - time.monotonic()))
            await pub.publish(topic_calls(HALL), encode(call(seq)), qos=1)
        async with asyncio.timeout(10):
            await all_drawn.wait()
    feed.stop()
    screen.stop()
    await asyncio.gather(*tasks)
    if len(lat) != calls:
        raise RuntimeError(f"{calls} calls sent, {len(lat)} drawn")
    return lat


def voice_latency(calls: int, pack_dir: Path, out: Path) -> list[float]:
    """Call handed to the voice worker -> its first sample goes out, in ms (file output, so
    the worker is free again at once; calls spaced so none waits behind another)."""
    hall = st.parse_hall(asdict(hall_message()))
    Pack(pack_dir).build(hall_tokens(hall))
    started: dict[str, float] = {}
    speaker = Speaker(
        Pack(pack_dir), FileOutput(out), on_start=lambda c, t: started.__setitem__(c.event, t)
    )
    speaker.configure(hall)
    lat = []
    try:
        for seq in range(1, calls + 1):
            c = st.call_of(asdict(call(seq)))
            t0 = time.monotonic()
            speaker.submit(c)
            while c.event not in started:
                time.sleep(0.0005)
            lat.append((started[c.event] - t0) * 1000)
            while not speaker.idle():
                time.sleep(0.001)
    finally:
        speaker.close()
    return lat


def idle_cpu(broker: Broker, seconds: float, notices: bool) -> float:
    """% of one core used by a headless `display-client tv` with nothing happening."""

    async def publish() -> None:
        async with aiomqtt.Client(
            "127.0.0.1",
            broker.port,
            username="hallcall-server",
            password=broker.passwords["hallcall-server"],
            identifier=f"bench-{uuid.uuid4().hex[:6]}",
        ) as pub:
            hm = hall_message(notices)
            await pub.publish(topic_hall(HALL), encode(hm), qos=1, retain=True)

    asyncio.run(publish())
    binary = str(Path(sys.executable).parent / "display-client")
    proc = subprocess.Popen(
        [binary, "tv", "--hall", HALL, "--headless", "--no-voice",
         "--mqtt-url", broker.url("hallcall-display")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(3)  # start-up (imports, font) is not idling
        if proc.poll() is not None:
            raise RuntimeError("display-client tv exited")
        c0, t0 = _cpu(proc.pid), time.monotonic()
        time.sleep(seconds)
        c1, t1 = _cpu(proc.pid), time.monotonic()
    finally:
        proc.terminate()
        proc.wait(10)
    return 100 * (c1 - c0) / (t1 - t0)


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _fmt(p: dict[str, float]) -> str:
    return " / ".join(f"{p[k]:.1f}" for k in ("p50", "p90", "p99", "max"))


def run(calls: int = 100, rate: float = 5.0, idle_seconds: float = 20.0) -> None:
    pygame.display.init()
    print("display: hall screens (1080p, SDL dummy driver)", flush=True)
    print(f"  bare pygame fill+flip loop                {bare_fps():8.0f} frames/s")
    print(f"  full TV redraw, 50 recent calls           {redraw_fps():8.0f} frames/s  (≥ 30)")
    with stack() as s:
        lat = asyncio.run(frame_latency(s.broker, calls, rate))
        print(f"  MQTT received -> frame drawn, ms p50/p90/p99/max  {_fmt(percentiles(lat))}"
              f"  ({calls} calls at {rate:.0f}/s; p99 ≤ 50)")  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            vl = voice_latency(calls, Path(tmp) / "pack", Path(tmp) / "audio")
        print(f"  call -> first audio sample, ms p50/p90/p99/max    {_fmt(percentiles(vl))}"
              "  (p99 ≤ 150)")  # fmt: skip
        for notices in (False, True):
            cpu = idle_cpu(s.broker, idle_seconds, notices)
            what = "clock and notices" if notices else "clock only"
            print(f"  idle TV ({what}), % of one core      {cpu:8.1f}  (≤ 5)", flush=True)
    pygame.display.quit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--idle-seconds", type=float, default=20.0)
    a = ap.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        run(a.calls, a.rate, a.idle_seconds)


if __name__ == "__main__":
    main()
