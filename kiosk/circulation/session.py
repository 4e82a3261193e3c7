"""The patron self-service session: identify, borrow, return, renew, finish — as a pure state machine.

One session runs from a card to the end of the receipt. The phases::

    IDLE ─card─▶ PIN ─pin─▶ LOOKING_UP ─known, PIN ok─▶ ACTIVE ─finish / no more time─▶ FINISHING
      ▲           ▲  wrong PIN  │  unknown, locked out, ILS down                             │ nothing in flight
      │           └─────────────┤                                                            ▼
      └──── ok / timeout ── REFUSED                      IDLE ◀─ EndPatronSession ─ RECEIPT ⇄ SENDING_RECEIPT

In ACTIVE every item on the pad or scanned is a :class:`~kiosk.circulation.rows.Row`; all rows that
need the ILS are asked in the same step, so the runner can send them in parallel over the SIP2 pool,
and answers are matched to rows by ``ref`` in whatever order they come back.

What the kiosk promises, and where it is kept:

* "done" only for an ILS-confirmed transaction whose security was read back (``rows.py``);
* security is turned off only after the ILS confirmed (a row reaches SECURING only from an answer);
* an item the patron already has is offered as a renewal, never sent as a checkout;
* a row asking for its item back while its tags are on the pad retries the security write on a
  timer (``SECURITY_RETRY``), since a quick put-back the tag watcher never saw brings no new pad;
* a request whose outcome is unknown is never resent, and the session does not end while a
  request or a tag write is out (FINISHING waits for them);
* nothing about the patron outlives the session: the state after it is the initial state, except
  what is physically on the pad (so items left there are not charged to the next patron), the
  staff counters (``tally``, ``seq``) and the printer's last report (``printer_ok``);
* the exit barrier opens (one ``OpenGate``) when a session ends with the patron taking a loan away
  (:func:`leaves_with_loans`): the patron was told it is theirs, whether the ILS confirmed it or the
  journal recorded it offline. A session that lent nothing (refused, failed, returns only) opens
  nothing: whether a barrier lets someone out is policy, so it is decided here. Only where a barrier
  opens on request (the machine's ``gate``); when it does not open, the patron walking up to it is told
  to ask staff (a kiosk notice), for nobody else would know they are stuck there.

The kiosk's devices reach the session as events too: ``DeviceStatus("printer", ...)`` decides whether
"print" is offered (policy, so here and not in the UI), and ``GateAlarm`` shows a notice for
``NOTICE_SECONDS`` without touching the session under way.

The patron's own choices — language, large text, high contrast (:data:`CHOICES`) — are taken in every
phase, so someone can pick German on the idle screen and then present the card. They belong to the
session: kept through identification (and its refusal notice, which is read in that language), wiped
when the session ends or an identification is dropped, and, when made on the idle screen with no card
following, wiped after ``inactivity_seconds`` so the next passer-by does not inherit them. The receipt
is worded in the session's language (an injected :data:`~kiosk.circulation.session_text.Wording`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field, replace
from enum import StrEnum

from kiosk.circulation import rows as R
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
    ReceiptLine,
    Renew,
    RenewAll,
    SetSecurity,
    Signal,
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
    TimerFired,
    WrongBarcode,
)
from kiosk.circulation.model import FailureKind, Loan, Pad, PatronAccount
from kiosk.circulation.rows import Message, Request, Row, RowKind, RowState
from kiosk.circulation.session_text import Render, Wording, english, english_wording, receipt_lines
from kiosk.config import CirculationSettings

INACTIVITY = "inactivity"
MORE_TIME = "more_time"
SECURITY_RETRY = "security_retry"  # + ":<row kind>:<item id>", one timer per row
SECURITY_RETRY_SECONDS = 1.5  # well past the tag watcher's departure debounce (~0.15 s)
NOTICE = "notice"  # clears a notice that belongs to the kiosk, not a session (gate alarm, printer gone)
NOTICE_SECONDS = 10.0  # long enough for a patron walking back from the gate to read it
_KIOSK_NOTICES = frozenset({"gate.alarm", "gate.not_opened", "receipt.printer_unavailable"})
_PRINTER_OK = frozenset({"ok", "warning"})  # DeviceStatus states in which the printer prints
CHOICES = frozenset({"language", "large_text", "high_contrast"})
"""Pressed actions that are the patron's per-session choices, taken in every phase."""


class Phase(StrEnum):
    IDLE = "idle"  # waiting for a card
    PIN = "pin"  # a card was presented; waiting for its PIN
    LOOKING_UP = "looking up"  # asked the ILS who this is
    REFUSED = "refused"  # identification refused; ``notice`` says why until OK, a timeout or a card
    ACTIVE = "active"  # identified: borrowing, returning, renewing
    FINISHING = "finishing"  # the session is ending; waiting for requests and tag writes still out
    RECEIPT = "receipt"  # asking print / e-mail / none (``receipt_choices``)
    SENDING_RECEIPT = "sending receipt"  # waiting for the printer or the mail server


class Mode(StrEnum):
    BORROW = "borrow"
    RETURN = "return"


class RenewalState(StrEnum):
    ASKING = "asking"
    RENEWED = "renewed"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Renewal:
    """A renewal asked from the loans list (``item_id`` empty for a renew-all still out)."""

    item_id: str
    state: RenewalState
    message: Message
    ref: str = ""
    title: str = ""
    due: str = ""


@dataclass(frozen=True, slots=True)
class Tally:
    """Counters for staff (device status). Never anything about who."""

    sessions: int = 0
    loans: int = 0
    renewals: int = 0
    returns: int = 0
    needs_staff: int = 0
    pin_lockouts: int = 0
    gate_alarms: int = 0


