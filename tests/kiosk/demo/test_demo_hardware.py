"""The demo's simulated world as the panel drives it, seen through the kiosk's own drivers: what the
panel puts on the pad is what the FEIG driver inventories, what it scans is what the serial scanner
driver reads, what the printer prints is what the panel's receipts show."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from hardware_mocks.ils import scenarios as S
from kiosk.assembly import wait_until
from kiosk.circulation.commands import ReceiptLine
from kiosk.demo import DemoHardware as Exported
from kiosk.demo.hardware import DEMO_STAFF_PIN, DemoHardware
from kiosk.demo.panel_api import DemoPanelApi, SampleTag
from kiosk.hardware.barcode.events import Scan
from kiosk.hardware.barcode.settings import scanner_from
from kiosk.hardware.printer.device import EscposReceiptPrinter
from kiosk.hardware.printer.status import PrinterState
from kiosk.hardware.rfid.models import decode_tag
from kiosk.hardware.rfid.settings import reader_from
from kiosk.staff_pin import verifier

WAIT = 10.0


@pytest.fixture(scope="module")
def world() -> Iterator[DemoHardware]:
    with DemoHardware() as hardware:
        yield hardware


@pytest.fixture(autouse=True)
def empty_pad(world: DemoHardware) -> Iterator[None]:
    yield
    for tag in world.on_pad():
        world.lift(tag)


def test_it_is_the_panels_world_with_the_sample_librarys_books_and_cards(world: DemoHardware) -> None:
    assert isinstance(world, DemoPanelApi) and Exported is DemoHardware
    books = {tag.id: tag for tag in world.books()}
    assert books[S.ITEM_AVAILABLE] == SampleTag(S.ITEM_AVAILABLE, "The Hobbit", "item", 1)
    assert books[S.ITEM_AUDIOBOOK_SET].parts == 3 and books[S.ITEM_DVD_SET].parts == 2
    cards = {tag.id: tag for tag in world.cards()}
    assert cards[S.PATRON_VALID.id] == SampleTag(S.PATRON_VALID.id, "Maria Hernández (PIN 1234)", "card")
    assert all(tag.kind == "item" for tag in books.values()) and all(tag.kind == "card" for tag in cards.values())


def test_what_the_panel_places_the_kiosks_reader_driver_finds_and_decodes(world: DemoHardware) -> None:
    heard = threading.Event()
    unsubscribe = world.subscribe(heard.set)
    world.place(S.ITEM_AUDIOBOOK_SET)
    world.place(S.PATRON_CLEAN.id)
    assert heard.is_set()
    unsubscribe()
    assert world.on_pad() == {S.ITEM_AUDIOBOOK_SET, S.PATRON_CLEAN.id}
    reader = reader_from(world.settings().rfid)
    assert reader is not None
    with reader:
        decoded = [decode_tag(reader.read_memory(tag.uid), tag.dsfid) for tag in reader.inventory()]
    parts = sorted((tag.item_id, tag.part_number) for tag in decoded if not tag.is_patron_card)
    assert parts == [(S.ITEM_AUDIOBOOK_SET, n) for n in (1, 2, 3)]
    assert [tag.item_id for tag in decoded if tag.is_patron_card] == [S.PATRON_CLEAN.id]
    world.lift(S.ITEM_AUDIOBOOK_SET)
    assert world.on_pad() == {S.PATRON_CLEAN.id}
    with pytest.raises(KeyError):
        world.place("not a sample barcode")


def test_a_scan_reaches_the_kiosks_serial_scanner_driver(world: DemoHardware) -> None:
    scanner = scanner_from(world.settings().scanner)
    assert scanner is not None
    scans: list[object] = []
    scanner.start(scans.append)
    try:
        world.scan(S.ITEM_AVAILABLE)
        assert wait_until(lambda: bool(scans), WAIT)
    finally:
        scanner.close()
    (scan,) = scans
    assert isinstance(scan, Scan) and scan.text == S.ITEM_AVAILABLE


def test_paper_and_receipts_through_the_kiosks_printer_driver(world: DemoHardware) -> None:
    printer = EscposReceiptPrinter(world.settings().printer, library="Demo Library")
    try:
        world.set_paper_out(True)
        assert printer.status().state is PrinterState.PAPER_OUT
        world.set_paper_out(False)
        assert printer.status().can_print
        before = len(world.receipts())
        printer.print_lines((ReceiptLine("Borrowed"), ReceiptLine("The Hobbit")), kind="receipt")
        assert wait_until(lambda: len(world.receipts()) == before + 1, WAIT)
    finally:
        printer.close()
    assert "The Hobbit" in world.receipts()[-1] and "Demo Library" in world.receipts()[-1]


def test_the_ils_can_be_taken_away_and_brought_back_on_the_same_address(world: DemoHardware) -> None:
    address = (world.settings().sip2.host, world.settings().sip2.port)
    world.set_ils_online(False)
    assert not world.ils_online()
    world.set_ils_online(True)
    assert world.ils_online() and world.ils.address == address


def test_the_settings_point_the_kiosk_at_the_world_and_open_staff_mode_with_the_demo_pin(world: DemoHardware) -> None:
    settings = world.settings({"station": {"kind": "returns-bin"}})
    assert settings.rfid.driver == "feig" and settings.rfid.port == world.reader.path
    assert settings.printer.connection == "serial" and settings.scanner.driver == "serial"
    assert settings.journal.path.startswith(str(world.workdir))
    assert settings.station.kind == "returns-bin"  # extra tables win
    check = verifier(settings)
    assert check(DEMO_STAFF_PIN) and not check("0000")
    assert world.outputs() == {"gate_open": False, "green": False, "amber": False, "red": False}  # no kiosk yet
