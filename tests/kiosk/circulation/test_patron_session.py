"""The patron session machine, path by path: pure steps, no threads, no sockets, no clock.

``Desk`` (from ``circulation_drive``, the core's tests' shared driving vocabulary) plays the runner: it
feeds events and keeps every command, so a test can answer the commands the machine issued (by their
refs) in whatever order it likes.
"""

from __future__ import annotations

import dataclasses

import pytest
from circulation_drive import NO_PIN, PATRON, PIN, Desk, lent, on_pad, tag, uid

from kiosk.circulation.commands import (
    CancelTimer,
    CheckIn,
    CheckOut,
    Command,
    EmailReceipt,
    EndPatronSession,
    LookUpPatron,
    PrintReceipt,
    Renew,
    RenewAll,
    SetSecurity,
    Signal,
    StartTimer,
)
from kiosk.circulation.events import (
    CardPresented,
    Emailed,
    IlsFailed,
    ItemScanned,
    LoanAnswered,
    PatronLookedUp,
    PinEntered,
    Pressed,
    Printed,
    RenewAllAnswered,
    ReturnAnswered,
    SecuritySet,
    SessionEnded,
    TimerFired,
    WrongBarcode,
)
from kiosk.circulation.model import (
    Alert,
    Failure,
    FailureKind,
    IncompleteSet,
    Loan,
    LoanAnswer,
    Pad,
    PatronAccount,
    RenewAllAnswer,
    ReturnAnswer,
)
from kiosk.circulation.rows import Message, RowKind, RowState
from kiosk.circulation.session import Mode, PatronSessionMachine, Phase, RenewalState, SessionState, Tally
from kiosk.circulation.session_text import MESSAGES, masked, render
from kiosk.config import CirculationSettings

OTHER_PATRON = "21234000000026"


def account(**fields: object) -> PatronAccount:
    base: dict[str, object] = dict(patron_id=PATRON, known=True, pin_ok=None, name="Maria Hernández",
                                   loans_count=2, holds_ready_count=1, fines="2.50", currency="EUR")
    base.update(fields)
    return PatronAccount(**base)  # type: ignore[arg-type]


def kiosk(settings: CirculationSettings = NO_PIN) -> Desk:
    """A desk whose patron, unless a test names another account, is :func:`account`'s."""
    return Desk(settings, account=account())


def without_counters(state: SessionState) -> SessionState:
    """The state minus what may outlive a session: staff counters and the ref counter."""
    return dataclasses.replace(state, tally=Tally(), seq=0)


# --- identifying -------------------------------------------------------------------------------


def test_a_barcode_card_is_looked_up_and_shows_the_account():
    k = kiosk()
    k.feed(CardPresented(PATRON, source="barcode"))
    lookup = k.only(LookUpPatron)
    assert (lookup.patron_id, lookup.pin) == (PATRON, None)
    assert k.state.phase is Phase.LOOKING_UP
    acc = account(loans=(Loan("31234000000011", "Dune", "20261201"),), holds_ready=("Emma",))
    commands = k.feed(PatronLookedUp(lookup.ref, acc))
    assert k.state.phase is Phase.ACTIVE
    assert k.state.account == acc  # name, loans with due dates, holds ready, fines: all for the screen
    assert StartTimer("inactivity", NO_PIN.inactivity_seconds) in commands


def test_an_rfid_card_on_the_pad_identifies_and_the_items_already_there_become_rows():
    k = kiosk()
    k.feed(on_pad(tag("A", 1), tag("B", 2), cards=(PATRON,)))
    lookup = k.only(LookUpPatron)
    assert lookup.patron_id == PATRON
    commands = k.feed(PatronLookedUp(lookup.ref, account()))
    assert sorted(c.item_id for c in k.all_of(CheckOut, commands)) == ["A", "B"]
    assert [r.state for r in k.state.rows] == [RowState.ASKING, RowState.ASKING]
    assert PATRON not in repr(k.state.pad)  # the card's id is not kept as part of the pad


def test_an_rfid_card_presented_as_an_event_works_like_a_barcode():
    k = kiosk()
    k.feed(CardPresented(PATRON, source="rfid"))
    assert k.only(LookUpPatron).patron_id == PATRON


def test_with_pins_the_pin_goes_with_the_lookup_and_with_every_request():
    k = kiosk(CirculationSettings(pin_required=True))
    k.feed(CardPresented(PATRON))
    assert k.state.phase is Phase.PIN and not k.all_of(LookUpPatron)
    k.feed(PinEntered(PIN))
    lookup = k.only(LookUpPatron)
    assert lookup.pin == PIN
    k.feed(PatronLookedUp(lookup.ref, account(pin_ok=True)))
    commands = k.feed(on_pad(tag("A", 1)))
    assert k.checkout("A", commands).pin == PIN


def test_an_unknown_card_is_refused_in_the_ils_words_and_forgotten():
    k = kiosk()
    k.feed(CardPresented(PATRON))
    commands = k.feed(PatronLookedUp(k.only(LookUpPatron).ref, account(known=False, messages=("Invalid patron",))))
    assert k.state.phase is Phase.REFUSED
    assert k.state.notice == Message.of("patron.unknown", ils=("Invalid patron",))
    assert "Invalid patron" in render(k.state.notice)
    assert Signal("error") in commands
    assert k.state.patron_id == "" and k.state.account is None
    k.feed(Pressed("ok"))
    assert without_counters(k.state) == SessionState()


