"""The unattended returns bin: check in whatever enters the drop, secure it, sort it into a bin.

Each dropped item runs its own pipeline (checkin, then security on, then a bin), so several items
can be in flight over the SIP2 pool and their answers may come back in any order. The diverter is
physical, though: items reach it in the order they entered the slot, so an item whose bin is known
waits until every item ahead of it has been routed. That is why ``in_flight`` is kept in arrival
order and only its head is ever routed.

Anything staff must look at (unreadable, unknown or refused items, ILS failures, security or
diverter failures, slips that did not print) goes to the exceptions bin where that makes sense and
is always recorded in ``exceptions``, which only a staff action clears. An item the library knows
is armed on its way there whatever its checkin said (refused, not on loan, no answer): it is inside
the library now, and an exception staff have not reached yet must not leave it walkable past the
gate (the simulated day found one back on the shelf unarmed after a lost answer). Only an item the
ILS does not know, possibly another library's, and an unreadable one are left as they came.

Deciding whether an ``ok=False`` checkin is harmless ("it was not on loan") or a refusal is done
from the answer alone, see :func:`judge`.

The bins' counts, the exceptions and the sorter's fault describe the physical bin, which outlives the
process: :class:`Remembered` is that part of the state, kept on disk by the shell
(:mod:`kiosk.shell.returns_memory`) and handed back to :class:`ReturnsBinMachine` at the next start.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from kiosk.circulation.commands import CheckIn, Command, PrintSlip, ReceiptLine, RouteToBin, SetSecurity
from kiosk.circulation.events import (
    BinFull,
    Event,
    IlsFailed,
    ItemDropped,
    Pressed,
    Printed,
    ReturnAnswered,
    Routed,
    SecuritySet,
)
from kiosk.circulation.model import Alert, ReturnAnswer
from kiosk.config import ReturnsSettings

# English defaults for the message ids this module puts in states and slips; the UI's i18n
# catalogs translate the ids, this table is what shows when no catalog has them.
MESSAGES: dict[str, str] = {
    "returns.open": "Returns: please insert one item at a time",
    "returns.closed.bin_full": "Bin full — returns closed ({bins})",
    "returns.closed.fault": "Returns closed: the sorter needs staff ({detail})",
    "returns.unreadable": "No tag could be read",
    "returns.unknown_item": "The library system does not know this item",
    "returns.refused": "The library system refused the return",
    "returns.not_on_loan": "The item was not on loan",
    "returns.ils_alert": "The library system flagged this item",
    "returns.sorted_to_exceptions": "The library system's sort bin sends this item to staff",
    "returns.offline": "Returned while the library system was offline: staff check it for holds and transits",
    "returns.ils_failed": "The library system did not answer",
    "returns.security_failed": "The tag's security could not be turned back on",
    "returns.route_failed": "The sorter could not route this item",
    "returns.slip_not_printed": "The slip did not print",
    "slip.hold": "HOLD",
    "slip.transit": "TRANSIT",
    "slip.for": "For: {name}",
    "slip.pickup_at": "Pick up at: {place}",
    "slip.to": "To: {place}",
    "slip.item": "Item: {item_id}",
}

# How ILSs word "this item was not on loan" when they answer a checkin with ok=0 (the simulated ILS
# and SIPServer-style servers: "Item not checked out"; Koha sends no text at all). Matched as
# lower-case substrings; any other text on an ok=0 answer is taken as a refusal.
NOT_ON_LOAN_NOTES: tuple[str, ...] = ("not checked out", "not on loan", "not issued", "not charged")

_SLIP_ALERTS = {Alert.HOLD_HERE: "hold", Alert.HOLD_OTHER_BRANCH: "hold", Alert.TRANSIT: "transit"}


class Stage(StrEnum):
    CHECKING_IN = "checking in"  # CheckIn sent
    SECURING = "securing"  # SetSecurity(on_loan=False) sent
    SORTED = "sorted"  # bin known, waiting for the items ahead to be routed
    ROUTING = "routing"  # RouteToBin sent


@dataclass(frozen=True, slots=True)
class DropItem:
    """One item between the slot and its bin. Holds nothing about any patron."""

    seq: int  # arrival number, also the stem of this item's command refs
    drop_ref: str  # the runner's ref of ItemDropped, to ignore a repeated report
    item_id: str
    uids: tuple[bytes, ...]
    stage: Stage
    bin: str = ""
    title: str = ""


@dataclass(frozen=True, slots=True)
class ReturnException:
    """Something staff must look at: which item, where it went, and why (a message id + detail)."""

    seq: int
    item_id: str
    bin: str
    reason: str  # message id, see MESSAGES
    detail: str = ""  # the ILS's own words or the device's report
    title: str = ""


@dataclass(frozen=True, slots=True)
class PendingSlip:
    ref: str
    seq: int
    item_id: str
    bin: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class ReturnsState:
    """What the returns bin is doing; the runner closes the slot whenever ``accepting`` is False."""

    counts: tuple[tuple[str, int], ...] = ()  # bin -> items routed there since it was last emptied
    in_flight: tuple[DropItem, ...] = ()  # arrival order; only the head is ever routed
    exceptions: tuple[ReturnException, ...] = ()
    pending_slips: tuple[PendingSlip, ...] = ()
    sensor_full: tuple[str, ...] = ()  # bins whose full sensor is on
    full_bins: tuple[str, ...] = ()  # bins at capacity or reported full, in counts order
    fault: str = ""  # the diverter failed: routing waits for staff
    next_seq: int = 1
    routed_total: int = 0  # staff counter: items routed since start

    @property
    def accepting(self) -> bool:
        return not self.full_bins and not self.fault

    @property
    def sign(self) -> tuple[str, dict[str, str]]:
        """The sign on the slot, as a message id and its parameters."""
        if self.fault:
            return ("returns.closed.fault", {"detail": self.fault})
        if self.full_bins:
            return ("returns.closed.bin_full", {"bins": ", ".join(self.full_bins)})
        return ("returns.open", {})

    def count(self, bin_name: str) -> int:
        return dict(self.counts).get(bin_name, 0)


@dataclass(frozen=True, slots=True)
class Remembered:
    """What the returns bin must still know after a restart, because it is true of the bins and not of
    the process: how full each bin is (else a half-full bin takes ``bin_capacity`` more items and
    overflows), what staff must look at (else they lose track of those items), and a sorter fault
    (the jammed item is still there).

    Items in flight are not part of it: their checkins are in the journal, and the process that knew
    where they were going is gone. Nothing here is about a patron.
    """

    counts: tuple[tuple[str, int], ...] = ()
    exceptions: tuple[ReturnException, ...] = ()
    fault: str = ""

    @classmethod
    def of(cls, state: ReturnsState) -> Remembered:
        return cls(state.counts, state.exceptions, state.fault)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an answer means for the bin: sortable (``reason`` empty) or an exception."""

    reason: str = ""
    detail: str = ""

    @property
    def sortable(self) -> bool:
        return not self.reason


