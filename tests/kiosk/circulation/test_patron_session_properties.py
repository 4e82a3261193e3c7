"""Random sessions against the patron session machine, judged by an independent record of events.

Hypothesis plays patron, devices and runner at once: it presents cards, changes the pad, presses
buttons, fires timers, and answers whichever commands are out (in any order, sometimes twice, with
any outcome). ``Judge`` watches only the commands and events, never the machine's own bookkeeping,
and checks after every step what the kiosk promises:

* no exception, ever;
* a row is "done" only if the ILS confirmed that item in this session and every tag of the row was
  read back in the right state by a write issued after that confirmation;
* security is turned off (or back on) only for an item whose loan (or return) the ILS confirmed;
* a request whose outcome was unknown is never sent again in that session;
* the session never ends while a request or tag write is out;
* a finished session leaves nothing about the patron in the state, and no PIN or full card number
  ever reaches a receipt;
* every ref is new, and every row waiting for an answer has a command out;
* a row asking for its item back while its tags lie on the pad has a retry timer running (no new
  pad may ever come: the patron put it back before the watcher saw it go);
* no receipt is sent to a printer whose last report said it cannot print, and a gate alarm never
  changes a row, the patron or the phase.
"""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st

from kiosk.circulation.commands import (
    CancelTimer,
    CheckIn,
    CheckOut,
    Command,
    EmailReceipt,
    EndPatronSession,
    LookUpPatron,
    OpenGate,
    PrintReceipt,
    Renew,
    RenewAll,
    SetSecurity,
    StartTimer,
)
from kiosk.circulation.events import (
    CardPresented,
    DeviceStatus,
    Emailed,
    Event,
    GateAlarm,
    GateOpened,
    IlsFailed,
    ItemScanned,
    LoanAnswered,
    PadChanged,
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
    PadItem,
    PatronAccount,
    RenewAllAnswer,
    ReturnAnswer,
)
from kiosk.circulation.rows import Message, RowKind, RowState
from kiosk.circulation.session import PatronSessionMachine, Phase, SessionState, Tally
from kiosk.config import CirculationSettings

PATRONS = ("21234000000018", "21234000000026")
PINS = ("5432", "6543")  # never a number a ref or counter could spell in these short runs
TAGS = {  # uid -> (item id, parts in set, part number)
    b"\x01": ("A", None, None),
    b"\x02": ("B", None, None),
    b"\x03": ("L", None, None),  # on loan to the patron when the account says so
    b"\x11": ("S", 2, 1),
    b"\x12": ("S", 2, 2),
}
ITEMS = ("A", "B", "L", "S", "X")  # X: scanned only, never on the pad
ITEM_OF = {u: item for u, (item, _, _) in TAGS.items()}
ACTIONS = ("finish", "finish", "finish", "return", "return", "borrow", "renew", "renew_all", "renew_offered",
           "renew_declined", "retry", "more_time", "receipt_print", "receipt_print", "receipt_email",
           "receipt_none", "receipt_none", "ok", "cancel", "nonsense")
FAILURES = (FailureKind.UNREACHABLE, FailureKind.OUTCOME_UNKNOWN, FailureKind.REFUSED_BY_DEVICE)
PRINTER_STATES = ("ok", "warning", "failed", "unknown")
TIMERS = ("inactivity", "more_time", "other", "notice",
          *(f"security_retry:{kind}:{item}" for kind in ("borrow", "return") for item in ("A", "S", "X")))
ASKS = (LookUpPatron, CheckOut, Renew, RenewAll, CheckIn, SetSecurity, PrintReceipt, EmailReceipt, EndPatronSession,
        OpenGate)


def pick(data: st.DataObject, choices: tuple | list):
    """One of ``choices`` (repeat an entry to weigh it). Integer draws keep long runs cheap."""
    return choices[data.draw(st.integers(0, len(choices) - 1))]


def a_pad(data: st.DataObject) -> Pad:
    uids = [u for u in sorted(TAGS) if pick(data, (False, True))]
    items = tuple(PadItem(u, *TAGS[u]) for u in uids)
    parts = [i.part_number for i in items if i.item_id == "S"]
    gaps = (IncompleteSet("S", 2, tuple(p for p in (1, 2) if p not in parts)),) if len(parts) == 1 else ()
    card = pick(data, ("", "", "", *PATRONS))
    return Pad(items=items, patron_cards=(card,) if card else (), incomplete_sets=gaps)