def test_wrong_pin_until_lockout_refuses_the_card_and_returns_to_idle():
    settings = CirculationSettings(pin_required=True, pin_attempts=3)
    k = kiosk(settings)
    k.feed(CardPresented(PATRON))
    for left in (2, 1):
        k.feed(PinEntered("0000"))
        commands = k.feed(PatronLookedUp(k.only(LookUpPatron).ref, account(pin_ok=False, messages=("Bad PIN",))))
        assert k.state.phase is Phase.PIN
        assert k.state.notice == Message.of("pin.wrong", left=left, ils=("Bad PIN",))
        assert k.state.pin is None
        assert Signal("error") in commands
    k.feed(PinEntered("0000"))
    k.feed(PatronLookedUp(k.only(LookUpPatron).ref, account(pin_ok=False, messages=("Bad PIN",))))
    assert k.state.phase is Phase.REFUSED
    assert k.state.notice.id == "pin.locked" and k.state.notice.args["attempts"] == 3
    assert k.state.tally.pin_lockouts == 1
    assert PATRON not in repr(k.state) and "0000" not in repr(k.state)
    assert not any(isinstance(c, CheckOut) for c in k.log)
    k.feed(TimerFired("inactivity"))
    assert without_counters(k.state) == SessionState()


def test_a_pin_the_ils_did_not_check_does_not_identify_when_pins_are_required():
    k = kiosk(CirculationSettings(pin_required=True))
    k.feed(CardPresented(PATRON), PinEntered(PIN))
    k.feed(PatronLookedUp(k.only(LookUpPatron).ref, account(pin_ok=None)))
    assert k.state.phase is Phase.REFUSED and k.state.notice == Message("pin.unchecked")


def test_the_ils_unreachable_at_lookup_refuses_with_try_again():
    k = kiosk()
    k.feed(CardPresented(PATRON))
    k.feed(IlsFailed(k.only(LookUpPatron).ref, Failure(FailureKind.UNREACHABLE, "connection refused")))
    assert k.state.phase is Phase.REFUSED and k.state.notice == Message("patron.lookup_failed")


def test_denied_privileges_refuse_checkouts_with_the_reason_but_allow_loans_renewals_and_returns():
    k = kiosk()
    acc = account(may_borrow=False, problems=("charge privileges denied",), messages=("Card expired",),
                  loans=(Loan("L1", "Dune", "20261201"),))
    k.identify(acc)
    assert k.state.notice == Message.of("patron.may_not_borrow", ils=("Card expired",))
    commands = k.feed(on_pad(tag("A", 1)))
    assert k.row("A").state is RowState.REFUSED
    assert k.row("A").message == Message.of("item.blocked", ils=("Card expired",))
    assert not k.all_of(CheckOut, commands)
    assert Signal("error") in commands
    assert k.only(Renew, k.feed(Pressed("renew", "L1"))).item_id == "L1"
    commands = k.feed(Pressed("return"))
    assert k.only(CheckIn, commands).item_id == "A"


def test_hold_and_renewal_denials_do_not_block_checkout_the_machine_reads_may_borrow_only():
    flags = ("hold privileges denied", "renewal privileges denied", "too many items charged")
    k = kiosk()
    k.identify(account(may_borrow=True, problems=flags))
    assert k.checkout("A", k.feed(on_pad(tag("A", 1)))).item_id == "A"
    k = kiosk()
    k.identify(account(may_borrow=False, problems=()))
    assert not k.all_of(CheckOut, k.feed(on_pad(tag("A", 1))))


def test_another_card_during_a_session_does_not_take_it_over():
    k = kiosk()
    k.identify()
    k.feed(CardPresented(OTHER_PATRON))
    assert k.state.patron_id == PATRON and not k.all_of(LookUpPatron)
    assert k.state.notice == Message("card.finish_first")


# --- checkout ----------------------------------------------------------------------------------


def test_a_stack_of_five_is_asked_at_once_and_answers_in_any_order_complete_every_row():
    k = kiosk()
    k.identify()
    items = [tag(f"I{n}", n) for n in range(1, 6)]
    commands = k.feed(on_pad(*items))
    checkouts = {c.item_id: c for c in k.all_of(CheckOut, commands)}
    assert sorted(checkouts) == ["I1", "I2", "I3", "I4", "I5"]  # all in one step: parallel over the pool
    assert len({c.ref for c in checkouts.values()}) == 5
    assert not k.all_of(SetSecurity, commands)  # nothing is unsecured before the ILS confirms
    securities = {}
    for n in (3, 1, 5, 2, 4):
        commands = k.feed(LoanAnswered(checkouts[f"I{n}"].ref, lent(f"I{n}", due=f"2026120{n}")))
        security = k.only(SetSecurity, commands)
        assert security.uids == (uid(n),) and security.on_loan is True
        assert k.row(f"I{n}").state is RowState.SECURING
        securities[n] = security
    for n in (4, 5, 1, 3, 2):
        commands = k.feed(SecuritySet(securities[n].ref, ok=True))
        assert k.row(f"I{n}").state is RowState.DONE
        assert Signal("success") in commands
    assert [r.due for r in k.state.rows] == [f"2026120{n}" for n in range(1, 6)]
    assert [r.message.id for r in k.state.rows] == ["item.done"] * 5


def test_a_refusal_shows_the_ils_words_and_never_touches_security():
    k = kiosk()
    k.identify()
    checkout = k.checkout("A", k.feed(on_pad(tag("A", 1))))
    commands = k.feed(LoanAnswered(checkout.ref, LoanAnswer("A", ok=False, messages=("Item on hold for another",))))
    row = k.row("A")
    assert row.state is RowState.REFUSED
    assert row.message == Message.of("item.refused", ils=("Item on hold for another",))
    assert not k.all_of(SetSecurity, commands) and Signal("error") in commands