@dataclass(frozen=True, slots=True)
class SessionState:
    phase: Phase = Phase.IDLE
    # Kept between sessions: the physical pad and staff counters — nothing about a patron.
    pad: Pad = field(default_factory=Pad)  # what lies on the pad now; patron cards are not kept
    card_on_pad: bool = False  # a patron card lies on the pad (it starts a session when it arrives)
    # Which card that is, as a keyed digest (the machine's own random key): enough to tell "another card
    # was put down" from "the same card still lies there" when the watcher reports a card leaving and
    # the next one arriving in one stable stack; never the card's id. "" when unknown (after a closure).
    card_token: str = field(default="", repr=False)
    left_behind: tuple[str, ...] = ()  # items on the pad when the last session ended: not the next patron's
    tally: Tally = field(default_factory=Tally)
    printer_ok: bool = True  # the last DeviceStatus("printer") said it can print (True until it says)
    seq: int = 0  # the last ref number used; refs stay unique across sessions so a late answer matches nothing
    gate_ref: str = ""  # the OpenGate sent for the patron who just left, until its answer
    # The patron's choices (CHOICES): kept through identifying, reset when the session ends.
    language: str = ""  # the language the patron picked ("" = the site's)
    large_text: bool = False
    high_contrast: bool = False
    # The patron's session: wiped when it ends.
    patron_id: str = ""
    pin: str | None = field(default=None, repr=False)  # held for the session, never shown
    pin_failures: int = 0
    lookup_ref: str = ""  # the identifying LookUpPatron, or the refresh after a renew-all
    account: PatronAccount | None = None
    mode: Mode = Mode.BORROW
    rows: tuple[Row, ...] = ()
    renewals: tuple[Renewal, ...] = ()
    notice: Message | None = None  # the latest thing to tell the patron that belongs to no row
    more_time: bool = False  # "need more time?" is showing
    want_receipt: bool = False  # FINISHING: the patron asked to finish (no receipt after a timeout)
    receipt_choices: tuple[str, ...] = ()  # of "print", "email", "none"
    receipt_ref: str = ""
    receipt_kind: str = ""  # "print" or "email" while SENDING_RECEIPT

    @property
    def in_flight(self) -> bool:
        """A request or tag write is out: the session may not end yet."""
        return any(r.in_flight for r in self.rows) or any(r.state is RenewalState.ASKING for r in self.renewals)

    def row(self, kind: RowKind, item_id: str) -> Row | None:
        return next((r for r in self.rows if r.kind is kind and r.item_id == item_id), None)


class _Out:
    """The commands of one step and the refs they use. Lives only inside ``step``."""

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.commands: list[Command] = []

    def ref(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}-{self.seq}"

    def emit(self, *commands: Command) -> None:
        self.commands.extend(commands)


_PATRON_ACTIONS = (CardPresented, PinEntered, ItemScanned, WrongBarcode, PadChanged, Pressed)
_TIMED_PHASES = (Phase.PIN, Phase.REFUSED, Phase.ACTIVE, Phase.RECEIPT)
_SIGNALS = {
    RowState.DONE: "success",
    RowState.WAITING: "attention", RowState.OFFERED: "attention", RowState.PUT_BACK: "attention",
    RowState.UNTAGGED: "attention",
    RowState.REFUSED: "error", RowState.UNREACHABLE: "error", RowState.NEEDS_STAFF: "error",
}
_REQUEST_REFS = {Request.CHECKOUT: "co", Request.RENEW: "rn", Request.CHECKIN: "ci"}