def an_account(data: st.DataObject, patron_id: str) -> PatronAccount:
    loans = tuple(Loan(i, f"Title {i}", "20261201") for i in ("L", "A", "Z") if pick(data, (False, True)))
    return PatronAccount(
        patron_id=patron_id, known=pick(data, (True,) * 9 + (False,)),
        pin_ok=pick(data, (True, True, True, False, None)),
        may_borrow=pick(data, (True,) * 5 + (False,)), loans=loans, email=pick(data, ("", "p@example.org")),
        messages=pick(data, ((), ("ILS says no",))),
    )


def answer(data: st.DataObject, command: Command) -> Event:
    """Any answer the runner could give to ``command``."""
    ref = getattr(command, "ref", "")
    if isinstance(command, LookUpPatron | CheckOut | Renew | RenewAll | CheckIn) and pick(data, (False,) * 4 + (True,)):
        return IlsFailed(ref, Failure(pick(data, FAILURES), "test"))
    match command:
        case LookUpPatron():
            return PatronLookedUp(ref, an_account(data, command.patron_id))
        case CheckOut() | Renew():
            ok, renewed = pick(data, (True, True, False)), pick(data, (False, False, True))
            return LoanAnswered(ref, LoanAnswer(command.item_id, ok=ok, title=f"Title {command.item_id}",
                                                due="20261224", renewed=renewed, messages=("words",)))
        case RenewAll():
            renewed = tuple(i for i in ("L", "A", "Z") if pick(data, (False, True)))
            return RenewAllAnswered(ref, RenewAllAnswer(True, renewed, ("Z",)))
        case CheckIn():
            return ReturnAnswered(ref, ReturnAnswer(command.item_id, ok=pick(data, (True, True, False)),
                                                    alert=pick(data, tuple(Alert)),
                                                    hold_patron_id=pick(data, ("", *PATRONS))))
        case SetSecurity():
            failed_uids = tuple(u for u in command.uids if pick(data, (False, True)))
            return SecuritySet(ref, ok=pick(data, (True, True, False)), failed_uids=failed_uids)
        case PrintReceipt():
            return Printed(ref, ok=pick(data, (True, False)))
        case EmailReceipt():
            return Emailed(ref, ok=pick(data, (True, False)))
        case EndPatronSession():
            return SessionEnded(ref)
        case OpenGate():
            return GateOpened(ref, ok=pick(data, (True, False)), detail="test")
    raise AssertionError(command)


def patron_event(data: st.DataObject) -> Event:
    match pick(data, ("card", "pin", "pad", "pad", "pad", "scan", "wrong", "press", "press", "press", "timer",
                      "printer", "gate")):
        case "card":
            return CardPresented(pick(data, PATRONS), pick(data, ("barcode", "rfid")))
        case "pin":
            return PinEntered(pick(data, PINS))
        case "pad":
            return PadChanged(a_pad(data))
        case "scan":
            return ItemScanned(pick(data, ITEMS))
        case "wrong":
            return WrongBarcode("barcode.isbn")
        case "press":
            return Pressed(pick(data, ACTIONS), pick(data, ("", *ITEMS)))
        case "printer":
            return DeviceStatus(pick(data, ("printer", "printer", "reader")), pick(data, PRINTER_STATES))
        case "gate":
            return GateAlarm(1_790_000_000.0)
    return TimerFired(pick(data, TIMERS))