def test_a_scanned_item_without_a_tag_is_never_done_until_its_tag_is_secured():
    k = kiosk()
    k.identify()
    checkout = k.checkout("A", k.feed(ItemScanned("A")))
    commands = k.feed(LoanAnswered(checkout.ref, lent("A")))
    assert k.row("A").state is RowState.UNTAGGED and not k.all_of(SetSecurity, commands)
    assert Signal("attention") in commands
    security = k.only(SetSecurity, k.feed(on_pad(tag("A", 7))))
    assert security.uids == (uid(7),)
    k.feed(SecuritySet(security.ref, ok=True))
    assert k.row("A").state is RowState.DONE


def test_a_scanned_item_that_is_also_on_the_pad_is_one_row():
    k = kiosk()
    k.identify()
    k.feed(on_pad(tag("A", 1)))
    assert not k.feed(ItemScanned("A"))
    assert len(k.state.rows) == 1


def test_a_set_missing_a_part_waits_when_all_parts_are_required_and_goes_when_the_pad_completes():
    k = kiosk(dataclasses.replace(NO_PIN, incomplete_sets="require_all"))
    k.identify()
    commands = k.feed(on_pad(tag("S", 1, 3, 1), tag("S", 3, 3, 3), incomplete=(IncompleteSet("S", 3, (2,)),)))
    row = k.row("S")
    assert row.state is RowState.WAITING and not k.all_of(CheckOut, commands)
    assert row.message == Message.of("item.put_all_parts", parts=3, missing=(2,))
    assert render(row.message) == "Put all 3 parts on the pad: part 2 missing."
    assert Signal("attention") in commands
    commands = k.feed(on_pad(tag("S", 1, 3, 1), tag("S", 2, 3, 2), tag("S", 3, 3, 3)))
    checkout = k.checkout("S", commands)
    security = k.only(SetSecurity, k.feed(LoanAnswered(checkout.ref, lent("S"))))
    assert set(security.uids) == {uid(1), uid(2), uid(3)}


def test_a_waiting_set_taken_off_the_pad_goes_away_and_starts_afresh_when_put_back():
    k = kiosk()
    k.identify()
    partial = on_pad(tag("S", 1, 2, 1), incomplete=(IncompleteSet("S", 2, (2,)),))
    k.feed(partial)
    k.feed(on_pad())
    assert k.state.rows == ()
    k.feed(partial)
    assert k.row("S").state is RowState.WAITING


def test_a_set_missing_a_part_is_checked_out_with_a_note_when_the_site_allows_it():
    k = kiosk(dataclasses.replace(NO_PIN, incomplete_sets="allow_with_message"))
    k.identify()
    checkout = k.checkout("S", k.feed(on_pad(tag("S", 1, 2, 1), incomplete=(IncompleteSet("S", 2, (2,)),))))
    assert k.row("S").note == Message.of("item.parts_missing", parts=2, missing=(2,))
    security = k.only(SetSecurity, k.feed(LoanAnswered(checkout.ref, lent("S"))))
    assert security.uids == (uid(1),)
    k.feed(SecuritySet(security.ref, ok=True))
    assert k.row("S").state is RowState.DONE
    # The missing part turns up: its alarm is released too, and the note goes.
    security = k.only(SetSecurity, k.feed(on_pad(tag("S", 1, 2, 1), tag("S", 2, 2, 2))))
    assert security.uids == (uid(2),) and k.row("S").state is RowState.SECURING
    assert k.row("S").note is None
    k.feed(SecuritySet(security.ref, ok=True))
    assert k.row("S").state is RowState.DONE


def test_a_set_missing_a_part_is_refused_unsent_when_the_site_refuses_and_goes_once_complete():
    k = kiosk(dataclasses.replace(NO_PIN, incomplete_sets="refuse"))
    k.identify()
    commands = k.feed(on_pad(tag("S", 1, 2, 1), incomplete=(IncompleteSet("S", 2, (2,)),)))
    assert k.row("S").state is RowState.REFUSED and not k.all_of(CheckOut, commands)
    assert k.row("S").message == Message.of("item.set_incomplete", parts=2, missing=(2,))
    assert k.checkout("S", k.feed(on_pad(tag("S", 1, 2, 1), tag("S", 2, 2, 2)))).item_id == "S"


def test_a_failed_security_write_asks_to_put_it_back_retries_then_needs_help_never_done():
    k = kiosk(dataclasses.replace(NO_PIN, security_attempts=3))
    k.identify()
    put_down = on_pad(tag("A", 1))
    checkout = k.checkout("A", k.feed(put_down))
    security = k.only(SetSecurity, k.feed(LoanAnswered(checkout.ref, lent("A"))))
    for attempt in (1, 2):
        commands = k.feed(SecuritySet(security.ref, ok=False, failed_uids=(uid(1),), detail="no answer"))
        assert k.row("A").state is RowState.PUT_BACK
        assert k.row("A").message == Message("item.put_back")
        assert Signal("attention") in commands
        assert not k.all_of(SetSecurity, k.feed(on_pad()))  # lifted: nothing to write to
        security = k.only(SetSecurity, k.feed(put_down))  # back on the pad: retry
        assert security.uids == (uid(1),)
        assert k.row("A").security_tries == attempt + 1
    commands = k.feed(SecuritySet(security.ref, ok=False))
    assert k.row("A").state is RowState.NEEDS_STAFF
    assert k.row("A").message == Message("item.security_failed")
    assert Signal("error") in commands
    assert not k.all_of(SetSecurity, k.feed(on_pad(), put_down))  # no more tries
    assert all(r.state is not RowState.DONE for r in k.state.rows)


