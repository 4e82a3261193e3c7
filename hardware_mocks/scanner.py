"""Simulated barcode scanners that send what real ones send.

* `SimulatedSerialScanner`: a USB-serial (CDC-ACM) scanner on a pty. The driver under test opens the
  pty's slave by path with pyserial, exactly as it opens ``/dev/ttyACM0``; the simulation writes the
  barcode bytes into the master at the pace of the configured baud rate, and can be unplugged
  (the master closes, the by-id style link disappears) and plugged back in (a new pty behind the
  same link), as udev does with ``/dev/serial/by-id/...``.
* `wedge_key_events`: the (key code, value) events a US-layout keyboard-wedge scanner produces
  (Shift pressed around capitals and symbols, Enter at the end), from this module's own table of
  the US keyboard so that it checks the production keymap rather than mirroring it.
* `SimulatedWedgeScanner`: the same scanner behind an evdev-style event node (kernel
  ``struct input_event`` records on a descriptor, read by python-evdev's own reader), for hosts
  without ``/dev/uinput``.
* `wedge_keystrokes` / `human_keystrokes`: timed keystrokes as a UI toolkit would report them, for
  the keyboard fallback.
"""

from __future__ import annotations

import errno
import os
import struct
import time
import tty
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The US keyboard as rows of kernel key codes: (first code, unshifted characters, shifted characters).
_US_ROWS = (
    (2, "1234567890-=", "!@#$%^&*()_+"),
    (16, "qwertyuiop[]", "QWERTYUIOP{}"),
    (30, "asdfghjkl;'`", 'ASDFGHJKL:"~'),
    (43, "\\zxcvbnm,./", "|ZXCVBNM<>?"),
    (57, " ", " "),
)
ENTER, TAB, LEFT_SHIFT = 28, 15, 42
PRESS, RELEASE = 1, 0


def _us_wedge_table() -> dict[str, tuple[int, bool]]:
    table: dict[str, tuple[int, bool]] = {}
    for first_code, plain, shifted in _US_ROWS:
        for offset, (low, high) in enumerate(zip(plain, shifted, strict=True)):
            table.setdefault(low, (first_code + offset, False))
            table.setdefault(high, (first_code + offset, True))
    return table


US_WEDGE_KEYS = _us_wedge_table()


def wedge_key_events(text: str, *, terminator: int | None = ENTER) -> list[tuple[int, int]]:
    """Key events for ``text`` typed by a wedge scanner; characters off the US keyboard raise KeyError."""
    events: list[tuple[int, int]] = []
    for char in text:
        code, shifted = US_WEDGE_KEYS[char]
        if shifted:
            events.append((LEFT_SHIFT, PRESS))
        events += [(code, PRESS), (code, RELEASE)]
        if shifted:
            events.append((LEFT_SHIFT, RELEASE))
    if terminator is not None:
        events += [(terminator, PRESS), (terminator, RELEASE)]
    return events


Keystroke = tuple[str, str, float]  # ("text", character, time) or ("key", key name, time)


def wedge_keystrokes(
    text: str, *, start: float = 0.0, gap: float = 0.004, terminator: str = "enter"
) -> list[Keystroke]:
    """A scanner typing through the UI toolkit: characters ``gap`` seconds apart, then the terminator."""
    strokes: list[Keystroke] = [("text", char, start + index * gap) for index, char in enumerate(text)]
    strokes.append(("key", terminator, start + len(text) * gap))
    return strokes


def human_keystrokes(
    text: str, *, start: float = 0.0, gaps: tuple[float, ...] = (0.18, 0.09, 0.25)
) -> list[Keystroke]:
    """A person typing ``text`` then Enter, with the uneven gaps of real typing."""
    strokes: list[Keystroke] = []
    at = start
    for index, char in enumerate(text):
        strokes.append(("text", char, at))
        at += gaps[index % len(gaps)]
    strokes.append(("key", "enter", at))
    return strokes


class SimulatedSerialScanner:
    """A serial scanner on a pty, reachable through a stable link path like ``/dev/serial/by-id/...``."""

    def __init__(
        self,
        link: str | os.PathLike[str],
        *,
        baudrate: int = 9600,
        terminator: bytes = b"\r",
        prefix: bytes = b"",
        suffix: bytes = b"",
    ) -> None:
        self.link = Path(link)
        self.baudrate = baudrate
        self.terminator = terminator
        self.prefix = prefix
        self.suffix = suffix
        self._master: int | None = None
        self._slave: int | None = None
        self.plug()

    @property
    def port(self) -> str:
        """The path the driver is configured with (it stays the same across unplug/plug)."""
        return str(self.link)

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def plug(self) -> None:
        """Appear as a new tty behind the link, as udev does when the scanner is plugged in."""
        if self.plugged:
            return
        master, slave = os.openpty()
        # A scanner's UART has no line discipline: raw mode keeps the pty from echoing or
        # translating CR before the driver has opened it and set its own mode.
        tty.setraw(slave)
        self._master, self._slave = master, slave
        temporary = self.link.with_name(self.link.name + ".new")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(os.ttyname(slave))
        temporary.replace(self.link)

    def unplug(self) -> None:
        """Vanish: the tty hangs up under the driver and the link goes away."""
        self.link.unlink(missing_ok=True)
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def scan(self, text: str | bytes, *, terminator: bytes | None = None, pace: bool = True) -> bytes:
        """Send one barcode the way the scanner is set up to (prefix, data, suffix, terminator)."""
        data = text.encode("ascii") if isinstance(text, str) else text
        frame = self.prefix + data + self.suffix + (self.terminator if terminator is None else terminator)
        self.send(frame, pace=pace)
        return frame

    def send(self, raw: bytes, *, pace: bool = True) -> None:
        """Write bytes; with ``pace`` one byte per character time (10 bits at the baud rate)."""
        if self._master is None:
            raise OSError("the simulated scanner is unplugged")
        if not pace:
            os.write(self._master, raw)
            return
        byte_time = 10 / self.baudrate
        for index in range(len(raw)):
            os.write(self._master, raw[index : index + 1])
            time.sleep(byte_time)

    def close(self) -> None:
        self.unplug()

    def __enter__(self) -> SimulatedSerialScanner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- keyboard-wedge scanner as an evdev event node ----------------------------------------------

