"""The patron session and the kiosk's devices: the printer's status decides whether "print" is
offered, and a gate alarm shows a notice without touching the session."""

from __future__ import annotations

import dataclasses

from circulation_drive import PATRON, Desk, lent, on_pad, tag

from kiosk.circulation.commands import (
    EmailReceipt,
    EndPatronSession,
    PrintReceipt,
    Signal,
    StartTimer,
)
from kiosk.circulation.events import (
    CardPresented,
    DeviceStatus,
    Emailed,
    GateAlarm,
    Pressed,
    TimerFired,
)
from kiosk.circulation.model import PatronAccount
from kiosk.circulation.rows import Message, RowState
from kiosk.circulation.session import NOTICE, NOTICE_SECONDS, Phase, SessionState, Tally
from kiosk.circulation.session_text import MESSAGES, render
from kiosk.config import CirculationSettings

ASK = CirculationSettings(pin_required=False, email_receipts=True)
PRINTER_DOWN = DeviceStatus("printer", "failed", "paper out: the paper roll is empty")


def borrow_one(k: Desk, email: str = "m@example.org") -> None:
    """A patron identified who borrowed one book and took it off the pad."""
    k.identify(PatronAccount(PATRON, known=True, pin_ok=None, name="M. Reader", email=email))
    k.borrow(tag("A", 1), lent("A", title="A", due="2026-12-01"))
    k.feed(on_pad())
    assert k.state.rows[0].state is RowState.DONE


def fresh(state: SessionState) -> SessionState:
    """The state minus what outlives a session by design."""
    return dataclasses.replace(state, tally=Tally(), seq=0, printer_ok=True)


# --- the printer -------------------------------------------------------------------------------


def test_print_is_offered_until_the_printer_says_it_cannot_print() -> None:
    k = Desk(ASK)
    borrow_one(k)
    k.feed(Pressed("finish"))
    assert k.state.receipt_choices == ("print", "email", "none") and k.state.notice is None


def test_a_printer_that_cannot_print_is_not_offered_and_the_patron_is_told_why() -> None:
    k = Desk(ASK)
    k.feed(PRINTER_DOWN)
    borrow_one(k)
    k.feed(Pressed("finish"))
    assert k.state.phase is Phase.RECEIPT and k.state.receipt_choices == ("email", "none")
    assert k.state.notice == Message("receipt.printer_unavailable")
    assert k.feed(Pressed("receipt_print")) == []  # not a choice: nothing happens


def test_paper_low_and_a_one_way_printer_still_print_and_unknown_states_do_not() -> None:
    for state, offered in (("ok", True), ("warning", True), ("failed", False), ("unknown", False), ("", False)):
        k = Desk(ASK)
        k.feed(DeviceStatus("printer", state))
        borrow_one(k)
        k.feed(Pressed("finish"))
        assert ("print" in k.state.receipt_choices) is offered, state


def test_other_devices_reports_do_not_touch_the_printer_flag() -> None:
    k = Desk(ASK)
    k.feed(DeviceStatus("reader", "failed", "gone"))
    assert k.state.printer_ok
    k.feed(PRINTER_DOWN, DeviceStatus("reader", "ok"))
    assert not k.state.printer_ok
    k.feed(DeviceStatus("printer", "ok"))
    assert k.state.printer_ok


def test_a_printer_stopping_while_the_patron_chooses_takes_print_away_at_once() -> None:
    k = Desk(ASK)
    borrow_one(k)
    k.feed(Pressed("finish"))
    k.feed(PRINTER_DOWN)
    assert k.state.receipt_choices == ("email", "none")
    assert k.state.notice == Message("receipt.printer_unavailable")


def test_always_receipts_fall_back_to_email_when_the_printer_cannot_print() -> None:
    k = Desk(dataclasses.replace(ASK, receipt="always"))
    k.feed(PRINTER_DOWN)
    borrow_one(k)
    commands = k.feed(Pressed("finish"))
    mail = next(c for c in commands if isinstance(c, EmailReceipt))
    assert not any(isinstance(c, PrintReceipt) for c in commands)
    assert mail.to == "m@example.org" and k.state.notice == Message("receipt.printer_unavailable")
    k.feed(Emailed(mail.ref, ok=True))
    assert k.state.phase is Phase.IDLE and fresh(k.state) == SessionState()