def test_a_partly_failed_write_keeps_the_verified_tags_and_retries_only_the_others():
    k = kiosk()
    k.identify()
    both = on_pad(tag("S", 1, 2, 1), tag("S", 2, 2, 2))
    checkout = k.checkout("S", k.feed(both))
    security = k.only(SetSecurity, k.feed(LoanAnswered(checkout.ref, lent("S"))))
    k.feed(SecuritySet(security.ref, ok=False, failed_uids=(uid(2),)))
    assert k.row("S").secured == (uid(1),)
    retry = k.only(SetSecurity, k.feed(on_pad(tag("S", 1, 2, 1)), both))
    assert retry.uids == (uid(2),)


def test_an_item_pulled_off_after_the_ils_confirmed_asks_to_be_put_back_then_is_secured():
    k = kiosk()
    k.identify()
    checkout = k.checkout("A", k.feed(on_pad(tag("A", 1), tag("B", 2))))
    k.feed(on_pad(tag("B", 2)))  # the patron lifts A while the ILS is being asked: carry on
    assert k.row("A").state is RowState.ASKING
    commands = k.feed(LoanAnswered(checkout.ref, lent("A")))
    assert k.row("A").state is RowState.PUT_BACK and not k.all_of(SetSecurity, commands)
    security = k.only(SetSecurity, k.feed(on_pad(tag("A", 1), tag("B", 2))))
    assert security.uids == (uid(1),)
    k.feed(SecuritySet(security.ref, ok=True))
    assert k.row("A").state is RowState.DONE


def test_an_item_pulled_off_and_put_back_before_the_answer_is_simply_secured():
    k = kiosk()
    k.identify()
    checkout = k.checkout("A", k.feed(on_pad(tag("A", 1))))
    k.feed(on_pad(), on_pad(tag("A", 1)))
    security = k.only(SetSecurity, k.feed(LoanAnswered(checkout.ref, lent("A"))))
    assert security.uids == (uid(1),)


def test_an_item_pulled_off_while_securing_is_asked_back_when_the_write_fails():
    k = kiosk()
    k.identify()
    checkout = k.checkout("A", k.feed(on_pad(tag("A", 1))))
    security = k.only(SetSecurity, k.feed(LoanAnswered(checkout.ref, lent("A"))))
    k.feed(on_pad())
    assert k.row("A").state is RowState.SECURING  # the write's own answer decides
    k.feed(SecuritySet(security.ref, ok=False, failed_uids=(uid(1),)))
    assert k.row("A").state is RowState.PUT_BACK



RETRY_A = "security_retry:borrow:A"


def failed_write_with_the_book_still_on_the_pad(k: Desk) -> list[Command]:
    """Checkout A, then its security write fails while the pad (as last seen) still shows it: the
    patron lifted it and put it back faster than the watcher notices a departure (or it refused)."""
    k.identify()
    checkout = k.checkout("A", k.feed(on_pad(tag("A", 1))))
    security = k.only(SetSecurity, k.feed(LoanAnswered(checkout.ref, lent("A"))))
    return k.feed(SecuritySet(security.ref, ok=False, failed_uids=(uid(1),), detail="the tag left the field"))


def test_a_quick_put_back_the_watcher_never_saw_is_retried_on_a_timer():
    k = kiosk()
    commands = failed_write_with_the_book_still_on_the_pad(k)
    assert k.row("A").state is RowState.PUT_BACK and Signal("attention") in commands
    assert StartTimer(RETRY_A, 1.5) in commands and not k.all_of(SetSecurity, commands)
    retry = k.only(SetSecurity, k.feed(TimerFired(RETRY_A)))  # no new pad came: the timer retries
    assert retry.uids == (uid(1),) and retry.on_loan
    assert k.row("A").state is RowState.SECURING and k.row("A").security_tries == 2
    assert not k.all_of(CancelTimer)  # the timer that fired is spent
    k.feed(SecuritySet(retry.ref, ok=True))
    assert k.row("A").state is RowState.DONE


def test_the_retry_interval_is_the_machines_to_choose():
    k = kiosk()
    k.machine = PatronSessionMachine(NO_PIN, security_retry_seconds=0.4)
    assert StartTimer(RETRY_A, 0.4) in failed_write_with_the_book_still_on_the_pad(k)


def test_a_tag_that_keeps_refusing_on_the_pad_goes_to_staff_after_the_attempts():
    k = kiosk(dataclasses.replace(NO_PIN, security_attempts=3))
    failed_write_with_the_book_still_on_the_pad(k)
    for attempt in (2, 3):
        retry = k.only(SetSecurity, k.feed(TimerFired(RETRY_A)))
        assert k.row("A").security_tries == attempt
        commands = k.feed(SecuritySet(retry.ref, ok=False, failed_uids=(uid(1),), detail="AFI locked"))
    assert k.row("A").state is RowState.NEEDS_STAFF and Signal("error") in commands
    assert not k.all_of(StartTimer, commands)  # no more retries
    assert k.feed(TimerFired(RETRY_A)) == [] and k.row("A").state is RowState.NEEDS_STAFF