class PatronSessionMachine:
    """A patron's session at the self-service kiosk (see the module docstring).

    ``security_retry_seconds``: how long a row that asks for its item back, while its tags are on the
    pad, waits before it writes again (a put-back the watcher noticed retries at once instead).
    ``notice_seconds``: how long a notice about the kiosk (gate alarm, printer gone) stays up.
    ``languages``: the codes a patron may pick with ``Pressed("language", code)`` (any other is
    ignored), the site's own first: a session whose ``language`` is "" is worded in it.
    ``wording``: language code -> render(message id, params) -> text, for the receipt (which leaves
    the kiosk as text); pure. Default: English from ``session_text.MESSAGES`` whatever the language.
    ``gate``: an exit barrier that opens on request is wired (a gate relay in "pulse" mode); without
    one no ``OpenGate`` is sent (a held gate is open already, and a site with no barrier has nothing
    to open).
    """

    def __init__(self, settings: CirculationSettings, *, security_retry_seconds: float = SECURITY_RETRY_SECONDS,
                 notice_seconds: float = NOTICE_SECONDS, languages: tuple[str, ...] = ("en",),
                 wording: Wording = english_wording, gate: bool = False) -> None:
        if not languages or not all(isinstance(code, str) and code for code in languages):
            raise ValueError(f"languages must name at least one language, the site's first: {languages!r}")
        self.settings = settings
        self.security_retry_seconds = security_retry_seconds
        self.notice_seconds = notice_seconds
        self.languages = tuple(languages)
        self.wording = wording
        self.gate = gate
        self._card_key = secrets.token_bytes(16)  # per machine: a card's token means nothing elsewhere

    @property
    def site_language(self) -> str:
        """The language of a session whose ``language`` is "" (the patron picked none)."""
        return self.languages[0]

    def start(self) -> tuple[SessionState, list[Command]]:
        return SessionState(), []

    def _card_token(self, card: str) -> str:
        return hashlib.blake2b(card.encode("utf-8"), key=self._card_key, digest_size=8).hexdigest() if card else ""

    def pad_while_closed(self, state: SessionState, pad: Pad, *, card_on_pad: bool,
                         staff_left_items: bool) -> tuple[SessionState, list[Command]]:
        """The pad as it is after a time in which patrons could not use the kiosk (staff mode, or out of
        service), for a station to hand over instead of a ``PadChanged``.

        Nothing on it is a patron's doing at this kiosk: a card lying there (``card_on_pad``; its id
        is not wanted) does not start a session until it is put down again, and with
        ``staff_left_items`` the items that were not on the pad before (tags staff just programmed)
        are not the next patron's (``left_behind``), just as items the last patron left are not.
        Items already there before stay admissible: a patron may have laid out books and be waiting.
        Only IDLE and REFUSED take it so; in any other phase it is an ordinary ``PadChanged``."""
        pad = replace(pad, patron_cards=())
        if state.phase not in (Phase.IDLE, Phase.REFUSED):
            return self.step(state, PadChanged(pad))
        on_pad = pad.item_ids()
        before = set(state.pad.item_ids())
        new_items = tuple(i for i in on_pad if i not in before) if staff_left_items else ()
        left_behind = tuple(dict.fromkeys([*(i for i in state.left_behind if i in on_pad), *new_items]))
        token = state.card_token if card_on_pad else ""  # a card that lay there all along keeps its token
        new = replace(state, pad=pad, card_on_pad=card_on_pad, card_token=token, left_behind=left_behind)
        return (state, []) if new == state else (new, [])

    def step(self, state: SessionState, event: Event) -> tuple[SessionState, list[Command]]:
        out = _Out(state.seq)
        new = self._handle(state, event, out)
        if new == state and not out.commands:
            return state, []  # ignored: it meant nothing here
        if isinstance(event, _PATRON_ACTIONS) and state.phase in _TIMED_PHASES and new.phase in _TIMED_PHASES:
            new = self._patron_is_here(new, prompting=state.more_time, out=out)
        new = self._dispatch(new, out)
        signals = _signals(state.rows, new.rows)
        new = self._settle(new, out)
        retries = self._retry_timers(state, new, event)
        return replace(new, seq=out.seq), [*out.commands, *retries, *signals]

    # --- routing events ---------------------------------------------------------------------------

    def _handle(self, state: SessionState, event: Event, out: _Out) -> SessionState:
        match event:
            case PadChanged():
                return self._pad_changed(state, event.pad, out)
            case CardPresented() if event.patron_id:
                return self._card(state, event.patron_id, out)
            case PinEntered() if state.phase is Phase.PIN and event.pin:
                return self._look_up(replace(state, notice=None), event.pin, out)
            case PatronLookedUp() if state.lookup_ref and event.ref == state.lookup_ref:
                return self._looked_up(state, event.account, out)
            case ItemScanned() if state.phase is Phase.ACTIVE:
                return self._scanned(state, event.item_id)
            case WrongBarcode() if state.phase is Phase.ACTIVE:
                return replace(state, notice=Message(event.message_id))
            case LoanAnswered() | ReturnAnswered() | IlsFailed() | SecuritySet() | RenewAllAnswered():
                return self._answered(state, event, out)
            case Printed() | Emailed() if state.phase is Phase.SENDING_RECEIPT and event.ref == state.receipt_ref:
                return self._receipt_sent(state, event.ok, out)
            case DeviceStatus(component="printer"):
                return self._printer(state, event.state in _PRINTER_OK)
            case GateAlarm():
                return self._gate_alarm(state, out)
            case GateOpened() if state.gate_ref and event.ref == state.gate_ref:
                return self._gate_answered(state, event.ok, out)
            case TimerFired():
                return self._timer(state, event.name, out)
            case Pressed():
                return self._pressed(state, event, out)
        return state

    # --- identifying ------------------------------------------------------------------------------

    def _card(self, state: SessionState, patron_id: str, out: _Out) -> SessionState:
        if state.phase in (Phase.IDLE, Phase.REFUSED) or (state.phase is Phase.PIN and patron_id != state.patron_id):
            return self._identify(state, patron_id, out)
        if state.phase is Phase.ACTIVE and patron_id != state.patron_id:
            return replace(state, notice=Message("card.finish_first"))
        return state

    def _identify(self, state: SessionState, patron_id: str, out: _Out) -> SessionState:
        state = replace(_chosen(_fresh(state), state), patron_id=patron_id)
        if self.settings.pin_required:
            out.emit(StartTimer(INACTIVITY, self.settings.inactivity_seconds))
            return replace(state, phase=Phase.PIN)
        return self._look_up(state, None, out)

    def _look_up(self, state: SessionState, pin: str | None, out: _Out) -> SessionState:
        ref = out.ref("pat")
        out.emit(LookUpPatron(ref, state.patron_id, pin))
        return replace(state, phase=Phase.LOOKING_UP, pin=pin, lookup_ref=ref)

    def _looked_up(self, state: SessionState, account: PatronAccount, out: _Out) -> SessionState:
        if state.phase is Phase.ACTIVE:
            return self._refreshed(state, account)
        if state.phase is not Phase.LOOKING_UP:
            return state
        if not account.known:
            unknown = "patron.offline_unknown" if account.offline else "patron.unknown"
            return self._refuse(state, Message.of(unknown, ils=account.messages), out)
        if self.settings.pin_required and account.pin_ok is not True and not account.offline:
            # Offline no PIN can be checked (only the ILS knows it): the site's offline policy took
            # the card on its barcode pattern, and the patron is told they are served offline.
            return self._wrong_pin(state, account, out)
        notice = None if account.may_borrow else Message.of("patron.may_not_borrow", ils=account.messages)
        if account.offline:
            notice = Message("patron.offline")
        state = replace(state, phase=Phase.ACTIVE, account=account, lookup_ref="", pin_failures=0, notice=notice)
        out.emit(StartTimer(INACTIVITY, self.settings.inactivity_seconds))
        return self._admit_pad(state, state.pad, newly=())

    def _wrong_pin(self, state: SessionState, account: PatronAccount, out: _Out) -> SessionState:
        if account.pin_ok is None:
            # The site requires a PIN and the ILS did not say it was right: not identified.
            return self._refuse(state, Message("pin.unchecked"), out)
        failures = state.pin_failures + 1
        if failures >= self.settings.pin_attempts:
            state = replace(state, tally=replace(state.tally, pin_lockouts=state.tally.pin_lockouts + 1))
            return self._refuse(state, Message.of("pin.locked", attempts=failures, ils=account.messages), out)
        out.emit(Signal("error"), StartTimer(INACTIVITY, self.settings.inactivity_seconds))
        left = self.settings.pin_attempts - failures
        notice = Message.of("pin.wrong", left=left, ils=account.messages)
        return replace(state, phase=Phase.PIN, pin=None, pin_failures=failures, lookup_ref="", notice=notice)

    def _refuse(self, state: SessionState, notice: Message, out: _Out) -> SessionState:
        """Not identified: say why (in the ILS's words where it gave some) and forget the card.

        A PIN lockout ends this attempt and forgets the card like any other refusal: keeping the
        card id to refuse it again would keep patron data past the session, and the ILS, which
        sees every terminal, is where a real lockout lives."""
        out.emit(Signal("error"), StartTimer(INACTIVITY, self.settings.inactivity_seconds))
        return replace(_chosen(_fresh(state), state), phase=Phase.REFUSED, notice=notice)

    def _refreshed(self, state: SessionState, account: PatronAccount) -> SessionState:
        """The account again after a renew-all: the loans list gets the new due dates."""
        if not account.known or account.pin_ok is False:
            return replace(state, lookup_ref="")
        dues = {loan.item_id: loan for loan in account.loans}
        renewals = tuple(
            replace(r, due=dues[r.item_id].due, message=Message.of("renew.done", due=dues[r.item_id].due))
            if r.state is RenewalState.RENEWED and r.item_id in dues else r
            for r in state.renewals
        )
        return replace(state, account=account, renewals=renewals, lookup_ref="")

    # --- the pad and the scanner ------------------------------------------------------------------

    def _pad_changed(self, state: SessionState, pad: Pad, out: _Out) -> SessionState:
        card = pad.patron_cards[0] if pad.patron_cards else ""
        token = self._card_token(card)
        # A card arrives when none lay there, or when the one there is not the one that did: the last
        # patron's card leaving and the next one's arriving may come as one stable stack.
        card_arrived = bool(card) and (not state.card_on_pad or (bool(state.card_token) and token != state.card_token))
        pad = replace(pad, patron_cards=())  # the card's id goes no further than this line
        before = state.pad.item_ids()
        left_behind = tuple(i for i in state.left_behind if i in pad.item_ids())
        state = replace(state, pad=pad, card_on_pad=bool(card), card_token=token, left_behind=left_behind)
        if card_arrived and state.phase in (Phase.IDLE, Phase.REFUSED):
            return self._identify(state, card, out)
        if card_arrived and state.phase is Phase.ACTIVE and card != state.patron_id:
            state = replace(state, notice=Message("card.finish_first"))
        if state.phase not in (Phase.ACTIVE, Phase.FINISHING):
            return state
        on_pad = set(pad.item_ids())
        rows = tuple(
            R.pad_changed(r, pad, self.settings.incomplete_sets) for r in state.rows
        )
        # A row that never asked the ILS goes away with its item: put back, it starts afresh.
        rows = tuple(r for r in rows if not (r.unsent and r.uids and r.item_id not in on_pad))
        state = replace(state, rows=rows)
        if state.phase is Phase.FINISHING:
            return state
        return self._admit_pad(state, pad, newly=tuple(i for i in pad.item_ids() if i not in before))

    def _admit_pad(self, state: SessionState, pad: Pad, newly: tuple[str, ...]) -> SessionState:
        for item_id in pad.item_ids():
            state = self._admit(state, item_id, newly=item_id in newly)
        return state

    def _scanned(self, state: SessionState, item_id: str) -> SessionState:
        kind = _kind(state.mode)
        row = state.row(kind, item_id)
        if row is not None and row.state is RowState.UNREACHABLE:
            return _put(state, R.ask(row, row.request or Request.CHECKOUT))
        return self._admit(state, item_id, newly=True)

    def _admit(self, state: SessionState, item_id: str, newly: bool) -> SessionState:
        """A new row for the item, unless it has one of this kind, was left by the last patron, or is
        settled in a row of the other kind and was not put down again (a book just checked out and
        still on the pad must not be returned by pressing "return")."""
        kind = _kind(state.mode)
        if item_id in state.left_behind or state.row(kind, item_id) is not None or state.account is None:
            return state
        other = state.row(RowKind.RETURN if kind is RowKind.BORROW else RowKind.BORROW, item_id)
        if other is not None and not (newly and other.state in R.SETTLED):
            return state
        row = R.admit(item_id, kind, state.pad, state.account, self.settings.incomplete_sets)
        return replace(state, rows=(*state.rows, row))

    # --- answers ----------------------------------------------------------------------------------

    def _answered(self, state: SessionState, event: Event, out: _Out) -> SessionState:
        ref = getattr(event, "ref", "")
        if state.phase is Phase.LOOKING_UP and isinstance(event, IlsFailed) and ref == state.lookup_ref:
            return self._refuse(state, Message("patron.lookup_failed"), out)
        if isinstance(event, IlsFailed) and ref == state.lookup_ref and ref:
            return replace(state, lookup_ref="")  # the refresh failed: keep the account we have
        renewal = next((r for r in state.renewals if r.ref == ref and r.state is RenewalState.ASKING), None)
        if renewal is not None and ref:
            return self._renewal_answered(state, renewal, event, out)
        row = next((r for r in state.rows if r.ref == ref and r.in_flight), None)
        if row is None or not ref:
            return state
        match event:
            case LoanAnswered() if row.state is RowState.ASKING and row.kind is RowKind.BORROW:
                answered = R.loan_answered(row, event.answer, state.pad)
                if answered.confirmed and answered.renewed:  # the loans list shows the new due date
                    state = replace(state, account=_with_due(state.account, answered.item_id, answered.due))
                return _put(state, answered)
            case ReturnAnswered() if row.state is RowState.ASKING and row.kind is RowKind.RETURN:
                return _put(state, R.return_answered(row, event.answer, state.pad, state.patron_id))
            case IlsFailed() if row.state is RowState.ASKING:
                if event.failure.kind is FailureKind.UNREACHABLE:
                    return _put(state, self._ils_unreachable(row))
                return _put(state, R.outcome_unknown(row))
            case SecuritySet() if row.state is RowState.SECURING:
                changed = R.secured(row, event.ok, event.failed_uids, state.pad, self.settings.security_attempts)
                return _put(state, changed)
        return state

    def _ils_unreachable(self, row: Row) -> Row:
        """The request never reached the ILS.

        This is the seam for the offline policy (issue 5): there, a checkout the site allows offline
        is journaled and the row carries on to security as "done under the offline policy". Without
        it the kiosk is online-only and says so: nothing happened, and the patron may try again
        (the row retries on "retry" or when the item is scanned again)."""
        return R.not_reached(row)

    def _renewal_answered(self, state: SessionState, renewal: Renewal, event: Event, out: _Out) -> SessionState:
        others = tuple(r for r in state.renewals if r is not renewal)
        match event:
            case LoanAnswered(answer=answer) if renewal.item_id:
                if answer.ok:
                    done = replace(renewal, state=RenewalState.RENEWED, ref="", title=answer.title or renewal.title,
                                   due=answer.due, message=Message.of("renew.done", due=answer.due))
                    return replace(state, renewals=(*others, done),
                                   account=_with_due(state.account, done.item_id, done.due))
                message = Message(answer.message_id) if answer.message_id else Message.of(
                    "renew.refused", ils=answer.messages)
                refused = replace(renewal, state=RenewalState.REFUSED, ref="", message=message)
                return replace(state, renewals=(*others, refused))
            case RenewAllAnswered(answer=answer) if not renewal.item_id:
                return self._renewed_all(replace(state, renewals=others), answer.renewed, answer.not_renewed,
                                         answer.messages, out)
            case IlsFailed(failure=failure):
                reason = "renew.unreachable" if failure.kind is FailureKind.UNREACHABLE else "renew.outcome_unknown"
                failed = replace(renewal, state=RenewalState.FAILED, ref="", message=Message(reason))
                return replace(state, renewals=(*others, failed))
        return state

    def _renewed_all(self, state: SessionState, renewed: tuple[str, ...], not_renewed: tuple[str, ...],
                     messages: tuple[str, ...], out: _Out) -> SessionState:
        loans = {loan.item_id: loan for loan in state.account.loans} if state.account else {}
        results = [
            Renewal(i, RenewalState.RENEWED, Message.of("renew.done", due=loans[i].due if i in loans else ""),
                    title=loans[i].title if i in loans else "", due=loans[i].due if i in loans else "")
            for i in renewed
        ] + [
            Renewal(i, RenewalState.REFUSED, Message.of("renew.refused", ils=messages),
                    title=loans[i].title if i in loans else "")
            for i in not_renewed
        ]
        if not results:
            results = [Renewal("", RenewalState.REFUSED, Message.of("renew.refused", ils=messages))]
        kept = tuple(r for r in state.renewals if r.item_id not in set(renewed) | set(not_renewed))
        state = replace(state, renewals=(*kept, *results))
        if renewed:
            # Renew All does not say the new due dates: ask for the account again.
            ref = out.ref("pat")
            out.emit(LookUpPatron(ref, state.patron_id, state.pin))
            state = replace(state, lookup_ref=ref)
        return state

    # --- buttons ----------------------------------------------------------------------------------

    def _pressed(self, state: SessionState, event: Pressed, out: _Out) -> SessionState:
        action, arg = event.action, event.arg
        if action in CHOICES:
            return self._choose(state, action, arg, out)
        if state.phase in (Phase.PIN, Phase.REFUSED) and action in ("cancel", "ok"):
            out.emit(CancelTimer(INACTIVITY))
            return _fresh(state)
        if action == MORE_TIME:
            return replace(state, more_time=False)  # the timers are seen to in step()
        if state.phase is Phase.RECEIPT:
            return self._receipt_choice(state, action, out)
        if state.phase is not Phase.ACTIVE:
            return state
        match action:
            case "finish":
                out.emit(CancelTimer(INACTIVITY), CancelTimer(MORE_TIME))
                return replace(state, phase=Phase.FINISHING, want_receipt=True, more_time=False)
            case "return" if self.settings.checkin_enabled and state.mode is Mode.BORROW:
                return self._switch(state, Mode.RETURN)
            case "borrow" if state.mode is Mode.RETURN:
                return self._switch(state, Mode.BORROW)
            case "renew_offered" | "renew_declined":
                return self._offer_answered(state, action == "renew_offered", arg)
            case "retry":
                retried = tuple(
                    R.ask(r, r.request or Request.CHECKOUT)
                    if r.state is RowState.UNREACHABLE and arg in ("", r.item_id) else r
                    for r in state.rows
                )
                return replace(state, rows=retried)
            case "renew":
                return self._renew(state, arg, out)
            case "renew_all":
                return self._renew_all(state, out)
        return state

    def _choose(self, state: SessionState, action: str, arg: str, out: _Out) -> SessionState:
        """Language, large text, high contrast. On the idle screen the choice waits for a card at most
        ``inactivity_seconds`` (the INACTIVITY timer, which IDLE otherwise never runs); in a timed
        phase it restarts that timer like any press (see ``step``)."""
        if action == "language":
            if arg not in self.languages or arg == state.language:
                return state
            new = replace(state, language=arg)
        elif action == "large_text":
            new = replace(state, large_text=not state.large_text)
        else:
            new = replace(state, high_contrast=not state.high_contrast)
        if state.phase is Phase.IDLE:
            out.emit(StartTimer(INACTIVITY, self.settings.inactivity_seconds))
        return new

    def _switch(self, state: SessionState, mode: Mode) -> SessionState:
        """Borrow ⇄ return. Rows that never asked the ILS are dropped so their items can take the new
        mode (a patron offered "renew?" who presses "return" means to return it)."""
        rows = tuple(r for r in state.rows if not r.unsent)
        state = replace(state, mode=mode, rows=rows)
        return self._admit_pad(state, state.pad, newly=())

    def _offer_answered(self, state: SessionState, accepted: bool, item_id: str) -> SessionState:
        row = state.row(RowKind.BORROW, item_id)
        if row is None or row.state is not RowState.OFFERED:
            return state
        if not accepted:
            declined = Message.of("item.not_renewed", due=row.due)
            return _put(state, replace(row, state=RowState.DECLINED, message=declined))
        if any(r.item_id in ("", item_id) and _blocks_renewing(r) for r in state.renewals):
            return state  # being renewed from the loans list, or it may have been already
        return _put(state, R.ask(row, Request.RENEW))

    def _renew(self, state: SessionState, item_id: str, out: _Out) -> SessionState:
        loan = _loan(state.account, item_id)
        if loan is None or any(r.item_id in ("", item_id) and _blocks_renewing(r) for r in state.renewals):
            return state
        row = state.row(RowKind.BORROW, item_id)
        if row is not None and row.state is RowState.OFFERED:
            return _put(state, R.ask(row, Request.RENEW))
        if row is not None and row.in_flight:
            return state
        ref = out.ref("rn")
        out.emit(Renew(ref, state.patron_id, item_id, state.pin))
        asking = Renewal(item_id, RenewalState.ASKING, Message("renew.asking"), ref=ref, title=loan.title, due=loan.due)
        kept = tuple(r for r in state.renewals if r.item_id != item_id)
        return replace(state, renewals=(*kept, asking))

    def _renew_all(self, state: SessionState, out: _Out) -> SessionState:
        if state.account is None or any(_blocks_renewing(r) for r in state.renewals):
            return state
        if any(r.request is Request.RENEW and r.in_flight for r in state.rows):
            return state
        ref = out.ref("ra")
        out.emit(RenewAll(ref, state.patron_id, state.pin))
        asking = Renewal("", RenewalState.ASKING, Message("renew.asking"), ref)
        return replace(state, renewals=(*state.renewals, asking))

    # --- the kiosk's devices -----------------------------------------------------------------------

    def _printer(self, state: SessionState, ok: bool) -> SessionState:
        """Whether "print" is offered is policy, so it is decided here from the printer's reports.
        A printer that stops while the patron is choosing loses "print" at once; one that comes back
        is offered from the next receipt question on (a print that just failed is not offered again)."""
        state = replace(state, printer_ok=ok)
        if ok or state.phase is not Phase.RECEIPT or "print" not in state.receipt_choices:
            return state
        choices = tuple(c for c in state.receipt_choices if c != "print")
        return replace(state, receipt_choices=choices, notice=Message("receipt.printer_unavailable"))

    def _gate_alarm(self, state: SessionState, out: _Out) -> SessionState:
        """Someone walked through the gate with an item whose security is on. The patron (most
        likely the one who just left) is asked to come back; the session, if one is under way, goes
        on untouched, and staff's counter counts it. The notice clears itself (``NOTICE``)."""
        out.emit(StartTimer(NOTICE, self.notice_seconds), Signal("attention"))
        tally = replace(state.tally, gate_alarms=state.tally.gate_alarms + 1)
        return replace(state, notice=Message("gate.alarm"), tally=tally)

    def _gate_answered(self, state: SessionState, ok: bool, out: _Out) -> SessionState:
        """The barrier did not open for the patron who just left with a loan: they are standing at it,
        so the screen behind them says to ask staff (a kiosk notice, like the gate alarm's). Once the
        next patron's session has begun the screen is theirs, and the notice would be misread."""
        state = replace(state, gate_ref="")
        if ok or state.phase not in (Phase.IDLE, Phase.REFUSED):
            return state
        out.emit(StartTimer(NOTICE, self.notice_seconds), Signal("attention"))
        return replace(state, notice=Message("gate.not_opened"))

    # --- time -------------------------------------------------------------------------------------

    def _patron_is_here(self, state: SessionState, prompting: bool, out: _Out) -> SessionState:
        """Any patron action restarts the inactivity timer and answers "need more time?"."""
        if prompting:
            out.emit(CancelTimer(MORE_TIME))
        restart = StartTimer(INACTIVITY, self.settings.inactivity_seconds)
        if restart not in out.commands:
            out.emit(restart)
        return replace(state, more_time=False)

    def _retry_timers(self, before: SessionState, after: SessionState, event: Event) -> list[Command]:
        """Start a row's retry timer when it comes to wait for a put-back with its tags on the pad;
        cancel it when the row stops waiting (put back and seen, lifted, or the session ended)."""
        waiting_before = {_retry_timer(r) for r in _retries_due(before)}
        waiting_after = {_retry_timer(r) for r in _retries_due(after)}
        fired = event.name if isinstance(event, TimerFired) else ""
        return [
            *(CancelTimer(name) for name in sorted(waiting_before - waiting_after) if name != fired),
            *(StartTimer(name, self.security_retry_seconds) for name in sorted(waiting_after - waiting_before)),
        ]

    def _timer(self, state: SessionState, name: str, out: _Out) -> SessionState:
        if name == NOTICE:
            kiosk_notice = state.notice is not None and state.notice.id in _KIOSK_NOTICES
            return replace(state, notice=None) if kiosk_notice else state
        if name.startswith(SECURITY_RETRY + ":"):
            if state.phase not in (Phase.ACTIVE, Phase.FINISHING):
                return state
            row = next((r for r in state.rows if _retry_timer(r) == name), None)
            if row is None:
                return state
            return _put(state, R.retry_security(row, state.pad, self.settings.security_attempts))
        if name == INACTIVITY and state.phase is Phase.IDLE:
            return _unchosen(state)  # chose a language or a look on the idle screen, then no card came
        if name == INACTIVITY and state.phase in (Phase.PIN, Phase.REFUSED):
            return _fresh(state)  # walked away before being identified
        if name == INACTIVITY and state.phase in (Phase.ACTIVE, Phase.RECEIPT) and not state.more_time:
            out.emit(StartTimer(MORE_TIME, self.settings.more_time_seconds))
            return replace(state, more_time=True)
        if name == MORE_TIME and state.more_time:
            if state.phase is Phase.RECEIPT:
                return self._end(state, out)
            if state.phase is Phase.ACTIVE:
                return replace(state, phase=Phase.FINISHING, want_receipt=False, more_time=False)
        return state

    # --- finishing --------------------------------------------------------------------------------

    def _settle(self, state: SessionState, out: _Out) -> SessionState:
        """FINISHING ends the session once nothing is out and no security retry is due: with a
        receipt if the patron asked to finish, the site gives receipts and something happened;
        straight away otherwise."""
        if state.phase is not Phase.FINISHING or state.in_flight or _retries_due(state):
            return state  # a retry due is a tag write about to go out: the item may yet be secured
        if not state.want_receipt or self.settings.receipt == "never" or not self._receipt(state):
            return self._end(state, out)
        email = self.settings.email_receipts and state.account is not None and bool(state.account.email)
        choices = (*(("print",) if state.printer_ok else ()), *(("email",) if email else ()), "none")
        notice = None if state.printer_ok else Message("receipt.printer_unavailable")
        if choices == ("none",):
            return self._printer_gone(self._end(state, out), out)  # a question with one answer is no question
        state = replace(state, phase=Phase.RECEIPT, receipt_choices=choices, notice=notice)
        if self.settings.receipt == "always":
            return self._send_receipt(state, choices[0], out)  # print, or e-mail when the printer cannot
        out.emit(StartTimer(INACTIVITY, self.settings.inactivity_seconds))
        return state

    def _printer_gone(self, state: SessionState, out: _Out) -> SessionState:
        """Tell the patron, after the session, why no receipt came out."""
        out.emit(StartTimer(NOTICE, self.notice_seconds))
        return replace(state, notice=Message("receipt.printer_unavailable"))

    def _receipt(self, state: SessionState) -> tuple[ReceiptLine, ...]:
        renewed = [(r.title or r.item_id, r.due) for r in state.renewals if r.state is RenewalState.RENEWED]
        render = self._render(state.language or self.site_language)
        return receipt_lines(state.patron_id, state.rows, renewed, render)

    def _render(self, language: str) -> Render:
        """The session's words for the receipt. A wording that cannot give this language (a catalog
        that fails to load) gives English: the session must still be able to end."""
        try:
            render = self.wording(language)
        except Exception:
            return english
        return render if callable(render) else english

    def _receipt_choice(self, state: SessionState, action: str, out: _Out) -> SessionState:
        choice = action.removeprefix("receipt_")
        if not action.startswith("receipt_") or choice not in state.receipt_choices:
            return state
        if choice == "none":
            return self._end(state, out)
        return self._send_receipt(state, choice, out)

    def _send_receipt(self, state: SessionState, kind: str, out: _Out) -> SessionState:
        lines = self._receipt(state)
        if kind == "email" and state.account is not None:
            ref = out.ref("eml")
            out.emit(EmailReceipt(ref, state.account.email, lines))
        else:
            ref = out.ref("prt")
            out.emit(PrintReceipt(ref, lines))
        out.emit(CancelTimer(INACTIVITY), CancelTimer(MORE_TIME))
        return replace(state, phase=Phase.SENDING_RECEIPT, receipt_ref=ref, receipt_kind=kind, more_time=False)

    def _receipt_sent(self, state: SessionState, ok: bool, out: _Out) -> SessionState:
        if ok:
            return self._end(state, out)
        failed = state.receipt_kind
        out.emit(Signal("attention"), StartTimer(INACTIVITY, self.settings.inactivity_seconds))
        return replace(
            state, phase=Phase.RECEIPT, receipt_ref="", receipt_kind="",
            receipt_choices=tuple(c for c in state.receipt_choices if c != failed),
            notice=Message(f"receipt.{failed}_failed"),
        )

    def _end(self, state: SessionState, out: _Out) -> SessionState:
        """End the patron session at the ILS, open the barrier for a patron leaving with a loan, then
        forget the patron entirely."""
        out.emit(EndPatronSession(out.ref("end"), state.patron_id, state.pin),
                 CancelTimer(INACTIVITY), CancelTimer(MORE_TIME))
        gate_ref = ""
        if self.gate and leaves_with_loans(state):
            gate_ref = out.ref("gate")
            out.emit(OpenGate(gate_ref))
        return replace(_fresh(state), tally=_count(state), left_behind=state.pad.item_ids(), gate_ref=gate_ref)

    # --- rows to commands -------------------------------------------------------------------------

    def _dispatch(self, state: SessionState, out: _Out) -> SessionState:
        """Issue the command each row is waiting for — every one in this step, so a stack goes to
        the ILS in parallel."""
        if not any(r.state in R.IN_FLIGHT and not r.ref for r in state.rows):
            return state
        rows: list[Row] = []
        for row in state.rows:
            if row.state is RowState.ASKING and not row.ref and row.request is not None:
                ref = out.ref(_REQUEST_REFS[row.request])
                out.emit(self._request(state, row, ref))
                row = replace(row, ref=ref, asked=True)
            elif row.state is RowState.SECURING and not row.ref:
                ref = out.ref("sec")
                out.emit(SetSecurity(ref, row.pending, on_loan=row.kind is RowKind.BORROW))
                row = replace(row, ref=ref, securing=row.pending, security_tries=row.security_tries + 1)
            rows.append(row)
        return replace(state, rows=tuple(rows))

    def _request(self, state: SessionState, row: Row, ref: str) -> Command:
        match row.request:
            case Request.CHECKOUT:
                # What the tags said travels with the checkout: offline the policy refuses an item its
                # own tag says is not for loan (R.Row.usages); online the ILS decides, as always.
                return CheckOut(ref, state.patron_id, row.item_id, state.pin, tag_usages=row.usages)
            case Request.RENEW:
                return Renew(ref, state.patron_id, row.item_id, state.pin)
        return CheckIn(ref, row.item_id)


