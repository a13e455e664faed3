"""What `make run` starts (scripts/services.sh), on free ports in a temp folder: Redis with the
project's config, Mosquitto with its users and ACL, and the server with the demo hall."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import redis

from tests.services import ROOT, free_port


@pytest.mark.slow
def test_the_demo_services_come_up_and_down(tmp_path: Path) -> None:
    ports = {"redis": free_port(), "mqtt": free_port(), "http": free_port(), "sms": free_port()}
    env = {
        **os.environ,
        "HALLCALL_VAR": str(tmp_path / "var"),
        "HALLCALL_REDIS_PORT": str(ports["redis"]),
        "HALLCALL_MQTT_PORT": str(ports["mqtt"]),
        "HALLCALL_HTTP": f"127.0.0.1:{ports['http']}",
        "HALLCALL_SMS_LISTEN": f"127.0.0.1:{ports['sms']}",
    }
    script = str(ROOT / "scripts" / "services.sh")

    def run(cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script, cmd], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    try:
        started = run("start")
        assert started.returncode == 0, started.stderr
        base = f"http://127.0.0.1:{ports['http']}"
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as resp:  # noqa: S310
            assert json.load(resp) == {"redis": True, "mqtt": {"demo": True}, "status": "ok"}
        sms = f"http://127.0.0.1:{ports['sms']}/healthz"
        with urllib.request.urlopen(sms, timeout=5) as resp:
            assert json.load(resp)["mqtt"] == {"demo": True}
        r = redis.Redis(port=ports["redis"], decode_responses=True)
        assert r.config_get("appendonly")["appendonly"] == "yes"
        assert r.config_get("appendfsync")["appendfsync"] == "always"
        info = run("info")
        assert (
            "hallcall demo hall is up" in info.stdout and "queue-server watch demo" in info.stdout
        )
        assert "window-client next --hall demo --window 3" in info.stdout
        panel = tmp_path / "var" / "snapshots" / "panel-demo-3.png"  # the headless panel
        deadline = time.monotonic() + 20
        while not panel.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert panel.exists(), (tmp_path / "var" / "log" / "window-panel.log").read_text()
        pad = panel.with_name("pad-demo-3.png")
        while not pad.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pad.exists(), (tmp_path / "var" / "log" / "window-pad.log").read_text()
        secrets = (tmp_path / "var" / "secrets.env").read_text()
        assert (
            "MQTT_PASSWORD_display=" in secrets
            and oct((tmp_path / "var" / "secrets.env").stat().st_mode)[-3:] == "600"
        )
        secret = tmp_path / "var" / "server.secret"  # HALLCALL_SECRET, made on first start
        assert len(secret.read_text().strip()) >= 16 and oct(secret.stat().st_mode)[-3:] == "600"
    finally:
        stopped = run("stop")
    assert stopped.returncode == 0
    assert not list((tmp_path / "var").rglob("*.pid"))
