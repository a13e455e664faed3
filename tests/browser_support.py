"""What the browser tests share: Debian's Chromium driven by Playwright, a page at a desktop
size, and a real server process for a hall file (a `Site`: its address, its API, a folder for
the screenshots each test keeps)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

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


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    yield page
    context.close()


class Site:
    """A hall a test server process serves: its pages' address, its API, the screenshots."""

    def __init__(self, proc: HttpProcess, hall: str, shots: Path) -> None:
        self.proc, self.url, self.hall, self.shots = proc, proc.url, hall, shots

    def api(self, method: str, path: str, body: Any = None, token: str = "") -> Any:
        req = urllib.request.Request(  # noqa: S310 (loopback)
            f"{self.url}/api/v1/halls/{self.hall}{path}",
            data=json.dumps(body).encode() if body is not None else b"",
            method=method,
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
        )
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
            return json.load(resp)

    def waiting(self) -> dict[str, int]:
        info = self.api("GET", "")
        return {s["id"]: s["waiting"] for s in info["services"]}

    def shot(self, page: Page, name: str) -> None:
        page.screenshot(path=self.shots / f"{name}.png", full_page=True)


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
