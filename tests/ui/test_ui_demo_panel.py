"""The demo's hardware panel against a fake backend: real touches on the panel reach the backend
(on the panel's worker thread), and what the backend reports (from its own threads) shows."""

from __future__ import annotations

import threading

import pytest
from kivy.tests.common import UnitTestTouch
from staff_ui_support import keys, screen_text

from kiosk.demo.panel_api import DemoPanelApi, SampleTag
from kiosk.ui.demo_panel import UNLIT, DemoPanel
from kiosk.ui.theme import STANDARD

BOOKS = [SampleTag("31234000111", "Moby Dick", "item"), SampleTag("31234000222", "Audio course", "item", 3)]
CARDS = [SampleTag("23456000001", "Ada (PIN 1234)", "card")]
RECEIPT = "CENTRAL LIBRARY\nBorrowed\n  Moby Dick\n  due 2025-04-01\n"


class FakeWorld:
    """The panel protocol over plain values; every call is recorded with the thread it ran on."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.threads: set[str] = set()
        self.pad: set[str] = set()
        self.printed: list[str] = []
        self.out = {"gate_open": False, "green": False, "amber": False, "red": True}
        self.online = True
        self.listeners: list = []
        self.refuse: set[str] = set()  # ids place() raises KeyError for

    def _call(self, name: str, arg: object) -> None:
        self.calls.append((name, arg))
        self.threads.add(threading.current_thread().name)

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener()

    def books(self):
        return list(BOOKS)

    def cards(self):
        return list(CARDS)

    def on_pad(self):
        return frozenset(self.pad)

    def place(self, id: str) -> None:
        self._call("place", id)
        if id in self.refuse:
            raise KeyError(id)
        self.pad.add(id)
        self._notify()

    def lift(self, id: str) -> None:
        self._call("lift", id)
        self.pad.discard(id)
        self._notify()

    def scan(self, barcode: str) -> None:
        self._call("scan", barcode)

    def receipts(self):
        return list(self.printed)

    def outputs(self):
        return dict(self.out)

    def ils_online(self) -> bool:
        return self.online

    def set_ils_online(self, online: bool) -> None:
        self._call("set_ils_online", online)
        self.online = online
        self._notify()

    def set_paper_out(self, out: bool) -> None:
        self._call("set_paper_out", out)
        self._notify()

    def subscribe(self, callback):
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)


@pytest.fixture
def panel(stage):
    world = FakeWorld()
    assert isinstance(world, DemoPanelApi)  # the fake keeps to the protocol
    widget = DemoPanel(world)
    stage.show(widget)
    yield world, widget
    widget.close()
    assert world.listeners == []  # close() stops listening


def tap(stage, panel_widget: DemoPanel, widget) -> None:
    stage.scroll_into_view(widget)
    stage.tap(widget)
    panel_widget.settle()
    stage.frames(2)


def test_tap_a_book_places_it_and_it_is_highlighted_then_lifted(stage, panel):
    world, widget = panel
    tile = widget.tiles["31234000111"]
    assert tuple(tile.background_color) == STANDARD.secondary
    tap(stage, widget, tile)
    assert world.calls == [("place", "31234000111")]
    assert "demo-panel" in next(iter(world.threads))  # not on the Kivy thread
    assert widget.on_pad() == {"31234000111"}
    assert tuple(tile.background_color) == STANDARD.primary
    assert "3 parts" in widget.tiles["31234000222"].text
    stage.screenshot("demo_panel")
    tap(stage, widget, tile)
    assert world.calls[-1] == ("lift", "31234000111")
    assert tuple(tile.background_color) == STANDARD.secondary


def test_card_tile_and_scan_buttons(stage, panel):
    world, widget = panel
    tap(stage, widget, widget.tiles["23456000001"])
    tap(stage, widget, widget.scan_buttons["31234000222"])
    assert world.calls == [("place", "23456000001"), ("scan", "31234000222")]


def test_typed_barcode_is_scanned(stage, panel):
    world, widget = panel
    widget.barcode.text = " NOT-A-BARCODE "
    tap(stage, widget, widget.scan_typed)
    assert world.calls == [("scan", "NOT-A-BARCODE")]
    assert widget.barcode.text == ""
    tap(stage, widget, widget.scan_typed)  # nothing typed: nothing scanned
    assert world.calls == [("scan", "NOT-A-BARCODE")]


def test_receipt_and_outputs_follow_reports_from_another_thread(stage, panel):
    world, widget = panel
    assert "(no receipt printed yet)" in screen_text(widget)
    assert widget.lamps["red"].lit and not widget.lamps["green"].lit
    assert tuple(widget.lamps["green"]._paint.rgba) == UNLIT

    def printer_cuts_a_receipt() -> None:
        world.printed.append(RECEIPT)
        world.out.update(gate_open=True, green=True, red=False)
        world._notify()

    cutter = threading.Thread(target=printer_cuts_a_receipt)
    cutter.start()
    cutter.join()
    stage.frames(2)
    assert widget.receipt.text == RECEIPT
    assert "Receipts printed: 1" in screen_text(widget)
    assert widget.lamps["green"].lit and not widget.lamps["red"].lit
    assert widget.gate.text == "Gate: open"
    stage.screenshot("demo_panel_receipt")


def test_ils_and_paper_switches(stage, panel):
    world, widget = panel
    ils, paper = keys(widget, "ils"), keys(widget, "paper")
    assert ils.text == "ILS offline: off" and paper.text == "Paper out: off"
    tap(stage, widget, ils)
    tap(stage, widget, paper)
    assert world.calls == [("set_ils_online", False), ("set_paper_out", True)]
    assert ils.text == "ILS offline: ON" and paper.text == "Paper out: ON"
    tap(stage, widget, ils)
    tap(stage, widget, paper)
    assert world.calls[2:] == [("set_ils_online", True), ("set_paper_out", False)]


def test_a_failing_backend_action_is_shown_and_the_panel_keeps_working(stage, panel):
    world, widget = panel
    world.refuse.add("31234000222")
    tap(stage, widget, widget.tiles["31234000222"])
    assert world.calls == [("place", "31234000222")]
    assert "place failed: KeyError" in widget.status.text
    tap(stage, widget, widget.tiles["31234000111"])
    assert widget.on_pad() == {"31234000111"} and widget.status.text == ""


def test_touch_outside_every_tile_does_nothing(stage, panel):
    world, widget = panel
    tile = widget.tiles["31234000111"]
    x, y = tile.to_window(tile.right + 1, tile.top + 2)  # just beside it, in the gap between rows
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()
    widget.settle()
    stage.frames(2)
    assert world.calls == []


def test_panel_drives_the_real_demo_hardware(stage):
    """The same taps against DemoHardware: the virtual pad, the simulated ILS and printer change."""
    from kiosk.demo.hardware import DemoHardware

    hardware = DemoHardware().start()
    try:
        widget = DemoPanel(hardware)
        stage.show(widget)
        assert set(widget.tiles) == {t.id for t in hardware.books() + hardware.cards()}
        book = hardware.books()[0].id
        tap(stage, widget, widget.tiles[book])
        assert hardware.on_pad() == {book} == widget.on_pad()
        tap(stage, widget, keys(widget, "ils"))
        assert not hardware.ils_online() and keys(widget, "ils").text == "ILS offline: ON"
        tap(stage, widget, keys(widget, "ils"))
        assert hardware.ils_online()
        tap(stage, widget, keys(widget, "paper"))
        assert hardware.paper_out()
        widget.close()
    finally:
        hardware.stop()
