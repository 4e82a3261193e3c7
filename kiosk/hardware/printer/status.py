"""ESC/POS real-time status (DLE EOT n), sans-IO: status bytes in, a printer state out.

A printer answers ``DLE EOT n`` (0x10 0x04 n) with one byte even while it is offline, which is the
only way to know, before a patron is told "take your receipt", whether one can come out:

====  =========================  ==============================================================
n     asks                       bits that matter (0 = least significant)
====  =========================  ==============================================================
1     printer status             3: offline; 5: waiting for online recovery; 6: feed button down
2     offline cause              2: cover open; 3: feeding by the button; 5: stopped, paper end;
                                 6: an error occurred
3     error cause                3: autocutter error; 5: unrecoverable error; 6: auto-recoverable
                                 error (head too hot)
4     roll paper sensor          2 and 3: paper near its end; 5 and 6: paper end
====  =========================  ==============================================================

Every status byte has bit 0 = 0, bit 1 = 1, bit 4 = 1 and bit 7 = 0 (``byte & 0x93 == 0x12``). A byte
that breaks that pattern is not a status reply (line noise, an automatic status back message, a
stale answer): it is refused with :class:`StatusByteError`, and a printer whose answer cannot be read
is in an *unknown* state, never "ready". So is a printer that does not answer at all: python-escpos's
``paper_status()`` reports 2 ("paper adequate") on an empty read, which is why the driver does not
use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

DLE_EOT = b"\x10\x04"
PRINTER, OFFLINE_CAUSE, ERROR_CAUSE, PAPER = 1, 2, 3, 4
QUERIES: tuple[int, ...] = (PRINTER, OFFLINE_CAUSE, ERROR_CAUSE, PAPER)

_FIXED_MASK = 0x93  # bits 0, 1, 4, 7
_FIXED_VALUE = 0x12  # bit 1 and bit 4 set, bits 0 and 7 clear


def query(n: int) -> bytes:
    """The bytes that ask for status ``n``."""
    if n not in QUERIES:
        raise ValueError(f"DLE EOT {n}: not a status the kiosk asks for (1-4)")
    return DLE_EOT + bytes((n,))


class StatusByteError(ValueError):
    """A byte that is not a DLE EOT status reply; ``byte`` holds it for the staff log."""

    def __init__(self, n: int, byte: int) -> None:
        self.n = n
        self.byte = byte
        super().__init__(f"0x{byte:02X} is not a reply to DLE EOT {n} (fixed bits 0,1,4,7 must read 0,1,1,0)")


def _bit(byte: int, bit: int) -> bool:
    return bool(byte >> bit & 1)


def _checked(n: int, byte: int) -> int:
    if not 0 <= byte <= 0xFF or byte & _FIXED_MASK != _FIXED_VALUE:
        raise StatusByteError(n, byte)
    return byte


@dataclass(frozen=True, slots=True)
class PrinterFlags:
    """DLE EOT 1."""

    offline: bool = False
    waiting_for_recovery: bool = False
    feed_button: bool = False
    drawer_pin_high: bool = False

    @classmethod
    def decode(cls, byte: int) -> PrinterFlags:
        byte = _checked(PRINTER, byte)
        return cls(_bit(byte, 3), _bit(byte, 5), _bit(byte, 6), _bit(byte, 2))

    def encode(self) -> int:
        return (
            _FIXED_VALUE
            | self.drawer_pin_high << 2
            | self.offline << 3
            | (self.waiting_for_recovery << 5)
            | self.feed_button << 6
        )


@dataclass(frozen=True, slots=True)
class OfflineCause:
    """DLE EOT 2."""

    cover_open: bool = False
    feeding: bool = False
    paper_end_stop: bool = False
    error: bool = False

    @classmethod
    def decode(cls, byte: int) -> OfflineCause:
        byte = _checked(OFFLINE_CAUSE, byte)
        return cls(_bit(byte, 2), _bit(byte, 3), _bit(byte, 5), _bit(byte, 6))

    def encode(self) -> int:
        return (
            _FIXED_VALUE
            | self.cover_open << 2
            | self.feeding << 3
            | self.paper_end_stop << 5
            | self.error << 6
        )


@dataclass(frozen=True, slots=True)
class ErrorCause:
    """DLE EOT 3."""

    cutter: bool = False
    unrecoverable: bool = False
    auto_recoverable: bool = False

    @classmethod
    def decode(cls, byte: int) -> ErrorCause:
        byte = _checked(ERROR_CAUSE, byte)
        return cls(_bit(byte, 3), _bit(byte, 5), _bit(byte, 6))

    def encode(self) -> int:
        return _FIXED_VALUE | self.cutter << 3 | self.unrecoverable << 5 | self.auto_recoverable << 6


@dataclass(frozen=True, slots=True)
class PaperSensor:
    """DLE EOT 4. Printers set both bits of a pair; either one is read as set, the cautious reading."""

    near_end: bool = False
    end: bool = False

    @classmethod
    def decode(cls, byte: int) -> PaperSensor:
        byte = _checked(PAPER, byte)
        return cls(bool(byte & 0x0C), bool(byte & 0x60))

    def encode(self) -> int:
        return _FIXED_VALUE | (0x0C if self.near_end else 0) | (0x60 if self.end else 0)


class PrinterState(StrEnum):
    READY = "ready"
    PAPER_LOW = "paper low"
    PAPER_OUT = "paper out"
    COVER_OPEN = "cover open"
    OFFLINE = "offline"
    ERROR = "error"
    UNKNOWN = "unknown"  # asked, but no (readable) answer
    ABSENT = "absent"  # the device could not be opened or written to


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the UI needs to decide whether to offer "print", and staff to fix the printer.

    ``queried`` is False when the site turned status queries off (a one-way printer): the state is
    then UNKNOWN, and printing is still offered because IT said the printer cannot tell.
    """

    state: PrinterState
    detail: str = ""
    queried: bool = True

    @property
    def can_print(self) -> bool:
        if self.state in (PrinterState.READY, PrinterState.PAPER_LOW):
            return True
        return self.state is PrinterState.UNKNOWN and not self.queried

    @property
    def health(self) -> tuple[str, str]:
        """(state, reason) in the words of :class:`kiosk.circulation.events.DeviceStatus`."""
        if self.state is PrinterState.READY:
            return "ok", ""
        reason = f"{self.state}: {self.detail}" if self.detail else str(self.state)
        if self.state is PrinterState.PAPER_LOW or self.can_print:
            return "warning", reason
        return "failed", reason