EV_SYN, EV_KEY, EV_MSC = 0, 1, 4
MSC_SCAN = 4
# struct input_event: struct timeval (two C longs), __u16 type, __u16 code, __s32 value.
INPUT_EVENT = struct.Struct("@llHHi")


def input_event_records(key_events: list[tuple[int, int]], *, at: float = 0.0) -> bytes:
    """``key_events`` as the kernel delivers them from a USB keyboard: a scan code, the key, a SYN_REPORT."""
    seconds, micros = int(at), int((at % 1) * 1_000_000)
    records = []
    for code, value in key_events:
        records += [
            INPUT_EVENT.pack(seconds, micros, EV_MSC, MSC_SCAN, 0x70000 + code),
            INPUT_EVENT.pack(seconds, micros, EV_KEY, code, value),
            INPUT_EVENT.pack(seconds, micros, EV_SYN, 0, 0),
        ]
    return b"".join(records)


class SimulatedWedgeScanner:
    """A keyboard-wedge scanner behind an evdev-style event node, for hosts without ``/dev/uinput``.

    ``open`` is what the driver is given instead of ``evdev.InputDevice``: it returns a node whose
    ``read()`` is python-evdev's own (the C reader parsing ``struct input_event`` records from the
    node's file descriptor), with the kernel's grab rule (a second grab fails with EBUSY) and
    unplug behaviour (the descriptor turns readable and ``read()`` fails with ENODEV).
    The grab ioctl itself is not exercised: that needs a real input device.
    """

    def __init__(self, path: str | os.PathLike[str], *, name: str = "Honeywell Scanner Keyboard") -> None:
        self.path = Path(path)
        self.name = name
        self.nodes: list[SimulatedEventNode] = []
        self.plugged = False
        self.plug()

    def plug(self) -> None:
        self.path.touch()
        self.plugged = True

    def unplug(self, *, error: int | None = errno.ENODEV) -> None:
        """Vanish; ``error`` None makes open nodes read as end-of-file instead of failing."""
        self.plugged = False
        self.path.unlink(missing_ok=True)
        for node in list(self.nodes):  # reader threads remove their nodes as they close them
            node.hang_up(error)
        self.nodes.clear()

    def open(self, path: str) -> SimulatedEventNode:
        if not self.plugged or Path(path) != self.path:
            raise FileNotFoundError(errno.ENOENT, "No such device", path)
        node = SimulatedEventNode(self, path)
        self.nodes.append(node)
        return node

    def type(self, text: str, *, terminator: int | None = ENTER) -> None:
        self.send(wedge_key_events(text, terminator=terminator))

    def send(self, key_events: list[tuple[int, int]]) -> None:
        records = input_event_records(key_events, at=time.time())
        for node in list(self.nodes):
            node.deliver(records)

    def grabbed_by(self) -> SimulatedEventNode | None:
        return next((node for node in self.nodes if node.grabbed), None)


class SimulatedEventNode:
    """One open descriptor on a `SimulatedWedgeScanner`, with the part of ``evdev.InputDevice``
    the driver uses."""

    def __init__(self, scanner: SimulatedWedgeScanner, path: str) -> None:
        self.scanner = scanner
        self.path = path
        self.name = scanner.name
        self.fd, self._writer = os.pipe()
        os.set_blocking(self.fd, False)
        self.grabbed = False
        self.closed = False
        self._error: int | None = None

    def capabilities(self) -> dict[int, list[int]]:
        return {
            EV_SYN: [0],
            EV_KEY: sorted({code for code, _ in US_WEDGE_KEYS.values()} | {ENTER, TAB, LEFT_SHIFT}),
            EV_MSC: [MSC_SCAN],
        }

    def grab(self) -> None:
        holder = self.scanner.grabbed_by()
        if holder is not None and holder is not self:
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        self.grabbed = True

    def ungrab(self) -> None:
        if self._error is not None:
            raise OSError(self._error, os.strerror(self._error))
        self.grabbed = False

    def read(self) -> Iterator[Any]:
        if self._error is not None:
            raise OSError(self._error, os.strerror(self._error))
        from evdev.eventio import EventIO  # python-evdev's reader of struct input_event records

        return EventIO.read(self)  # type: ignore[arg-type]

    def deliver(self, records: bytes) -> None:
        if self._writer is not None:
            os.write(self._writer, records)

    def hang_up(self, error: int | None) -> None:
        """The device is gone: wake the reader; its next read fails with ``error`` (or reads EOF)."""
        self._error = error
        self.grabbed = False
        if self._writer is not None:
            os.close(self._writer)
            self._writer = None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)
            if self._writer is not None:
                os.close(self._writer)
                self._writer = None
            if self in self.scanner.nodes:
                self.scanner.nodes.remove(self)
