"""The fuzz harness on every test run: each target's adapter on 2,000 generated inputs gives only the
target's typed errors, and the harness itself tells crashes and hangs apart from answers.

The at-scale run (10^6 coverage-guided inputs per target, with timing) is ``bench/fuzz.py``; this is its
smoke test. Inputs come from the harness's own seeded mutation generator, so a failure here reproduces
exactly. Timing decides nothing here: the hang rule is checked with a fake clock.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import fuzz  # bench/ is not a package: imported from its folder
from fuzz_targets import TARGETS, Target, generate

INPUTS = 2_000
SEED = 20261127


def _crash_report(out: Path) -> str:
    return "\n\n".join(p.read_text() for p in sorted(out.glob("crash-*.txt")))


@pytest.mark.parametrize("name", list(TARGETS))
def test_generated_inputs_give_only_typed_errors(name: str, tmp_path: Path) -> None:
    target = TARGETS[name]
    recorder = fuzz.Recorder(target, tmp_path, "mutate", hang_ms=float("inf"))
    for data in generate(target, INPUTS, SEED):
        recorder(data)
    stats = recorder.finish()
    assert stats.inputs == INPUTS
    assert stats.crashes == 0, _crash_report(tmp_path)


@pytest.mark.parametrize("name", list(TARGETS))
def test_seed_corpus_is_accepted(name: str, tmp_path: Path) -> None:
    """The seeds are valid inputs made by the encoders: no typed error, no crash, and enough of them."""
    target = TARGETS[name]
    seeds = target.seeds()
    assert len(seeds) >= 5 and all(isinstance(s, bytes) and len(s) <= target.max_len for s in seeds)
    recorder = fuzz.Recorder(target, tmp_path, "seeds", hang_ms=float("inf"))
    for data in seeds:
        recorder(data)
    assert (recorder.stats.typed, recorder.stats.crashes) == (0, 0), _crash_report(tmp_path)


def test_generator_is_deterministic_and_really_mutates() -> None:
    target = TARGETS["sip2"]
    first = list(generate(target, 500, SEED))
    assert first == list(generate(target, 500, SEED))
    assert first != list(generate(target, 500, SEED + 1))
    seeds = set(target.seeds())
    assert sum(data not in seeds for data in first) > 450
    assert all(len(data) <= target.max_len for data in first)


def _broken(data: bytes) -> None:
    if data.startswith(b"bug"):
        raise KeyError(data)
    if data.startswith(b"bad"):
        raise ValueError("the typed error")


BROKEN = Target("broken", "a parser with a bug", _broken, (ValueError,), lambda: [b"ok"])


def test_recorder_keeps_crash_inputs_and_goes_on(tmp_path: Path) -> None:
    recorder = fuzz.Recorder(BROKEN, tmp_path, "test", hang_ms=float("inf"))
    for data in (b"ok", b"bad", b"bug1", b"bug2", b"ok"):
        recorder(data)
    stats = recorder.finish()
    assert (stats.inputs, stats.typed, stats.crashes) == (5, 1, 2)
    [(signature, count)] = stats.signatures.items()
    assert signature.startswith("KeyError at tests/bench/test_fuzz_smoke.py:") and count == 2
    saved = sorted(p.read_bytes() for p in tmp_path.glob("crash-*") if p.suffix != ".txt")
    assert saved == [b"bug1", b"bug2"]
    assert "raise KeyError(data)" in _crash_report(tmp_path)


class FakeClock:
    """Nanoseconds that pass only when the adapter says so."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


def test_a_machine_too_busy_to_run_the_fuzzer_is_not_a_hang(tmp_path: Path) -> None:
    # Wall time runs on (other processes have the CPU) while the input costs its thread 1 ms.
    wall, cpu = FakeClock(), FakeClock()

    def adapter(data: bytes) -> None:
        wall.now += 500_000_000
        cpu.now += 1_000_000

    target = Target("starved", "a cheap parser on a busy machine", adapter, (), lambda: [])
    recorder = fuzz.Recorder(target, tmp_path, "test", hang_ms=100, clock=wall, cost_clock=cpu)
    recorder(b"cheap")
    stats = recorder.finish()
    assert (stats.hangs, stats.slow_not_reproduced, stats.max_ms) == (0, 0, 1.0)
    assert stats.seconds == pytest.approx(0.5)  # exec/s is still wall time


def test_hang_needs_every_rerun_over_the_limit(tmp_path: Path) -> None:
    clock = FakeClock()
    calls: dict[bytes, int] = {}

    def adapter(data: bytes) -> None:
        calls[data] = calls.get(data, 0) + 1
        if data == b"always slow" or (data == b"slow once" and calls[data] == 1):
            clock.now += 150_000_000
        else:
            clock.now += 1_000

    target = Target("timed", "a parser with a slow input", adapter, (), lambda: [])
    recorder = fuzz.Recorder(target, tmp_path, "test", hang_ms=100, clock=clock, cost_clock=clock)
    for data in (b"fast", b"slow once", b"always slow", b"fast"):
        recorder(data)
    stats = recorder.finish()
    assert (stats.hangs, stats.slow_not_reproduced) == (1, 1)
    assert calls == {b"fast": 2, b"slow once": 4, b"always slow": 4}
    assert stats.max_ms == 150.0
    assert [p.read_bytes() for p in tmp_path.glob("hang-*") if p.suffix != ".txt"] == [b"always slow"]
    # the three re-runs of each slow input are not fuzzing time: 2 fast + 2 first runs
    assert stats.seconds * 1e9 == pytest.approx(2 * 1_000 + 2 * 150_000_000)
