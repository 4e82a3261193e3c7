"""Receipt printer, e-mail, the returns bin's diverter and the exit gate, each behind one small
interface.

The real drivers come with the printer and GPIO work (issue 6). Until a site configures one, the
``No...`` implementation answers every command with a failure that names what is missing, so the
core tells the patron "no receipt" instead of pretending one came out. ``Memory...`` versions keep
what they were given, for tests and the demo.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from kiosk.circulation.commands import EmailReceipt, OpenGate, PrintReceipt, PrintSlip, ReceiptLine, RouteToBin
from kiosk.circulation.events import Emailed, GateOpened, Printed, Routed

Lines = tuple[ReceiptLine, ...]


class OutputUnavailable(Exception):
    """The device is not configured, absent or failed; the message says which, for the staff log."""


class ReceiptPrinter(Protocol):
    def print_lines(self, lines: Lines, *, kind: str) -> None:
        """Print one receipt or slip (``kind``: "receipt", "hold", "transit"); raise OutputUnavailable."""
        ...


class Mailer(Protocol):
    def send(self, to: str, lines: Lines) -> None: ...


class BinDiverter(Protocol):
    def route(self, bin: str) -> None:
        """Send the item now in the chute to ``bin``."""
        ...


class Gate(Protocol):
    def open(self) -> bool:
        """Open the gate once (a relay pulse): True. False when the gate is not opened on request (a
        relay held while the kiosk is in service). Raise OutputUnavailable when it cannot be reached."""
        ...


class NoPrinter:
    def print_lines(self, lines: Lines, *, kind: str) -> None:
        raise OutputUnavailable("no printer configured")


class NoMailer:
    def send(self, to: str, lines: Lines) -> None:
        raise OutputUnavailable("e-mail is not configured")


class NoDiverter:
    def route(self, bin: str) -> None:
        raise OutputUnavailable("no bin diverter configured")


class NoGate:
    def open(self) -> bool:
        raise OutputUnavailable("no gate configured")


@dataclass
class MemoryPrinter:
    """Keeps every printout as (kind, lines)."""

    printed: list[tuple[str, Lines]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def print_lines(self, lines: Lines, *, kind: str) -> None:
        with self._lock:
            self.printed.append((kind, lines))


@dataclass
class MemoryMailer:
    sent: list[tuple[str, Lines]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, to: str, lines: Lines) -> None:
        with self._lock:
            self.sent.append((to, lines))


@dataclass
class MemoryGate:
    """Counts the openings (``held``: a gate in "hold" mode, which opening leaves as it is)."""

    held: bool = False
    openings: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def open(self) -> bool:
        with self._lock:
            if self.held:
                return False
            self.openings += 1
            return True


@dataclass
class MemoryDiverter:
    """Counts what went to which bin, in order."""

    routed: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def route(self, bin: str) -> None:
        with self._lock:
            self.routed.append(bin)

    def counts(self) -> dict[str, int]:
        with self._lock:
            counts: dict[str, int] = {}
            for name in self.routed:
                counts[name] = counts.get(name, 0) + 1
            return counts


OutputCommand = PrintReceipt | PrintSlip | EmailReceipt | RouteToBin | OpenGate
Answer = Printed | Emailed | Routed | GateOpened
HELD = 'the gate is in "hold" mode: held open while the kiosk is in service, not opened on request'


@dataclass(frozen=True)
class Outputs:
    """The output devices of one kiosk; :meth:`perform` turns a command into its answer event."""

    printer: ReceiptPrinter = field(default_factory=NoPrinter)
    mailer: Mailer = field(default_factory=NoMailer)
    diverter: BinDiverter = field(default_factory=NoDiverter)
    gate: Gate = field(default_factory=NoGate)

    def perform(self, command: OutputCommand) -> Answer:
        try:
            if isinstance(command, OpenGate):
                if not self.gate.open():
                    return failure(command, HELD)
            elif isinstance(command, PrintReceipt):
                self.printer.print_lines(command.lines, kind="receipt")
            elif isinstance(command, PrintSlip):
                self.printer.print_lines(command.lines, kind=command.kind)
            elif isinstance(command, EmailReceipt):
                self.mailer.send(command.to, command.lines)
            else:
                self.diverter.route(command.bin)
        except OutputUnavailable as exc:
            return failure(command, str(exc))
        return success(command)


def success(command: OutputCommand) -> Answer:
    return _answer(command, True, "")


def failure(command: OutputCommand, detail: str) -> Answer:
    return _answer(command, False, detail)


def _answer(command: OutputCommand, ok: bool, detail: str) -> Answer:
    if isinstance(command, EmailReceipt):
        return Emailed(command.ref, ok, detail)
    if isinstance(command, RouteToBin):
        return Routed(command.ref, ok, detail)
    if isinstance(command, OpenGate):
        return GateOpened(command.ref, ok, detail)
    return Printed(command.ref, ok, detail)