class Judge:
    """What happened, from commands and events alone, and the promises checked against it."""

    def __init__(self) -> None:
        self.step = 0
        self.done_seen = 0
        self.session = 0
        self.refs: set[str] = set()
        self.out: dict[str, tuple[Command, int, int]] = {}  # ref -> (command, session, step issued)
        self.answered: dict[str, tuple[Command, int, int]] = {}
        self.confirmed: dict[tuple[RowKind, str], int] = {}  # this session: item -> step the ILS confirmed
        self.verified: dict[tuple[bool, bytes], int] = {}  # (on_loan, uid) -> step its write was issued
        self.unknown: set[tuple[str, str]] = set()  # (request, item) whose outcome was unknown
        self.timers: set[str] = set()  # started, neither fired nor cancelled since

    def new_session(self) -> None:
        self.session += 1
        self.confirmed.clear()
        self.verified.clear()
        self.unknown.clear()

    def fed(self, event: Event) -> None:
        self.step += 1
        if isinstance(event, TimerFired):
            self.timers.discard(event.name)
        ref = getattr(event, "ref", None)
        if ref is None or ref not in self.out:
            return
        command, session, issued = self.out.pop(ref)
        self.answered[ref] = (command, session, issued)
        if session != self.session:
            return  # a late answer from an earlier session: must change nothing of this one
        # The first confirmation counts: a later one is a renewal asked from the loans list for an item
        # whose row is already done (its tag needs nothing more), not a new transaction for the row.
        match command, event:
            case (CheckOut() | Renew()), LoanAnswered(answer=a) if a.ok:
                self.confirmed.setdefault((RowKind.BORROW, command.item_id), self.step)
            case CheckIn(), ReturnAnswered(answer=a) if a.ok:
                self.confirmed.setdefault((RowKind.RETURN, command.item_id), self.step)
            case SetSecurity(), SecuritySet(ok=ok, failed_uids=failed):
                bad = set(command.uids) if not ok and not failed else set(failed) if not ok else set()
                for u in command.uids:
                    if u not in bad:
                        self.verified[(command.on_loan, u)] = issued
            case (CheckOut() | Renew() | CheckIn() | RenewAll()), IlsFailed(failure=f) \
                    if f.kind is not FailureKind.UNREACHABLE:
                self.unknown.add((type(command).__name__, getattr(command, "item_id", "")))

    def issued(self, commands: list[Command]) -> None:
        for command in commands:
            if isinstance(command, StartTimer):
                self.timers.add(command.name)
            elif isinstance(command, CancelTimer):
                self.timers.discard(command.name)
            ref = getattr(command, "ref", None)
            if ref is not None:
                assert ref not in self.refs, f"ref {ref} used twice"
                self.refs.add(ref)
            self._promises(command)
            if isinstance(command, ASKS):
                self.out[ref] = (command, self.session, self.step)

    def _promises(self, command: Command) -> None:
        match command:
            case CheckOut() | Renew() | CheckIn():
                kind = type(command).__name__
                assert (kind, command.item_id) not in self.unknown, f"{kind} {command.item_id} resent after unknown"
                if kind in ("CheckOut", "Renew"):
                    assert ("CheckOut", command.item_id) not in self.unknown
                    assert ("Renew", command.item_id) not in self.unknown
            case RenewAll():
                assert ("RenewAll", "") not in self.unknown
            case SetSecurity():
                kind = RowKind.BORROW if command.on_loan else RowKind.RETURN
                for u in command.uids:
                    assert (kind, ITEM_OF[u]) in self.confirmed, f"security changed before the ILS confirmed {u!r}"
            case EndPatronSession():
                pending = [c for c, s, _ in self.out.values()
                           if s == self.session and isinstance(c, (CheckOut, Renew, RenewAll, CheckIn, SetSecurity))]
                assert not pending, f"session ended with {pending} still out"
            case PrintReceipt() | EmailReceipt():
                text = "\n".join(line.text for line in command.lines)
                assert not any(p in text for p in PATRONS) and not any(p in text for p in PINS)

    def check_state(self, state: SessionState) -> None:
        for row in state.rows:
            if row.state is RowState.DONE:
                self.done_seen += 1
                confirmed_at = self.confirmed.get((row.kind, row.item_id))
                assert confirmed_at is not None, f"{row.item_id} done without the ILS confirming it"
                on_loan = row.kind is RowKind.BORROW
                assert row.uids, f"{row.item_id} done without any tag"
                for u in row.uids:
                    written = self.verified.get((on_loan, u))
                    assert written is not None and written >= confirmed_at, f"{row.item_id} done, {u!r} unverified"
            if row.in_flight:
                assert row.ref in self.out, f"{row.item_id} waits for {row.ref!r}, which is not out"
            unverified = [u for u in row.uids if u not in row.secured]
            if (state.phase in (Phase.ACTIVE, Phase.FINISHING) and row.state is RowState.PUT_BACK and unverified
                    and all(u in state.pad.uids_of(row.item_id) for u in unverified)):
                timer = f"security_retry:{row.kind}:{row.item_id}"
                assert timer in self.timers, f"{row.item_id} waits to be put back, is on the pad, and no retry is due"
        in_flight = [r.ref for r in state.rows if r.in_flight]
        assert len(in_flight) == len(set(in_flight))
        if state.phase in (Phase.IDLE, Phase.REFUSED):
            assert state.patron_id == "" and state.pin is None and state.account is None and state.rows == ()


