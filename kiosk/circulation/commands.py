"""What the core asks the shell to do. Plain immutable values: the core never performs them.

Every command that produces an answer carries a ``ref``; the runner returns the answer as an
event with the same ``ref`` (see ``events.py``), so a state machine can tell which row of a
stack an answer belongs to even when the answers arrive out of order (a stack is processed in
parallel over the SIP2 pool).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LookUpPatron:
    """63 Patron Information → PatronLookedUp | IlsFailed."""

    ref: str
    patron_id: str
    pin: str | None = field(repr=False)  # None: the site uses no PIN; never in a repr (logs)


@dataclass(frozen=True, slots=True)
class CheckOut:
    """11 Checkout → LoanAnswered | IlsFailed. An outcome-unknown answer is resolved by the
    gateway (17 Item Information) before it reaches the core, never resent blindly.

    ``tag_usages``: the types of usage the item's tags said on the pad (``PadItem.usage``), for the
    offline policy, which cannot ask the ILS whether the item may go out; empty for an item known
    only by its barcode. Never sent to the ILS."""

    ref: str
    patron_id: str
    item_id: str
    pin: str | None = field(repr=False)
    tag_usages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Renew:
    """29 Renew → LoanAnswered | IlsFailed."""

    ref: str
    patron_id: str
    item_id: str
    pin: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class RenewAll:
    """65 Renew All → RenewAllAnswered | IlsFailed."""

    ref: str
    patron_id: str
    pin: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class CheckIn:
    """09 Checkin → ReturnAnswered | IlsFailed."""

    ref: str
    item_id: str


@dataclass(frozen=True, slots=True)
class EndPatronSession:
    """35 End Patron Session; best effort, answered with SessionEnded."""

    ref: str
    patron_id: str
    pin: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class SetSecurity:
    """Turn the tags' security off (on loan) or on (in library), then read it back.

    → SecuritySet(ok=True) only when every tag was verified; otherwise SecuritySet(ok=False)
    naming the tags that are not in the wanted state (e.g. the patron lifted the book)."""

    ref: str
    uids: tuple[bytes, ...]
    on_loan: bool


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    text: str
    bold: bool = False


@dataclass(frozen=True, slots=True)
class PrintReceipt:
    """→ Printed. ``lines`` carry no PIN and only a masked patron id."""

    ref: str
    lines: tuple[ReceiptLine, ...]


@dataclass(frozen=True, slots=True)
class EmailReceipt:
    """→ Emailed. Sent to the address the ILS holds for the patron."""

    ref: str
    to: str
    lines: tuple[ReceiptLine, ...]


@dataclass(frozen=True, slots=True)
class PrintSlip:
    """A hold or transit slip in the returns bin. → Printed."""

    ref: str
    kind: str  # "hold" or "transit"
    lines: tuple[ReceiptLine, ...]


@dataclass(frozen=True, slots=True)
class RouteToBin:
    """Returns bin: send the item that just came through to ``bin`` (diverter). → Routed."""

    ref: str
    bin: str


@dataclass(frozen=True, slots=True)
class OpenGate:
    """Open the exit barrier or security gate once (in "pulse" mode the relay pulses for
    ``[gpio] gate_pulse_seconds``). → GateOpened.

    The patron session asks for it when a patron leaves with a loan, staff mode when staff press
    "Open the gate". A kiosk with no gate, or with one held open while in service ("hold" mode),
    answers ``ok=False`` with the reason and nothing moves."""

    ref: str


@dataclass(frozen=True, slots=True)
class StartTimer:
    """→ TimerFired(name) after ``seconds``, unless cancelled or restarted first."""

    name: str
    seconds: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, slots=True)
class Signal:
    """A sound or light cue for the patron (the UI and GPIO decide how; a setting can mute it)."""

    kind: str  # "success", "attention", "error"


@dataclass(frozen=True, slots=True)
class WriteTag:
    """Staff tag programming: write one tag of an item. → TagWritten.

    The runner encodes the site's tag data model (``kiosk/hardware/rfid/models``) with the item id
    and set information, writes it with security on (the item is in the library), reads the tag
    back, decodes it and compares: TagWritten(ok=True) only when what it read is what was meant."""

    ref: str
    uid: bytes
    item_id: str
    parts_in_set: int
    part_number: int


@dataclass(frozen=True, slots=True)
class TestDevice:
    """Staff's device test: "reader" (answers, firmware, antenna) or "printer" (prints a test page).
    → DeviceTested."""

    __test__ = False  # not a pytest test class, whatever its name

    ref: str
    component: str


@dataclass(frozen=True, slots=True)
class SetOutOfService:
    """Staff switched the kiosk out of (or back into) service: the patron screen shows a sign and
    takes no patrons, the returns slot closes. No answer."""

    on: bool


@dataclass(frozen=True, slots=True)
class LeaveKiosk:
    """Staff leave the kiosk application (to the desktop or a maintenance shell). No answer."""


Command = (
    LookUpPatron | CheckOut | Renew | RenewAll | CheckIn | EndPatronSession | SetSecurity | PrintReceipt
    | EmailReceipt | PrintSlip | RouteToBin | OpenGate | StartTimer | CancelTimer | Signal
    | WriteTag | TestDevice | SetOutOfService | LeaveKiosk
)
