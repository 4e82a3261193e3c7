"""One driving vocabulary for the circulation core's tests.

The core's machines are pure, so every test plays the runner itself: it makes up tags and pads, feeds
events, keeps the commands and answers them by their refs. Copied into each test file, those few
helpers become the same logic under different names (``pad``/``on_pad``, ``ok_loan``/``lent``,
``one``/``only``/``_one``, a ``Kiosk`` or ``Desk`` class per file) that drifts apart in small ways a
reader has to check each time. Written once here, a test reads the same wherever it drives the core,
and a change in how the runner drives a machine is made in one place.

Not a test module (the name does not start with ``test_``): the tests next to it import it by name,
as pytest puts their folder on ``sys.path`` (no ``__init__.py`` here, the default "prepend" mode).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from kiosk.circulation import Machine
from kiosk.circulation.commands import CheckIn, CheckOut, Command, LookUpPatron, OpenGate, SetSecurity
from kiosk.circulation.events import (
    CardPresented,
    Event,
    LoanAnswered,
    PadChanged,
    PatronLookedUp,
    PinEntered,
    Pressed,
    ReturnAnswered,
    SecuritySet,
)
from kiosk.circulation.model import (
    IncompleteSet,
    LoanAnswer,
    Pad,
    PadItem,
    PatronAccount,
    ReturnAnswer,
)
from kiosk.circulation.rows import Row, RowKind
from kiosk.circulation.session import PatronSessionMachine, Phase
from kiosk.circulation.staff import Screen, StaffMachine, StaffState
from kiosk.config import CirculationSettings

PATRON = "21234000000018"
PIN = "1234"
STAFF_PIN = "2468"
NO_PIN = CirculationSettings(pin_required=False)


# --- what lies on the pad -------------------------------------------------------------------------------


def uid(n: int) -> bytes:
    """A made-up tag UID, numbered so that a test can name the tag it expects a command to write."""
    return bytes([0xE0, 0x04, 0x01, 0, 0, 0, 0, n])


def tag(item_id: str, n: int, parts: int | None = None, part: int | None = None, *, usage: str = "") -> PadItem:
    """Tag number ``n`` holding ``item_id`` (part ``part`` of a ``parts``-part set, if it is one)."""
    return PadItem(uid(n), item_id, parts, part, usage)


def on_pad(*items: PadItem, cards: tuple[str, ...] = (), incomplete: tuple[IncompleteSet, ...] = ()) -> PadChanged:
    """The pad as the tag watcher reports it: exactly these items and cards (``on_pad()``: it is empty)."""
    return PadChanged(Pad(items=items, patron_cards=cards, incomplete_sets=incomplete))


# --- answers ------------------------------------------------------------------------------------------


def lent(item_id: str, **fields: Any) -> LoanAnswer:
    """The ILS (or the journal) lent it, with a title and a due date, unless ``fields`` say otherwise."""
    fields.setdefault("ok", True)
    fields.setdefault("title", f"Title of {item_id}")
    fields.setdefault("due", "20261201    235959")
    return LoanAnswer(item_id, **fields)


# --- commands -----------------------------------------------------------------------------------------


def only(kind: type, commands: Sequence[Command]) -> Any:
    """The one command of ``kind`` among ``commands``; none or two fail the test."""
    found = [c for c in commands if isinstance(c, kind)]
    assert len(found) == 1, f"expected one {kind.__name__} in {commands}"
    return found[0]


def all_of(kind: type, commands: Sequence[Command]) -> list[Any]:
    """Every command of ``kind`` among ``commands``, in the order issued."""
    return [c for c in commands if isinstance(c, kind)]


def feed(machine: Machine[Any], state: Any, *events: Event) -> tuple[Any, list[Command]]:
    """``events`` stepped in order from ``state``: the state after the last and every command issued."""
    commands: list[Command] = []
    for event in events:
        state, more = machine.step(state, event)
        commands += more
    return state, commands


# --- drivers --------------------------------------------------------------------------------------------


class Driver:
    """A machine driven as the runner drives it, keeping its state and every command it issued.

    ``last`` is what the last event issued (the default for :meth:`only` and :meth:`all_of`), ``log``
    everything since the start, so a test can answer commands by their refs in any order it likes.
    """

    def __init__(self, machine: Machine[Any]) -> None:
        self.machine = machine
        self.state, self.last = machine.start()
        self.log: list[Command] = list(self.last)

    def feed(self, *events: Event) -> list[Command]:
        commands: list[Command] = []
        for event in events:
            self.state, self.last = self.machine.step(self.state, event)
            self.log += self.last
            commands += self.last
        return commands

    def only(self, kind: type, commands: Sequence[Command] | None = None) -> Any:
        return only(kind, self.last if commands is None else commands)

    def all_of(self, kind: type, commands: Sequence[Command] | None = None) -> list[Any]:
        return all_of(kind, self.last if commands is None else commands)


class Desk(Driver):
    """The patron session machine at a kiosk, with the patron's side of a session in a few words.

    ``account``: what the ILS answers to :meth:`identify` unless the test says otherwise (its
    ``pin_ok`` follows whether a PIN was asked); ``options`` go to :class:`PatronSessionMachine`.
    """

    def __init__(self, settings: CirculationSettings = NO_PIN, *, account: PatronAccount | None = None,
                 **options: Any) -> None:
        super().__init__(PatronSessionMachine(settings, **options))
        self.account = account or PatronAccount(PATRON, known=True, pin_ok=None)

    def identify(self, account: PatronAccount | None = None, card: str = PATRON) -> list[Command]:
        """``card`` presented (and ``PIN`` typed if asked), the ILS knows it: the session is open."""
        self.feed(CardPresented(card))
        if self.state.phase is Phase.PIN:
            self.feed(PinEntered(PIN))
        lookup = self.only(LookUpPatron)
        pin_ok = True if lookup.pin else None
        commands = self.feed(PatronLookedUp(lookup.ref, account or dataclasses.replace(self.account, pin_ok=pin_ok)))
        assert self.state.phase is Phase.ACTIVE, self.state
        return commands

    def row(self, item_id: str, kind: RowKind = RowKind.BORROW) -> Row:
        found = self.state.row(kind, item_id)
        assert found is not None, f"no {kind} row for {item_id}: {self.state.rows}"
        return found

    def checkout(self, item_id: str, commands: Sequence[Command] | None = None) -> CheckOut:
        """The checkout of ``item_id`` among ``commands``, or the latest one issued."""
        among = reversed(self.log) if commands is None else commands
        return next(c for c in among if isinstance(c, CheckOut) and c.item_id == item_id)

    def confirm_and_secure(self, item_id: str, answer: LoanAnswer | None = None,
                           checkout: CheckOut | None = None) -> None:
        """The ILS (or the journal) lends it, then its security is released and read back."""
        checkout = checkout or self.checkout(item_id)
        security = self.only(SetSecurity, self.feed(LoanAnswered(checkout.ref, answer or lent(item_id))))
        self.feed(SecuritySet(security.ref, ok=True))

    def borrow(self, item: PadItem, answer: LoanAnswer | None = None) -> None:
        """``item`` put down beside what is on the pad, then lent and secured (it stays on the pad)."""
        checkout = self.only(CheckOut, self.feed(on_pad(*self.state.pad.items, item)))
        assert checkout.item_id == item.item_id, checkout
        self.confirm_and_secure(item.item_id, answer, checkout)

    def returned(self, item_id: str, answer: ReturnAnswer, checkin: CheckIn | None = None) -> None:
        """The ILS checks ``item_id`` in with ``answer``, then its security is set back on and read back."""
        checkin = checkin or next(c for c in reversed(self.log) if isinstance(c, CheckIn) and c.item_id == item_id)
        security = self.only(SetSecurity, self.feed(ReturnAnswered(checkin.ref, answer)))
        assert security.on_loan is False
        self.feed(SecuritySet(security.ref, ok=True))

    def finish(self) -> list[Command]:
        """The patron takes everything off the pad and presses "finish"."""
        return self.feed(on_pad(), Pressed("finish"))

    def openings(self) -> list[OpenGate]:
        """Every request to open the exit barrier since the start."""
        return all_of(OpenGate, self.log)


class Station(Driver):
    """A station machine (a kiosk's or a returns bin's), staff mode included."""

    def log_in(self) -> None:
        self.feed(Pressed("staff"), PinEntered(STAFF_PIN))
        assert self.state.staff.screen is Screen.MENU

    def identify(self) -> list[Command]:
        lookup = self.only(LookUpPatron, self.feed(CardPresented(PATRON)))
        return self.feed(PatronLookedUp(lookup.ref, PatronAccount(PATRON, known=True, pin_ok=None)))


# --- staff mode -----------------------------------------------------------------------------------------


def staff_machine(**options: Any) -> StaffMachine:
    """Staff mode whose PIN is ``STAFF_PIN``."""
    return StaffMachine(lambda pin: pin == STAFF_PIN, **options)


def logged_in(machine: StaffMachine, pin: str = STAFF_PIN) -> StaffState:
    """``machine`` started, the staff button pressed and ``pin`` taken: the menu is open."""
    state, _ = feed(machine, machine.start()[0], Pressed("staff"), PinEntered(pin))
    assert state.screen is Screen.MENU
    return state