def judge(
    answer: ReturnAnswer, settings: ReturnsSettings, not_on_loan_notes: tuple[str, ...] = NOT_ON_LOAN_NOTES
) -> Verdict:
    """May this checkin answer be sorted like a successful return?

    ``ok=True`` always may. ``ok=False`` means either "the item was not on loan" (Koha's default and
    SIPServer answer that way, with the item known and nothing wrong) or a real refusal. Told apart
    from the answer's fields, most telling first:

    1. no title: the ILS did not describe the item, it is unknown (Koha, SIPServer, the simulated ILS
       omit AJ for an unknown barcode) → exception "unknown item";
    2. alert type OTHER (CV 99): Koha's mark for unknown, withdrawn, lost-and-blocked and
       hold-blocks-checkin → exception "refused". This needs the gateway to keep Koha's bare alert
       flag on an ok=0 answer (Koha sets it to ``!ok`` when there is no CV) from becoming OTHER;
    3. ``accept_not_on_loan`` off → exception "not on loan";
    4. a former borrower named (AA): the item was on loan and the return still failed → "refused";
    5. any message that is not a "not on loan" note (``not_on_loan_notes``) → "refused", so an
       explicit refusal in the ILS's words always reaches staff.

    Only an answer that passes all five is sorted as if ok. When in doubt the item goes to staff:
    a wrongly refused item costs a look; a wrongly accepted one may vanish onto a shelf.
    """
    if answer.ok:
        return Verdict()
    words = "; ".join(answer.messages)
    if not answer.title:
        return Verdict("returns.unknown_item", words)
    if answer.alert is Alert.OTHER:
        return Verdict("returns.refused", words)
    if not settings.accept_not_on_loan:
        return Verdict("returns.not_on_loan", words)
    if answer.was_on_loan_to:
        return Verdict("returns.refused", words)
    notes = tuple(n.lower() for n in not_on_loan_notes)
    if any(not any(n in m.lower() for n in notes) for m in answer.messages):
        return Verdict("returns.refused", words)
    return Verdict()


