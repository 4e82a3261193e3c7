"""USB-serial / CDC-ACM scanners through pyserial: the preferred mode when the scanner offers it.

Serial mode has no keyboard-layout problem and needs no grab (platform.md §4.2). Configure the
port by its stable ``/dev/serial/by-id/...`` link: ttyACM numbers change between plugs, the link
follows the device, and re-opening the same path after an unplug is how the scanner comes back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import serial

from kiosk.hardware.barcode.base import ThreadedScanner
from kiosk.hardware.barcode.events import (
    AS_SENT,
    EventSink,
    Garbled,
    ScanFormat,
    ScannerUnavailable,
    WallClock,
    utc_now,
)
from kiosk.hardware.barcode.framing import LineFramer, terminator_bytes


class SerialScanner(ThreadedScanner[serial.Serial]):
    """A line-oriented serial scanner. ``terminator`` is ``"CR"``, ``"LF"`` or ``"CRLF"``."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        terminator: str = "CR",
        scan_format: ScanFormat = AS_SENT,
        encoding: str = "ascii",
        idle_timeout: float = 0.5,
        max_length: int = 256,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: WallClock = utc_now,
    ) -> None:
        super().__init__(source=port)
        self.port = port
        self.baudrate = baudrate
        self.terminator = terminator_bytes(terminator)
        self.scan_format = scan_format
        self.encoding = encoding
        self.idle_timeout = idle_timeout
        self.max_length = max_length
        self._monotonic = monotonic
        self._wall_clock = wall_clock

    def _open(self) -> serial.Serial:
        try:
            return serial.Serial(self.port, self.baudrate, timeout=self.POLL_INTERVAL)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ScannerUnavailable(self.port, f"cannot open: {exc}") from exc

    def _read_loop(self, port: serial.Serial, deliver: EventSink, stopping: threading.Event) -> None:
        framer = LineFramer(self.terminator, max_length=self.max_length, idle_timeout=self.idle_timeout)
        while not stopping.is_set():
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                if stopping.is_set():
                    return
                raise ScannerUnavailable(self.port, f"lost: {exc}") from exc
            for frame in framer.feed(data, self._monotonic()):
                deliver(self.scan_format.to_event(self._decode(frame), self.source, self._wall_clock()))

    def _decode(self, frame: bytes | Garbled) -> str | Garbled:
        if isinstance(frame, Garbled):
            return frame
        try:
            return frame.decode(self.encoding)
        except UnicodeDecodeError as exc:
            return Garbled(frame, f"not {self.encoding} text: {exc.reason} at byte {exc.start}")

    def _release(self, port: serial.Serial) -> None:
        port.close()
