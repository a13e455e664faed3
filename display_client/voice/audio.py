"""Audio as numpy int16 mono arrays (pure): WAV in and out, trimming, joining, volume, RMS."""

from __future__ import annotations

import io
import math
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

RATE = 22050  # espeak-ng's rate: synthetic clips need no resampling
Samples = npt.NDArray[np.int16]


class AudioError(ValueError):
    """A WAV file that cannot be used; the message is one line."""


def read_wav(path: Path) -> Samples:
    """A WAV file as mono int16 at RATE (recorded clips may be stereo or another rate)."""
    try:
        with wave.open(str(path), "rb") as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            raw = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise AudioError(f"{path}: not a WAV file ({exc})") from exc
    if width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    elif width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128) * 256
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float64) / 65536
    else:
        raise AudioError(f"{path}: {8 * width}-bit samples are not supported")
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    if rate != RATE and len(data):
        n = max(1, round(len(data) * RATE / rate))
        data = np.interp(np.linspace(0, len(data) - 1, n), np.arange(len(data)), data)
    return np.clip(data, -32768, 32767).astype(np.int16)


def wav_bytes(samples: Samples) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def silence(seconds: float) -> Samples:
    return np.zeros(int(RATE * seconds), dtype=np.int16)


def trim(samples: Samples, floor: int = 300, keep: float = 0.01) -> Samples:
    """Cut leading and trailing silence (synthetic clips carry some), keeping `keep` s."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > floor)
    if not len(loud):
        return samples
    pad = int(RATE * keep)
    return samples[max(0, loud[0] - pad) : loud[-1] + pad + 1]


def join(parts: list[Samples], gap: float = 0.03) -> Samples:
    out: list[Samples] = []
    for i, p in enumerate(parts):
        if i:
            out.append(silence(gap))
        out.append(p)
    return np.concatenate(out) if out else silence(0)


def scaled(samples: Samples, volume: float) -> Samples:
    return np.clip(samples.astype(np.float64) * volume, -32768, 32767).astype(np.int16)


def rms(samples: Samples) -> float:
    if not len(samples):
        return 0.0
    return math.sqrt(float(np.mean(samples.astype(np.float64) ** 2)))


def chime() -> Samples:
    """A two-tone "ding-dong" with a soft decay, made here (no synthesis needed)."""
    out = []
    for freq, dur in ((880.0, 0.35), (698.5, 0.55)):
        t = np.arange(int(RATE * dur)) / RATE
        tone = np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(4 * np.pi * freq * t)
        env = np.exp(-3.0 * t / dur) * np.minimum(1.0, t / 0.01)
        out.append(tone * env * 0.45 * 32767)
    return np.concatenate(out).astype(np.int16)
