"""The scripted patron session the headless demo and the soak test run, on a real station."""

from __future__ import annotations

from hardware_mocks.ils import scenarios as S
from kiosk.assembly import Station
from kiosk.circulation.rows import RowState
from kiosk.demo.hardware import DemoHardware
from kiosk.demo.script import BOOKS, run_patron_session


def test_the_script_borrows_the_books_and_returns_the_printed_receipt() -> None:
    with DemoHardware() as world:
        with Station.from_settings(world.settings(), devices=world.devices()) as station:
            first = run_patron_session(station, world)
            second = run_patron_session(station, world, card=S.PATRON_CLEAN.id, pin=S.PATRON_CLEAN.pin,
                                        books=[S.ITEM_DVD_SET])
        lent = [world.ils.library.applied("11", item=item) for item in (*BOOKS, S.ITEM_DVD_SET)]
    assert first.rows == dict.fromkeys(BOOKS, RowState.DONE) and second.rows == {S.ITEM_DVD_SET: RowState.DONE}
    assert "The Hobbit" in first.receipt and "Pride and Prejudice" in first.receipt
    assert "Planet Earth II" in second.receipt and "The Hobbit" not in second.receipt
    assert lent == [1, 1, 1]
