"""What a scanner reports, and the errors it raises: the vocabulary shared by every driver.

The runner gets one stream of events from any scanner: a `Scan` for each barcode read, an
`UnreadableScan` when bytes arrived that could not be turned into a barcode (kept raw, so nothing is
lost and the patron can be asked to scan again), and a `ScannerUnavailable` when the device went
away. `ScannerUnavailable` is both an exception (``start()`` raises it when the device cannot be
opened) and an event (a running reader delivers it when the device is unplugged), so the runner
handles "no scanner" the same way whether it happened at start or later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from kiosk.hardware.barcode.aim import split_aim_identifier


@dataclass(frozen=True, slots=True)
class Scan:
    """One barcode read. ``at`` is wall-clock UTC because scans end up in the journal and logs."""

    text: str
    source: str
    symbology: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class UnreadableScan:
    """Input that could not become a barcode: kept raw so a support person can see what came in."""

    source: str
    raw: bytes
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Garbled:
    """The sans-IO decoders' way of saying "this frame is not a barcode"; drivers add source and time."""

    raw: bytes
    reason: str


class ScannerError(Exception):
    """Base of every error a scanner raises."""


class ScannerDependencyMissing(ScannerError):
    """A driver's optional package is not installed; the message names the package and how to get it."""

    def __init__(self, package: str, hint: str) -> None:
        super().__init__(f"the {package!r} package is needed for this scanner driver: {hint}")
        self.package = package


class ScannerUnavailable(ScannerError):
    """The named device cannot be opened or has gone away; ``start()`` again once it is back."""

    def __init__(self, device: str, reason: str, at: datetime | None = None) -> None:
        super().__init__(f"scanner {device} unavailable: {reason}")
        self.device = device
        self.reason = reason
        self.at = at if at is not None else datetime.now(UTC)


ScannerEvent = Scan | UnreadableScan | ScannerUnavailable
EventSink = Callable[[ScannerEvent], None]
WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ScanFormat:
    """What the scanner adds around the data, as configured on the scanner with its setup barcodes.

    Scanners can be set to add a fixed prefix/suffix or an AIM symbology identifier (``]F0`` for
    Codabar...). The prefix/suffix is removed when present and left alone when absent, so a scanner
    re-programmed without them keeps working.
    """

    strip_prefix: str = ""
    strip_suffix: str = ""
    aim_identifier: bool = False

    def to_event(self, frame: str | Garbled, source: str, at: datetime) -> Scan | UnreadableScan:
        if isinstance(frame, Garbled):
            return UnreadableScan(source=source, raw=frame.raw, reason=frame.reason, at=at)
        text = frame
        symbology = None
        # Scanners send [prefix][AIM identifier]data[suffix], so the prefix goes first.
        if self.strip_prefix and text.startswith(self.strip_prefix):
            text = text[len(self.strip_prefix) :]
        if self.aim_identifier:
            symbology, text = split_aim_identifier(text)
        if self.strip_suffix and text.endswith(self.strip_suffix):
            text = text[: -len(self.strip_suffix)]
        if not text:
            return UnreadableScan(
                source=source, raw=frame.encode(), reason="no data after prefix/suffix", at=at
            )
        return Scan(text=text, source=source, symbology=symbology, at=at)


AS_SENT = ScanFormat()  # the default: the scanner adds nothing but its terminator