def test_a_lifted_item_cancels_its_retry_and_is_written_as_soon_as_the_pad_shows_it_again():
    k = kiosk()
    failed_write_with_the_book_still_on_the_pad(k)
    assert CancelTimer(RETRY_A) in k.feed(on_pad())  # the watcher saw it go: nothing to retry on
    assert k.feed(TimerFired(RETRY_A)) == []  # a fire already on its way changes nothing
    commands = k.feed(on_pad(tag("A", 1)))
    assert k.only(SetSecurity, commands).uids == (uid(1),)
    assert StartTimer(RETRY_A, 1.5) not in commands  # written at once: no timer


def test_a_retry_timer_for_a_row_that_no_longer_waits_changes_nothing():
    k = kiosk()
    k.identify()
    k.confirm_and_secure("A", checkout=k.checkout("A", k.feed(on_pad(tag("A", 1)))))
    before = k.state
    assert k.feed(TimerFired(RETRY_A), TimerFired("security_retry:return:A"), TimerFired(RETRY_A + "x")) == []
    assert k.state == before


def test_finish_waits_for_a_retry_that_is_due_then_ends_with_the_item_secured():
    k = kiosk()
    failed_write_with_the_book_still_on_the_pad(k)
    commands = k.feed(Pressed("finish"))
    assert k.state.phase is Phase.FINISHING and not k.all_of(EndPatronSession, commands)
    retry = k.only(SetSecurity, k.feed(TimerFired(RETRY_A)))
    k.feed(SecuritySet(retry.ref, ok=True))
    assert k.row("A").state is RowState.DONE and k.state.phase is Phase.RECEIPT

def test_an_item_already_on_loan_to_the_patron_is_offered_as_a_renewal_not_checked_out():
    k = kiosk()
    k.identify(account(loans=(Loan("A", "Dune", "20261110"),)))
    commands = k.feed(on_pad(tag("A", 1)))
    row = k.row("A")
    assert row.state is RowState.OFFERED and not k.all_of(CheckOut, commands)
    assert row.message == Message.of("item.offer_renewal", due="20261110")
    renew = k.only(Renew, k.feed(Pressed("renew_offered", "A")))
    assert renew.item_id == "A"
    security = k.only(SetSecurity, k.feed(LoanAnswered(renew.ref, lent("A", due="20261201"))))
    k.feed(SecuritySet(security.ref, ok=True))
    row = k.row("A")
    assert (row.state, row.renewed, row.due) == (RowState.DONE, True, "20261201")
    assert row.message == Message.of("item.renewed", due="20261201")
    assert k.state.account.loans == (Loan("A", "Dune", "20261201"),)  # the loans list shows the new date


def test_a_declined_renewal_offer_sends_nothing():
    k = kiosk()
    k.identify(account(loans=(Loan("A", "Dune", "20261110"),)))
    k.feed(on_pad(tag("A", 1)))
    commands = k.feed(Pressed("renew_declined", "A"))
    assert k.row("A").state is RowState.DECLINED
    assert not [c for c in commands if isinstance(c, CheckOut | Renew)]


def test_a_refused_renewal_offer_shows_the_ils_words():
    k = kiosk()
    k.identify(account(loans=(Loan("A", "Dune", "20261110"),)))
    k.feed(on_pad(tag("A", 1)))
    renew = k.only(Renew, k.feed(Pressed("renew_offered", "A")))
    k.feed(LoanAnswered(renew.ref, LoanAnswer("A", ok=False, messages=("Renewal limit reached",))))
    assert k.row("A").message == Message.of("item.renew_refused", ils=("Renewal limit reached",))


def test_a_checkout_the_ils_silently_took_as_a_renewal_is_shown_as_renewed():
    k = kiosk()
    k.identify()  # its loans list did not include A
    checkout = k.checkout("A", k.feed(on_pad(tag("A", 1))))
    security = k.only(SetSecurity, k.feed(LoanAnswered(checkout.ref, lent("A", due="20261224", renewed=True))))
    k.feed(SecuritySet(security.ref, ok=True))
    row = k.row("A")
    assert row.renewed and row.message.id == "item.renewed_by_ils" and row.message.args["due"] == "20261224"


def test_an_unknown_outcome_needs_staff_and_is_never_resent():
    k = kiosk()
    k.identify()
    put_down = on_pad(tag("A", 1))
    checkout = k.checkout("A", k.feed(put_down))
    commands = k.feed(IlsFailed(checkout.ref, Failure(FailureKind.OUTCOME_UNKNOWN, "answer lost")))
    assert k.row("A").state is RowState.NEEDS_STAFF
    assert k.row("A").message == Message("item.outcome_unknown")
    assert Signal("error") in commands
    again = k.feed(Pressed("retry", "A"), Pressed("retry"), ItemScanned("A"), on_pad(), put_down)
    assert not [c for c in again if isinstance(c, CheckOut | SetSecurity)]


def test_an_unreachable_ils_says_try_again_and_the_patron_can_retry():
    k = kiosk()
    k.identify()
    checkout = k.checkout("A", k.feed(on_pad(tag("A", 1))))
    k.feed(IlsFailed(checkout.ref, Failure(FailureKind.UNREACHABLE, "no connection")))
    assert k.row("A").state is RowState.UNREACHABLE
    assert render(k.row("A").message) == "Could not reach the library system. Please try again."
    again = k.checkout("A", k.feed(Pressed("retry", "A")))
    assert again.ref != checkout.ref
    k.feed(IlsFailed(again.ref, Failure(FailureKind.UNREACHABLE, "no connection")))
    assert k.checkout("A", k.feed(ItemScanned("A"))).item_id == "A"


