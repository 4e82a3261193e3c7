"""Keyboard fallback: scanner bursts versus a person typing, decided on a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware_mocks.scanner import Keystroke, human_keystrokes, wedge_keystrokes
from kiosk.hardware.barcode import (
    KeyboardScanner,
    KeystrokeAssembler,
    Scan,
    ScanFormat,
    ScannerError,
    TypedText,
)

AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def run(assembler: KeystrokeAssembler, strokes: list[Keystroke], settle_at: float | None = None) -> list:
    results: list = []
    for kind, value, at in strokes:
        feed = assembler.feed_text if kind == "text" else assembler.feed_key
        results += feed(value, at)
    if settle_at is not None:
        results += assembler.poll(settle_at)
    return results


def test_a_scanner_burst_ending_in_enter_is_a_scan() -> None:
    assert run(KeystrokeAssembler(), wedge_keystrokes("30234000517861")) == ["30234000517861"]


def test_a_person_typing_the_same_digits_is_typed_text_with_nothing_lost() -> None:
    results = run(KeystrokeAssembler(), human_keystrokes("30234000517861"))
    assert all(isinstance(r, TypedText) for r in results)
    assert "".join(r.text for r in results) == "30234000517861"
    assert results[-1] == TypedText("", "enter")


def test_short_fast_bursts_are_not_scans() -> None:
    # Two keys pressed together by a person come close in time; min_length keeps them typed text.
    results = run(KeystrokeAssembler(min_length=4), wedge_keystrokes("ab"))
    assert results == [TypedText("ab", "enter")]


def test_a_slow_terminator_makes_the_burst_typed_text() -> None:
    strokes = [*wedge_keystrokes("1234", terminator="x")[:-1], ("key", "enter", 1.0)]
    assert run(KeystrokeAssembler(), strokes) == [TypedText("1234"), TypedText("", "enter")]


def test_typing_then_a_scan_then_typing_are_told_apart() -> None:
    strokes = human_keystrokes("hi", start=0.0)[:-1]
    strokes += wedge_keystrokes("A1234B", start=2.0)
    strokes += human_keystrokes("ok", start=5.0)
    results = run(KeystrokeAssembler(), strokes, settle_at=10.0)
    assert results == [
        TypedText("h"),
        TypedText("i"),
        "A1234B",
        TypedText("o"),
        TypedText("k"),
        TypedText("", "enter"),
    ]


def test_other_keys_end_a_burst_as_typed_text() -> None:
    strokes = [("text", "1", 0.0), ("text", "2", 0.01), ("key", "backspace", 0.02)]
    assert run(KeystrokeAssembler(), strokes) == [TypedText("12", "backspace")]


def test_tab_terminator_when_configured() -> None:
    assembler = KeystrokeAssembler(terminators=("tab",))
    assert run(assembler, wedge_keystrokes("ITEM42", terminator="tab")) == ["ITEM42"]
    assert run(assembler, wedge_keystrokes("ITEM42", start=1.0)) == [TypedText("ITEM42", "enter")]


def test_end_on_idle_accepts_scanners_without_a_terminator() -> None:
    strokes = wedge_keystrokes("30234000517861")[:-1]
    assert run(KeystrokeAssembler(end_on_idle=True), strokes, settle_at=1.0) == ["30234000517861"]
    assert run(KeystrokeAssembler(end_on_idle=False), strokes, settle_at=1.0) == [TypedText("30234000517861")]


def test_poll_before_the_gap_has_passed_keeps_the_burst() -> None:
    assembler = KeystrokeAssembler(max_gap=0.05)
    assembler.feed_text("1234", 0.0)
    assert assembler.poll(0.04) == []
    assert assembler.feed_key("enter", 0.045) == ["1234"]


def test_runaway_input_is_handed_back_as_typed_text() -> None:
    assembler = KeystrokeAssembler(max_length=8)
    results = run(assembler, [("text", "x", i * 0.001) for i in range(9)])
    assert results == [TypedText("x" * 9)]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        KeystrokeAssembler(max_gap=0)
    with pytest.raises(ValueError):
        KeystrokeAssembler(min_length=10, max_length=5)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["text", "key"]),
            st.sampled_from(["a", "7", "enter", "tab", "xy"]),
            st.floats(0, 0.5),
        ),
        max_size=60,
    )
)
def test_every_character_comes_out_once_as_scan_or_typed_text(raw: list[tuple[str, str, float]]) -> None:
    strokes: list[Keystroke] = []
    at = 0.0
    for kind, value, gap in raw:
        at += gap
        strokes.append((kind, value, at))
    results = run(KeystrokeAssembler(), strokes, settle_at=at + 1.0)
    typed_in = "".join(value for kind, value, _ in strokes if kind == "text")
    came_out = "".join(r if isinstance(r, str) else r.text for r in results)
    assert came_out == typed_in


# --- the Scanner interface over it -----------------------------------------------------------------


def test_keyboard_scanner_delivers_scans_and_returns_typed_text() -> None:
    events: list = []
    scanner = KeyboardScanner(wall_clock=lambda: AT)
    scanner.start(events.append)
    typed: list[TypedText] = []
    for kind, value, at in human_keystrokes("7", start=0.0) + wedge_keystrokes(
        "]F030234000517861", start=1.0
    ):
        typed += scanner.feed_text(value, at) if kind == "text" else scanner.feed_key(value, at)
    assert typed == [TypedText("7"), TypedText("", "enter")]
    assert events == [Scan("]F030234000517861", "keyboard", None, AT)]


def test_keyboard_scanner_reads_aim_identifiers_when_configured() -> None:
    events: list = []
    scanner = KeyboardScanner(scan_format=ScanFormat(aim_identifier=True), wall_clock=lambda: AT)
    scanner.start(events.append)
    for kind, value, at in wedge_keystrokes("]F030234000517861"):
        scanner.feed_text(value, at) if kind == "text" else scanner.feed_key(value, at)
    assert events == [Scan("30234000517861", "keyboard", "Codabar", AT)]


def test_keyboard_scanner_uses_its_clock_when_no_time_is_given() -> None:
    clock = iter([0.0, 0.001, 0.002, 0.003, 0.004])
    events: list = []
    scanner = KeyboardScanner(monotonic=lambda: next(clock), wall_clock=lambda: AT)
    scanner.start(events.append)
    for char in "1234":
        scanner.feed_text(char)
    scanner.feed_key("enter")
    assert [e.text for e in events] == ["1234"]


def test_stopped_keyboard_scanner_passes_everything_through_and_closed_refuses_start() -> None:
    scanner = KeyboardScanner()
    assert scanner.feed_text("12", 0.0) == [TypedText("12")]
    assert scanner.feed_key("enter", 0.0) == [TypedText("", "enter")]
    scanner.close()
    with pytest.raises(ScannerError, match="closed"):
        scanner.start(print)
