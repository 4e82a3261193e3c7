"""A returns bin restarted: the station is built twice from the same settings against the demo's
simulated world, and the second one starts from the bins as the first one left them — counts, the
exceptions list, the sorter's fault — and from what staff did about them (a bin emptied, the list
and the fault cleared). An unreadable memory never stops the bin."""

from __future__ import annotations

import logging

import pytest

from hardware_mocks.ils import scenarios as S
from kiosk.assembly import Station
from kiosk.circulation.events import PinEntered, Pressed
from kiosk.circulation.returns import Remembered
from kiosk.circulation.station import ReturnsStationState
from kiosk.config import Settings
from kiosk.demo.hardware import DEMO_STAFF_PIN, DemoHardware
from kiosk.shell.returns_memory import memory_path

WAIT = 10.0  # upper bounds for things to happen; nothing here measures time
DIVERTER_PIN = 5  # one of the demo diverter's flaps (DEMO_RETURNS_GPIO)


def reader_ok(state: ReturnsStationState) -> bool:
    return any(row.component == "reader" and row.state == "ok" for row in state.staff.devices)


def restart_devices(world: DemoHardware) -> None:
    """What a power cut does to the USB reader: it comes back as a new port. (It is also what the
    simulated FEIG reader needs: its pty refuses a second open with even parity, EINVAL.)"""
    assert world.reader is not None
    world.reader.replug()


def drop(world: DemoHardware, station: Station[ReturnsStationState], item: str, settled) -> ReturnsStationState:
    """Drop ``item`` into the chute, wait until ``settled``, then take it out of the chute's field (it
    fell into its bin), so the next station does not see it as a new drop."""
    world.place(item)
    state = station.wait_for(lambda s: settled(s) and not s.returns.in_flight, WAIT)
    world.lift(item)
    assert station.chute is not None and station.chute.wait_until(lambda present: not present, WAIT)
    return state


def first_life(world: DemoHardware, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> ReturnsStationState:
    with Station.from_settings(settings, devices=world.devices()) as station:
        station.wait_for(lambda s: reader_ok(s) and s.accepting, WAIT)
        drop(world, station, S.ITEM_HOLD_HERE, lambda s: s.returns.count("holds") == 1)
        with monkeypatch.context() as patch:
            def stuck(value: object) -> None:
                raise OSError(f"GPIO{DIVERTER_PIN} stuck")

            patch.setattr(world.factory.pin(DIVERTER_PIN), "_set_state", stuck)  # the flap's driver fails
            return drop(world, station, S.ITEM_RENEWABLE, lambda s: bool(s.returns.fault))


def test_a_restarted_returns_bin_remembers_its_counts_exceptions_and_fault_and_what_staff_did(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with DemoHardware(returns_bin=True) as world:
        settings = world.settings()
        before = first_life(world, settings, monkeypatch).returns
        assert before.count("holds") == 1 and before.fault
        (jammed,) = before.exceptions
        assert (jammed.item_id, jammed.reason, jammed.bin) == (S.ITEM_RENEWABLE, "returns.route_failed", "reshelve")

        # the power comes back: a new process, the same settings
        restart_devices(world)
        with Station.from_settings(settings, devices=world.devices()) as station:
            again = station.snapshot()
            assert Remembered.of(again.returns) == Remembered.of(before)
            assert not again.accepting  # still jammed: the slot stays closed until staff clear it
            assert again.returns.routed_total == 0  # "since the start" means this start
            station.wait_for(reader_ok, WAIT)
            assert station.snapshot().returns.in_flight == ()  # nothing was dropped again
            # staff deal with it
            station.submit(Pressed("staff"))
            station.submit(PinEntered(DEMO_STAFF_PIN))
            station.wait_for(lambda s: s.staff.logged_in, WAIT)
            for action in (Pressed("bin_emptied", "holds"), Pressed("exceptions_cleared"), Pressed("fault_cleared")):
                station.submit(action)
            dealt = station.wait_for(lambda s: not s.returns.exceptions and not s.returns.fault
                                     and s.returns.count("holds") == 0, WAIT)
        assert world.ils.library.applied("09", item=S.ITEM_HOLD_HERE) == 1  # nothing was checked in twice
        assert world.ils.library.applied("09", item=S.ITEM_RENEWABLE) == 1

        restart_devices(world)
        with Station.from_settings(settings, devices=world.devices()) as station:
            after = station.snapshot()
            assert Remembered.of(after.returns) == Remembered.of(dealt.returns)
            assert after.returns.counts == tuple((b, 0) for b, _ in before.counts)
            assert after.returns.exceptions == () and after.returns.fault == ""
            station.wait_for(lambda s: s.accepting, WAIT)


def test_an_unreadable_memory_is_set_aside_and_the_returns_bin_takes_items(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="kiosk.shell.returns_memory")
    with DemoHardware(returns_bin=True) as world:
        settings = world.settings()
        memory = memory_path(settings.journal.path)
        memory.write_bytes(b"\x00garbage from a bad sector" * 64)
        with Station.from_settings(settings, devices=world.devices()) as station:
            assert station.returns_memory is not None and station.returns_memory.set_aside is not None
            assert station.returns_memory.set_aside.read_bytes() == b"\x00garbage from a bad sector" * 64
            station.wait_for(lambda s: reader_ok(s) and s.accepting, WAIT)
            drop(world, station, S.ITEM_HOLD_HERE, lambda s: s.returns.count("holds") == 1)
        (line,) = [r.getMessage() for r in caplog.records]
        assert str(memory) in line and "unreadable" in line
        restart_devices(world)
        with Station.from_settings(settings, devices=world.devices()) as station:
            assert station.snapshot().returns.count("holds") == 1  # the fresh memory is kept from then on
