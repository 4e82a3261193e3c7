"""When the exit barrier opens, decided in the core: once when a patron's session ends with a loan the
patron was told is theirs (online or recorded offline), never for a session that lent nothing, never at
the returns bin; and on staff's "Open the gate", where a gate is wired, with the answer shown to staff.

``Desk`` plays the runner for the session machine: it keeps every command, so a test can answer them
by their refs and count the ``OpenGate`` commands over the whole session.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk.circulation.commands import (
    CheckIn,
    CheckOut,
    Command,
    EndPatronSession,
    LookUpPatron,
    OpenGate,
    PrintReceipt,
    PrintSlip,
    Renew,
    RouteToBin,
    SetSecurity,
    StartTimer,
)
from kiosk.circulation.events import (
    CardPresented,
    Event,
    GateOpened,
    IlsFailed,
    ItemDropped,
    ItemScanned,
    LoanAnswered,
    PadChanged,
    PatronLookedUp,
    PinEntered,
    Pressed,
    Printed,
    ReturnAnswered,
    Routed,
    SecuritySet,
    TimerFired,
)
from kiosk.circulation.model import (
    Alert,
    Failure,
    FailureKind,
    Loan,
    LoanAnswer,
    Pad,
    PadItem,
    PatronAccount,
    ReturnAnswer,
)
from kiosk.circulation.returns import ReturnsBinMachine
from kiosk.circulation.rows import RowKind, RowState
from kiosk.circulation.session import MORE_TIME, PatronSessionMachine, Phase, leaves_with_loans
from kiosk.circulation.staff import IDLE_TIMER, MESSAGES, OPEN_GATE, Screen, StaffMachine
from kiosk.circulation.station import KioskStationMachine, ReturnsStationMachine
from kiosk.config import CirculationSettings, ReturnsSettings

PATRON = "21234000000018"
STAFF_PIN = "2468"
NEVER = CirculationSettings(pin_required=False, receipt="never")
ASK = CirculationSettings(pin_required=False, receipt="ask")


def tag(item_id: str, n: int) -> PadItem:
    return PadItem(bytes([0xE0, 0x04, 0, 0, 0, 0, 0, n]), item_id)


def on_pad(*items: PadItem) -> PadChanged:
    return PadChanged(Pad(items=items))


def lent(item_id: str, **fields: object) -> LoanAnswer:
    fields.setdefault("ok", True)
    fields.setdefault("due", "20261201    235959")
    return LoanAnswer(item_id, **fields)  # type: ignore[arg-type]


class Desk:
    """The session machine, driven as the runner drives it."""

    def __init__(self, settings: CirculationSettings = NEVER) -> None:
        self.machine = PatronSessionMachine(settings)
        self.state, self.last = self.machine.start()
        self.log: list[Command] = list(self.last)

    def feed(self, *events: Event) -> list[Command]:
        commands: list[Command] = []
        for event in events:
            self.state, self.last = self.machine.step(self.state, event)
            self.log += self.last
            commands += self.last
        return commands

    def only(self, kind: type, commands: list[Command] | None = None):
        found = [c for c in (self.last if commands is None else commands) if isinstance(c, kind)]
        assert len(found) == 1, f"expected one {kind.__name__} in {commands or self.last}"
        return found[0]

    def openings(self) -> list[OpenGate]:
        return [c for c in self.log if isinstance(c, OpenGate)]

    def identify(self, account: PatronAccount | None = None) -> None:
        lookup = self.only(LookUpPatron, self.feed(CardPresented(PATRON)))
        self.feed(PatronLookedUp(lookup.ref, account or PatronAccount(PATRON, known=True, pin_ok=None)))
        assert self.state.phase is Phase.ACTIVE

    def checkout(self, item_id: str) -> CheckOut:
        return next(c for c in reversed(self.log) if isinstance(c, CheckOut) and c.item_id == item_id)

    def borrow(self, item: PadItem, answer: LoanAnswer | None = None) -> None:
        """The item on the pad, the ILS (or the journal) answers, its security is released and read back."""
        self.feed(on_pad(*self.state.pad.items, item))
        security = self.only(SetSecurity, self.feed(LoanAnswered(self.checkout(item.item_id).ref,
                                                                 answer or lent(item.item_id))))
        self.feed(SecuritySet(security.ref, ok=True))

    def finish(self) -> list[Command]:
        return self.feed(on_pad(), Pressed("finish"))


# --- the patron's session --------------------------------------------------------------------------------


def test_a_session_that_lent_a_book_opens_the_gate_once_as_it_ends() -> None:
    d = Desk()
    d.identify()
    d.borrow(tag("A", 1))
    assert d.state.row(RowKind.BORROW, "A").state is RowState.DONE
    assert d.openings() == []  # not while the patron is still at the kiosk
    ending = d.finish()
    assert d.state.phase is Phase.IDLE
    opening = d.only(OpenGate, ending)
    assert d.only(EndPatronSession, ending) and d.openings() == [opening]
    d.feed(GateOpened(opening.ref, ok=True), on_pad(), TimerFired("inactivity"))
    assert d.openings() == [opening]  # the answer and what follows ask for nothing more


def test_two_books_are_still_one_opening_and_the_next_session_opens_again() -> None:
    d = Desk()
    d.identify()
    d.borrow(tag("A", 1))
    d.borrow(tag("B", 2))
    d.finish()
    assert len(d.openings()) == 1
    d.identify()
    d.borrow(tag("C", 3))
    d.finish()
    first, second = d.openings()
    assert first.ref != second.ref  # each a request of its own


def test_with_a_receipt_the_gate_opens_when_the_receipt_is_out() -> None:
    d = Desk(ASK)
    d.identify()
    d.borrow(tag("A", 1))
    d.finish()
    assert d.state.phase is Phase.RECEIPT and d.openings() == []
    printing = d.only(PrintReceipt, d.feed(Pressed("receipt_print")))
    assert d.openings() == []
    d.feed(Printed(printing.ref, ok=True))
    assert d.state.phase is Phase.IDLE and len(d.openings()) == 1


def test_a_patron_who_walks_away_after_borrowing_still_gets_the_gate_when_the_session_times_out() -> None:
    d = Desk(ASK)
    d.identify()
    d.borrow(tag("A", 1))
    d.feed(on_pad(), TimerFired("inactivity"))
    assert d.state.more_time and d.openings() == []  # "need more time?": nobody answers
    d.feed(TimerFired(MORE_TIME))
    assert d.state.phase is Phase.IDLE and len(d.openings()) == 1  # ended without a receipt question


def test_a_book_lent_offline_opens_the_gate_because_the_patron_was_told_it_is_lent() -> None:
    d = Desk()
    d.identify(PatronAccount(PATRON, known=True, pin_ok=None, offline=True))
    d.borrow(tag("A", 1), lent("A", offline=True))
    row = d.state.row(RowKind.BORROW, "A")
    assert row.state is RowState.DONE and row.offline and row.message.id == "item.done_offline"
    d.finish()
    assert len(d.openings()) == 1


def test_a_book_lent_without_a_tag_opens_the_gate() -> None:
    d = Desk()
    d.identify()
    d.feed(ItemScanned("A"))
    d.feed(LoanAnswered(d.checkout("A").ref, lent("A")))
    assert d.state.row(RowKind.BORROW, "A").state is RowState.UNTAGGED
    d.finish()
    assert len(d.openings()) == 1


def test_a_book_renewed_on_the_pad_goes_out_with_the_patron_and_opens_the_gate() -> None:
    d = Desk()
    d.identify(PatronAccount(PATRON, known=True, pin_ok=None, loans=(Loan("A", "Dune", "20261101"),)))
    d.feed(on_pad(tag("A", 1)))
    assert d.state.row(RowKind.BORROW, "A").state is RowState.OFFERED
    renew = d.only(Renew, d.feed(Pressed("renew_offered", "A")))
    security = d.only(SetSecurity, d.feed(LoanAnswered(renew.ref, lent("A"))))
    d.feed(SecuritySet(security.ref, ok=True))
    d.finish()
    assert len(d.openings()) == 1


def test_a_renewal_from_the_loans_list_alone_opens_nothing() -> None:
    d = Desk()
    d.identify(PatronAccount(PATRON, known=True, pin_ok=None, loans=(Loan("A", "Dune", "20261101"),)))
    renew = d.only(Renew, d.feed(Pressed("renew", "A")))
    d.feed(LoanAnswered(renew.ref, lent("A")))
    d.finish()
    assert d.state.phase is Phase.IDLE and d.openings() == []


def test_a_session_that_borrowed_nothing_opens_nothing() -> None:
    d = Desk()
    d.identify()
    ending = d.finish()
    assert d.only(EndPatronSession, ending) and d.openings() == []


NOT_LENT: dict[str, tuple[Callable[[str], Event], RowState]] = {
    "refused by the ILS": (
        lambda ref: LoanAnswered(ref, lent("A", ok=False, messages=("Item on hold for another patron",))),
        RowState.REFUSED),
    "refused by the offline policy": (
        lambda ref: LoanAnswered(ref, lent("A", ok=False, offline=True, message_id="offline.checkout_limit")),
        RowState.REFUSED),
    "ILS unreachable": (
        lambda ref: IlsFailed(ref, Failure(FailureKind.UNREACHABLE, "connection refused")), RowState.UNREACHABLE),
    "outcome unknown": (
        lambda ref: IlsFailed(ref, Failure(FailureKind.OUTCOME_UNKNOWN, "timeout after sending")),
        RowState.NEEDS_STAFF),
}


@pytest.mark.parametrize("case", sorted(NOT_LENT))
def test_a_loan_that_did_not_happen_opens_nothing(case: str) -> None:
    answer, row_state = NOT_LENT[case]
    d = Desk()
    d.identify()
    d.feed(on_pad(tag("A", 1)))
    d.feed(answer(d.checkout("A").ref))
    assert d.state.row(RowKind.BORROW, "A").state is row_state
    d.finish()
    assert d.state.phase is Phase.IDLE and d.openings() == []


def test_a_loan_whose_security_would_not_release_opens_nothing() -> None:
    """The ILS lent it, but the tag still alarms and the patron was sent to staff, not out."""
    d = Desk(CirculationSettings(pin_required=False, receipt="never", security_attempts=1))
    d.identify()
    d.feed(on_pad(tag("A", 1)))
    security = d.only(SetSecurity, d.feed(LoanAnswered(d.checkout("A").ref, lent("A"))))
    d.feed(SecuritySet(security.ref, ok=False))
    assert d.state.row(RowKind.BORROW, "A").state is RowState.NEEDS_STAFF
    d.finish()
    assert d.state.phase is Phase.IDLE and d.openings() == []


def test_returns_alone_open_nothing() -> None:
    d = Desk(CirculationSettings(pin_required=False, receipt="never", checkin_enabled=True))
    d.identify()
    d.feed(Pressed("return"), on_pad(tag("A", 1)))
    checkin = d.only(CheckIn)
    security = d.only(SetSecurity, d.feed(ReturnAnswered(checkin.ref, ReturnAnswer("A", ok=True, alert=Alert.NONE))))
    d.feed(SecuritySet(security.ref, ok=True))
    assert d.state.row(RowKind.RETURN, "A").state is RowState.DONE
    d.finish()
    assert d.state.phase is Phase.IDLE and d.openings() == []


def test_a_book_borrowed_then_returned_in_the_same_session_stays_and_opens_nothing() -> None:
    d = Desk(CirculationSettings(pin_required=False, receipt="never", checkin_enabled=True))
    d.identify()
    d.borrow(tag("A", 1))
    assert leaves_with_loans(d.state)
    d.feed(on_pad(), Pressed("return"), on_pad(tag("A", 1)))  # changed their mind: put it down again
    checkin = d.only(CheckIn)
    security = d.only(SetSecurity, d.feed(ReturnAnswered(checkin.ref, ReturnAnswer("A", ok=True, alert=Alert.NONE))))
    d.feed(SecuritySet(security.ref, ok=True))
    assert not leaves_with_loans(d.state)
    d.finish()
    assert d.openings() == []


def test_an_identification_that_was_refused_opens_nothing() -> None:
    d = Desk()
    lookup = d.only(LookUpPatron, d.feed(CardPresented(PATRON)))
    d.feed(PatronLookedUp(lookup.ref, PatronAccount(PATRON, known=False, pin_ok=None)))
    assert d.state.phase is Phase.REFUSED
    d.feed(Pressed("ok"))
    assert d.state.phase is Phase.IDLE and d.openings() == []


# --- staff mode ------------------------------------------------------------------------------------------


def staff(gate: bool) -> tuple[StaffMachine, object]:
    m = StaffMachine(lambda pin: pin == STAFF_PIN, gate=gate)
    state, _ = m.start()
    for event in (Pressed("staff"), PinEntered(STAFF_PIN)):
        state, _ = m.step(state, event)
    assert state.screen is Screen.MENU
    return m, state


def test_staff_open_the_gate_from_the_menu_and_are_told_it_opened() -> None:
    m, state = staff(gate=True)
    assert state.offers(OPEN_GATE)
    state, commands = m.step(state, Pressed("open_gate"))
    (opening,) = [c for c in commands if isinstance(c, OpenGate)]
    assert StartTimer(IDLE_TIMER, m.idle_seconds) in commands  # a staff action keeps staff logged in
    assert state.notice == ("staff.gate_opening", {}) and state.screen is Screen.MENU
    assert m.step(state, GateOpened("gate-7", ok=False, detail="not ours")) == (state, [])  # someone else's
    state, commands = m.step(state, GateOpened(opening.ref, ok=True))
    assert commands == [] and state.notice == ("staff.gate_opened", {})
    assert MESSAGES[state.notice[0]] == "The gate was opened"
    again, commands = m.step(state, Pressed("open_gate"))  # someone else stuck: open it again
    assert [c.ref for c in commands if isinstance(c, OpenGate)] == [again.gate_ref] != [opening.ref]


def test_staff_are_told_why_the_gate_did_not_open() -> None:
    m, state = staff(gate=True)
    state, commands = m.step(state, Pressed("open_gate"))
    (opening,) = [c for c in commands if isinstance(c, OpenGate)]
    state, _ = m.step(state, GateOpened(opening.ref, ok=False, detail="GPIO unavailable: no gpiochip"))
    assert state.notice == ("staff.gate_failed", {"detail": "GPIO unavailable: no gpiochip"})
    words = MESSAGES[state.notice[0]].format(**state.notice[1])
    assert words == "The gate did not open (GPIO unavailable: no gpiochip)"


def test_an_answer_after_staff_left_the_menu_only_closes_the_request() -> None:
    m, state = staff(gate=True)
    state, commands = m.step(state, Pressed("open_gate"))
    (opening,) = [c for c in commands if isinstance(c, OpenGate)]
    state, _ = m.step(state, Pressed("open", "devices"))
    state, _ = m.step(state, GateOpened(opening.ref, ok=True))
    assert state.screen is Screen.DEVICES and state.notice is None and state.gate_ref == ""


def test_without_a_gate_staff_mode_does_not_offer_it_and_ignores_the_press() -> None:
    m, state = staff(gate=False)
    assert not state.offers(OPEN_GATE)
    assert m.step(state, Pressed("open_gate")) == (state, [])
    closed, _ = StaffMachine(lambda pin: True, gate=True).start()
    assert StaffMachine(lambda pin: True, gate=True).step(closed, Pressed("open_gate")) == (closed, [])  # not logged in


# --- the stations ----------------------------------------------------------------------------------------


def test_at_the_kiosk_the_station_routes_the_answer_to_staff_and_the_sessions_own_to_no_one() -> None:
    session = PatronSessionMachine(NEVER)
    station = KioskStationMachine(session, StaffMachine(lambda pin: pin == STAFF_PIN, gate=True),
                                  offline_mode="checkin", languages=("en",))
    state, _ = station.start()
    for event in (Pressed("staff"), PinEntered(STAFF_PIN)):
        state, _ = station.step(state, event)
    state, commands = station.step(state, Pressed("open_gate"))
    (opening,) = [c for c in commands if isinstance(c, OpenGate)]
    before = state
    assert station.step(state, GateOpened("gate-3", ok=True)) == (before, [])  # a session's answer: nothing to do
    state, _ = station.step(state, GateOpened(opening.ref, ok=True))
    assert state.staff.notice == ("staff.gate_opened", {}) and state.session == before.session


def test_the_returns_bin_never_opens_the_gate() -> None:
    """Items go into the bin, nobody walks out with them: however a drop ends, no opening is asked for."""
    station = ReturnsStationMachine(ReturnsBinMachine(ReturnsSettings()), StaffMachine(lambda pin: False),
                                    offline_mode="checkin", languages=("en",))
    state, issued = station.start()
    answers = [ReturnAnswer(f"it-{n}", ok=True, alert=alert, title="T", hold_patron_id="p" if n % 2 else "")
               for n, alert in enumerate(Alert)]
    answers += [ReturnAnswer("it-x", ok=False, title="T"), ReturnAnswer("it-o", ok=True, offline=True)]
    for n, answer in enumerate(answers):
        state, commands = station.step(state, ItemDropped(f"d{n}", answer.item_id, (bytes([n]),)))
        issued += commands
        (checkin,) = [c for c in commands if isinstance(c, CheckIn)]
        pending: list[Event] = [ReturnAnswered(checkin.ref, answer)]
        while pending:  # the devices answer every command, as the runner would
            state, commands = station.step(state, pending.pop(0))
            issued += commands
            pending += [SecuritySet(c.ref, ok=True) for c in commands if isinstance(c, SetSecurity)]
            pending += [Printed(c.ref, ok=True) for c in commands if isinstance(c, PrintSlip)]
            pending += [Routed(c.ref, ok=True) for c in commands if isinstance(c, RouteToBin)]
    assert state.returns.routed_total == len(answers)  # every drop reached its bin
    assert not [c for c in issued if isinstance(c, OpenGate)]
    assert not state.staff.offers(OPEN_GATE)
