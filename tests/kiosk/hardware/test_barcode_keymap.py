"""Keyboard-wedge key events to text, with synthetic events: no evdev package, no /dev/input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware_mocks.scanner import ENTER, LEFT_SHIFT, TAB, US_WEDGE_KEYS, wedge_key_events
from kiosk.hardware.barcode import Garbled, KeyEventDecoder, decode_key_events
from kiosk.hardware.barcode.keymap import KEY_CODES

PRESS, RELEASE, REPEAT = 1, 0, 2
RIGHT_SHIFT, CAPS_LOCK, LEFT_CTRL, F1 = 54, 58, 29, 59
KP = {digit: code for digit, code in zip("7894561230", (71, 72, 73, 75, 76, 77, 79, 80, 81, 82), strict=True)}
KP_ENTER = 96


def tap(code: int) -> list[tuple[int, int]]:
    return [(code, PRESS), (code, RELEASE)]


@pytest.mark.parametrize(
    "text", ["30234000517861", "A30234000517861B", "Hello, World!", "a-b$c:d/e.f+g", "~`|\\\"'"]
)
def test_scanner_typing_is_decoded_back_to_the_text(text: str) -> None:
    assert decode_key_events(wedge_key_events(text)) == [text]


@given(st.text(alphabet=sorted(US_WEDGE_KEYS), min_size=1, max_size=40))
def test_any_us_keyboard_text_round_trips(text: str) -> None:
    assert decode_key_events(wedge_key_events(text)) == [text]


def test_several_scans_in_one_stream_and_an_unterminated_tail() -> None:
    events = wedge_key_events("123") + wedge_key_events("ABC") + wedge_key_events("tail", terminator=None)
    assert decode_key_events(events) == ["123", "ABC"]


def test_tab_ends_a_scan_when_configured() -> None:
    events = wedge_key_events("X1", terminator=TAB) + wedge_key_events("Y2", terminator=ENTER)
    assert decode_key_events(events, terminators={"KEY_TAB", "KEY_ENTER"}) == ["X1", "Y2"]
    # With Tab only, an Enter is a stray key: the scan it falls into is garbled, not silently joined.
    events += wedge_key_events("Z3", terminator=TAB)
    assert decode_key_events(events, terminators={"KEY_TAB"}) == [
        "X1",
        Garbled(b"Y2Z3", "keys not in the us layout: KEY_ENTER"),
    ]


def test_shift_held_across_several_characters_and_right_shift() -> None:
    events = [(LEFT_SHIFT, PRESS), *tap(30), *tap(48), (LEFT_SHIFT, RELEASE), *tap(46)]
    events += [(RIGHT_SHIFT, PRESS), *tap(2), (RIGHT_SHIFT, RELEASE), *tap(ENTER)]
    assert decode_key_events(events) == ["ABc!"]


def test_caps_lock_shifts_letters_only() -> None:
    events = [*tap(CAPS_LOCK), *tap(30), *tap(2), (LEFT_SHIFT, PRESS), *tap(48), (LEFT_SHIFT, RELEASE)]
    events += [*tap(CAPS_LOCK), *tap(46), *tap(ENTER)]
    assert decode_key_events(events) == ["A1bc"]


def test_keypad_digits_and_keypad_enter() -> None:
    events = [event for digit in "0123456789" for event in tap(KP[digit])] + tap(KP_ENTER)
    assert decode_key_events(events) == ["0123456789"]


def test_auto_repeat_and_key_releases_add_nothing() -> None:
    events = [(30, PRESS), (30, REPEAT), (30, REPEAT), (30, RELEASE), *tap(ENTER)]
    assert decode_key_events(events) == ["a"]


def test_keys_typed_with_ctrl_held_are_commands_not_data() -> None:
    events = [*tap(2), (LEFT_CTRL, PRESS), *tap(30), (LEFT_CTRL, RELEASE), *tap(3), *tap(ENTER)]
    assert decode_key_events(events) == ["12"]


def test_a_key_outside_the_layout_garbles_the_scan_instead_of_dropping_a_character() -> None:
    events = [*tap(2), *tap(F1), *tap(3), *tap(ENTER), *tap(4), *tap(ENTER)]
    assert decode_key_events(events) == [Garbled(b"12", "keys not in the us layout: key code 59"), "3"]


def test_an_empty_scan_is_no_scan() -> None:
    assert decode_key_events(tap(ENTER) + tap(ENTER)) == []


def test_overlong_input_is_garbled_and_the_decoder_recovers() -> None:
    decoder = KeyEventDecoder(max_length=3)
    results = [
        decoder.feed(code, value) for code, value in wedge_key_events("12345") + wedge_key_events("67")
    ]
    finished = [r for r in results if r is not None]
    assert finished == [Garbled(b"123", "keys not in the us layout: (too long), (too long)"), "67"]


def test_discard_returns_the_partial_scan() -> None:
    decoder = KeyEventDecoder()
    for code, value in wedge_key_events("98", terminator=None):
        decoder.feed(code, value)
    assert decoder.pending == "98"
    assert decoder.discard("no Enter") == Garbled(b"98", "no Enter")
    assert decoder.pending == ""
    assert decoder.discard("again") is None


def test_unknown_terminator_names_are_refused() -> None:
    with pytest.raises(ValueError, match="KEY_RETURN"):
        KeyEventDecoder(terminators=frozenset({"KEY_RETURN"}))


def test_key_code_table_has_no_duplicates() -> None:
    assert len(set(KEY_CODES.values())) == len(KEY_CODES)


@given(st.lists(st.tuples(st.integers(0, 767), st.integers(-1, 3)), max_size=200))
def test_arbitrary_event_streams_never_raise(events: list[tuple[int, int]]) -> None:
    assert all(isinstance(result, str | Garbled) for result in decode_key_events(events))
