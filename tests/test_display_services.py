"""What `make run` starts for the screens (scripts/services.sh): a headless TV and window 3's
LED strip writing PNGs under var/screens/, on free ports in a temp folder."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pygame
import pytest

from tests.display_support import shows_number
from tests.services import ROOT, free_port


@pytest.mark.slow
def test_make_run_starts_a_tv_and_a_strip(tmp_path: Path) -> None:
    ports = {"redis": free_port(), "mqtt": free_port(), "http": free_port()}
    var = tmp_path / "var"
    env = {
        **os.environ,
        "HALLCALL_VAR": str(var),
        "HALLCALL_REDIS_PORT": str(ports["redis"]),
        "HALLCALL_MQTT_PORT": str(ports["mqtt"]),
        "HALLCALL_HTTP": f"127.0.0.1:{ports['http']}",
    }

    def run(cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ROOT / "scripts" / "services.sh"), cmd],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    def post(path: str, body: dict[str, str], token: str = "") -> dict[str, object]:
        req = urllib.request.Request(
            f"http://127.0.0.1:{ports['http']}/api/v1/halls/demo{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
        )
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
            out: dict[str, object] = json.load(resp)
            return out

    try:
        started = run("start")
        assert started.returncode == 0, started.stderr
        assert "var/screens/tv.png" in run("info").stdout
        post("/tickets", {"service": "B"}, "demo-kiosk-1")
        called = post("/windows/3/next", {}, "demo-window-3")
        number = str(called["ticket"]["number"])  # type: ignore[index]
        tv, strip = var / "screens" / "tv.png", var / "screens" / "led-3.png"
        deadline = time.monotonic() + 20
        while not (tv.exists() and strip.exists() and shows_number(pygame.image.load(tv), number)):
            assert time.monotonic() < deadline, (var / "log" / "display-tv.log").read_text()
            time.sleep(0.1)
        assert pygame.image.load(strip).get_size() == (256, 64)
    finally:
        stopped = run("stop")
    assert stopped.returncode == 0
    assert not list(var.rglob("*.pid"))
