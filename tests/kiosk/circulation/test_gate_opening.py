"""When the exit barrier opens, decided in the core: once when a patron's session ends with a loan the
patron was told is theirs (online or recorded offline), never for a session that lent nothing, never at
the returns bin; and on staff's "Open the gate", where a gate is wired, with the answer shown to staff.

``Desk`` (from ``circulation_drive``, the core's tests' shared driving vocabulary) plays the runner for
the session machine: it keeps every command, so a test can answer them by their refs and count the
``OpenGate`` commands over the whole session.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from circulation_drive import (
    PATRON,
    Desk,
    Station,
    all_of,
    lent,
    logged_in,
    on_pad,
    only,
    staff_machine,
    tag,
)

from kiosk.circulation.commands import (
    CheckIn,
    CheckOut,
    EndPatronSession,
    LookUpPatron,
    OpenGate,
    PrintReceipt,
    PrintSlip,
    Renew,
    RouteToBin,
    SetSecurity,
    Signal,
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
    PatronLookedUp,
    Pressed,
    Printed,
    ReturnAnswered,
    Routed,
    SecuritySet,
    TimerFired,
)
from kiosk.circulation.model import Alert, Failure, FailureKind, Loan, PatronAccount, ReturnAnswer
from kiosk.circulation.returns import ReturnsBinMachine
from kiosk.circulation.rows import Message, RowKind, RowState
from kiosk.circulation.session import MORE_TIME, NOTICE, PatronSessionMachine, Phase, leaves_with_loans
from kiosk.circulation.session_text import MESSAGES as SESSION_MESSAGES
from kiosk.circulation.staff import IDLE_TIMER, MESSAGES, OPEN_GATE, Screen, StaffMachine
from kiosk.circulation.station import KioskStationMachine, ReturnsStationMachine
from kiosk.config import CirculationSettings, ReturnsSettings

NEVER = CirculationSettings(pin_required=False, receipt="never")
ASK = CirculationSettings(pin_required=False, receipt="ask")
RETURNS = CirculationSettings(pin_required=False, receipt="never", checkin_enabled=True)  # returns at the kiosk


# --- the patron's session --------------------------------------------------------------------------------


def test_a_session_that_lent_a_book_opens_the_gate_once_as_it_ends() -> None:
    d = Desk(NEVER, gate=True)
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
    d = Desk(NEVER, gate=True)
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
    d = Desk(ASK, gate=True)
    d.identify()
    d.borrow(tag("A", 1))
    d.finish()
    assert d.state.phase is Phase.RECEIPT and d.openings() == []
    printing = d.only(PrintReceipt, d.feed(Pressed("receipt_print")))
    assert d.openings() == []
    d.feed(Printed(printing.ref, ok=True))
    assert d.state.phase is Phase.IDLE and len(d.openings()) == 1


def test_a_patron_who_walks_away_after_borrowing_still_gets_the_gate_when_the_session_times_out() -> None:
    d = Desk(ASK, gate=True)
    d.identify()
    d.borrow(tag("A", 1))
    d.feed(on_pad(), TimerFired("inactivity"))
    assert d.state.more_time and d.openings() == []  # "need more time?": nobody answers
    d.feed(TimerFired(MORE_TIME))
    assert d.state.phase is Phase.IDLE and len(d.openings()) == 1  # ended without a receipt question


def test_a_book_lent_offline_opens_the_gate_because_the_patron_was_told_it_is_lent() -> None:
    d = Desk(NEVER, gate=True)
    d.identify(PatronAccount(PATRON, known=True, pin_ok=None, offline=True))
    d.borrow(tag("A", 1), lent("A", offline=True))
    row = d.state.row(RowKind.BORROW, "A")
    assert row.state is RowState.DONE and row.offline and row.message.id == "item.done_offline"
    d.finish()
    assert len(d.openings()) == 1


def test_a_book_lent_without_a_tag_opens_the_gate() -> None:
    d = Desk(NEVER, gate=True)
    d.identify()
    d.feed(ItemScanned("A"))
    d.feed(LoanAnswered(d.checkout("A").ref, lent("A")))
    assert d.state.row(RowKind.BORROW, "A").state is RowState.UNTAGGED
    d.finish()
    assert len(d.openings()) == 1


def test_a_book_renewed_on_the_pad_goes_out_with_the_patron_and_opens_the_gate() -> None:
    d = Desk(NEVER, gate=True)
    d.identify(PatronAccount(PATRON, known=True, pin_ok=None, loans=(Loan("A", "Dune", "20261101"),)))
    d.feed(on_pad(tag("A", 1)))
    assert d.state.row(RowKind.BORROW, "A").state is RowState.OFFERED
    renew = d.only(Renew, d.feed(Pressed("renew_offered", "A")))
    security = d.only(SetSecurity, d.feed(LoanAnswered(renew.ref, lent("A"))))
    d.feed(SecuritySet(security.ref, ok=True))
    d.finish()
    assert len(d.openings()) == 1


def test_a_renewal_from_the_loans_list_alone_opens_nothing() -> None:
    d = Desk(NEVER, gate=True)
    d.identify(PatronAccount(PATRON, known=True, pin_ok=None, loans=(Loan("A", "Dune", "20261101"),)))
    renew = d.only(Renew, d.feed(Pressed("renew", "A")))
    d.feed(LoanAnswered(renew.ref, lent("A")))
    d.finish()
    assert d.state.phase is Phase.IDLE and d.openings() == []


def test_where_no_barrier_opens_on_request_a_session_that_lent_asks_for_no_opening() -> None:
    """No gate wired, or one held open while the kiosk is in service: nothing to ask for."""
    d = Desk(NEVER)
    d.identify()
    d.borrow(tag("A", 1))
    ending = d.finish()
    assert d.only(EndPatronSession, ending) and d.openings() == [] and d.state.gate_ref == ""


def test_a_barrier_that_did_not_open_tells_the_patron_at_it_to_ask_staff() -> None:
    d = Desk(NEVER, gate=True, notice_seconds=12.0)
    d.identify()
    d.borrow(tag("A", 1))
    (opening,) = all_of(OpenGate, d.finish())
    assert d.state.gate_ref == opening.ref and d.state.notice is None
    commands = d.feed(GateOpened(opening.ref, ok=False, detail="GPIO gate (pin 17) not open: busy"))
    assert d.state.notice == Message("gate.not_opened") and d.state.gate_ref == ""
    assert StartTimer(NOTICE, 12.0) in commands and Signal("attention") in commands
    assert "ask staff" in SESSION_MESSAGES["gate.not_opened"]
    d.feed(TimerFired(NOTICE))
    assert d.state.notice is None  # it clears itself, like the gate alarm's


def test_a_barrier_that_opened_says_nothing_and_a_late_failure_never_reaches_the_next_patron() -> None:
    d = Desk(NEVER, gate=True)
    d.identify()
    d.borrow(tag("A", 1))
    (opening,) = all_of(OpenGate, d.finish())
    assert d.feed(GateOpened(opening.ref, ok=True)) == [] and d.state.notice is None
    d.identify()  # the next patron was quicker than the gate's answer
    d.borrow(tag("B", 2))
    (second,) = all_of(OpenGate, d.finish())
    d.identify()
    assert d.feed(GateOpened(second.ref, ok=False, detail="GPIO closed")) == []
    assert d.state.phase is Phase.ACTIVE and d.state.notice is None


def test_a_session_that_borrowed_nothing_opens_nothing() -> None:
    d = Desk(NEVER, gate=True)
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
    d = Desk(NEVER, gate=True)
    d.identify()
    d.feed(on_pad(tag("A", 1)))
    d.feed(answer(d.checkout("A").ref))
    assert d.state.row(RowKind.BORROW, "A").state is row_state
    d.finish()
    assert d.state.phase is Phase.IDLE and d.openings() == []


def test_a_loan_whose_security_would_not_release_opens_nothing() -> None:
    """The ILS lent it, but the tag still alarms and the patron was sent to staff, not out."""
    d = Desk(CirculationSettings(pin_required=False, receipt="never", security_attempts=1), gate=True)
    d.identify()
    d.feed(on_pad(tag("A", 1)))
    security = d.only(SetSecurity, d.feed(LoanAnswered(d.checkout("A").ref, lent("A"))))
    d.feed(SecuritySet(security.ref, ok=False))
    assert d.state.row(RowKind.BORROW, "A").state is RowState.NEEDS_STAFF
    d.finish()
    assert d.state.phase is Phase.IDLE and d.openings() == []


def test_returns_alone_open_nothing() -> None:
    d = Desk(RETURNS, gate=True)
    d.identify()
    d.feed(Pressed("return"), on_pad(tag("A", 1)))
    d.returned("A", ReturnAnswer("A", ok=True, alert=Alert.NONE), d.only(CheckIn))
    assert d.state.row(RowKind.RETURN, "A").state is RowState.DONE
    d.finish()
    assert d.state.phase is Phase.IDLE and d.openings() == []


def test_a_book_borrowed_then_returned_in_the_same_session_stays_and_opens_nothing() -> None:
    d = Desk(RETURNS, gate=True)
    d.identify()
    d.borrow(tag("A", 1))
    assert leaves_with_loans(d.state)
    d.feed(on_pad(), Pressed("return"), on_pad(tag("A", 1)))  # changed their mind: put it down again
    d.returned("A", ReturnAnswer("A", ok=True, alert=Alert.NONE), d.only(CheckIn))
    assert not leaves_with_loans(d.state)
    d.finish()
    assert d.openings() == []


def test_an_identification_that_was_refused_opens_nothing() -> None:
    d = Desk(NEVER, gate=True)
    lookup = d.only(LookUpPatron, d.feed(CardPresented(PATRON)))
    d.feed(PatronLookedUp(lookup.ref, PatronAccount(PATRON, known=False, pin_ok=None)))
    assert d.state.phase is Phase.REFUSED
    d.feed(Pressed("ok"))
    assert d.state.phase is Phase.IDLE and d.openings() == []


# --- staff mode ------------------------------------------------------------------------------------------


def test_staff_open_the_gate_from_the_menu_and_are_told_it_opened() -> None:
    m = staff_machine(gate=True)
    state = logged_in(m)
    assert state.offers(OPEN_GATE)
    state, commands = m.step(state, Pressed("open_gate"))
    opening = only(OpenGate, commands)
    assert StartTimer(IDLE_TIMER, m.idle_seconds) in commands  # a staff action keeps staff logged in
    assert state.notice == ("staff.gate_opening", {}) and state.screen is Screen.MENU
    assert m.step(state, GateOpened("gate-7", ok=False, detail="not ours")) == (state, [])  # someone else's
    state, commands = m.step(state, GateOpened(opening.ref, ok=True))
    assert commands == [] and state.notice == ("staff.gate_opened", {})
    assert MESSAGES[state.notice[0]] == "The gate was opened"
    again, commands = m.step(state, Pressed("open_gate"))  # someone else stuck: open it again
    assert [c.ref for c in all_of(OpenGate, commands)] == [again.gate_ref] != [opening.ref]


def test_staff_are_told_why_the_gate_did_not_open() -> None:
    m = staff_machine(gate=True)
    state = logged_in(m)
    state, commands = m.step(state, Pressed("open_gate"))
    opening = only(OpenGate, commands)
    state, _ = m.step(state, GateOpened(opening.ref, ok=False, detail="GPIO unavailable: no gpiochip"))
    assert state.notice == ("staff.gate_failed", {"detail": "GPIO unavailable: no gpiochip"})
    words = MESSAGES[state.notice[0]].format(**state.notice[1])
    assert words == "The gate did not open (GPIO unavailable: no gpiochip)"


def test_an_answer_after_staff_left_the_menu_only_closes_the_request() -> None:
    m = staff_machine(gate=True)
    state = logged_in(m)
    state, commands = m.step(state, Pressed("open_gate"))
    opening = only(OpenGate, commands)
    state, _ = m.step(state, Pressed("open", "devices"))
    state, _ = m.step(state, GateOpened(opening.ref, ok=True))
    assert state.screen is Screen.DEVICES and state.notice is None and state.gate_ref == ""


def test_without_a_gate_staff_mode_does_not_offer_it_and_ignores_the_press() -> None:
    m = staff_machine(gate=False)
    state = logged_in(m)
    assert not state.offers(OPEN_GATE)
    assert m.step(state, Pressed("open_gate")) == (state, [])
    closed, _ = StaffMachine(lambda pin: True, gate=True).start()
    assert StaffMachine(lambda pin: True, gate=True).step(closed, Pressed("open_gate")) == (closed, [])  # not logged in


# --- the stations ----------------------------------------------------------------------------------------


def test_at_the_kiosk_the_station_routes_staffs_answer_to_staff_and_the_patrons_to_the_session() -> None:
    s = Station(KioskStationMachine(PatronSessionMachine(NEVER, gate=True), staff_machine(gate=True),
                                    offline_mode="checkin", languages=("en",)))
    s.identify()
    s.feed(on_pad(tag("A", 1)))
    security = s.only(SetSecurity, s.feed(LoanAnswered(s.only(CheckOut, s.log).ref, lent("A"))))
    s.feed(SecuritySet(security.ref, ok=True), on_pad())
    patrons = s.only(OpenGate, s.feed(Pressed("finish")))
    s.log_in()
    staffs = s.only(OpenGate, s.feed(Pressed("open_gate")))
    before = s.state
    assert s.machine.step(before, GateOpened("gate-3", ok=True)) == (before, [])  # nobody's: nothing to do
    s.feed(GateOpened(staffs.ref, ok=True))
    assert s.state.staff.notice == ("staff.gate_opened", {}) and s.state.session == before.session
    s.feed(GateOpened(patrons.ref, ok=False, detail="GPIO closed"))
    assert s.state.session.notice == Message("gate.not_opened") and s.state.staff.notice == ("staff.gate_opened", {})


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
        pending: list[Event] = [ReturnAnswered(only(CheckIn, commands).ref, answer)]
        while pending:  # the devices answer every command, as the runner would
            state, commands = station.step(state, pending.pop(0))
            issued += commands
            pending += [SecuritySet(c.ref, ok=True) for c in all_of(SetSecurity, commands)]
            pending += [Printed(c.ref, ok=True) for c in all_of(PrintSlip, commands)]
            pending += [Routed(c.ref, ok=True) for c in all_of(RouteToBin, commands)]
    assert state.returns.routed_total == len(answers)  # every drop reached its bin
    assert not all_of(OpenGate, issued)
    assert not state.staff.offers(OPEN_GATE)
