"""Keyboard fallback: find scans in the keystrokes the UI receives, when evdev cannot grab the scanner.

Without an exclusive grab (a dev laptop, a platform without evdev) a wedge scanner's keys arrive
through the UI toolkit mixed with whatever a person types. The tell is speed: a scanner types a
whole code with a few milliseconds between keys and ends with Enter; a person leaves tens to
hundreds of milliseconds. `KeystrokeAssembler` is that rule as a pure state machine with the clock
passed in; `KeyboardScanner` wraps it in the `Scanner` interface for the UI to feed.

Keystrokes that turn out to be a person's are handed back as `TypedText`, in order, so the UI can
still put them into the focused field: nothing typed is lost, it only arrives ``max_gap`` later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kiosk.hardware.barcode.base import Scanner
from kiosk.hardware.barcode.events import AS_SENT, EventSink, ScanFormat, WallClock, utc_now

DEFAULT_MAX_GAP = 0.05  # seconds between keys; scanners: ~1-15 ms, people: rarely under 50 ms for 4+ keys
DEFAULT_MIN_LENGTH = 4


@dataclass(frozen=True, slots=True)
class TypedText:
    """Keystrokes a person made: ``text``, then the non-character ``key`` (``"enter"``...) if any."""

    text: str
    key: str | None = None


class KeystrokeAssembler:
    """Splits a timed keystroke stream into scans (returned as ``str``) and `TypedText`.

    A run of characters is a scan when each key, including the terminator, came within ``max_gap``
    of the previous one and the run is at least ``min_length`` long. ``end_on_idle`` accepts a fast
    run without a terminator once the keys stop (for scanners set up to send no suffix).
    """

    def __init__(
        self,
        *,
        max_gap: float = DEFAULT_MAX_GAP,
        min_length: int = DEFAULT_MIN_LENGTH,
        terminators: Iterable[str] = ("enter",),
        end_on_idle: bool = False,
        max_length: int = 128,
    ) -> None:
        if max_gap <= 0 or min_length < 1 or max_length < min_length:
            raise ValueError("need max_gap > 0 and 1 <= min_length <= max_length")
        self.max_gap = max_gap
        self.min_length = min_length
        self.terminators = frozenset(terminators)
        self.end_on_idle = end_on_idle
        self.max_length = max_length
        self._chars: list[str] = []
        self._last_at = 0.0

    def feed_text(self, text: str, now: float) -> list[str | TypedText]:
        """Characters as the UI got them (one ``on_textinput`` may carry several)."""
        results = self.poll(now)
        if text:
            self._chars.extend(text)
            self._last_at = now
            if len(self._chars) > self.max_length:  # no scanner types this much without Enter
                results.append(self._take_typed(None))
        return results

    def feed_key(self, key: str, now: float) -> list[str | TypedText]:
        """A non-character key: a terminator ends a scan; any other key is a person's."""
        results = self.poll(now)
        if key in self.terminators and len(self._chars) >= self.min_length:
            results.append(self._take())
        else:
            results.append(self._take_typed(key))
        return results

    def poll(self, now: float) -> list[str | TypedText]:
        """Call on a timer too: a run that stopped for longer than ``max_gap`` is settled here."""
        if not self._chars or now - self._last_at <= self.max_gap:
            return []
        if self.end_on_idle and len(self._chars) >= self.min_length:
            return [self._take()]
        return [self._take_typed(None)]

    def _take(self) -> str:
        text = "".join(self._chars)
        self._chars.clear()
        return text

    def _take_typed(self, key: str | None) -> TypedText:
        return TypedText(self._take(), key)


class KeyboardScanner(Scanner):
    """The `Scanner` the UI feeds from its key handlers (Kivy ``on_textinput``/``on_key_down``).

    Not thread-safe by design: the UI thread feeds it and receives `TypedText` back; scans go to
    the ``on_event`` callback. While stopped, every keystroke is a person's.
    """

    def __init__(
        self,
        assembler: KeystrokeAssembler | None = None,
        *,
        scan_format: ScanFormat = AS_SENT,
        source: str = "keyboard",
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: WallClock = utc_now,
    ) -> None:
        self.source = source
        self.assembler = assembler or KeystrokeAssembler()
        self.scan_format = scan_format
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._sink: EventSink | None = None

    def start(self, on_event: EventSink) -> None:
        self._refuse_if_closed()
        self._sink = on_event

    def stop(self) -> None:
        """Settle a burst in progress (a scan if ``end_on_idle``); a person's unsettled keys are dropped."""
        if self._sink is not None:
            self._deliver(self.assembler.poll(float("inf")))
        self._sink = None

    def feed_text(self, text: str, now: float | None = None) -> list[TypedText]:
        if self._sink is None:
            return [TypedText(text)]
        return self._deliver(self.assembler.feed_text(text, self._now(now)))

    def feed_key(self, key: str, now: float | None = None) -> list[TypedText]:
        if self._sink is None:
            return [TypedText("", key)]
        return self._deliver(self.assembler.feed_key(key, self._now(now)))

    def poll(self, now: float | None = None) -> list[TypedText]:
        if self._sink is None:
            return []
        return self._deliver(self.assembler.poll(self._now(now)))

    def _now(self, now: float | None) -> float:
        return self._monotonic() if now is None else now

    def _deliver(self, results: list[str | TypedText]) -> list[TypedText]:
        typed = []
        for result in results:
            if isinstance(result, TypedText):
                typed.append(result)
            elif self._sink is not None:
                self._sink(self.scan_format.to_event(result, self.source, self._wall_clock()))
        return typed