Replies = Mapping[int, int | None]


def needed(replies: Replies) -> int | None:
    """The next DLE EOT to ask, given the answers so far; None when :func:`interpret` can decide.

    1 always; 2 only when offline (it says why); 3 only when 2 reports an error; 4 always, since a
    printer near the end of its roll is online. A missing or unreadable answer ends the questions.
    """
    for n in (PRINTER, OFFLINE_CAUSE, ERROR_CAUSE, PAPER):
        if n in replies:
            if replies[n] is None or not _readable(n, replies[n]):
                return None
            continue
        if n == OFFLINE_CAUSE and not PrinterFlags.decode(_value(replies, PRINTER)).offline:
            continue
        if n == ERROR_CAUSE and (
            OFFLINE_CAUSE not in replies or not OfflineCause.decode(_value(replies, OFFLINE_CAUSE)).error
        ):
            continue
        return n
    return None


def _readable(n: int, byte: int | None) -> bool:
    return byte is not None and 0 <= byte <= 0xFF and byte & _FIXED_MASK == _FIXED_VALUE


def _value(replies: Replies, n: int) -> int:
    value = replies[n]
    assert value is not None
    return value


def garbled(replies: Replies) -> bool:
    """Did an answer come that is not a status byte (as opposed to no answer at all)?"""
    return any(byte is not None and not _readable(n, byte) for n, byte in replies.items())


def interpret(replies: Replies) -> PrinterStatus:
    """The printer's state from the DLE EOT answers collected (None: that query went unanswered)."""
    for n in QUERIES:
        if n in replies and replies[n] is None:
            return PrinterStatus(PrinterState.UNKNOWN, f"no answer to status query DLE EOT {n}")
        if n in replies and not _readable(n, replies[n]):
            return PrinterStatus(
                PrinterState.UNKNOWN, f"garbled status reply: {StatusByteError(n, _value(replies, n))}"
            )
    if PRINTER not in replies:
        return PrinterStatus(PrinterState.UNKNOWN, "printer status was not asked")
    flags = PrinterFlags.decode(_value(replies, PRINTER))
    paper = PaperSensor.decode(_value(replies, PAPER)) if PAPER in replies else None
    if flags.offline:
        cause = OfflineCause.decode(_value(replies, OFFLINE_CAUSE)) if OFFLINE_CAUSE in replies else None
        if cause is not None and cause.cover_open:
            return PrinterStatus(PrinterState.COVER_OPEN, "the printer cover is open")
        if (cause is not None and cause.paper_end_stop) or (paper is not None and paper.end):
            return PrinterStatus(PrinterState.PAPER_OUT, "the paper roll is empty")
        if cause is not None and cause.error:
            errors = (
                ErrorCause.decode(_value(replies, ERROR_CAUSE)) if ERROR_CAUSE in replies else ErrorCause()
            )
            return PrinterStatus(PrinterState.ERROR, _error_words(errors))
        if cause is not None and cause.feeding:
            return PrinterStatus(PrinterState.OFFLINE, "paper is being fed with the feed button")
        return PrinterStatus(PrinterState.OFFLINE, "the printer reports itself offline")
    if paper is None:
        return PrinterStatus(PrinterState.UNKNOWN, "paper sensor was not asked")
    if paper.end:
        return PrinterStatus(PrinterState.PAPER_OUT, "the paper roll is empty")
    if paper.near_end:
        return PrinterStatus(PrinterState.PAPER_LOW, "the paper roll is nearly empty")
    return PrinterStatus(PrinterState.READY)


def _error_words(errors: ErrorCause) -> str:
    if errors.cutter:
        return "autocutter error (paper jam at the cutter?)"
    if errors.unrecoverable:
        return "unrecoverable printer error: switch the printer off and on"
    if errors.auto_recoverable:
        return "print head too hot: the printer resumes by itself"
    return "the printer reports an error"