def test_answers_that_match_no_request_change_nothing():
    k = kiosk()
    k.identify()
    k.feed(on_pad(tag("A", 1)))
    before = k.state
    for event in (LoanAnswered("co-999", lent("A")), SecuritySet("sec-999", ok=True), SessionEnded("x"),
                  ReturnAnswered("ci-999", ReturnAnswer("A", ok=True)), Printed("prt-1", ok=True)):
        assert k.machine.step(before, event) == (before, [])


def test_a_wrong_barcode_gets_its_hint():
    k = kiosk()
    k.identify()
    k.feed(WrongBarcode("barcode.isbn"))
    assert k.state.notice == Message("barcode.isbn")


# --- checkin at the kiosk ----------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "message_id"), [
    (ReturnAnswer("A", ok=True, title="Dune"), "return.slot"),
    (ReturnAnswer("A", ok=True, alert=Alert.HOLD_HERE, hold_patron_id=PATRON), "return.hold_for_you"),
    (ReturnAnswer("A", ok=True, alert=Alert.HOLD_HERE, hold_patron_id=OTHER_PATRON, hold_patron_name="J M"),
     "return.staff"),
    (ReturnAnswer("A", ok=True, alert=Alert.TRANSIT, destination="EAST"), "return.staff"),
    (ReturnAnswer("A", ok=True, alert=Alert.HOLD_OTHER_BRANCH, destination="EAST"), "return.staff"),
])
def test_returns_check_in_set_security_back_on_and_say_where_the_item_goes(answer, message_id):
    k = kiosk()
    k.identify()
    k.feed(Pressed("return"))
    assert k.state.mode is Mode.RETURN
    k.feed(on_pad(tag("A", 1)))
    assert k.row("A", RowKind.RETURN).state is RowState.ASKING
    k.returned("A", answer)
    row = k.row("A", RowKind.RETURN)
    assert row.state is RowState.DONE and row.message.id == message_id
    assert "J M" not in repr(k.state)  # the other patron's name is for the slip, never the screen


def test_a_refused_return_shows_the_ils_words():
    k = kiosk()
    k.identify()
    k.feed(Pressed("return"))
    checkin = k.only(CheckIn, k.feed(on_pad(tag("A", 1))))
    commands = k.feed(ReturnAnswered(checkin.ref, ReturnAnswer("A", ok=False, messages=("Item not checked out",))))
    assert k.row("A", RowKind.RETURN).message == Message.of("return.refused", ils=("Item not checked out",))
    assert not k.all_of(SetSecurity, commands)


def test_returns_are_not_offered_when_the_site_turns_them_off():
    k = kiosk(dataclasses.replace(NO_PIN, checkin_enabled=False))
    k.identify()
    k.feed(Pressed("return"))
    assert k.state.mode is Mode.BORROW


def test_an_item_just_checked_out_is_not_returned_by_pressing_return_unless_put_down_again():
    k = kiosk()
    k.identify()
    k.feed(on_pad(tag("A", 1)))
    k.confirm_and_secure("A")
    assert not k.all_of(CheckIn, k.feed(Pressed("return")))
    k.feed(on_pad())
    assert k.only(CheckIn, k.feed(on_pad(tag("A", 1)))).item_id == "A"


def test_an_item_offered_for_renewal_is_returned_when_the_patron_presses_return():
    k = kiosk()
    k.identify(account(loans=(Loan("A", "Dune", "20261110"),)))
    k.feed(on_pad(tag("A", 1)))
    assert k.only(CheckIn, k.feed(Pressed("return"))).item_id == "A"
    assert k.state.row(RowKind.BORROW, "A") is None


# --- renewals from the loans list --------------------------------------------------------------


def test_renewing_one_loan_updates_its_due_date():
    k = kiosk()
    k.identify(account(loans=(Loan("L1", "Dune", "20261110"), Loan("L2", "Emma", "20261111"))))
    renew = k.only(Renew, k.feed(Pressed("renew", "L1")))
    assert not k.feed(Pressed("renew", "L1"))  # already asking
    k.feed(LoanAnswered(renew.ref, lent("L1", due="20261201", title="Dune")))
    assert k.state.renewals[0].state is RenewalState.RENEWED
    assert k.state.account.loans[0].due == "20261201"
    assert k.state.account.loans[1].due == "20261111"


def test_a_refused_renewal_shows_the_ils_words():
    k = kiosk()
    k.identify(account(loans=(Loan("L1", "Dune", "20261110"),)))
    renew = k.only(Renew, k.feed(Pressed("renew", "L1")))
    k.feed(LoanAnswered(renew.ref, LoanAnswer("L1", ok=False, messages=("Item has holds",))))
    assert k.state.renewals[0].message == Message.of("renew.refused", ils=("Item has holds",))


def test_a_renewal_whose_outcome_is_unknown_is_not_asked_again():
    k = kiosk()
    k.identify(account(loans=(Loan("L1", "Dune", "20261110"),)))
    renew = k.only(Renew, k.feed(Pressed("renew", "L1")))
    k.feed(IlsFailed(renew.ref, Failure(FailureKind.OUTCOME_UNKNOWN, "answer lost")))
    assert k.state.renewals[0].message == Message("renew.outcome_unknown")
    assert not k.feed(Pressed("renew", "L1")) and not k.feed(Pressed("renew_all"))


def test_renewing_something_not_on_loan_is_ignored():
    k = kiosk()
    k.identify()
    assert k.feed(Pressed("renew", "NOPE")) == []


