"""A card put down as the last patron's card leaves: found by the simulated day (tests/soak).

The tag watcher debounces departures, so when one patron lifts a card and books and the next patron
puts a card down a moment later, the watcher may report "the old card left, a new card is here" as
one stable stack. Judged by "was a card on the pad?" alone, the new card looked like the old one still
lying there, and the kiosk sat on its idle screen with a card on the pad.
"""

from __future__ import annotations

from circulation_drive import on_pad, only

from kiosk.circulation.commands import LookUpPatron
from kiosk.circulation.events import PatronLookedUp, PinEntered, Pressed
from kiosk.circulation.model import PatronAccount
from kiosk.circulation.session import PatronSessionMachine, Phase, SessionState
from kiosk.config import CirculationSettings

ALICE, BOB = "21234000050005", "21234000050013"


def identified(machine: PatronSessionMachine, card: str) -> SessionState:
    """``card`` put down on an idle kiosk, its PIN typed and taken: the session is open."""
    state, _ = machine.start()
    state, _ = machine.step(state, on_pad(cards=(card,)))
    assert state.phase is Phase.PIN
    state, commands = machine.step(state, PinEntered("1234"))
    lookup = only(LookUpPatron, commands)
    state, _ = machine.step(state, PatronLookedUp(lookup.ref, PatronAccount(card, known=True, pin_ok=True)))
    assert state.phase is Phase.ACTIVE
    return state


def ended_with_the_card_still_reported(machine: PatronSessionMachine) -> SessionState:
    """Alice lifted her card and finished before the watcher believed the card had left (its last
    report still lists it): the session ends with a card on the pad, as far as the kiosk knows."""
    state = identified(machine, ALICE)
    state, _ = machine.step(state, Pressed("finish"))
    while state.phase is Phase.RECEIPT:
        state, _ = machine.step(state, Pressed("receipt_none"))
    assert state.phase is Phase.IDLE and state.card_on_pad
    return state


def test_the_next_patrons_card_arriving_as_the_last_one_leaves_starts_a_session() -> None:
    machine = PatronSessionMachine(CirculationSettings(pin_required=True, receipt="never"))
    state = ended_with_the_card_still_reported(machine)
    # One stable stack: Alice's card gone, Bob's card there.
    state, _ = machine.step(state, on_pad(cards=(BOB,)))
    assert state.phase is Phase.PIN and state.patron_id == BOB


def test_the_same_card_still_lying_there_starts_nothing() -> None:
    machine = PatronSessionMachine(CirculationSettings(pin_required=True, receipt="never"))
    state = ended_with_the_card_still_reported(machine)
    state, commands = machine.step(state, on_pad(cards=(ALICE,)))
    assert state.phase is Phase.IDLE and state.patron_id == "" and commands == []


def test_the_token_names_no_one() -> None:
    """The state keeps a keyed digest of the card on the pad, never its id, and not in its repr; two
    machines (two kiosk processes) do not share tokens."""
    one = PatronSessionMachine(CirculationSettings(pin_required=True, receipt="never"))
    other = PatronSessionMachine(CirculationSettings(pin_required=True, receipt="never"))
    state = ended_with_the_card_still_reported(one)
    assert state.card_token and ALICE not in state.card_token and state.card_token not in repr(state)
    assert ALICE not in repr(state)
    assert ended_with_the_card_still_reported(other).card_token != state.card_token
