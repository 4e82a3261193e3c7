"""What happened: a patron's action, a device's report, or the answer to a command.

The runner and the UI create these; state machines consume them. Answers carry the ``ref`` of
the command they answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.circulation.model import Failure, LoanAnswer, Pad, PatronAccount, RenewAllAnswer, ReturnAnswer

# --- from the patron and the devices ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardPresented:
    """A library card: scanned barcode (already classified as a patron card) or RFID patron card."""

    patron_id: str
    source: str = "barcode"  # "barcode" | "rfid"


@dataclass(frozen=True, slots=True)
class PinEntered:
    pin: str = field(repr=False)  # never in a repr, so never in a log line


@dataclass(frozen=True, slots=True)
class ItemScanned:
    """An item barcode under the scanner (already classified as a library item barcode)."""

    item_id: str


@dataclass(frozen=True, slots=True)
class WrongBarcode:
    """A barcode that is not a library barcode (ISBN, EAN...): ``message_id`` says which hint."""

    message_id: str


@dataclass(frozen=True, slots=True)
class PadChanged:
    """The tag watcher's stable view of the pad changed."""

    pad: Pad


@dataclass(frozen=True, slots=True)
class Pressed:
    """A button on the screen. ``action`` names it; ``arg`` carries e.g. an item id."""

    action: str
    arg: str = ""


@dataclass(frozen=True, slots=True)
class TimerFired:
    name: str


@dataclass(frozen=True, slots=True)
class ItemDropped:
    """Returns bin: the drop-slot beam saw an item; ``item_id`` empty when no tag was read."""

    ref: str
    item_id: str
    uids: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class BinFull:
    bin: str
    full: bool


@dataclass(frozen=True, slots=True)
class IlsHealth:
    """The ILS connection's health changed (the runner reports it; staff mode shows it).

    ``latency_ms`` is the last SIP2 round trip, None before the first; ``last_error`` is "" when
    the last exchange succeeded.
    """

    connected: bool
    latency_ms: float | None = None
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device's health changed (reader, printer, scanner, diverter...): the runner reports it,
    staff mode shows it. ``state`` is "ok", "warning" or "failed"; ``reason`` is for staff."""

    component: str
    state: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class GateAlarm:
    """The security gate alarmed: something left with its security still on. ``at`` is the wall
    clock (seconds since the epoch) when the gate said so, for the log; the machines never read it."""

    at: float


@dataclass(frozen=True, slots=True)
class OfflineQueueChanged:
    """The journal's queue changed: transactions waiting for replay, and those staff must look at
    (rejected on replay, or of unknown outcome). ``oldest`` is the oldest waiting one's time, as text."""

    waiting: int
    needs_staff: int = 0
    oldest: str = ""


# --- answers to commands ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatronLookedUp:
    ref: str
    account: PatronAccount


@dataclass(frozen=True, slots=True)
class LoanAnswered:
    ref: str
    answer: LoanAnswer


@dataclass(frozen=True, slots=True)
class ReturnAnswered:
    ref: str
    answer: ReturnAnswer


@dataclass(frozen=True, slots=True)
class RenewAllAnswered:
    ref: str
    answer: RenewAllAnswer


@dataclass(frozen=True, slots=True)
class IlsFailed:
    ref: str
    failure: Failure


@dataclass(frozen=True, slots=True)
class SecuritySet:
    ref: str
    ok: bool
    failed_uids: tuple[bytes, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Printed:
    ref: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Emailed:
    ref: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Routed:
    ref: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class GateOpened:
    """Answer to OpenGate: ``ok`` when the relay was pulsed; otherwise ``detail`` says why not (no
    gate, GPIO unavailable, a gate in "hold" mode)."""

    ref: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SessionEnded:
    ref: str


@dataclass(frozen=True, slots=True)
class TagWritten:
    """Answer to WriteTag: ``ok`` only when the tag was written and read back as intended."""

    ref: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DeviceTested:
    """Answer to TestDevice."""

    ref: str
    ok: bool
    detail: str = ""


Event = (
    CardPresented | PinEntered | ItemScanned | WrongBarcode | PadChanged | Pressed | TimerFired
    | ItemDropped | BinFull | IlsHealth | PatronLookedUp | LoanAnswered | ReturnAnswered | RenewAllAnswered
    | IlsFailed | SecuritySet | Printed | Emailed | Routed | GateOpened | SessionEnded | DeviceStatus
    | OfflineQueueChanged | TagWritten | DeviceTested | GateAlarm
)
