"""Split a serial scanner's byte stream into scans: sans-IO (bytes and a clock in, frames out).

A serial/CDC scanner sends the data followed by a terminator (CR by default, LF or CRLF by setup).
Bytes arrive in arbitrary pieces, so frames are assembled here. Real lines are messy in known ways,
handled without losing anything:

* CR versus CRLF mismatches between scanner and settings: stray CR/LF around a frame are dropped.
* A frame that stops without its terminator (cable pulled mid-scan, wrong terminator configured)
  becomes `Garbled` after ``idle_timeout``, so it cannot glue itself onto the next scan.
* A frame longer than ``max_length`` (noise, wrong baud rate) becomes `Garbled`; the rest of it up to
  the next terminator is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.hardware.barcode.events import Garbled

TERMINATORS: dict[str, bytes] = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n"}
_LINE_ENDS = b"\r\n"


def terminator_bytes(name: str) -> bytes:
    try:
        return TERMINATORS[name.upper()]
    except KeyError:
        raise ValueError(f"terminator must be one of {sorted(TERMINATORS)}, not {name!r}") from None


@dataclass(slots=True)
class LineFramer:
    terminator: bytes = b"\r"
    max_length: int = 256
    idle_timeout: float | None = 0.5
    _buffer: bytearray = field(default_factory=bytearray)
    _last_at: float = 0.0
    _discarding: bool = False

    def __post_init__(self) -> None:
        if not self.terminator:
            raise ValueError("the terminator must not be empty")

    def feed(self, data: bytes, now: float) -> list[bytes | Garbled]:
        """Bytes as read from the port, with the time they were read."""
        frames = self.poll(now)
        if not data:
            return frames
        self._buffer += data
        self._last_at = now
        while True:
            end = self._buffer.find(self.terminator)
            if end < 0:
                break
            frame = bytes(self._buffer[:end]).strip(_LINE_ENDS)
            del self._buffer[: end + len(self.terminator)]
            if self._discarding:
                self._discarding = False
            elif frame:
                frames.append(frame if len(frame) <= self.max_length else self._too_long(frame))
        if len(self._buffer) > self.max_length:
            if not self._discarding:
                frames.append(self._too_long(bytes(self._buffer)))
            self._discarding = True
            self._buffer.clear()
        return frames

    def poll(self, now: float) -> list[Garbled]:
        """Settle a partial frame whose bytes stopped coming more than ``idle_timeout`` ago."""
        if self.idle_timeout is None or not self._buffer or now - self._last_at <= self.idle_timeout:
            return []
        partial = bytes(self._buffer)
        self._buffer.clear()
        self._discarding = False
        if not partial.strip(_LINE_ENDS):
            return []
        return [Garbled(partial, f"no terminator {self.terminator!r} within {self.idle_timeout} s")]

    def _too_long(self, frame: bytes) -> Garbled:
        return Garbled(frame[: self.max_length], f"longer than {self.max_length} bytes without a terminator")
