"""What the browser tests share: Debian's Chromium driven by Playwright, and a real server
process for a hall file, with a folder for the screenshots each test keeps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.services import Broker, HttpProcess, RedisServer

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own download is not reachable here
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@contextmanager
def serving(
    root: Path, hall_text: str, redis_server: RedisServer, broker: Broker
) -> Iterator[tuple[HttpProcess, Path]]:
    """A queue server for `hall_text`, up, and the screenshots folder; stopped afterwards."""
    config = root / "hall.toml"
    config.write_text(hall_text, encoding="utf-8")
    proc = HttpProcess.queue_server(config, redis_server.url, broker.url(), root / "server.log")
    shots = root / "screenshots"
    shots.mkdir()
    try:
        proc.wait()
        yield proc, shots
    finally:
        proc.stop()
