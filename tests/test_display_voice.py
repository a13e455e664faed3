"""The call voice: clips synthesised by pyttsx3 + espeak-ng, joined per call, spoken in order."""

from __future__ import annotations

import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from display_client import state as st
from display_client.voice import audio
from display_client.voice.pack import Pack
from display_client.voice.policy import hall_tokens, round_tokens
from display_client.voice.speaker import FileOutput, Speaker

BIN = str(Path(sys.executable).parent / "display-client")
HALL = st.Hall(
    "demo",
    st.Text("示范大厅"),
    timezone="Asia/Shanghai",
    windows={"3": st.Text("3号窗口", "Window 3")},
    voice=st.Voice(mode="speech", repeat=1, volume=1.0, quiet_hours=()),
)
NOON = 1795147200.0  # 2026-11-20 12:00 Shanghai (wall clock for the quiet-hours test)
A012 = st.ShownCall("A012", "3", "3号窗口", False, "call", 1, "e1", 0.0)


@pytest.fixture(scope="module")
def pack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pack")
    made = Pack(folder).build(hall_tokens(HALL))
    assert made > 40  # digits, letters, chime, the template's words, the window
    return folder


@pytest.fixture
def speaker(pack_dir: Path, tmp_path: Path) -> Iterator[Speaker]:
    sp = Speaker(Pack(pack_dir), FileOutput(tmp_path / "audio"), wall=lambda: NOON - 3600)
    yield sp
    sp.close()


def spoken(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.wav"))


def test_announcement_is_the_clips_in_order(speaker: Speaker) -> None:
    tokens = round_tokens(HALL, A012, "speech")
    assert [t.key for t in tokens] == [
        "chime",
        "请",
        "A",
        "0",
        "1",
        "2",
        "号",
        "到",
        "3号窗口",
        "办理",
    ]
    samples = speaker.assemble(A012, HALL)
    assert samples is not None
    clips = [speaker.pack.clip(t) for t in tokens]
    expected = audio.join(clips, gap=0.04)
    assert np.array_equal(samples[: len(expected)], expected)
    for t, c in zip(tokens, clips, strict=True):
        assert audio.rms(c) > 500, f"clip {t.key} is silent"
    assert audio.rms(samples) > 1000
    twice = speaker.assemble(A012, replace(HALL, voice=replace(HALL.voice, repeat=2)))
    assert twice is not None and len(twice) == 2 * len(samples)


def test_a_burst_of_twenty_is_spoken_in_order(speaker: Speaker, tmp_path: Path) -> None:
    speaker.configure(HALL)
    calls = [replace(A012, number=f"B{i:03d}", seq=i, event=f"e{i}") for i in range(1, 21)]

    # from another thread, as the feed does, while the worker is busy
    def feed() -> None:
        for c in calls:
            speaker.submit(c)

    feeder = threading.Thread(target=feed)
    feeder.start()
    feeder.join()
    speaker.close()
    names = [p.name for p in spoken(tmp_path / "audio")]
    assert names == [f"{i:05d}-B{i:03d}.wav" for i in range(1, 21)]
    assert speaker.spoken == 20


def test_quiet_hours_chime_only(pack_dir: Path, tmp_path: Path) -> None:
    hall = replace(HALL, voice=replace(HALL.voice, quiet_hours=("11:30-13:00",)))
    sp = Speaker(Pack(pack_dir), FileOutput(tmp_path), wall=lambda: NOON)
    try:
        samples = sp.assemble(A012, hall)
        chime = sp.pack.clip(round_tokens(hall, A012, "chime")[0])
        assert samples is not None and len(samples) == len(chime) + int(audio.RATE * 0.8)
        off = replace(hall, voice=replace(hall.voice, quiet_mode="off"))
        assert sp.assemble(A012, off) is None
    finally:
        sp.close()


def test_a_hall_recording_replaces_the_synthetic_clip(pack_dir: Path, tmp_path: Path) -> None:
    overrides = tmp_path / "recorded"
    (overrides / "zh").mkdir(parents=True)
    t = np.arange(int(8000 * 0.3)) / 8000  # a recording at another rate, stereo
    tone = (np.sin(2 * np.pi * 440 * t) * 20000).astype("<i2")
    stereo = np.repeat(tone, 2)
    with wave.open(str(overrides / "zh" / "请.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(stereo.tobytes())
    pack = Pack(pack_dir, overrides)
    token = round_tokens(HALL, A012, "speech")[1]
    assert token.key == "请" and pack.source(token) == overrides / "zh" / "请.wav"
    clip = pack.clip(token)
    assert len(clip) == pytest.approx(audio.RATE * 0.3, abs=2)
    sp = Speaker(pack, FileOutput(tmp_path / "audio"))
    try:
        samples = sp.assemble(A012, HALL)
        assert samples is not None
        start = len(pack.clip(round_tokens(HALL, A012, "chime")[0])) + int(audio.RATE * 0.04)
        assert np.array_equal(samples[start : start + len(clip)], clip)
    finally:
        sp.close()


def test_voice_pack_build_and_check(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BIN, "voice-pack", *args], capture_output=True, text=True, timeout=60, check=False
        )

    out = run("build", "--voice-pack", str(tmp_path / "p"))
    assert out.returncode == 0 and "clips made" in out.stdout, out.stdout + out.stderr
    assert run("check", "--voice-pack", str(tmp_path / "p")).returncode == 0
    (tmp_path / "p" / "zh" / "7.wav").write_bytes(audio.wav_bytes(audio.silence(0.3)))
    (tmp_path / "p" / "zh" / "请.wav").unlink()
    bad = run("check", "--voice-pack", str(tmp_path / "p"))
    assert bad.returncode == 1
    assert "silent:" in bad.stdout and "7.wav" in bad.stdout and "missing: zh/请.wav" in bad.stdout