# --- helpers -----------------------------------------------------------------------------------


_LENT = frozenset({RowState.DONE, RowState.UNTAGGED})
"""Borrow rows whose item the patron was told is theirs: ``DONE`` (security released and read back)
and ``UNTAGGED`` (no tag to release). Both follow an ILS confirmation or an offline journal entry."""


def leaves_with_loans(state: SessionState) -> bool:
    """The patron takes at least one item away on loan: the barrier must let them out.

    An item counts when its latest word in the session is a loan the patron was told is theirs
    (:data:`_LENT`), a renewal of a book on the pad included (they carry it out); one they then
    returned in the same session stays behind. A loan still waiting for its security, refused,
    unreachable or of unknown outcome does not count (the patron was not told it is lent, and its
    tag would alarm the gate anyway), nor does a renewal from the loans list (no item in hand).
    """
    lent: dict[str, bool] = {}
    for row in state.rows:  # in the order they were made: a later row is the later word
        if row.kind is RowKind.BORROW and row.confirmed and row.state in _LENT:
            lent[row.item_id] = True
        elif row.kind is RowKind.RETURN and row.confirmed:
            lent[row.item_id] = False
    return any(lent.values())


def _fresh(state: SessionState) -> SessionState:
    """No session: only what outlives every session (the pad, staff counters, the ref counter).
    The patron's choices go too; :func:`_chosen` carries them where the same patron goes on."""
    return SessionState(pad=state.pad, card_on_pad=state.card_on_pad, card_token=state.card_token,
                        left_behind=state.left_behind, tally=state.tally, printer_ok=state.printer_ok, seq=state.seq)


