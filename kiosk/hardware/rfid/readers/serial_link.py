"""A serial port carrying one protocol's request/reply frames: opened by path, typed errors, bounded retries.

The FEIG and 3M 810 drivers talk to their USB-serial readers the same way: write a request, read
until the decoder yields the reply to it, repeat after a garbled frame, give up after a silence. That
loop lives here once, parameterised by the protocol's frame builder, its stream decoder and its rule
for which reply answers which request; the drivers keep what differs (settings, probe, statuses).

A USB-serial reader that is unplugged shows up as ``SerialException``/``OSError``/``termios.error`` on
the next read or write: that becomes :class:`~.base.ReaderUnavailable` naming the device (and with it
the port), the handle is dropped, and a later :meth:`SerialLink.open` (after re-plug, typically via a
stable udev symlink) starts afresh.
"""

from __future__ import annotations

import contextlib
import termios
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import serial

from kiosk.hardware.rfid.readers.base import ReaderUnavailable, TagOperationFailed
from kiosk.hardware.rfid.readers.stream_decoder import StreamDecoder

#: How an unplugged USB-serial adapter (or a closed pty) shows up: pyserial wraps most failures in
#: SerialException, but tcflush in reset_input_buffer surfaces termios.error, which is no OSError.
PORT_FAILURES = (serial.SerialException, OSError, termios.error)
#: pyserial's read timeout: short slices, fixed at open (changing the timeout per read would re-run
#: tcsetattr on every poll), so a deadline is checked several times per reply timeout.
READ_SLICE = 0.05


class _Request(Protocol):
    @property
    def command(self) -> int: ...


RequestT = TypeVar("RequestT", bound=_Request)
ReplyT = TypeVar("ReplyT")


class SerialLink(Generic[RequestT, ReplyT]):
    """One reader's serial port. ``device`` names the reader in every error (``"FEIG reader on /dev/..."``).

    ``build`` turns a request into its frame, ``decoder`` finds reply frames in what comes back, and
    ``answers(request, reply)`` says whether a decoded reply is the one waited for (anything else is a
    stale or unrelated frame and is read past).
    """

    def __init__(
        self,
        *,
        device: str,
        build: Callable[[RequestT], bytes],
        decoder: StreamDecoder[Any],
        answers: Callable[[RequestT, ReplyT], bool],
        serial_factory: Callable[..., Any] = serial.Serial,
    ) -> None:
        self.device = device
        self._build = build
        self._decoder = decoder
        self._answers = answers
        self._serial_factory = serial_factory
        #: The open pyserial port; None while closed.
        self.serial: Any = None
        #: Garbled frames seen since construction; ``kiosk doctor`` shows it (a bad cable shows here first).
        self.frame_errors = 0

    def open(
        self, port: str, *, reply_timeout: float, baudrate: int, bytesize: int, parity: str, stopbits: float
    ) -> None:
        """(Re)open ``port``; raises :class:`ReaderUnavailable` with pyserial's reason."""
        self.close()
        try:
            self.serial = self._serial_factory(
                port=port,
                baudrate=baudrate,
                bytesize=bytesize,
                parity=parity,
                stopbits=stopbits,
                timeout=min(reply_timeout, READ_SLICE),
                write_timeout=reply_timeout,
            )
        except (*PORT_FAILURES, ValueError) as exc:
            self.serial = None
            raise ReaderUnavailable(f"cannot open serial port: {exc}", device=self.device) from exc
        self._decoder.clear()

    def close(self) -> None:
        port, self.serial = self.serial, None
        if port is not None:
            with contextlib.suppress(Exception):  # close() must never raise, whatever the port did
                port.close()

    @property
    def is_open(self) -> bool:
        return self.serial is not None

    def _lost(self, exc: BaseException) -> ReaderUnavailable:
        self.close()
        return ReaderUnavailable(f"serial port failed ({exc})", device=self.device)

    def exchange(self, request: RequestT, *, reply_timeout: float, retries: int) -> ReplyT:
        """Send ``request``; return its reply. Retries garbled replies; a silent reader is unavailable."""
        if self.serial is None:
            raise ReaderUnavailable("not open", device=self.device)
        frame = self._build(request)
        decoder = self._decoder
        last_error: Exception | None = None
        for _attempt in range(retries + 1):
            try:
                self.serial.reset_input_buffer()
                decoder.clear()
                decoder.expect_command = request.command
                self.serial.write(frame)
                reply = self._read_reply(request, reply_timeout)
            except decoder.error_type as exc:
                self.frame_errors += 1
                last_error = exc
                continue
            except PORT_FAILURES as exc:
                raise self._lost(exc) from exc
            if reply is None:
                raise ReaderUnavailable(
                    f"no reply to command 0x{request.command:02X} within {reply_timeout:.2f} s",
                    device=self.device,
                )
            return reply
        raise TagOperationFailed(f"garbled replies from the reader: {last_error}", device=self.device)

    def _read_reply(self, request: RequestT, reply_timeout: float) -> ReplyT | None:
        deadline = time.monotonic() + reply_timeout
        port, decoder = self.serial, self._decoder
        line_idle = False
        while True:
            reply = decoder.next_frame(line_idle=line_idle)
            if reply is not None:
                if self._answers(request, reply):
                    return reply
                continue  # a stale reply, or a frame of another kind: keep reading
            if time.monotonic() >= deadline:
                if decoder.buffered:
                    raise decoder.error_type("incomplete reply at timeout", decoder.pending)
                return None
            chunk = port.read(max(1, port.in_waiting))
            line_idle = not chunk  # a whole read slice passed without a byte
            if chunk:
                decoder.feed(chunk)