def choose_bin(answer: ReturnAnswer, settings: ReturnsSettings) -> str:
    """The bin for a sortable answer: the site's mapping of the ILS's sort bin (CL) wins, else the
    alert type decides. A return recorded offline goes to staff: its holds and transits are unknown
    until the ILS hears of it, and a reshelved item someone is waiting for is lost to them."""
    if answer.offline:
        return settings.exceptions_bin
    mapped = settings.sort_bins.get(answer.sort_bin) if answer.sort_bin else None
    if mapped:
        return mapped
    return {
        Alert.HOLD_HERE: settings.hold_here_bin,
        Alert.HOLD_OTHER_BRANCH: settings.hold_other_branch_bin,
        Alert.TRANSIT: settings.transit_bin,
        Alert.NONE: settings.reshelve_bin,
    }.get(answer.alert, settings.exceptions_bin)


def slip_lines(kind: str, answer: ReturnAnswer) -> tuple[ReceiptLine, ...]:
    """A hold or transit slip. The hold patron's name belongs on the slip (it is how staff shelve
    holds) but never on the screen: it lives only in this command, not in any state."""
    lines = [ReceiptLine(MESSAGES[f"slip.{kind}"], bold=True)]
    if answer.title:
        lines.append(ReceiptLine(answer.title))
    if kind == "hold":
        holder = answer.hold_patron_name or _masked(answer.hold_patron_id)
        if holder:
            lines.append(ReceiptLine(MESSAGES["slip.for"].format(name=holder), bold=True))
        if answer.alert is Alert.HOLD_OTHER_BRANCH and answer.destination:
            lines.append(ReceiptLine(MESSAGES["slip.pickup_at"].format(place=answer.destination)))
    elif answer.destination:
        lines.append(ReceiptLine(MESSAGES["slip.to"].format(place=answer.destination), bold=True))
    lines.append(ReceiptLine(MESSAGES["slip.item"].format(item_id=answer.item_id)))
    return tuple(lines)


def _masked(patron_id: str) -> str:
    return "" if not patron_id else "*" * max(0, len(patron_id) - 4) + patron_id[-4:]


def _ref(seq: int, what: str) -> str:
    return f"rb-{seq}-{what}"


