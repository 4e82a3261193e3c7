"""The part of a serial RFID reader driver that does not depend on its protocol.

The FEIG and 3M 810 drivers share their settings (port, baud rate, reply timeout, retries, probe on
open), their connection state and their open sequence: open the port, probe that a reader of the
right kind answers, and close again if it does not, so a failed open never leaves a half-open port.
:class:`SerialLinkReader` holds those once; a driver adds its line settings, its probe and what its
commands mean.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

from kiosk.hardware.rfid.readers.base import ReaderError, TagReader
from kiosk.hardware.rfid.readers.serial_link import SerialLink
from kiosk.hardware.rfid.readers.stream_decoder import StreamDecoder


class SerialLinkReader(TagReader):
    """A :class:`TagReader` whose request/reply frames travel over a :class:`SerialLink`.

    ``build``, ``decoder`` and ``answers`` are the protocol's (see :class:`SerialLink`); ``name`` names
    the reader in every error. ``reply_timeout`` bounds one exchange; ``retries`` bounds repeats after a
    garbled reply.
    """

    def __init__(
        self,
        port: str,
        *,
        name: str,
        baudrate: int,
        reply_timeout: float,
        retries: int,
        probe_on_open: bool,
        build: Callable[[Any], bytes],
        decoder: StreamDecoder[Any],
        answers: Callable[[Any, Any], bool],
        serial_factory: Callable[..., Any],
    ) -> None:
        self.port = port
        self.name = name
        self.baudrate = baudrate
        self.reply_timeout = reply_timeout
        self.retries = retries
        self.probe_on_open = probe_on_open
        self._link: SerialLink[Any, Any] = SerialLink(
            device=name, build=build, decoder=decoder, answers=answers, serial_factory=serial_factory
        )

    # -- what a driver says ---------------------------------------------------------------------------

    @abc.abstractmethod
    def _line_settings(self) -> dict[str, Any]:
        """``bytesize``, ``parity`` and ``stopbits`` as pyserial takes them."""

    @abc.abstractmethod
    def _probe(self) -> None:
        """Check that a working reader of this kind answers; raise a :class:`ReaderError` if not."""

    # -- connection ---------------------------------------------------------------------------------

    def open(self) -> None:
        settings = self._line_settings()
        self._link.open(self.port, reply_timeout=self.reply_timeout, baudrate=self.baudrate, **settings)
        if self.probe_on_open:
            try:
                self._probe()
            except ReaderError:
                self.close()
                raise

    def close(self) -> None:
        self._link.close()

    @property
    def is_open(self) -> bool:
        return self._link.is_open

    @property
    def frame_errors(self) -> int:
        """Garbled frames seen since construction; ``kiosk doctor`` shows it (a bad cable shows here first)."""
        return self._link.frame_errors

    @property
    def _serial(self) -> Any:
        """The open pyserial port, or None (tests check the line settings on it)."""
        return self._link.serial

    def _exchange(self, request: Any) -> Any:
        """Send ``request``; return its reply. Retries garbled replies; a silent reader is unavailable."""
        return self._link.exchange(request, reply_timeout=self.reply_timeout, retries=self.retries)