def _chosen(state: SessionState, source: SessionState) -> SessionState:
    """``state`` with the patron's choices from ``source``."""
    return replace(state, language=source.language, large_text=source.large_text,
                   high_contrast=source.high_contrast)


def _unchosen(state: SessionState) -> SessionState:
    return _chosen(state, SessionState())


def _retries_due(state: SessionState) -> tuple[Row, ...]:
    """Rows whose security write is retried on a timer (only while rows can still change)."""
    if state.phase not in (Phase.ACTIVE, Phase.FINISHING):
        return ()
    return tuple(r for r in state.rows if R.put_back_on_pad(r, state.pad))


def _retry_timer(row: Row) -> str:
    return f"{SECURITY_RETRY}:{row.kind}:{row.item_id}"


def _put(state: SessionState, row: Row) -> SessionState:
    return replace(state, rows=tuple(row if (r.kind, r.item_id) == (row.kind, row.item_id) else r for r in state.rows))


def _kind(mode: Mode) -> RowKind:
    return RowKind.BORROW if mode is Mode.BORROW else RowKind.RETURN


def _loan(account: PatronAccount | None, item_id: str) -> Loan | None:
    if account is None or not item_id:
        return None
    return next((loan for loan in account.loans if loan.item_id == item_id), None)


def _with_due(account: PatronAccount | None, item_id: str, due: str) -> PatronAccount | None:
    """The account after a renewal: the loan's new due date (the loans list shows it)."""
    if account is None or not due:
        return account
    loans = tuple(replace(loan, due=due) if loan.item_id == item_id else loan for loan in account.loans)
    return replace(account, loans=loans)