def test_always_receipts_with_no_printer_and_no_email_end_the_session_and_say_so() -> None:
    k = Desk(dataclasses.replace(ASK, receipt="always"), notice_seconds=4.0)
    k.feed(PRINTER_DOWN)
    borrow_one(k, email="")
    commands = k.feed(Pressed("finish"))
    assert any(isinstance(c, EndPatronSession) for c in commands)
    assert not any(isinstance(c, PrintReceipt | EmailReceipt) for c in commands)
    assert StartTimer(NOTICE, 4.0) in commands
    assert k.state.phase is Phase.IDLE and k.state.notice == Message("receipt.printer_unavailable")
    assert PATRON not in repr(k.state) and k.state.account is None and k.state.rows == ()
    k.feed(TimerFired(NOTICE))
    assert k.state.notice is None and fresh(k.state) == SessionState()
    assert k.state.tally.sessions == 1 and not k.state.printer_ok  # the printer is still down


def test_asking_with_only_none_left_is_no_question() -> None:
    k = Desk(dataclasses.replace(ASK, email_receipts=False))
    k.feed(PRINTER_DOWN)
    borrow_one(k)
    commands = k.feed(Pressed("finish"))
    assert any(isinstance(c, EndPatronSession) for c in commands)
    assert k.state.phase is Phase.IDLE and k.state.notice == Message("receipt.printer_unavailable")


def test_the_printer_flag_outlives_sessions_and_knows_nothing_of_patrons() -> None:
    k = Desk(ASK)
    k.feed(PRINTER_DOWN)
    borrow_one(k)
    k.feed(Pressed("finish"), Pressed("receipt_none"))
    assert not k.state.printer_ok and fresh(k.state) == SessionState()
    k.feed(DeviceStatus("printer", "ok"))
    borrow_one(k)
    k.feed(Pressed("finish"))
    assert "print" in k.state.receipt_choices


# --- the gate alarm ----------------------------------------------------------------------------


def test_a_gate_alarm_shows_a_notice_for_a_while_and_counts_for_staff() -> None:
    k = Desk(ASK, notice_seconds=6.0)
    commands = k.feed(GateAlarm(at=1_790_000_000.0))
    assert k.state.notice == Message("gate.alarm") and k.state.phase is Phase.IDLE
    assert StartTimer(NOTICE, 6.0) in commands and Signal("attention") in commands
    assert k.state.tally.gate_alarms == 1
    k.feed(TimerFired(NOTICE))
    assert k.state.notice is None and k.state.tally.gate_alarms == 1
    k.feed(GateAlarm(at=1_790_000_100.0))
    assert k.state.tally.gate_alarms == 2


def test_a_gate_alarm_during_a_session_leaves_rows_and_patron_alone() -> None:
    k = Desk(ASK)
    borrow_one(k)
    before = k.state
    k.feed(GateAlarm(at=0.0))
    assert k.state.rows == before.rows and k.state.account == before.account
    assert k.state.patron_id == before.patron_id and k.state.phase is Phase.ACTIVE
    assert k.state.notice == Message("gate.alarm")
    k.feed(TimerFired(NOTICE))
    assert k.state.notice is None and k.state.rows == before.rows


def test_the_notice_timer_clears_only_the_kiosks_own_notices() -> None:
    k = Desk(ASK)
    borrow_one(k)
    k.feed(GateAlarm(at=0.0), CardPresented("29999999999999"))  # another card: a patron notice
    assert k.state.notice == Message("card.finish_first")
    k.feed(TimerFired(NOTICE))
    assert k.state.notice == Message("card.finish_first")


def test_a_new_patron_does_not_inherit_the_alarm_notice() -> None:
    k = Desk(ASK)
    k.feed(GateAlarm(at=0.0), CardPresented(PATRON))
    assert k.state.phase is Phase.LOOKING_UP and k.state.notice is None
    assert k.state.tally.gate_alarms == 1


def test_the_new_messages_have_english_words() -> None:
    assert render(Message("gate.alarm")) == MESSAGES["gate.alarm"]
    assert "come back to the kiosk" in render(Message("gate.alarm"))
    assert render(Message("receipt.printer_unavailable")) == "The printer is not available."
    assert NOTICE_SECONDS > 0
