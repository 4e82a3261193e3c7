"""The whole patron flow on the real station: nothing is faked between a touch and the ILS.

``Station.from_settings`` on the demo's simulated world (a SIP2 server on loopback, a FEIG reader and
an ESC/POS printer on ptys, mock GPIO pins), and the real ``KioskApp`` on the test window. Every
patron action is a real touch on the screen's buttons; what only hands do — the card and the books
put on the pad and lifted off — goes through the simulated devices. The test then judges by what the
world shows: the ILS's ledger, the tags' security, the printer's paper (titles, the card masked, no
PIN), and the screens, kept as artifacts/ui/flow-*.png.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kivy.uix.label import Label

from hardware_mocks.ils import scenarios as S
from kiosk.assembly import Station
from kiosk.circulation.rows import RowKind, RowState
from kiosk.circulation.session import Mode, RenewalState
from kiosk.circulation.session_text import masked
from kiosk.demo.hardware import DemoHardware
from kiosk.demo.wiring import demo_settings
from kiosk.hardware.rfid.security import SecurityState
from kiosk.ui.app import KioskApp

WAIT = 20.0  # upper bound for each step on a loaded machine; nothing here measures time
PATRON = S.PATRON_VALID
LENT, REFUSED, OFFERED = S.ITEM_AVAILABLE, S.ITEM_ON_HOLD_FOR_OTHER, S.ITEM_RENEWABLE
RENEWED_FROM_LIST = S.ITEM_TRANSIT
RETURNED = S.ITEM_HOLD_HERE


class Flow:
    """The app on the stage, and waits on what it shows."""

    def __init__(self, stage: Any, station: Station[Any], world: DemoHardware) -> None:
        self.stage = stage
        self.station = station
        self.world = world
        self.app = KioskApp(station)
        self.app._run_prepare()  # what App.run does before its loop; the test's frames are the loop
        self.stage.frames(2)

    def screen(self, name: str) -> Any:
        return self.app.manager.get_screen(name)

    def until(self, what: str, predicate: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT
        while not predicate():
            assert time.monotonic() < deadline, f"{what}: not shown; the app shows {self.app.screen_name!r}"
            self.stage.frames(1)
        self.stage.frames(3)  # laid out and drawn

    def on(self, screen: str, what: str, also: Callable[[Any], bool] = lambda _s: True) -> Any:
        """Wait until the app has drawn ``screen`` for a state satisfying ``also``; that state."""
        self.until(what, lambda: self.app.screen_name == screen and self.app.state is not None
                   and also(self.app.state))
        return self.app.state

    def tap(self, widget: Any) -> None:
        assert widget.get_root_window() is not None and not widget.disabled, f"{widget!r} cannot be touched"
        self.stage.scroll_into_view(widget)
        self.stage.tap(widget)

    def words(self) -> str:
        screen = self.app.manager.current_screen
        return "\n".join(w.text for w in screen.walk(restrict=True) if isinstance(w, Label) and w.text)

    def shot(self, name: str) -> None:
        self.stage.screenshot(f"flow-{name}")


def rows(state: Any, kind: RowKind = RowKind.BORROW) -> dict[str, RowState]:
    return {row.item_id: row.state for row in state.session.rows if row.kind is kind}


@pytest.fixture
def world() -> Iterator[DemoHardware]:
    with DemoHardware() as hardware:
        yield hardware


@pytest.fixture
def flow(stage: Any, world: DemoHardware) -> Iterator[Flow]:
    station = Station.from_settings(demo_settings(world, desktop=False), devices=world.devices())
    with station:
        f = Flow(stage, station, world)
        try:
            yield f
        finally:
            f.app.stop()
            stage.frames(1)


def test_a_patron_borrows_renews_returns_and_takes_the_receipt_all_by_touch(flow: Flow, world: DemoHardware) -> None:
    flow.on("idle", "the kiosk ready", lambda s: s.out_of_service is None and s.online and any(
        r.component == "printer" and r.state == "ok" for r in s.staff.devices))
    flow.shot("idle")

    # The card on the pad; the PIN on the keypad.
    world.place(PATRON.id)
    flow.on("pin", "the PIN asked")
    pin = flow.screen("pin")
    for key in (*PATRON.pin, "ok"):
        flow.tap(pin.keys[key])
    account = flow.on("home", "the account", lambda s: s.session.account is not None)
    assert account.session.account.name == PATRON.name and PATRON.name in flow.words()
    flow.shot("account")

    # Borrow: one lent, one refused by the ILS, one already on loan to her (offered for renewal).
    world.lift(PATRON.id)
    flow.tap(flow.screen("home").borrow)
    flow.on("items", "the items list", lambda s: s.session.mode is Mode.BORROW)
    for book in (LENT, REFUSED, OFFERED):
        world.place(book)
    flow.on("items", "the books answered",
            lambda s: rows(s) == {LENT: RowState.DONE, REFUSED: RowState.REFUSED, OFFERED: RowState.OFFERED})
    shown = flow.words()
    assert "The Hobbit" in shown and "The Remains of the Day" in shown and "The Great Gatsby" in shown
    flow.shot("checkout")
    offer = next(w for w in flow.screen("items").row_widgets if w.row.item_id == OFFERED)
    flow.tap(offer.buttons["renew_offered"])
    flow.on("items", "the offered book renewed", lambda s: rows(s)[OFFERED] is RowState.DONE)
    flow.shot("checkout-renewed")
    security = {t.barcode: t.security for t in world.pad.tags_on_pad() if t.barcode in (LENT, REFUSED)}
    for book in (LENT, REFUSED, OFFERED):
        world.lift(book)
    flow.on("items", "the books taken", lambda s: not s.pad.items)

    # My loans: renew one from the list.
    flow.tap(flow.screen("items").account)
    flow.on("home", "back to the account")
    flow.tap(flow.screen("home").my_loans)
    flow.on("loans", "the loans list")
    loan = next(w for w in flow.screen("loans").row_widgets if w.loan.item_id == RENEWED_FROM_LIST)
    flow.tap(loan.renew)
    flow.on("loans", "the loan renewed", lambda s: any(
        r.item_id == RENEWED_FROM_LIST and r.state is RenewalState.RENEWED for r in s.session.renewals))
    flow.shot("loans-renewed")

    # Return one at the kiosk.
    flow.tap(flow.screen("loans").account)
    flow.on("home", "back to the account")
    flow.tap(flow.screen("home").give_back)
    flow.on("items", "the items list for returns", lambda s: s.session.mode is Mode.RETURN)
    world.place(RETURNED)
    flow.on("items", "the book returned", lambda s: rows(s, RowKind.RETURN) == {RETURNED: RowState.DONE})
    assert "The Road" in flow.words()
    flow.shot("returns")
    security.update({t.barcode: t.security for t in world.pad.tags_on_pad() if t.barcode == RETURNED})
    world.lift(RETURNED)
    flow.on("items", "the returned book taken", lambda s: not s.pad.items)

    # Finish with a printed receipt.
    flow.tap(flow.screen("items").finish)
    flow.on("receipt", "the receipt offered", lambda s: "print" in s.session.receipt_choices)
    flow.tap(flow.screen("receipt").buttons["print"])
    flow.on("thank_you", "thank you")
    flow.until("the receipt printed", lambda: len(world.receipts()) == 1)
    flow.shot("thank-you")
    flow.tap(flow.screen("thank_you"))
    after = flow.on("idle", "the idle screen again", lambda s: s.session.account is None)

    # What the ILS applied: exactly what the patron saw happen.
    ledger = world.ils.library
    assert ledger.applied("11", item=LENT) == 1
    assert ledger.applied("11", item=REFUSED) == 0  # refused: on hold for another patron
    assert ledger.applied("11", item=OFFERED) == 0 and ledger.applied("29", item=OFFERED) == 1  # renewed, not lent
    assert ledger.applied("29", item=RENEWED_FROM_LIST) == 1
    assert ledger.applied("09", item=RETURNED) == 1
    # The tags (read while on the pad): the loan walks out, the refused and the returned book alarm.
    assert security == {LENT: SecurityState.ON_LOAN, REFUSED: SecurityState.IN_LIBRARY,
                        RETURNED: SecurityState.IN_LIBRARY}
    # The paper: every title that happened, the card masked, no PIN, nothing of the card number.
    receipt = world.receipts()[0]
    for title in ("The Hobbit", "The Great Gatsby", "Crime and Punishment", "The Road"):
        assert title in receipt
    assert "The Remains of the Day" not in receipt  # refused: nothing to take home
    assert masked(PATRON.id) in receipt and PATRON.id not in receipt
    assert not re.search(rf"(?<!\d){PATRON.pin}(?!\d)", receipt)
    assert after.session.patron_id == "" and after.session.rows == ()
