"""What `make run` starts (scripts/services.sh), on free ports in a temp folder: Redis with the
project's config, Mosquitto with its users and ACL, and the server with the demo hall; after
a crash (SIGKILL) one start brings them all back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.services import ROOT, free_port


@pytest.mark.slow
def test_the_demo_services_come_up_survive_a_crash_and_go_down(tmp_path: Path) -> None:
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
        crash_and_start_once(tmp_path / "var", run, base)
    finally:
        stopped = run("stop")
    assert stopped.returncode == 0
    assert not list((tmp_path / "var").rglob("*.pid"))


def crash_and_start_once(
    var: Path, run: Callable[[str], subprocess.CompletedProcess[str]], base: str
) -> None:
    """SIGKILL Redis, Mosquitto and the server at once: their pid files stay behind, naming
    pids that are gone or zombies not yet reaped (kill -0 still finds those). Redis's file is
    then made to name a live process of another program (this test). One start must bring all
    back, Redis answering before the server starts (else it exits "cannot reach Redis")."""
    pidfiles = [var / "redis" / "redis.pid", var / "mosquitto" / "mosquitto.pid"]
    pidfiles.append(var / "queue-server.pid")
    for pidfile in pidfiles:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
    (var / "redis" / "redis.pid").write_text(f"{os.getpid()}\n")
    again = run("start")
    assert again.returncode == 0, again.stderr
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as resp:  # noqa: S310
        assert json.load(resp) == {"redis": True, "mqtt": {"demo": True}, "status": "ok"}
    assert int((var / "redis" / "redis.pid").read_text()) != os.getpid()
