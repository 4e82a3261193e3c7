"""The kiosk's three sound cues, made on the machine instead of shipped as binary files.

"success" (an item done), "attention" (look at the screen: put it back, renew?) and "error" (not
done) are short tone sequences written once to WAV files with the standard library's ``wave`` module
into a cache directory, then played through Kivy's ``SoundLoader``. Generating them keeps binary
assets out of git and lets a site's volume apply to the samples themselves.

Sound is a courtesy: a kiosk without a sound card, with a broken audio driver or an unwritable cache
stays silent and keeps working. Every failure is logged once and swallowed.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import struct
import tempfile
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RATE = 22050


@dataclass(frozen=True, slots=True)
class Tone:
    hz: float  # 0: a pause
    seconds: float


CUES: dict[str, tuple[Tone, ...]] = {
    "success": (Tone(880, 0.09), Tone(0, 0.02), Tone(1318.5, 0.14)),  # rising: done
    "attention": (Tone(988, 0.12), Tone(0, 0.08), Tone(988, 0.12)),  # two equal beeps: look here
    "error": (Tone(330, 0.16), Tone(0, 0.04), Tone(247, 0.28)),  # falling, low: not done
}


def synthesise(tones: Sequence[Tone], rate: int = RATE) -> bytes:
    """16-bit mono PCM of the tones: sines with a short fade in and out (no clicks)."""
    frames = bytearray()
    fade = int(rate * 0.008)
    for tone in tones:
        count = int(rate * tone.seconds)
        for i in range(count):
            if tone.hz <= 0:
                sample = 0.0
            else:
                envelope = min(1.0, i / fade, (count - 1 - i) / fade) if fade else 1.0
                sample = 0.6 * envelope * math.sin(2 * math.pi * tone.hz * i / rate)
            frames += struct.pack("<h", int(sample * 32767))
    return bytes(frames)


def write_wav(path: Path, pcm: bytes, rate: int = RATE) -> None:
    """Write atomically: a kiosk killed mid-write leaves no truncated file to play next time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as raw, wave.open(raw, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(pcm)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cue_path(cache_dir: Path, kind: str) -> Path:
    """The file of a cue; its name carries a digest of the tones so a changed cue is made anew."""
    digest = hashlib.sha256(repr((CUES[kind], RATE)).encode()).hexdigest()[:12]
    return cache_dir / f"{kind}-{digest}.wav"


def default_cache_dir(environ: dict[str, str] | None = None) -> Path:
    """systemd's ``CacheDirectory=kiosk`` (``$CACHE_DIRECTORY``, what kiosk-ui.service sets), else the
    user's cache (``$XDG_CACHE_HOME`` or ``~/.cache``)/kiosk."""
    env = os.environ if environ is None else environ
    if env.get("CACHE_DIRECTORY"):
        return Path(env["CACHE_DIRECTORY"].split(":")[0]) / "sounds"
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kiosk" / "sounds"


def _kivy_loader(path: str) -> Any:
    from kivy.core.audio import SoundLoader

    return SoundLoader.load(path)


class Sounds:
    """Plays cues by kind. Call :meth:`play` on the Kivy thread (the app does).

    ``loader`` turns a file path into a Kivy ``Sound`` (or None); tests pass their own.
    """

    def __init__(self, *, enabled: bool = True, volume: float = 0.8, cache_dir: Path | None = None,
                 loader: Callable[[str], Any] = _kivy_loader) -> None:
        self.enabled = enabled
        self.volume = volume
        self.cache_dir = cache_dir or default_cache_dir()
        self._loader = loader
        self._sounds: dict[str, Any] = {}
        self._broken: set[str] = set()
        self.played: list[str] = []  # cues actually started, for staff diagnostics and tests

    def prepare(self) -> None:
        """Make and load every cue now (at start), so the first cue is not late."""
        if self.enabled:
            for kind in CUES:
                self._sound(kind)

    def play(self, kind: str) -> bool:
        """Start the cue; False when silenced, unknown or the audio system failed (never raises)."""
        if not self.enabled or kind not in CUES:
            return False
        sound = self._sound(kind)
        if sound is None:
            return False
        try:
            sound.stop()
            sound.volume = self.volume
            sound.play()
        except Exception:  # an audio driver must never take the UI down
            self._give_up(kind, "cannot be played")
            return False
        self.played.append(kind)
        return True

    def _sound(self, kind: str) -> Any:
        if kind in self._broken:
            return None
        if kind in self._sounds:
            return self._sounds[kind]
        try:
            path = cue_path(self.cache_dir, kind)
            if not path.is_file():
                write_wav(path, synthesise(CUES[kind]))
            sound = self._loader(str(path))
        except Exception:  # no cache, no audio provider: stay silent
            self._give_up(kind, "cannot be made or loaded")
            return None
        if sound is None:
            self._give_up(kind, "has no audio provider")
            return None
        self._sounds[kind] = sound
        return sound

    def _give_up(self, kind: str, why: str) -> None:
        self._broken.add(kind)
        log.warning("sound %r %s; the kiosk carries on without it", kind, why, exc_info=True)
