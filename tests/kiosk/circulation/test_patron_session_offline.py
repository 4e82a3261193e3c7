"""The session machine with offline answers from the journaled gateway: an offline account is taken
without a PIN check, offline loans and returns are secured as online and say "recorded offline", and
the offline policy's refusals carry their own message ids."""

from __future__ import annotations

from circulation_drive import PATRON, lent, on_pad, only, tag, uid

from kiosk.circulation.commands import CheckIn, CheckOut, PrintReceipt, SetSecurity
from kiosk.circulation.events import (
    CardPresented,
    LoanAnswered,
    PatronLookedUp,
    PinEntered,
    Pressed,
    ReturnAnswered,
    SecuritySet,
)
from kiosk.circulation.model import PatronAccount, ReturnAnswer
from kiosk.circulation.rows import RowKind, RowState
from kiosk.circulation.session import PatronSessionMachine, Phase
from kiosk.config import CirculationSettings

OFFLINE = PatronAccount(PATRON, known=True, pin_ok=None, offline=True)


def active(pin_required: bool = True):
    m = PatronSessionMachine(CirculationSettings(pin_required=pin_required, receipt="ask"))
    s, _ = m.start()
    s, _ = m.step(s, CardPresented(PATRON))
    if pin_required:
        s, _ = m.step(s, PinEntered("0000"))
    return m, s


def test_a_required_pin_the_ils_could_not_check_is_refused_online_but_taken_offline() -> None:
    m, s = active()
    online, _ = m.step(s, PatronLookedUp(s.lookup_ref, PatronAccount(PATRON, known=True, pin_ok=None)))
    assert online.phase is Phase.REFUSED and online.notice.id == "pin.unchecked"
    offline, _ = m.step(s, PatronLookedUp(s.lookup_ref, OFFLINE))
    assert offline.phase is Phase.ACTIVE and offline.notice.id == "patron.offline"
    unknown, _ = m.step(s, PatronLookedUp(s.lookup_ref, PatronAccount("x", known=False, pin_ok=None, offline=True)))
    assert unknown.phase is Phase.REFUSED and unknown.notice.id == "patron.offline_unknown"


def test_offline_loan_and_return_are_secured_as_online_and_the_receipt_says_recorded_offline() -> None:
    m, s = active()
    s, _ = m.step(s, PatronLookedUp(s.lookup_ref, OFFLINE))
    s, commands = m.step(s, on_pad(tag("B1", 1)))
    checkout = only(CheckOut, commands)
    s, commands = m.step(s, LoanAnswered(checkout.ref, lent("B1", due="2025-03-31", offline=True)))
    security = only(SetSecurity, commands)
    assert security.on_loan and security.uids == (uid(1),)  # released only after the journal took it
    s, _ = m.step(s, SecuritySet(security.ref, ok=True))
    row = s.row(RowKind.BORROW, "B1")
    assert row.state is RowState.DONE and row.offline and row.message.id == "item.done_offline"
    s, _ = m.step(s, on_pad())
    s, _ = m.step(s, Pressed("return"))
    s, commands = m.step(s, on_pad(tag("B2", 2)))
    checkin = only(CheckIn, commands)
    s, commands = m.step(s, ReturnAnswered(checkin.ref, ReturnAnswer("B2", ok=True, offline=True)))
    security = only(SetSecurity, commands)
    assert not security.on_loan
    s, _ = m.step(s, SecuritySet(security.ref, ok=True))
    assert s.row(RowKind.RETURN, "B2").message.id == "return.done_offline"
    s, _ = m.step(s, Pressed("finish"))
    s, commands = m.step(s, Pressed("receipt_print"))
    text = [line.text for line in only(PrintReceipt, commands).lines]
    assert "  due 2025-03-31; recorded offline" in text and "  returned; recorded offline" in text


def test_the_offline_policys_refusals_show_their_message_ids() -> None:
    m, s = active(pin_required=False)
    s, _ = m.step(s, PatronLookedUp(s.lookup_ref, OFFLINE))
    s, commands = m.step(s, on_pad(tag("B1", 1)))
    checkout = only(CheckOut, commands)
    refused = lent("B1", ok=False, offline=True, message_id="offline.checkout_limit")
    s, commands = m.step(s, LoanAnswered(checkout.ref, refused))
    row = s.row(RowKind.BORROW, "B1")
    assert row.state is RowState.REFUSED and row.message.id == "offline.checkout_limit"
    assert not any(isinstance(c, SetSecurity) for c in commands)