def test_renew_all_reports_each_item_and_fetches_the_new_due_dates():
    k = kiosk()
    loans = (Loan("L1", "Dune", "20261110"), Loan("L2", "Emma", "20261111"))
    k.identify(account(loans=loans))
    renew_all = k.only(RenewAll, k.feed(Pressed("renew_all")))
    commands = k.feed(RenewAllAnswered(renew_all.ref, RenewAllAnswer(True, ("L1",), ("L2",), ("L2 has holds",))))
    states = {r.item_id: r.state for r in k.state.renewals}
    assert states == {"L1": RenewalState.RENEWED, "L2": RenewalState.REFUSED}
    refresh = k.only(LookUpPatron, commands)
    k.feed(PatronLookedUp(refresh.ref, account(loans=(Loan("L1", "Dune", "20261201"), loans[1]))))
    assert k.state.renewals[0].due == "20261201"
    assert k.state.account.loans[0].due == "20261201"


# --- finishing ---------------------------------------------------------------------------------


def _session_with_one_loan(settings: CirculationSettings = NO_PIN, acc: PatronAccount | None = None) -> Desk:
    k = kiosk(settings)
    k.identify(acc or account(pin_ok=True if settings.pin_required else None))
    k.feed(on_pad(tag("A", 1)))
    k.confirm_and_secure("A")
    k.feed(on_pad())  # the patron takes the book
    return k


def test_finish_with_a_printed_receipt_then_ends_the_ils_session_and_forgets_the_patron():
    settings = CirculationSettings(pin_required=True)
    k = _session_with_one_loan(settings)
    k.feed(Pressed("finish"))
    assert k.state.phase is Phase.RECEIPT and k.state.receipt_choices == ("print", "none")
    receipt = k.only(PrintReceipt, k.feed(Pressed("receipt_print")))
    text = "\n".join(line.text for line in receipt.lines)
    assert "Title of A" in text and "due 20261201" in text
    assert masked(PATRON) in text and PATRON not in text and PIN not in text
    commands = k.feed(Printed(receipt.ref, ok=True))
    end = k.only(EndPatronSession, commands)
    assert (end.patron_id, end.pin) == (PATRON, PIN)
    assert without_counters(k.state) == SessionState()
    assert k.state.tally == Tally(sessions=1, loans=1)
    assert PATRON not in repr(k.state) and PIN not in repr(k.state)


def test_an_email_receipt_is_offered_only_when_configured_and_the_ils_has_an_address():
    k = _session_with_one_loan(dataclasses.replace(NO_PIN, email_receipts=True), account(email="m@example.org"))
    k.feed(Pressed("finish"))
    assert k.state.receipt_choices == ("print", "email", "none")
    mail = k.only(EmailReceipt, k.feed(Pressed("receipt_email")))
    assert mail.to == "m@example.org"
    k.feed(Emailed(mail.ref, ok=True))
    assert k.state.phase is Phase.IDLE
    k = _session_with_one_loan(dataclasses.replace(NO_PIN, email_receipts=True), account(email=""))
    k.feed(Pressed("finish"))
    assert k.state.receipt_choices == ("print", "none")
    assert not k.feed(Pressed("receipt_email"))


def test_a_printer_failure_is_told_and_email_or_none_offered():
    k = _session_with_one_loan(dataclasses.replace(NO_PIN, email_receipts=True), account(email="m@example.org"))
    k.feed(Pressed("finish"))
    receipt = k.only(PrintReceipt, k.feed(Pressed("receipt_print")))
    commands = k.feed(Printed(receipt.ref, ok=False, detail="paper out"))
    assert k.state.phase is Phase.RECEIPT and k.state.notice == Message("receipt.print_failed")
    assert k.state.receipt_choices == ("email", "none") and Signal("attention") in commands
    assert not k.all_of(EndPatronSession, commands)
    k.only(EndPatronSession, k.feed(Pressed("receipt_none")))
    assert without_counters(k.state) == SessionState()


def test_receipts_always_print_without_asking_and_never_skip_the_question():
    k = _session_with_one_loan(dataclasses.replace(NO_PIN, receipt="always"))
    k.only(PrintReceipt, k.feed(Pressed("finish")))
    k = _session_with_one_loan(dataclasses.replace(NO_PIN, receipt="never"))
    commands = k.feed(Pressed("finish"))
    assert not k.all_of(PrintReceipt, commands) and k.only(EndPatronSession, commands)


def test_a_session_where_nothing_happened_ends_without_a_receipt_question():
    k = kiosk()
    k.identify()
    k.only(EndPatronSession, k.feed(Pressed("finish")))
    assert without_counters(k.state) == SessionState()


def test_the_receipt_lists_returns_renewals_and_what_staff_must_see():
    k = kiosk()
    k.identify(account(loans=(Loan("L1", "Emma", "20261110"),)))
    renew = k.only(Renew, k.feed(Pressed("renew", "L1")))
    k.feed(LoanAnswered(renew.ref, lent("L1", due="20261224", title="Emma")))
    k.feed(on_pad(tag("B", 2)))
    k.feed(IlsFailed(k.checkout("B").ref, Failure(FailureKind.OUTCOME_UNKNOWN, "lost")))
    k.feed(on_pad(), Pressed("return"), on_pad(tag("R", 3)))
    k.returned("R", ReturnAnswer("R", ok=True, title="Ulysses"))
    k.feed(Pressed("finish"))
    receipt = k.only(PrintReceipt, k.feed(Pressed("receipt_print")))
    text = [line.text for line in receipt.lines]
    assert text[text.index("Renewed") + 1:text.index("Renewed") + 3] == ["Emma", "  renewed until 20261224"]
    assert text[text.index("Returned") + 1:text.index("Returned") + 3] == ["Ulysses", "  returned"]
    assert text[text.index("Please ask staff about") + 1] == "B"


