"""A whole station built from its settings, against the demo's simulated world.

Nothing is wired by hand here: ``Station.from_settings`` builds the journaled gateway, the station
machine, the runner, the FEIG driver and tag watcher, the serial scanner, the ESC/POS printer and the
GPIO shell from the settings ``DemoHardware`` produces, and the tests act as the patron and the
library's machines do (tags on the pad, barcodes, the ILS going away, a reader unplugged). They judge
by what the world shows afterwards: the ILS's ledger, the tags' AFI/EAS, the printer's paper, the
lights, and the state the screen would render.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from hardware_mocks.ils import scenarios as S
from kiosk.assembly import Station, wait_until
from kiosk.circulation.events import PinEntered, Pressed
from kiosk.circulation.rows import Message, RowKind, RowState
from kiosk.circulation.session import Phase
from kiosk.circulation.session_text import masked
from kiosk.circulation.staff import OPEN_GATE
from kiosk.circulation.station import KioskState, ReturnsStationState
from kiosk.demo.hardware import DemoHardware
from kiosk.hardware.rfid.security import SecurityState
from kiosk.ui.i18n import translator

WAIT = 10.0  # upper bounds for things to happen; nothing here measures time
UNSETTLED = {RowState.ASKING, RowState.SECURING, RowState.WAITING}


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    """Every thread a test starts is gone after it, and every file descriptor (ptys, sockets, the
    journal) it opened is closed."""
    threads, fds = threading.active_count(), set(os.listdir("/proc/self/fd"))
    yield
    wait_until(lambda: threading.active_count() <= threads, 5)
    assert threading.active_count() == threads, [t.name for t in threading.enumerate()]
    assert set(os.listdir("/proc/self/fd")) <= fds


@pytest.fixture
def world() -> Iterator[DemoHardware]:
    with DemoHardware() as hardware:
        yield hardware


def device(state: KioskState | ReturnsStationState, component: str) -> str | None:
    return next((row.state for row in state.staff.devices if row.component == component), None)


def borrowed(state: KioskState) -> dict[str, RowState]:
    return {row.item_id: row.state for row in state.session.rows if row.kind is RowKind.BORROW}


def test_a_patron_borrows_two_books_from_the_pad_and_takes_a_printed_receipt(world: DemoHardware) -> None:
    patron, books = S.PATRON_CLEAN, list(S.AVAILABLE_BOOKS[:2])
    station = Station.from_settings(world.settings(), devices=world.devices())
    seen_a: list[KioskState] = []
    seen_b: list[KioskState] = []
    signals: list[str] = []
    steps: list[str] = []
    station.subscribe(seen_a.append)
    unsubscribe_b = station.subscribe(seen_b.append)
    station.on_signal(signals.append)
    station.on_step(lambda event, state, commands: steps.append(type(event).__name__))
    with station:
        station.wait_for(lambda s: s.session.phase is Phase.IDLE and device(s, "reader") == "ok"
                         and device(s, "printer") == "ok", WAIT)
        world.place(patron.id)
        station.wait_for(lambda s: s.session.phase is Phase.PIN, WAIT)
        station.submit(PinEntered(patron.pin))
        active = station.wait_for(lambda s: s.session.phase is Phase.ACTIVE, WAIT)
        assert active.session.account is not None and active.session.account.name == patron.name
        unsubscribe_b()

        world.lift(patron.id)
        for book in books:
            world.place(book)
        state = station.wait_for(
            lambda s: all(borrowed(s).get(b) not in (None, *UNSETTLED) for b in books), WAIT)
        assert borrowed(state) == dict.fromkeys(books, RowState.DONE)
        # the world agrees: the ILS lent both, and the tags no longer alarm the gate
        assert [world.ils.library.applied("11", item=b) for b in books] == [1, 1]
        tags = {tag.barcode: tag for tag in world.pad.tags_on_pad()}
        assert {b: (tags[b].security, tags[b].afi, tags[b].eas) for b in books} == dict.fromkeys(
            books, (SecurityState.ON_LOAN, 0xC2, False))
        assert world.outputs()["amber"]  # a patron at the kiosk: busy

        for book in books:
            world.lift(book)
        station.submit(Pressed("finish"))
        offered = station.wait_for(lambda s: s.session.phase is Phase.RECEIPT, WAIT)
        assert "print" in offered.session.receipt_choices
        station.submit(Pressed("receipt_print"))
        after = station.wait_for(lambda s: s.session.phase is Phase.IDLE, WAIT)
        assert wait_until(lambda: len(world.receipts()) == 1, WAIT)
        assert wait_until(lambda: world.outputs() == {"gate_open": True, "green": True, "amber": False,
                                                       "red": False}, WAIT)

    receipt = world.receipts()[0]
    titles = [row.title for row in state.session.rows]
    assert titles == ["The Hobbit", "Pride and Prejudice"]
    assert all(title in receipt for title in titles)
    assert f"Card: {masked(patron.id)}" in receipt
    assert patron.id not in receipt and patron.pin not in receipt
    # due dates are written for people (the patron's language: English here), not as the ILS's SIP2 text
    due = state.session.rows[0].due
    assert due and due not in receipt and translator("en").due(due) in receipt
    assert after.session.patron_id == "" and after.session.account is None
    # every subscriber heard the states, the one that left stopped hearing; cues and steps went out
    assert after in seen_a and seen_b == seen_a[: len(seen_b)] and len(seen_b) < len(seen_a)
    assert "success" in signals and "PinEntered" in steps
    assert not station.runner.alive


PULSED_GATE = {"gpio": {"gate_mode": "pulse", "gate_pulse_seconds": 0.05}}  # the relay on GPIO 17, active high


def test_in_pulse_mode_the_exit_barrier_opens_once_when_a_patron_leaves_with_a_book(world: DemoHardware) -> None:
    patron, book = S.PATRON_CLEAN, S.AVAILABLE_BOOKS[0]
    assert world.pins is not None
    relay = world.pins.pin(17)
    with Station.from_settings(world.settings(PULSED_GATE), devices=world.devices()) as station:
        ready = station.wait_for(lambda s: s.session.phase is Phase.IDLE and device(s, "reader") == "ok", WAIT)
        assert ready.staff.offers(OPEN_GATE)  # staff may open it too: a gate that opens on request is wired
        relay.clear_states()
        _lend(station, world, patron, book)
        assert [s.state for s in relay.states] == [False]  # nothing opened while the patron is at the kiosk
        _leave(station)
        station.wait_for(lambda s: s.session.phase is Phase.IDLE, WAIT)
        assert wait_until(lambda: len(relay.states) >= 3 and not world.pins.gate(), WAIT)
        assert station.runner.wait_idle(WAIT)
    assert [s.state for s in relay.states] == [False, True, False]  # one pulse, then closed for good
    assert world.ils.library.applied("11", item=book) == 1


def _lend(station: Station, world: DemoHardware, patron: S.SamplePatron, book: str) -> None:
    """The patron's card and PIN, then ``book`` on the pad until it is lent, and everything lifted."""
    world.place(patron.id)
    station.wait_for(lambda s: s.session.phase is Phase.PIN, WAIT)
    station.submit(PinEntered(patron.pin))
    station.wait_for(lambda s: s.session.phase is Phase.ACTIVE, WAIT)
    world.lift(patron.id)
    world.place(book)
    station.wait_for(lambda s: borrowed(s).get(book) is RowState.DONE, WAIT)
    world.lift(book)


