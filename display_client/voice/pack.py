"""The clip pack: one WAV per token under ``{pack}/{lang}/{key}.wav`` plus ``chime.wav``,
synthesised once with pyttsx3 and espeak-ng and kept. A hall may put recorded clips with the
same names in an overrides folder; those win.

pyttsx3 is used from one thread only (the voice worker owns the pack), with `save_to_file`
(`say` would need aplay).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from display_client.voice import audio
from display_client.voice.tokens import CHIME, Token, base_tokens

log = logging.getLogger(__name__)

# espeak-ng 1.51's "cmn" voice reads Chinese as pinyin with tone numbers; this one speaks it.
VOICES = {"zh": "cmn-latn-pinyin", "en": "en"}
MIN_RMS = 200.0  # a clip quieter than this is broken (or silent)


class VoiceUnavailable(RuntimeError):
    """Speech cannot be synthesised here; the message is one line naming the fix."""


def espeak_missing() -> str | None:
    """Why synthesis cannot work here, or None."""
    if shutil.which("espeak-ng") is None and not Path("/usr/bin/espeak-ng").exists():
        return "espeak-ng is missing: install the Debian packages espeak-ng libespeak-ng1"
    return None


class Synth:
    """pyttsx3 with the espeak driver, made on first use in the calling thread."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._voices: dict[str, str] = {}

    def _init(self) -> Any:
        if self._engine is None:
            why = espeak_missing()
            if why:
                raise VoiceUnavailable(why)
            import pyttsx3

            try:
                engine = pyttsx3.init("espeak")
            except (OSError, RuntimeError) as exc:
                raise VoiceUnavailable(
                    f"espeak-ng does not load ({exc}): install libespeak-ng1"
                ) from exc
            ids = [v.id for v in engine.getProperty("voices")]
            for lang, name in VOICES.items():
                # pyttsx3 silently keeps English for an unknown id: find the real one
                match = [i for i in ids if i == name or i.endswith("/" + name)]
                if not match:
                    raise VoiceUnavailable(f"espeak-ng has no voice {name!r}")
                self._voices[lang] = match[0]
            self._engine = engine
        return self._engine

    def speak_to(self, text: str, lang: str, path: Path) -> None:
        engine = self._init()
        engine.setProperty("voice", self._voices.get(lang, self._voices["zh"]))
        engine.setProperty("rate", 170)
        with contextlib.redirect_stdout(io.StringIO()):  # the driver prints "Audio saved to"
            engine.save_to_file(text, str(path))
            engine.runAndWait()


class Pack:
    """Clips on disk and in memory. Not thread-safe: one voice worker uses it."""

    def __init__(self, folder: Path, overrides: Path | None = None) -> None:
        self.folder = folder
        self.overrides = overrides
        self.synth = Synth()
        self._cache: dict[str, audio.Samples] = {}

    def _paths(self, file: str) -> list[Path]:
        paths = [self.overrides / file] if self.overrides else []
        return [*paths, self.folder / file]

    @staticmethod
    def file_of(token: Token) -> str:
        return "chime.wav" if token.key == CHIME else token.file

    def source(self, token: Token) -> Path | None:
        """Where the clip comes from: the hall's recording if any, else the synthetic one."""
        for p in self._paths(self.file_of(token)):
            if p.is_file():
                return p
        return None

    def clip(self, token: Token) -> audio.Samples:
        """The clip's samples, synthesising and saving it first when missing."""
        file = self.file_of(token)
        got = self._cache.get(file)
        if got is not None:
            return got
        try:
            path = self.source(token)
            if path is None:
                path = self._make(token)
            try:
                samples = audio.read_wav(path)
            except audio.AudioError as exc:
                log.warning("%s; using the synthetic clip", exc)
                samples = audio.read_wav(self._make(token))
        except audio.AudioError as exc:  # the call is still spoken, with a gap for this word
            log.warning("%s", exc)
            return audio.silence(0.2)
        self._cache[file] = samples
        return samples

    def _make(self, token: Token) -> Path:
        dest = self.folder / self.file_of(token)
        dest.parent.mkdir(parents=True, exist_ok=True)
        samples = audio.chime() if token.key == CHIME else self._synthesise(token)
        tmp_dest = dest.with_suffix(".tmp")
        tmp_dest.write_bytes(audio.wav_bytes(samples))
        os.replace(tmp_dest, dest)
        return dest

    def _synthesise(self, token: Token, attempts: int = 3) -> audio.Samples:
        """The token spoken; espeak-ng now and then hands back an empty file (seen on a loaded
        machine), so a silent result is made again rather than kept."""
        for _ in range(attempts):
            with tempfile.TemporaryDirectory() as tmp:
                raw = Path(tmp) / "raw.wav"
                self.synth.speak_to(token.say, token.lang, raw)
                try:
                    samples = audio.trim(audio.read_wav(raw))
                except audio.AudioError:
                    continue
            if audio.rms(samples) >= MIN_RMS:
                return samples
        raise audio.AudioError(f"espeak-ng made no sound for {token.say!r} ({token.lang})")

    def forget(self) -> None:
        """Drop the memory cache (the overrides folder changed)."""
        self._cache.clear()

    def build(self, tokens: list[Token]) -> int:
        """Make every missing clip of `tokens` (and the digits, letters and chime); returns how
        many were made."""
        made = 0
        langs = {t.lang for t in tokens if t.lang} or {"zh"}
        wanted = [Token("", CHIME, ""), *(t for lang in sorted(langs) for t in base_tokens(lang))]
        for token in [*wanted, *tokens]:
            if not (self.folder / self.file_of(token)).is_file():
                try:
                    self._make(token)
                except audio.AudioError as exc:  # left missing: `check` names it
                    log.warning("%s", exc)
                    continue
                made += 1
        return made

    def check(self, tokens: list[Token]) -> list[str]:
        """One line per problem: a clip missing, unreadable or silent."""
        problems = []
        langs = {t.lang for t in tokens if t.lang} or {"zh"}
        wanted = [Token("", CHIME, ""), *(t for lang in sorted(langs) for t in base_tokens(lang))]
        for token in [*wanted, *tokens]:
            path = self.source(token)
            if path is None:
                problems.append(f"missing: {self.file_of(token)}")
                continue
            try:
                level = audio.rms(audio.read_wav(path))
            except audio.AudioError as exc:
                problems.append(str(exc))
                continue
            if level < MIN_RMS:
                problems.append(f"silent: {path} (RMS {level:.0f})")
        return problems