def _blocks_renewing(renewal: Renewal) -> bool:
    """A renewal still out, or one whose outcome is unknown: asking again could renew twice."""
    return renewal.state is RenewalState.ASKING or renewal.message.id == "renew.outcome_unknown"


def _signals(before: tuple[Row, ...], after: tuple[Row, ...]) -> list[Command]:
    """One cue per kind for rows that reached a state the patron should notice in this step."""
    old = {(r.kind, r.item_id): r.state for r in before}
    kinds: list[str] = []
    for row in after:
        kind = _SIGNALS.get(row.state)
        if kind and old.get((row.kind, row.item_id)) is not row.state and kind not in kinds:
            kinds.append(kind)
    return [Signal(k) for k in kinds]


def _count(state: SessionState) -> Tally:
    t = state.tally
    borrowed = [r for r in state.rows if r.kind is RowKind.BORROW and r.confirmed]
    return replace(
        t,
        sessions=t.sessions + 1,
        loans=t.loans + sum(1 for r in borrowed if not r.renewed),
        renewals=t.renewals + sum(1 for r in borrowed if r.renewed)
        + sum(1 for r in state.renewals if r.state is RenewalState.RENEWED),
        returns=t.returns + sum(1 for r in state.rows if r.kind is RowKind.RETURN and r.confirmed),
        needs_staff=t.needs_staff + sum(1 for r in state.rows if r.state is RowState.NEEDS_STAFF),
    )