class ReturnsBinMachine:
    """The book drop's decisions. Items that arrive while the slot is closing are still processed:
    they are physically inside, and dropping them from the state would lose them.

    A bin is full once ``bin_capacity`` items were routed to it (or its sensor says so); items
    already in flight then still go to their bins, so a bin may exceed the capacity by at most the
    number of items in flight — set the capacity with that margin.

    ``remembered`` is what the bin knew when the process last stopped (:class:`Remembered`); the
    machine starts from it: the counts of the bins the settings still name (a bin renamed or removed
    since is forgotten, its count means nothing now), every exception, the fault. A bin remembered at
    capacity keeps the slot closed until staff empty it.
    """

    def __init__(self, settings: ReturnsSettings, *, not_on_loan_notes: tuple[str, ...] = NOT_ON_LOAN_NOTES,
                 remembered: Remembered | None = None):
        self.settings = settings
        self.not_on_loan_notes = not_on_loan_notes
        self.remembered = remembered or Remembered()

    def start(self) -> tuple[ReturnsState, list[Command]]:
        s = self.settings
        names = [s.hold_here_bin, s.hold_other_branch_bin, s.transit_bin, s.reshelve_bin, s.exceptions_bin]
        names += list(s.sort_bins.values())
        known = dict(self.remembered.counts)
        counts = tuple((name, max(0, known.get(name, 0))) for name in dict.fromkeys(names))
        exceptions = self.remembered.exceptions
        # New arrivals number on from the remembered exceptions, so each exception keeps its own number.
        next_seq = max((e.seq for e in exceptions), default=0) + 1
        state = ReturnsState(counts=counts, exceptions=exceptions, fault=self.remembered.fault, next_seq=next_seq)
        return self._with_full_bins(state), []

    def step(self, state: ReturnsState, event: Event) -> tuple[ReturnsState, list[Command]]:
        commands: list[Command] = []
        match event:
            case ItemDropped():
                state = self._dropped(state, event, commands)
            case ReturnAnswered():
                state = self._answered(state, event, commands)
            case IlsFailed():
                state = self._ils_failed(state, event, commands)
            case SecuritySet():
                state = self._secured(state, event)
            case Routed():
                state = self._routed(state, event)
            case Printed():
                state = self._printed(state, event)
            case BinFull():
                full = tuple(b for b in state.sensor_full if b != event.bin)
                state = replace(state, sensor_full=(*full, event.bin) if event.full else full)
            case Pressed(action="bin_emptied", arg=bin_name) if bin_name in self._known_bins(state):
                counts = tuple((b, 0 if b == bin_name else n) for b, n in state.counts)
                full = tuple(b for b in state.sensor_full if b != bin_name)
                state = replace(state, counts=counts, sensor_full=full)
            case Pressed(action="fault_cleared"):
                state = replace(state, fault="")
            case Pressed(action="exceptions_cleared"):
                state = replace(state, exceptions=())
            case _:
                return state, []
        state = self._route_next(state, commands)
        return self._with_full_bins(state), commands

    # --- the pipeline of one item -------------------------------------------------------------

    def _dropped(self, state: ReturnsState, event: ItemDropped, commands: list[Command]) -> ReturnsState:
        if any(i.drop_ref == event.ref for i in state.in_flight):
            return state  # the same drop reported twice
        seq = state.next_seq
        state = replace(state, next_seq=seq + 1)
        if not event.item_id:
            item = DropItem(seq, event.ref, "", event.uids, Stage.SORTED, self.settings.exceptions_bin)
            detail = " ".join(uid.hex().upper() for uid in event.uids)
            state = _add_exception(state, item, "returns.unreadable", detail)
        else:
            item = DropItem(seq, event.ref, event.item_id, event.uids, Stage.CHECKING_IN)
            commands.append(CheckIn(_ref(seq, "checkin"), event.item_id))
        return replace(state, in_flight=(*state.in_flight, item))

    def _answered(self, state: ReturnsState, event: ReturnAnswered, commands: list[Command]) -> ReturnsState:
        item = _find(state, event.ref, Stage.CHECKING_IN, "checkin")
        if item is None:
            return state
        answer = event.answer
        item = replace(item, title=answer.title)
        verdict = judge(answer, self.settings, self.not_on_loan_notes)
        if not verdict.sortable:
            ours = verdict.reason != "returns.unknown_item"
            return self._to_staff(state, item, verdict.reason, verdict.detail, commands, armed=ours)
        item = replace(item, bin=choose_bin(answer, self.settings))
        if item.bin == self.settings.exceptions_bin:
            # Checked in, but the ILS's alert or the site's sort-bin mapping sends it to staff.
            if answer.offline:
                reason = "returns.offline"
            elif answer.alert is Alert.OTHER:
                reason = "returns.ils_alert"
            else:
                reason = "returns.sorted_to_exceptions"
            state = _add_exception(state, item, reason, "; ".join(answer.messages))
        if item.uids:
            commands.append(SetSecurity(_ref(item.seq, "security"), item.uids, on_loan=False))
            state = _put(state, replace(item, stage=Stage.SECURING))
        else:
            # No RFID tag (a barcode-reading drop): there is no security of ours to turn on.
            state = _put(state, replace(item, stage=Stage.SORTED))
        kind = _SLIP_ALERTS.get(answer.alert)
        if kind and self.settings.slips:
            ref = _ref(item.seq, "slip")
            commands.append(PrintSlip(ref, kind, slip_lines(kind, answer)))
            slip = PendingSlip(ref, item.seq, item.item_id, item.bin, item.title)
            state = replace(state, pending_slips=(*state.pending_slips, slip))
        return state

    def _ils_failed(self, state: ReturnsState, event: IlsFailed, commands: list[Command]) -> ReturnsState:
        item = _find(state, event.ref, Stage.CHECKING_IN, "checkin")
        if item is None:
            return state
        detail = f"{event.failure.kind}: {event.failure.detail}"
        return self._to_staff(state, item, "returns.ils_failed", detail, commands, armed=True)

    def _secured(self, state: ReturnsState, event: SecuritySet) -> ReturnsState:
        item = _find(state, event.ref, Stage.SECURING, "security")
        if item is None:
            return state
        if event.ok:
            return _put(state, replace(item, stage=Stage.SORTED))
        failed = " ".join(uid.hex().upper() for uid in event.failed_uids)
        detail = "; ".join(part for part in (failed, event.detail) if part)
        return self._to_exceptions(state, item, "returns.security_failed", detail)

    def _to_staff(
        self, state: ReturnsState, item: DropItem, reason: str, detail: str, commands: list[Command], *, armed: bool
    ) -> ReturnsState:
        """To the exceptions bin for ``reason``; ``armed``: its security is turned on first."""
        if not (armed and item.uids):
            return self._to_exceptions(state, item, reason, detail)
        item = replace(item, stage=Stage.SECURING, bin=self.settings.exceptions_bin)
        commands.append(SetSecurity(_ref(item.seq, "security"), item.uids, on_loan=False))
        return _put(_add_exception(state, item, reason, detail), item)

    def _to_exceptions(self, state: ReturnsState, item: DropItem, reason: str, detail: str) -> ReturnsState:
        item = replace(item, stage=Stage.SORTED, bin=self.settings.exceptions_bin)
        return _put(_add_exception(state, item, reason, detail), item)

    # --- the diverter ---------------------------------------------------------------------------

    def _route_next(self, state: ReturnsState, commands: list[Command]) -> ReturnsState:
        if state.fault or not state.in_flight:
            return state
        head = state.in_flight[0]
        if head.stage is not Stage.SORTED:
            return state  # routing or still being decided: everything behind it waits
        commands.append(RouteToBin(_ref(head.seq, "route"), head.bin))
        return _put(state, replace(head, stage=Stage.ROUTING))

    def _routed(self, state: ReturnsState, event: Routed) -> ReturnsState:
        item = _find(state, event.ref, Stage.ROUTING, "route")
        if item is None:
            return state
        rest = tuple(i for i in state.in_flight if i.seq != item.seq)
        if not event.ok:
            state = _add_exception(state, item, "returns.route_failed", event.detail)
            return replace(state, in_flight=rest, fault=event.detail or "diverter")
        counts = dict(state.counts)
        counts[item.bin] = counts.get(item.bin, 0) + 1
        return replace(
            state, in_flight=rest, counts=tuple(counts.items()), routed_total=state.routed_total + 1
        )

    def _printed(self, state: ReturnsState, event: Printed) -> ReturnsState:
        slip = next((s for s in state.pending_slips if s.ref == event.ref), None)
        if slip is None:
            return state
        state = replace(state, pending_slips=tuple(s for s in state.pending_slips if s is not slip))
        if event.ok:
            return state
        failed = ReturnException(
            slip.seq, slip.item_id, slip.bin, "returns.slip_not_printed", event.detail, slip.title
        )
        return replace(state, exceptions=(*state.exceptions, failed))

    @staticmethod
    def _known_bins(state: ReturnsState) -> set[str]:
        return {b for b, _ in state.counts} | set(state.sensor_full)

    def _with_full_bins(self, state: ReturnsState) -> ReturnsState:
        at_capacity = [b for b, n in state.counts if n >= self.settings.bin_capacity]
        full = tuple(dict.fromkeys(at_capacity + list(state.sensor_full)))
        return state if full == state.full_bins else replace(state, full_bins=full)


def _find(state: ReturnsState, ref: str, stage: Stage, what: str) -> DropItem | None:
    return next((i for i in state.in_flight if i.stage is stage and _ref(i.seq, what) == ref), None)


def _put(state: ReturnsState, item: DropItem) -> ReturnsState:
    return replace(state, in_flight=tuple(item if i.seq == item.seq else i for i in state.in_flight))


def _add_exception(state: ReturnsState, item: DropItem, reason: str, detail: str = "") -> ReturnsState:
    record = ReturnException(item.seq, item.item_id, item.bin, reason, detail, item.title)
    return replace(state, exceptions=(*state.exceptions, record))