def _leave(station: Station) -> None:
    """"Finish", no receipt: the session ends."""
    station.submit(Pressed("finish"))
    station.wait_for(lambda s: s.session.phase is Phase.RECEIPT, WAIT)
    station.submit(Pressed("receipt_none"))


def test_when_the_barrier_relay_fails_the_patron_leaving_is_told_to_ask_staff(world: DemoHardware) -> None:
    book = S.AVAILABLE_BOOKS[1]
    with Station.from_settings(world.settings(PULSED_GATE), devices=world.devices()) as station:
        station.wait_for(lambda s: s.session.phase is Phase.IDLE and device(s, "reader") == "ok", WAIT)

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("gpiochip0 line 17: device or resource busy")

        station.gpio.board._devices["gate"].blink = broken  # the relay's line fails as the patron leaves
        _lend(station, world, S.PATRON_CLEAN, book)
        _leave(station)
        left = station.wait_for(lambda s: s.session.phase is Phase.IDLE and s.session.notice is not None, WAIT)
        assert left.session.notice is not None and left.session.notice.id == "gate.not_opened"
        assert station.wait_for(lambda s: device(s, "gpio") in ("warning", "failed"), WAIT)  # and IT sees why


def test_a_held_gate_is_not_asked_to_open_for_a_patron(world: DemoHardware) -> None:
    """A gate in "hold" mode stays open while the kiosk is in service: the session asks nothing of it,
    and the patron sees no gate notice."""
    book = S.AVAILABLE_BOOKS[2]
    assert world.pins is not None
    with Station.from_settings(world.settings({"gpio": {"gate_mode": "hold"}}), devices=world.devices()) as station:
        station.wait_for(lambda s: s.session.phase is Phase.IDLE and device(s, "reader") == "ok", WAIT)
        assert wait_until(world.pins.gate, WAIT)  # held open: in service
        commands: list[str] = []
        station.on_step(lambda event, state, issued: commands.extend(type(c).__name__ for c in issued))
        _lend(station, world, S.PATRON_CLEAN, book)
        _leave(station)
        left = station.wait_for(lambda s: s.session.phase is Phase.IDLE, WAIT)
        assert station.runner.wait_idle(WAIT)
    assert "EndPatronSession" in commands and "OpenGate" not in commands
    assert left.session.notice is None and left.session.gate_ref == ""


