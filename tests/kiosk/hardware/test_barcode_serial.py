"""SerialScanner end to end: the simulated scanner writes into a real pty, the production driver opens
the pty's slave by path with pyserial (as it opens /dev/serial/by-id/...)."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hardware_mocks.scanner import SimulatedSerialScanner
from kiosk.hardware.barcode import (
    Scan,
    ScanFormat,
    ScannerError,
    ScannerUnavailable,
    SerialScanner,
    UnreadableScan,
)

AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
WAIT = 5.0  # upper bound for an event to arrive; never a measured figure


class Events:
    """The callback the runner would pass: a thread-safe queue."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()

    def __call__(self, event: object) -> None:
        self.queue.put(event)

    def next(self) -> object:
        return self.queue.get(timeout=WAIT)

    def assert_empty(self) -> None:
        assert self.queue.empty(), self.queue.get_nowait()


@pytest.fixture
def device(tmp_path: Path) -> Iterator[SimulatedSerialScanner]:
    with SimulatedSerialScanner(tmp_path / "usb-Honeywell_1900-if00") as simulated:
        yield simulated


@pytest.fixture
def events() -> Events:
    return Events()


def make_scanner(device: SimulatedSerialScanner, **settings) -> SerialScanner:
    return SerialScanner(device.port, wall_clock=lambda: AT, **settings)


def test_a_scan_arrives_as_a_scan_event(device: SimulatedSerialScanner, events: Events) -> None:
    with make_scanner(device) as scanner:
        scanner.start(events)
        device.scan("30234000517861")
        device.scan("A33191000105864B")
        assert events.next() == Scan("30234000517861", device.port, None, AT)
        assert events.next() == Scan("A33191000105864B", device.port, None, AT)


@pytest.mark.parametrize(("name", "sent"), [("CR", b"\r"), ("LF", b"\n"), ("CRLF", b"\r\n")])
def test_configured_terminators(tmp_path: Path, events: Events, name: str, sent: bytes) -> None:
    with (
        SimulatedSerialScanner(tmp_path / "scanner", terminator=sent) as device,
        make_scanner(device, terminator=name) as scanner,
    ):
        scanner.start(events)
        device.scan("111", pace=False)
        device.scan("222")
        assert [events.next().text, events.next().text] == ["111", "222"]


def test_prefix_suffix_and_aim_identifier_are_stripped(tmp_path: Path, events: Events) -> None:
    # Sent as [STX prefix][AIM identifier]data[ETX suffix][CR], the order scanners use.
    framed = ScanFormat(strip_prefix="\x02", strip_suffix="\x03")
    with (
        SimulatedSerialScanner(tmp_path / "scanner", prefix=b"\x02]F0", suffix=b"\x03") as device,
        make_scanner(device, scan_format=framed) as plain,
        make_scanner(device, scan_format=ScanFormat("\x02", "\x03", aim_identifier=True)) as aim,
    ):
        plain.start(events)
        device.scan("30234000517861")
        assert events.next() == Scan("]F030234000517861", device.port, None, AT)
        plain.stop()
        aim.start(events)
        device.scan("30234000517861")
        assert events.next() == Scan("30234000517861", device.port, "Codabar", AT)


def test_bytes_that_are_not_text_become_an_unreadable_scan(
    device: SimulatedSerialScanner, events: Events
) -> None:
    with make_scanner(device) as scanner:
        scanner.start(events)
        device.send(b"30\xff34\r")
        device.scan("42")
        unreadable = events.next()
        assert isinstance(unreadable, UnreadableScan)
        assert (unreadable.raw, unreadable.source) == (b"30\xff34", device.port)
        assert "ascii" in unreadable.reason
        assert events.next().text == "42"


def test_a_half_sent_scan_is_reported_and_does_not_spoil_the_next(
    device: SimulatedSerialScanner, events: Events
) -> None:
    with make_scanner(device, idle_timeout=0.2) as scanner:
        scanner.start(events)
        device.send(b"3023")
        unreadable = events.next()
        assert isinstance(unreadable, UnreadableScan) and unreadable.raw == b"3023"
        device.scan("30234000517861")
        assert events.next().text == "30234000517861"


def test_unplug_gives_scanner_unavailable_and_replug_reopens_in_the_same_process(
    device: SimulatedSerialScanner, events: Events
) -> None:
    scanner = make_scanner(device)
    scanner.start(events)
    device.scan("1111")
    assert events.next().text == "1111"

    device.unplug()
    lost = events.next()
    assert isinstance(lost, ScannerUnavailable)
    assert lost.device == device.port and device.port in str(lost)
    with pytest.raises(ScannerUnavailable) as while_unplugged:
        scanner.start(events)
    assert while_unplugged.value.device == device.port

    device.plug()
    scanner.start(events)
    device.scan("2222")
    assert events.next() == Scan("2222", device.port, None, AT)
    scanner.close()
    events.assert_empty()


def test_a_handler_may_restart_the_scanner_from_the_unavailable_event(device: SimulatedSerialScanner) -> None:
    """The runner's first reaction to a lost scanner is to try again; that must not hit "already started"."""
    outcomes = Events()
    scanner = make_scanner(device)

    def handler(event: object) -> None:
        if isinstance(event, ScannerUnavailable):
            try:
                scanner.start(handler)
            except ScannerError as exc:
                outcomes(exc)

    scanner.start(handler)
    device.unplug()
    retry = outcomes.next()
    assert type(retry) is ScannerUnavailable and retry.device == device.port
    scanner.close()


def test_missing_port_is_unavailable_naming_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "usb-nothing-here")
    with pytest.raises(ScannerUnavailable, match="usb-nothing-here") as raised:
        SerialScanner(missing).start(Events())
    assert raised.value.device == missing


def test_a_failing_event_handler_does_not_stop_the_reader(device: SimulatedSerialScanner) -> None:
    received = Events()
    calls = []

    def handler(event: object) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("bug in the consumer")
        received(event)

    with make_scanner(device) as scanner:
        scanner.start(handler)
        device.scan("first")
        device.scan("second")
        assert received.next().text == "second"
        assert calls[0].text == "first"


def test_stop_releases_the_port_and_start_reopens_it(device: SimulatedSerialScanner, events: Events) -> None:
    scanner = make_scanner(device)
    scanner.start(events)
    with pytest.raises(ScannerError, match="already started"):
        scanner.start(events)
    scanner.stop()
    assert not scanner.running
    scanner.start(events)
    device.scan("after restart")
    assert events.next().text == "after restart"
    scanner.close()
    with pytest.raises(ScannerError, match="closed"):
        scanner.start(events)
    scanner.stop()  # stopping again is harmless
    events.assert_empty()
