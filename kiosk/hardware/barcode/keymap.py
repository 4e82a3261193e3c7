"""Turn a keyboard-wedge scanner's key events into text: sans-IO, no evdev needed.

A wedge scanner is a USB keyboard that types the barcode. What arrives (through evdev) is a series of
(key code, value) pairs, value 1 = pressed, 0 = released, 2 = auto-repeat; the characters depend on
the keyboard layout the scanner was set up for and on Shift (Codabar start/stop letters, Code 39
capitals). This module owns that mapping so it is tested with synthetic events; the evdev driver
only feeds it.

Key codes are the kernel's (``linux/input-event-codes.h``); the tests check them against
``evdev.ecodes``. Only the US layout is defined: it is what scanners send by default, and other
layouts are data (`KeyboardLayout`), not code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kiosk.hardware.barcode.events import Garbled

# Kernel key codes for every key the decoder knows (name -> code).
KEY_CODES: dict[str, int] = {
    "KEY_ESC": 1,
    "KEY_1": 2,
    "KEY_2": 3,
    "KEY_3": 4,
    "KEY_4": 5,
    "KEY_5": 6,
    "KEY_6": 7,
    "KEY_7": 8,
    "KEY_8": 9,
    "KEY_9": 10,
    "KEY_0": 11,
    "KEY_MINUS": 12,
    "KEY_EQUAL": 13,
    "KEY_BACKSPACE": 14,
    "KEY_TAB": 15,
    "KEY_Q": 16,
    "KEY_W": 17,
    "KEY_E": 18,
    "KEY_R": 19,
    "KEY_T": 20,
    "KEY_Y": 21,
    "KEY_U": 22,
    "KEY_I": 23,
    "KEY_O": 24,
    "KEY_P": 25,
    "KEY_LEFTBRACE": 26,
    "KEY_RIGHTBRACE": 27,
    "KEY_ENTER": 28,
    "KEY_LEFTCTRL": 29,
    "KEY_A": 30,
    "KEY_S": 31,
    "KEY_D": 32,
    "KEY_F": 33,
    "KEY_G": 34,
    "KEY_H": 35,
    "KEY_J": 36,
    "KEY_K": 37,
    "KEY_L": 38,
    "KEY_SEMICOLON": 39,
    "KEY_APOSTROPHE": 40,
    "KEY_GRAVE": 41,
    "KEY_LEFTSHIFT": 42,
    "KEY_BACKSLASH": 43,
    "KEY_Z": 44,
    "KEY_X": 45,
    "KEY_C": 46,
    "KEY_V": 47,
    "KEY_B": 48,
    "KEY_N": 49,
    "KEY_M": 50,
    "KEY_COMMA": 51,
    "KEY_DOT": 52,
    "KEY_SLASH": 53,
    "KEY_RIGHTSHIFT": 54,
    "KEY_KPASTERISK": 55,
    "KEY_LEFTALT": 56,
    "KEY_SPACE": 57,
    "KEY_CAPSLOCK": 58,
    "KEY_NUMLOCK": 69,
    "KEY_SCROLLLOCK": 70,
    "KEY_KP7": 71,
    "KEY_KP8": 72,
    "KEY_KP9": 73,
    "KEY_KPMINUS": 74,
    "KEY_KP4": 75,
    "KEY_KP5": 76,
    "KEY_KP6": 77,
    "KEY_KPPLUS": 78,
    "KEY_KP1": 79,
    "KEY_KP2": 80,
    "KEY_KP3": 81,
    "KEY_KP0": 82,
    "KEY_KPDOT": 83,
    "KEY_KPENTER": 96,
    "KEY_RIGHTCTRL": 97,
    "KEY_KPSLASH": 98,
    "KEY_RIGHTALT": 100,
    "KEY_LEFTMETA": 125,
    "KEY_RIGHTMETA": 126,
}
KEY_NAMES: dict[int, str] = {code: name for name, code in KEY_CODES.items()}

EV_KEY = 1
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2

SHIFT_KEYS = frozenset({"KEY_LEFTSHIFT", "KEY_RIGHTSHIFT"})
# Characters typed while Ctrl, Alt or Meta is held are commands, not barcode data.
COMMAND_MODIFIERS = frozenset(
    {"KEY_LEFTCTRL", "KEY_RIGHTCTRL", "KEY_LEFTALT", "KEY_RIGHTALT", "KEY_LEFTMETA", "KEY_RIGHTMETA"}
)
IGNORED_KEYS = frozenset({"KEY_NUMLOCK", "KEY_SCROLLLOCK"})
DEFAULT_TERMINATORS = frozenset({"KEY_ENTER", "KEY_KPENTER"})


@dataclass(frozen=True, slots=True)
class KeyboardLayout:
    """Key name -> (character, character with Shift). Caps Lock shifts only letters."""

    name: str
    keys: Mapping[str, tuple[str, str]]


def _us_keys() -> dict[str, tuple[str, str]]:
    keys = {f"KEY_{letter}": (letter.lower(), letter) for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    keys.update(
        {f"KEY_{digit}": (digit, shifted) for digit, shifted in zip("1234567890", "!@#$%^&*()", strict=True)}
    )
    keys.update({f"KEY_KP{digit}": (digit, digit) for digit in "0123456789"})
    keys.update(
        {
            "KEY_MINUS": ("-", "_"),
            "KEY_EQUAL": ("=", "+"),
            "KEY_LEFTBRACE": ("[", "{"),
            "KEY_RIGHTBRACE": ("]", "}"),
            "KEY_SEMICOLON": (";", ":"),
            "KEY_APOSTROPHE": ("'", '"'),
            "KEY_GRAVE": ("`", "~"),
            "KEY_BACKSLASH": ("\\", "|"),
            "KEY_COMMA": (",", "<"),
            "KEY_DOT": (".", ">"),
            "KEY_SLASH": ("/", "?"),
            "KEY_SPACE": (" ", " "),
            "KEY_KPASTERISK": ("*", "*"),
            "KEY_KPMINUS": ("-", "-"),
            "KEY_KPPLUS": ("+", "+"),
            "KEY_KPDOT": (".", "."),
            "KEY_KPSLASH": ("/", "/"),
        }
    )
    return keys


US_LAYOUT = KeyboardLayout("us", _us_keys())


@dataclass(slots=True)
class KeyEventDecoder:
    """Assembles key events into scans, one per terminator key (Enter by default; Tab if configured).

    A key the layout does not know, inside a scan, makes that scan `Garbled` rather than silently
    dropping a character: a wrong id is worse than asking to scan again.
    """

    layout: KeyboardLayout = US_LAYOUT
    terminators: frozenset[str] = DEFAULT_TERMINATORS
    max_length: int = 128
    _text: list[str] = field(default_factory=list)
    _unmapped: list[str] = field(default_factory=list)
    _held: set[str] = field(default_factory=set)
    _caps_lock: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.terminators) - set(KEY_CODES))
        if unknown:
            raise ValueError(
                f"unknown terminator key name(s) {unknown}; use kernel names such as 'KEY_ENTER'"
            )

    @property
    def pending(self) -> str:
        """Characters typed since the last terminator."""
        return "".join(self._text)

    def feed(self, code: int, value: int) -> str | Garbled | None:
        """Feed one EV_KEY event; returns a finished scan (or Garbled) when a terminator is pressed."""
        name = KEY_NAMES.get(code, f"key code {code}")
        if value == KEY_UP:
            self._held.discard(name)
            return None
        if value != KEY_DOWN:  # auto-repeat: a scanner never holds a key, a leaning elbow does
            return None
        if name in SHIFT_KEYS or name in COMMAND_MODIFIERS:
            self._held.add(name)
            return None
        if name == "KEY_CAPSLOCK":
            self._caps_lock = not self._caps_lock
            return None
        if name in IGNORED_KEYS:
            return None
        if name in self.terminators:
            return self._finish()
        if self._held & COMMAND_MODIFIERS:
            return None
        chars = self.layout.keys.get(name)
        if chars is None:
            self._unmapped.append(name)
            return None
        shifted = bool(self._held & SHIFT_KEYS)
        if self._caps_lock and chars[0].isalpha():
            shifted = not shifted
        if len(self._text) < self.max_length:
            self._text.append(chars[1] if shifted else chars[0])
        else:
            self._unmapped.append("(too long)")
        return None

    def discard(self, reason: str) -> Garbled | None:
        """Drop a partial scan (the driver calls this when the keys stop without a terminator)."""
        if not self._text and not self._unmapped:
            return None
        garbled = Garbled(self.pending.encode(), reason)
        self._text.clear()
        self._unmapped.clear()
        return garbled

    def _finish(self) -> str | Garbled | None:
        text = self.pending
        unmapped = list(self._unmapped)
        self._text.clear()
        self._unmapped.clear()
        if unmapped:
            return Garbled(text.encode(), f"keys not in the {self.layout.name} layout: {', '.join(unmapped)}")
        return text or None


def decode_key_events(
    events: Iterable[tuple[int, int]],
    layout: KeyboardLayout = US_LAYOUT,
    terminators: Iterable[str] = DEFAULT_TERMINATORS,
) -> list[str | Garbled]:
    """The scans in a sequence of (key code, value) events; an unterminated tail is not a scan."""
    decoder = KeyEventDecoder(layout=layout, terminators=frozenset(terminators))
    results = []
    for code, value in events:
        result = decoder.feed(code, value)
        if result is not None:
            results.append(result)
    return results