def test_in_pulse_mode_a_returns_bin_never_opens_the_gate() -> None:
    with DemoHardware(returns_bin=True) as world:
        assert world.pins is not None
        relay = world.pins.pin(17)
        with Station.from_settings(world.settings(PULSED_GATE), devices=world.devices()) as station:
            station.wait_for(lambda s: device(s, "reader") == "ok" and s.accepting, WAIT)
            relay.clear_states()
            world.place(S.AVAILABLE_BOOKS[0])  # dropped into the chute
            station.wait_for(lambda s: s.returns.routed_total == 1 and not s.returns.in_flight, WAIT)
            assert station.runner.wait_idle(WAIT)
            assert [s.state for s in relay.states] == [False]


def test_a_reader_unplugged_at_start_is_reported_and_the_kiosk_still_serves_by_barcode(world: DemoHardware) -> None:
    world.unplug_reader()
    with Station.from_settings(world.settings(), devices=world.devices()) as station:
        state = station.wait_for(lambda s: device(s, "reader") == "failed" and device(s, "scanner") == "ok"
                                 and s.out_of_service is None, WAIT)
        reason = next(row.reason for row in state.staff.devices if row.component == "reader")
        assert world.reader.path in reason  # staff are told which port did not answer
        assert station.device_health()["reader"].state == "down"

        world.scan(S.PATRON_VALID.id)  # the scanner still identifies patrons
        station.wait_for(lambda s: s.session.phase is Phase.PIN, WAIT)

        world.plug_reader()  # the watcher reopens it on its own
        station.wait_for(lambda s: device(s, "reader") == "ok", WAIT)


def test_with_no_offline_mode_an_unreachable_ils_takes_the_kiosk_out_of_service_until_it_is_back(
    world: DemoHardware,
) -> None:
    world.set_ils_online(False)
    settings = world.settings({"offline": {"mode": "none"}})
    with Station.from_settings(settings, devices=world.devices()) as station:
        down = station.wait_for(lambda s: s.out_of_service is not None, WAIT)
        assert down.out_of_service == Message("oos.ils") and not down.online
        assert wait_until(lambda: world.outputs() == {"gate_open": False, "green": False, "amber": False,
                                                       "red": True}, WAIT)
        world.place(S.PATRON_VALID.id)  # no session starts while out of service
        station.wait_for(lambda s: s.card_on_pad, WAIT)
        assert station.snapshot().session.phase is Phase.IDLE

        world.set_ils_online(True)
        station.wait_for(lambda s: s.out_of_service is None and s.online, WAIT)
        assert wait_until(lambda: world.outputs()["green"] and not world.outputs()["red"], WAIT)


def test_a_returns_bin_returns_a_dropped_book_and_sorts_it_to_the_hold_shelf() -> None:
    with DemoHardware(returns_bin=True) as world:
        with Station.from_settings(world.settings(), devices=world.devices()) as station:
            assert station.kind == "returns-bin"
            station.wait_for(lambda s: device(s, "reader") == "ok" and s.accepting, WAIT)
            assert world.pins is not None and world.pins.slot_open()
            world.place(S.ITEM_HOLD_HERE)  # dropped into the chute, onto its reader's antenna
            state = station.wait_for(lambda s: s.returns.count("holds") == 1 and not s.returns.in_flight, WAIT)
            assert state.returns.routed_total == 1 and state.returns.fault == ""
            assert world.ils.library.applied("09", item=S.ITEM_HOLD_HERE) == 1
            (tag,) = world.pad.tags_on_pad()
            assert tag.security is SecurityState.IN_LIBRARY  # back on the shelf's alarm
            assert wait_until(lambda: len(world.receipts()) == 1, WAIT)  # the hold slip
        assert not world.pins.slot_open()  # the station closed: the slot locks
