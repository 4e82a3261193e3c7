"""EvdevScanner: python-evdev's own event reader over kernel-format records, the grab rule, unplug.

This host has no /dev/uinput, so no real input device is created here: the grab ioctl and device
lookup by name over /dev/input are left to the on-hardware smoke test (platform.md §7).
"""

from __future__ import annotations

import queue
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import evdev
import pytest
from evdev import ecodes

from hardware_mocks.scanner import (
    INPUT_EVENT,
    TAB,
    SimulatedWedgeScanner,
    input_event_records,
    wedge_key_events,
)
from kiosk.hardware.barcode import (
    EvdevScanner,
    Scan,
    ScanFormat,
    ScannerDependencyMissing,
    ScannerUnavailable,
    UnreadableScan,
)
from kiosk.hardware.barcode.evdev_scanner import import_evdev
from kiosk.hardware.barcode.keymap import KEY_CODES, KEY_NAMES

AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
WAIT = 5.0  # upper bound for an event to arrive; never a measured figure


class Events(queue.Queue):
    def __call__(self, event: object) -> None:
        self.put(event)

    def next(self) -> object:
        return self.get(timeout=WAIT)


@pytest.fixture
def wedge(tmp_path: Path) -> Iterator[SimulatedWedgeScanner]:
    scanner = SimulatedWedgeScanner(tmp_path / "usb-Honeywell_Scanner-event-kbd")
    yield scanner
    scanner.unplug()


def make_scanner(wedge: SimulatedWedgeScanner, **settings) -> EvdevScanner:
    return EvdevScanner(str(wedge.path), open_device=wedge.open, wall_clock=lambda: AT, **settings)


# --- the optional dependency ------------------------------------------------------------------------


def test_missing_evdev_is_a_typed_error_naming_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "evdev", None)  # makes `import evdev` raise ImportError
    with pytest.raises(ScannerDependencyMissing, match="'evdev'") as raised:
        import_evdev()
    assert raised.value.package == "evdev"
    with pytest.raises(ScannerDependencyMissing, match=r"python3-evdev"):
        EvdevScanner("/dev/input/by-id/usb-scanner-event-kbd")


# --- our key table against evdev's -------------------------------------------------------------------


def test_key_codes_are_the_kernels() -> None:
    assert {name: getattr(ecodes, name) for name in KEY_CODES} == KEY_CODES


def test_evdev_parses_the_simulated_records_into_the_key_events_we_decode(
    wedge: SimulatedWedgeScanner,
) -> None:
    node = wedge.open(str(wedge.path))
    wedge.type("Ab1")
    events = list(node.read())
    keys = [evdev.categorize(e) for e in events if e.type == ecodes.EV_KEY]
    assert [(k.keycode, k.keystate) for k in keys] == [
        (KEY_NAMES[code], value) for code, value in wedge_key_events("Ab1")
    ]
    assert {e.type for e in events} == {ecodes.EV_KEY, ecodes.EV_MSC, ecodes.EV_SYN}
    node.close()


# --- the driver ----------------------------------------------------------------------------------------


def test_scans_arrive_and_the_device_is_grabbed_while_running(wedge: SimulatedWedgeScanner) -> None:
    events = Events()
    scanner = make_scanner(wedge)
    scanner.start(events)
    assert wedge.grabbed_by() is not None
    wedge.type("A30234000517861B")
    wedge.type("x-Y")
    assert events.next() == Scan("A30234000517861B", str(wedge.path), None, AT)
    assert events.next() == Scan("x-Y", str(wedge.path), None, AT)
    scanner.stop()
    assert wedge.grabbed_by() is None and wedge.nodes == []


def test_events_other_than_keys_add_nothing(wedge: SimulatedWedgeScanner) -> None:
    # A combined keyboard/mouse scanner: a wheel event (EV_REL, REL_WHEEL=8, value 1) has the code and
    # value of "7 pressed" and must not be read as one.
    events = Events()
    with make_scanner(wedge) as scanner:
        scanner.start(events)
        records = input_event_records(wedge_key_events("12", terminator=None))
        records += INPUT_EVENT.pack(0, 0, ecodes.EV_REL, ecodes.REL_WHEEL, 1)
        records += input_event_records(wedge_key_events("3"))
        wedge.nodes[0].deliver(records)
        assert events.next().text == "123"


def test_tab_terminator_and_aim_identifier(wedge: SimulatedWedgeScanner) -> None:
    events = Events()
    with make_scanner(wedge, terminators={"KEY_TAB"}, scan_format=ScanFormat(aim_identifier=True)) as scanner:
        scanner.start(events)
        wedge.type("]E09780306406157", terminator=TAB)
        assert events.next() == Scan("9780306406157", str(wedge.path), "EAN/UPC", AT)


def test_a_device_grabbed_by_another_program_is_unavailable(wedge: SimulatedWedgeScanner) -> None:
    first, second = make_scanner(wedge), make_scanner(wedge)
    first.start(Events())
    with pytest.raises(ScannerUnavailable, match="grab") as raised:
        second.start(Events())
    assert raised.value.device == str(wedge.path)
    first.close()
    second.start(Events())  # free again once the first let go
    second.close()


@pytest.mark.parametrize("error", [19, None], ids=["ENODEV", "end-of-file"])
def test_unplug_is_reported_and_replug_reopens(wedge: SimulatedWedgeScanner, error: int | None) -> None:
    events = Events()
    scanner = make_scanner(wedge)
    scanner.start(events)
    wedge.unplug(error=error)
    lost = events.next()
    assert isinstance(lost, ScannerUnavailable) and lost.device == str(wedge.path)
    with pytest.raises(ScannerUnavailable, match="no such input device"):
        scanner.start(events)
    wedge.plug()
    scanner.start(events)
    wedge.type("back")
    assert events.next().text == "back"
    scanner.close()


def test_keys_that_stop_without_a_terminator_become_an_unreadable_scan(wedge: SimulatedWedgeScanner) -> None:
    events = Events()
    with make_scanner(wedge, idle_timeout=0.2) as scanner:
        scanner.start(events)
        wedge.type("3023", terminator=None)
        unreadable = events.next()
        assert isinstance(unreadable, UnreadableScan) and unreadable.raw == b"3023"
        wedge.type("42")
        assert events.next().text == "42"


def test_a_scan_spread_over_several_reads(wedge: SimulatedWedgeScanner) -> None:
    events = Events()
    with make_scanner(wedge) as scanner:
        scanner.start(events)
        records = input_event_records(wedge_key_events("123"))
        node = wedge.nodes[0]
        half = len(records) // 2 // 24 * 24  # whole records: the kernel never splits one
        node.deliver(records[:half])
        node.deliver(records[half:])
        assert events.next().text == "123"


def test_device_not_found_by_name_or_path_names_it(tmp_path: Path) -> None:
    # Real evdev.list_devices(): nothing on this host (or a CI runner) is called this.
    with pytest.raises(ScannerUnavailable, match="no-such-scanner-4711") as by_name:
        EvdevScanner("no-such-scanner-4711").start(Events())
    assert by_name.value.device == "no-such-scanner-4711"
    missing = str(tmp_path / "usb-gone-event-kbd")
    with pytest.raises(ScannerUnavailable, match="usb-gone-event-kbd"):
        EvdevScanner(missing).start(Events())


def test_unknown_terminator_names_are_refused_when_configured() -> None:
    with pytest.raises(ValueError, match="KEY_RETURN"):
        EvdevScanner("scanner", terminators={"KEY_RETURN"})
