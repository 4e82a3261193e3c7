"""The sound cues: made on the machine as WAV files, played through Kivy, and never a reason for the
UI to fail (no sound card, a broken driver, an unwritable cache)."""

from __future__ import annotations

import itertools
import logging
import math
import os
import struct
import wave
from pathlib import Path

import pytest

from kiosk.ui.sounds import CUES, RATE, Sounds, cue_path, default_cache_dir, synthesise, write_wav


class FakeSound:
    def __init__(self) -> None:
        self.volume = 1.0
        self.plays = 0

    def play(self) -> None:
        self.plays += 1

    def stop(self) -> None:
        pass


def test_each_cue_is_written_as_a_wav_of_its_tones(tmp_path) -> None:
    for kind, tones in CUES.items():
        path = cue_path(tmp_path, kind)
        write_wav(path, synthesise(tones))
        with wave.open(str(path), "rb") as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, RATE)
            frames = wav.readframes(wav.getnframes())
        assert wav.getnframes() == sum(int(RATE * t.seconds) for t in tones)
        samples = struct.unpack(f"<{len(frames) // 2}h", frames)
        assert max(abs(s) for s in samples) > 10000, kind  # audible
        assert abs(samples[0]) < 1000 and abs(samples[-1]) < 1000, kind  # faded: no click
    assert len({cue_path(tmp_path, k).name for k in CUES}) == len(CUES)


def test_the_tone_has_its_pitch() -> None:
    from kiosk.ui.sounds import Tone

    pcm = synthesise((Tone(1000, 0.05),))
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    crossings = sum(1 for a, b in itertools.pairwise(samples) if a < 0 <= b)
    assert math.isclose(crossings, 50, abs_tol=2)  # 1000 Hz for 50 ms


def test_cues_are_made_once_and_played_at_the_sites_volume(tmp_path) -> None:
    loaded: list[str] = []
    sound = FakeSound()

    def loader(path: str) -> FakeSound:
        loaded.append(path)
        return sound

    sounds = Sounds(enabled=True, volume=0.3, cache_dir=tmp_path, loader=loader)
    sounds.prepare()
    assert sorted(os.path.basename(p) for p in loaded) == sorted(cue_path(tmp_path, k).name for k in CUES)
    assert sounds.play("success") and sounds.play("success") and sounds.play("error")
    assert sound.plays == 3 and sound.volume == 0.3
    assert len(loaded) == 3  # made and loaded once
    assert sounds.played == ["success", "success", "error"]
    assert not sounds.play("fanfare")


def test_sounds_off_means_silence_and_no_files(tmp_path) -> None:
    sounds = Sounds(enabled=False, cache_dir=tmp_path, loader=lambda path: pytest.fail("loaded"))
    sounds.prepare()
    assert not sounds.play("success")
    assert list(tmp_path.iterdir()) == []


def test_a_broken_audio_system_is_logged_once_and_leaves_the_kiosk_silent(tmp_path, caplog) -> None:
    calls = []

    def broken(path: str) -> None:
        calls.append(path)
        raise OSError("no audio device")

    sounds = Sounds(cache_dir=tmp_path, loader=broken)
    with caplog.at_level(logging.WARNING, logger="kiosk.ui.sounds"):
        assert not sounds.play("attention")
        assert not sounds.play("attention")
    assert len(calls) == 1 and len(caplog.records) == 1
    # No provider at all (Kivy's SoundLoader returns None), or a sound that fails when played.
    assert not Sounds(cache_dir=tmp_path, loader=lambda path: None).play("error")

    class Exploding(FakeSound):
        def play(self) -> None:
            raise RuntimeError("ALSA underrun")

    assert not Sounds(cache_dir=tmp_path, loader=lambda path: Exploding()).play("error")


def test_an_unwritable_cache_leaves_the_kiosk_silent(tmp_path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    sounds = Sounds(cache_dir=blocked / "sounds", loader=lambda path: FakeSound())
    assert not sounds.play("success")


def test_kivys_own_sound_loader_on_the_dummy_audio_driver_never_raises(tmp_path) -> None:
    assert os.environ.get("SDL_AUDIODRIVER") == "dummy"
    sounds = Sounds(cache_dir=tmp_path)  # the real SoundLoader
    for kind in CUES:
        assert sounds.play(kind) in (True, False)
    assert all(cue_path(tmp_path, k).is_file() for k in CUES)


def test_the_cache_is_systemds_cache_directory_when_the_service_has_one() -> None:
    assert default_cache_dir({"CACHE_DIRECTORY": "/var/cache/kiosk"}) == Path("/var/cache/kiosk/sounds")
    assert default_cache_dir({"XDG_CACHE_HOME": "/home/k/.cache"}) == Path("/home/k/.cache/kiosk/sounds")
