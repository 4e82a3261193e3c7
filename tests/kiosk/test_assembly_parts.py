"""The station's own wiring, without the simulated world: devices that are missing or fail, closing,
the UI's kiosk mode attached late, and the states handed to the UI."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.assembly import Devices, Station, wait_until
from kiosk.circulation.events import DeviceStatus, PinEntered, Pressed
from kiosk.circulation.rows import Message
from kiosk.circulation.staff import Screen
from kiosk.config import Layer, Settings, defaults_layer, parse_layers
from kiosk.hardware.barcode.base import Scanner
from kiosk.hardware.barcode.events import EventSink, ScannerUnavailable
from kiosk.shell.kiosk_mode import MemoryKioskMode
from kiosk.staff_pin import hash_pin

WAIT = 10.0
PIN = "2468"
PIN_HASH = hash_pin(PIN)  # hashing is slow on purpose: once per module


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    before = threading.active_count()
    yield
    wait_until(lambda: threading.active_count() <= before, 5)
    assert threading.active_count() == before, [t.name for t in threading.enumerate()]


def closed_port() -> int:
    """A loopback port nothing listens on: the ILS is simply not there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settings_for(tmp_path: Path, toml: str = "") -> Settings:
    base = (
        f'[sip2]\nport = {closed_port()}\ntimeout_seconds = 1.0\n'
        f'[journal]\npath = "{tmp_path / "journal.sqlite"}"\n'
        f'[staff]\npin_hash = "{PIN_HASH}"\n'
    )
    layer = Layer(str(tmp_path / "kiosk.toml"), (base + toml).encode(), world_readable=False)
    return parse_layers([defaults_layer(), layer]).settings


def rows(station: Station) -> dict[str, str]:
    return {row.component: row.state for row in station.snapshot().staff.devices}


def test_every_device_missing_the_station_runs_and_staff_see_each_one_failed(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, f"""
[rfid]
driver = "feig"
port = "{tmp_path / 'no-reader'}"
[scanner]
driver = "serial"
device = "{tmp_path / 'no-scanner'}"
[printer]
connection = "serial"
device = "{tmp_path / 'no-printer'}"
""")
    with Station.from_settings(settings) as station:
        station.wait_for(lambda s: {r.component: r.state for r in s.staff.devices}.items() >= {
            "reader": "failed", "scanner": "failed", "printer": "failed", "ils": "failed"}.items(), WAIT)
        state = station.snapshot()
        # both ways to learn which items are in front of the kiosk are gone: it takes no patrons
        assert state.out_of_service == Message("oos.devices")
        reasons = {r.component: r.reason for r in state.staff.devices}
        assert "no-reader" in reasons["reader"] and "no-scanner" in reasons["scanner"]
        assert "no-printer" in reasons["printer"]
        assert state.session.printer_ok is False  # no "print" will be offered
        assert station.runner.alive
    assert not station.runner.alive and not station.gateway.journal.owns("kiosk")


class BrokenScanner(Scanner):
    """A scanner whose device is gone and whose driver even fails to close."""

    source = "broken scanner"

    def __init__(self) -> None:
        self.starts = 0

    def start(self, on_event: EventSink) -> None:
        self.starts += 1
        raise ScannerUnavailable(self.source, "unplugged")

    def stop(self) -> None:
        raise RuntimeError("the driver fell over")


def test_a_part_that_fails_to_close_is_logged_and_everything_else_still_closes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scanner = BrokenScanner()
    station = Station.from_settings(settings_for(tmp_path), devices=Devices(scanner=scanner)).start()
    station.wait_for(lambda s: ("scanner", "failed") in {(r.component, r.state) for r in s.staff.devices}, WAIT)
    assert scanner.starts == 1
    with caplog.at_level(logging.ERROR, logger="kiosk.assembly"):
        station.close()  # does not raise
    assert "closing the scanner failed" in caplog.text
    assert not station.runner.alive and not station.gateway.journal.owns("kiosk")
    station.close()  # and once more is harmless


def test_staff_switch_reaches_a_screen_attached_later_and_out_of_service_goes_into_the_state(tmp_path: Path) -> None:
    with Station.from_settings(settings_for(tmp_path, '[offline]\nmode = "checkin"\n')) as station:
        for event in (Pressed("staff"), PinEntered(PIN)):
            station.submit(event)
        station.wait_for(lambda s: s.staff.screen is Screen.MENU, WAIT)
        station.submit(Pressed("out_of_service"))
        state = station.wait_for(lambda s: s.out_of_service is not None, WAIT)
        assert state.out_of_service == Message("oos.staff")
        assert station.kiosk_mode is None
        screen = MemoryKioskMode()
        station.kiosk_mode = screen  # the UI comes up after staff switched: it is told at once
        assert screen.switches == [True] and station.kiosk_mode is screen
        station.submit(Pressed("out_of_service"))
        station.wait_for(lambda s: s.out_of_service is None, WAIT)
        assert wait_until(lambda: screen.switches == [True, False], WAIT)


def test_what_the_screen_reads_from_the_station(tmp_path: Path) -> None:
    toml = '[station]\nlanguages = ["de", "en", "fr"]\n[circulation]\ncheckin_enabled = false\n'
    settings = settings_for(tmp_path, toml)
    station = Station.from_settings(settings)
    try:
        assert (station.site_name, station.site_language, station.checkin_enabled) == ("Demo Library", "en", False)
        assert station.more_time_seconds == settings.circulation.more_time_seconds
        assert station.ui_settings is settings.ui
        station.start()
        assert station.snapshot().languages == ("en", "de", "fr")  # the site's first, each once
        heard: list[str] = []
        station.subscribe_signals(heard.append)
        station.submit(DeviceStatus("printer", "failed", "cover open"))
        station.wait_for(lambda s: not s.session.printer_ok, WAIT)
        for event in (Pressed("staff"), PinEntered("0000")):  # a wrong staff PIN: the error cue
            station.submit(event)
        station.wait_for(lambda s: s.staff.failures == 1, WAIT)
        assert heard == ["error"]
    finally:
        station.close()
    assert station.submit(Pressed("staff")) is False  # closed: nothing more is taken
