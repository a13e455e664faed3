"""`display-client` start-up errors: one line, naming the Debian package to install."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace

from display_client import state as st
from display_client.app import voice_problem
from display_client.voice.pack import espeak_missing
from tests.display_support import BIN
from tests.services import ROOT

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN, *args], env={**os.environ, **env}, capture_output=True, text=True,
        timeout=60, cwd=ROOT, check=False,
    )  # fmt: skip


def test_a_font_without_chinese_stops_with_one_line() -> None:
    base = ["tv", "--hall", "demo", "--headless", "--mqtt-url", "mqtt://127.0.0.1:1"]
    for font, says in ((DEJAVU, "lacks Chinese glyphs"), ("/nonexistent.ttc", "no font file")):
        out = run(*base, HALLCALL_FONT=font)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
        assert says in out.stderr
    assert "fonts-noto-cjk" in run(*base, HALLCALL_FONT=DEJAVU).stderr


def test_bad_settings_stop_with_one_line() -> None:
    out = run("tv", "--hall", "demo", "--mqtt-url", "http://x")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "HALLCALL_MQTT_URL" in out.stderr
    out = run("led", "--hall", "demo", "--window", "3", "--size", "big")
    assert out.returncode == 2 and "WIDTHxHEIGHT" in out.stderr


def test_without_espeak_a_speaking_hall_stops_a_chiming_one_warns() -> None:
    assert espeak_missing() is None  # installed here by scripts/ensure-system.sh
    why = "espeak-ng is missing: install the Debian packages espeak-ng libespeak-ng1"
    hall = st.Hall("demo", st.Text("大厅"))
    fatal, line = voice_problem(hall, why) or (False, "")
    assert fatal and "espeak-ng libespeak-ng1" in line and "\n" not in line
    chime = replace(hall, voice=replace(hall.voice, mode="chime"))
    assert voice_problem(chime, why) == (
        False, f"{why}; hall demo has voice mode chime: no speech"
    )  # fmt: skip
    assert voice_problem(hall, None) is None
