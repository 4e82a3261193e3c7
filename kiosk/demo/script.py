"""A scripted patron session on a real station and the simulated world, with no screen.

The script does only what a patron does — put a card on the pad, type the PIN, put books down, take
them away, press "finish" and "print" — through the simulated devices and the events a touch screen
would send; everything else (the ILS's answers, the security writes, the receipt) is the station's
own doing, and the script judges by what the world shows: the rows the screen would render and the
paper that came out of the printer. For scripts that need a session but no screen; the headless
demo (:mod:`kiosk.demo.tour`) touches the real screen instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hardware_mocks.ils import scenarios as S
from kiosk.assembly import Station, wait_until
from kiosk.circulation.events import PinEntered, Pressed
from kiosk.circulation.rows import RowKind, RowState
from kiosk.circulation.session import Phase
from kiosk.circulation.station import KioskState
from kiosk.demo.panel_api import DemoPanelApi

#: Default books: two free books from the sample library's shelf.
BOOKS = (S.AVAILABLE_BOOKS[0], S.AVAILABLE_BOOKS[1])
#: Rows in these states still wait for the ILS or a tag write.
_UNSETTLED = frozenset({RowState.ASKING, RowState.SECURING, RowState.WAITING})


class ScriptFailed(Exception):
    """The session did not go as a patron would expect; the message says at which step."""


@dataclass(frozen=True, slots=True)
class SessionResult:
    """What the patron walked away with: each book's row state, and the receipt as printed."""

    rows: dict[str, RowState]
    receipt: str


def borrow_rows(state: KioskState) -> dict[str, RowState]:
    return {row.item_id: row.state for row in state.session.rows if row.kind is RowKind.BORROW}


def run_patron_session(
    station: Station[KioskState],
    world: DemoPanelApi,
    *,
    card: str = S.PATRON_VALID.id,
    pin: str = S.PATRON_VALID.pin,
    books: Sequence[str] = BOOKS,
    timeout: float = 10.0,
) -> SessionResult:
    """Borrow ``books`` with ``card`` and ``pin`` and take the printed receipt.

    Waits (each step up to ``timeout`` seconds) for the station to be idle and in service, then:
    card on the pad → PIN screen; PIN → account; card lifted, books on the pad → every row settled;
    books lifted (the patron takes them), "finish" → receipt choice; "print" → back to idle, and the
    printer cuts a receipt. Raises :class:`ScriptFailed` naming the step that did not happen.
    """

    def step(what: str, predicate: Callable[[KioskState], bool]) -> KioskState:
        try:
            return station.wait_for(predicate, timeout)
        except TimeoutError as exc:
            raise ScriptFailed(f"{what}: not reached within {timeout:g} s ({exc})") from None

    step("ready for a patron", lambda s: s.session.phase is Phase.IDLE and s.out_of_service is None)
    printed_before = len(world.receipts())
    world.place(card)
    step("PIN asked", lambda s: s.session.phase is Phase.PIN)
    station.submit(PinEntered(pin))
    step("patron identified", lambda s: s.session.phase is Phase.ACTIVE)
    world.lift(card)
    for book in books:
        world.place(book)
    settled = step("books settled", lambda s: all(borrow_rows(s).get(b) not in (None, *_UNSETTLED) for b in books))
    rows = {book: borrow_rows(settled)[book] for book in books}
    for book in books:
        world.lift(book)
    station.submit(Pressed("finish"))
    choice = step("receipt offered", lambda s: s.session.phase in (Phase.RECEIPT, Phase.IDLE))
    if choice.session.phase is Phase.RECEIPT:
        if "print" not in choice.session.receipt_choices:
            raise ScriptFailed(f"printing not offered (choices: {choice.session.receipt_choices})")
        station.submit(Pressed("receipt_print"))
        step("session ended", lambda s: s.session.phase is Phase.IDLE)
    if not wait_until(lambda: len(world.receipts()) > printed_before, timeout):
        raise ScriptFailed(f"no receipt came out of the printer within {timeout:g} s")
    return SessionResult(rows, world.receipts()[-1])