def test_finish_waits_for_items_mid_transaction():
    k = kiosk()
    k.identify()
    checkout = k.checkout("A", k.feed(on_pad(tag("A", 1))))
    commands = k.feed(Pressed("finish"))
    assert k.state.phase is Phase.FINISHING and not k.all_of(EndPatronSession, commands)
    assert not k.all_of(CheckOut, k.feed(on_pad(tag("A", 1), tag("B", 2))))  # no new rows while finishing
    security = k.only(SetSecurity, k.feed(LoanAnswered(checkout.ref, lent("A"))))
    assert k.state.phase is Phase.FINISHING
    k.feed(SecuritySet(security.ref, ok=True))
    assert k.state.phase is Phase.RECEIPT


def test_items_left_on_the_pad_are_not_charged_to_the_next_patron():
    k = kiosk()
    k.identify()
    k.feed(on_pad(tag("A", 1)))
    k.confirm_and_secure("A")
    k.feed(Pressed("finish"), Pressed("receipt_none"))
    assert k.state.left_behind == ("A",)
    assert dataclasses.replace(without_counters(k.state), pad=Pad(), left_behind=()) == SessionState()
    commands = k.identify(account(patron_id=OTHER_PATRON), card=OTHER_PATRON)
    assert not k.all_of(CheckOut, commands) and k.state.rows == ()
    k.feed(on_pad())
    assert k.checkout("A", k.feed(on_pad(tag("A", 1)))).patron_id == OTHER_PATRON


def test_a_card_left_on_the_pad_does_not_start_a_new_session_until_put_down_again():
    k = kiosk()
    k.feed(on_pad(cards=(PATRON,)))
    k.feed(PatronLookedUp(k.only(LookUpPatron).ref, account()))
    k.feed(Pressed("finish"))
    assert k.state.phase is Phase.IDLE
    k.feed(on_pad(tag("X", 9), cards=(PATRON,)))
    assert not k.all_of(LookUpPatron) and k.state.phase is Phase.IDLE
    k.feed(on_pad(tag("X", 9)))
    assert k.only(LookUpPatron, k.feed(on_pad(tag("X", 9), cards=(PATRON,)))).patron_id == PATRON


# --- inactivity --------------------------------------------------------------------------------


def test_every_patron_action_restarts_the_inactivity_timer():
    k = kiosk()
    k.identify(account(loans=(Loan("L1", "Dune", "20261110"),)))
    restart = StartTimer("inactivity", NO_PIN.inactivity_seconds)
    for event in (on_pad(tag("A", 1)), ItemScanned("B"), Pressed("renew", "L1"), WrongBarcode("barcode.isbn")):
        assert restart in k.feed(event), event


def test_need_more_time_then_more_time_resumes():
    k = kiosk()
    k.identify()
    commands = k.feed(TimerFired("inactivity"))
    assert k.state.more_time and StartTimer("more_time", NO_PIN.more_time_seconds) in commands
    commands = k.feed(Pressed("more_time"))
    assert not k.state.more_time
    assert CancelTimer("more_time") in commands and StartTimer("inactivity", NO_PIN.inactivity_seconds) in commands


def test_no_answer_to_more_time_ends_the_session_without_a_receipt():
    k = _session_with_one_loan()
    k.feed(TimerFired("inactivity"))
    commands = k.feed(TimerFired("more_time"))
    assert k.only(EndPatronSession, commands) and not k.all_of(PrintReceipt, commands)
    assert without_counters(k.state) == SessionState()


def test_timing_out_waits_for_an_item_mid_transaction_and_secures_it_first():
    k = kiosk()
    k.identify()
    checkout = k.checkout("A", k.feed(on_pad(tag("A", 1))))
    k.feed(TimerFired("inactivity"))
    commands = k.feed(TimerFired("more_time"))
    assert k.state.phase is Phase.FINISHING and not k.all_of(EndPatronSession, commands)
    security = k.only(SetSecurity, k.feed(LoanAnswered(checkout.ref, lent("A"))))
    assert not k.all_of(EndPatronSession)
    commands = k.feed(SecuritySet(security.ref, ok=True))
    assert k.only(EndPatronSession, commands) and not k.all_of(PrintReceipt, commands)
    assert k.state.tally.loans == 1


def test_walking_away_at_the_receipt_question_ends_without_a_receipt():
    k = _session_with_one_loan()
    k.feed(Pressed("finish"))
    assert k.state.phase is Phase.RECEIPT
    k.feed(TimerFired("inactivity"))
    assert k.state.more_time
    commands = k.feed(TimerFired("more_time"))
    assert k.only(EndPatronSession, commands) and not k.all_of(PrintReceipt, commands)
    assert without_counters(k.state) == SessionState()


def test_walking_away_at_the_pin_pad_forgets_the_card():
    k = kiosk(CirculationSettings(pin_required=True))
    k.feed(CardPresented(PATRON), TimerFired("inactivity"))
    assert without_counters(k.state) == SessionState()


def test_the_english_table_covers_every_message_id_the_machine_uses():
    import re
    from pathlib import Path

    import kiosk.circulation.rows as rows_module
    import kiosk.circulation.session as session_module

    source = Path(rows_module.__file__).read_text() + Path(session_module.__file__).read_text()
    used = set(re.findall(r'"((?:item|return|renew|patron|pin|card|receipt)\.[a-z_]+)"', source))
    used |= {"receipt.print_failed", "receipt.email_failed"}
    assert used and used <= set(MESSAGES), used - set(MESSAGES)