KIOSK_NOTICES = (None, Message("gate.alarm"), Message("gate.not_opened"), Message("receipt.printer_unavailable"))


def nothing_about_the_patron(state: SessionState) -> None:
    assert state.notice in KIOSK_NOTICES  # a notice about the kiosk, never about the patron
    wiped = dataclasses.replace(state, pad=Pad(), card_on_pad=False, card_token="", left_behind=(), tally=Tally(),
                                seq=0, printer_ok=True, notice=None, gate_ref="")
    assert wiped == SessionState()
    text = repr(state)
    assert not any(p in text for p in PATRONS) and not any(p in text for p in PINS)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    data=st.data(),
    config=st.builds(
        CirculationSettings,
        pin_required=st.booleans(), pin_attempts=st.integers(1, 3),
        incomplete_sets=st.sampled_from(("require_all", "allow_with_message", "refuse")),
        checkin_enabled=st.booleans(), security_attempts=st.integers(1, 3),
        receipt=st.sampled_from(("ask", "always", "never")), email_receipts=st.booleans(),
    ),
)
def test_random_sessions_keep_every_promise(data: st.DataObject, config: CirculationSettings) -> None:
    gate = data.draw(st.booleans(), label="a barrier that opens on request")
    machine = PatronSessionMachine(config, gate=gate)
    state, commands = machine.start()
    judge = Judge()
    ended = 0
    printer_ok = True  # the last printer report fed, judged from the events alone
    for _ in range(data.draw(st.integers(1, 90), label="steps")):
        choice = pick(data, ("patron", "patron", "answer", "answer", "answer", "replay"))
        if choice == "answer" and judge.out:
            event = answer(data, judge.out[pick(data, sorted(judge.out))][0])
        elif choice == "replay" and judge.answered:
            event = answer(data, judge.answered[pick(data, sorted(judge.answered))][0])
        else:
            event = patron_event(data)
        before = state
        before_phase = state.phase
        judge.fed(event)
        state, commands = machine.step(state, event)
        judge.issued(commands)
        openings = [c for c in commands if isinstance(c, OpenGate)]
        if openings:  # the exit barrier: once, as a session ends, and only after something was lent
            assert gate, "asked a barrier to open where none opens on request"
            assert len(openings) == 1 and any(isinstance(c, EndPatronSession) for c in commands)
            assert any(kind is RowKind.BORROW for kind, _ in judge.confirmed), "the gate opened though nothing was lent"
            note_event("gate opened")
        if isinstance(event, DeviceStatus) and event.component == "printer":
            printer_ok = event.state in ("ok", "warning")
        assert printer_ok or not any(isinstance(c, PrintReceipt) for c in commands), "printed on a printer that cannot"
        if isinstance(event, GateOpened) and event.ref == before.gate_ref and not event.ok:
            # the patron who just left is stuck at the barrier: told so unless the next one has begun
            assert (state.notice == Message("gate.not_opened")) is (before.phase in (Phase.IDLE, Phase.REFUSED))
            note_event("gate did not open")
        if isinstance(event, GateAlarm):
            assert (state.rows, state.patron_id, state.phase, state.account) == (
                before.rows, before.patron_id, before.phase, before.account)
            assert state.tally.gate_alarms == before.tally.gate_alarms + 1
        if any(isinstance(c, EndPatronSession) for c in commands):
            ended += 1
            nothing_about_the_patron(state)
            judge.new_session()
        elif before_phase in (Phase.IDLE, Phase.REFUSED, Phase.PIN) and state.phase is Phase.LOOKING_UP:
            judge.new_session()  # a new patron: nothing confirmed before counts for them
        judge.check_state(state)
        note_event(f"phase {state.phase}")
        for row in state.rows:
            note_event(f"row {row.kind} {row.state}")
    assert state.tally.sessions == ended  # every ended session counted, and only those
    note_event(f"sessions ended: {min(ended, 3)}")
    note_event(f"rows done: {min(judge.done_seen, 3)}")
