"""The returns station's screens, rendered from states the real ReturnsStationMachine (the returns bin
together with staff mode) reached, touched with real touches; what a tap posts goes back into the
machine. The public screen clears nothing (the station takes the bin's actions only from staff who
are logged in); staff empty bins and clear exceptions from the staff menu."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from kivy.metrics import dp
from patron_ui_support import PatronKiosk, start
from staff_ui_support import MarkingTranslator, button_for, buttons, context, keys, screen_text, untranslated

from kiosk.circulation.commands import CheckIn, RouteToBin, SetSecurity
from kiosk.circulation.events import (
    BinFull,
    Event,
    ItemDropped,
    PinEntered,
    Pressed,
    ReturnAnswered,
    Routed,
    SecuritySet,
)
from kiosk.circulation.model import ReturnAnswer
from kiosk.circulation.returns import ReturnsBinMachine
from kiosk.circulation.staff import Screen, StaffMachine
from kiosk.circulation.station import BIN_ACTIONS, ReturnsStationMachine, ReturnsStationState, offline_notice
from kiosk.config import ReturnsSettings
from kiosk.ui import navigation as nav
from kiosk.ui.screens.returns_bin import ReturnsBinScreen
from kiosk.ui.screens.staff import StaffMenuScreen
from kiosk.ui.theme import MIN_TOUCH_DP, STANDARD, theme

PIN = "2468"
OPEN_SIGN = "Returns: please insert one item at a time"
# No tag programming: the station does not offer it (its reader sees only drops, never a tag on a pad).
MENU_ENTRIES = [Pressed("open", name) for name in ("devices", "offline_queue", "reader_test", "printer_test",
                                                   "leave")]


class ReturnsStation:
    """The real ReturnsStationMachine as the app's station: a submitted event steps it and the new
    state is published, as the runner does. The bin's devices and the ILS are played by hand: each
    command is answered at once, the way a working runner would."""

    def __init__(self, capacity: int = 2) -> None:
        self.machine = ReturnsStationMachine(
            ReturnsBinMachine(ReturnsSettings(bin_capacity=capacity)),
            StaffMachine(lambda entered: entered == PIN, max_attempts=3),
            offline_mode="checkin", languages=("en",))
        self.state, _ = self.machine.start()
        self.events: list[Event] = []
        self.subscribers: list[Callable[[Any], None]] = []
        self.seq = 0
        self._answer: ReturnAnswer | None = ReturnAnswer("", True)  # None: the ILS has not answered yet
        self._route_ok = True

    # -- what the app needs
    def snapshot(self) -> ReturnsStationState:
        return self.state

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback)

    def submit(self, event: Event) -> bool:
        self.events.append(event)
        self.step(event)
        return True

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    # -- the world around the bin
    def step(self, *events: Event) -> None:
        pending = list(events)
        while pending:
            self.state, commands = self.machine.step(self.state, pending.pop(0))
            for command in commands:
                match command:
                    case CheckIn() if self._answer is not None:
                        pending.append(ReturnAnswered(command.ref, self._answer))
                    case RouteToBin():
                        pending.append(Routed(command.ref, self._route_ok, "" if self._route_ok else "diverter jammed"))
                    case SetSecurity():
                        pending.append(SecuritySet(command.ref, True))
        for callback in list(self.subscribers):
            callback(self.state)

    def drop(self, item_id: str, *, ok: bool = True, title: str = "", messages: tuple[str, ...] = (),
             route_ok: bool = True, answered: bool = True) -> None:
        self.seq += 1
        self._answer = ReturnAnswer(item_id, ok, title=title, messages=messages) if answered else None
        self._route_ok = route_ok
        self.step(ItemDropped(f"drop-{self.seq}", item_id, (bytes([0xE0, 4, 1, 0, 0, 0, 0, self.seq]),)))

    def log_in(self) -> None:
        """Staff log in without the screens (for tests of the staff menu on its own)."""
        self.step(Pressed("staff"), PinEntered(PIN))
        assert self.state.staff.screen is Screen.MENU


def shown(stage, station: ReturnsStation, **kwargs):
    ui, sent = context()
    screen = ReturnsBinScreen()
    if kwargs.get("online") is False:  # as the station says it under the default policy
        kwargs.setdefault("offline_notice", offline_notice(False, "offline.banner.returns"))
    screen.render(replace(station.state, **kwargs), ui)
    stage.show(screen)
    return screen, ui, sent


def tiles(screen) -> dict[str, Any]:
    return {w.bin: w for w in screen.walk(restrict=True) if hasattr(w, "bin")}


def bin_actions(screen) -> list[Event]:
    return [b.event for b in buttons(screen) if b.event.action in BIN_ACTIONS]


# --- the public screen ----------------------------------------------------------------------------


def test_open_slot_with_a_tile_per_bin_and_only_the_staff_button(stage):
    station = ReturnsStation()
    station.drop("31234000111", title="Moby Dick")
    screen, _, _ = shown(stage, station)
    words = screen_text(screen)
    assert OPEN_SIGN in words
    assert set(tiles(screen)) == {"holds", "transit", "reshelve", "exceptions"}
    assert "Items: 1" in screen_text(tiles(screen)["reshelve"])
    assert "FULL" not in words and "For staff: 0" in words
    assert "Items on their way to a bin: 0" in words and "Sorted since start: 1" in words
    assert [b.event for b in buttons(screen)] == [Pressed("staff")]  # a passer-by can clear nothing
    stage.screenshot("returns_bin_open")


def test_full_bins_are_shown_full_with_why_and_no_button_to_empty_them(stage):
    station = ReturnsStation(capacity=2)
    station.drop("31234000111")
    station.drop("31234000222")
    station.step(BinFull("holds", True))
    screen, _, _ = shown(stage, station)
    assert "Bin full — returns closed (reshelve, holds)" in screen_text(screen)
    full = tiles(screen)
    assert "FULL" in screen_text(full["reshelve"]) and "capacity reached" in screen_text(full["reshelve"])
    assert "Items: 2" in screen_text(full["reshelve"])
    assert "FULL" in screen_text(full["holds"]) and "its sensor says full" in screen_text(full["holds"])
    assert "FULL" not in screen_text(full["transit"])
    assert bin_actions(screen) == []
    stage.screenshot("returns_bin_full")


def test_exceptions_are_counted_for_staff_but_not_listed_and_offline_is_said(stage):
    station = ReturnsStation(capacity=50)
    station.drop("")  # no tag could be read
    station.drop("39999000999", ok=False, title="Secret Diary", messages=("Item not found",))
    screen, _, _ = shown(stage, station, online=False)
    words = screen_text(screen)
    assert "For staff: 2" in words
    assert "Secret Diary" not in words and "No tag could be read" not in words  # staff's list, not the public's
    assert "The library system is offline: returns are recorded and sent to it later." in words
    assert bin_actions(screen) == []
    stage.screenshot("returns_bin_exceptions_offline")


def test_a_sorter_fault_closes_the_slot_and_only_staff_clear_it(stage):
    station = ReturnsStation(capacity=50)
    station.drop("31234000111", route_ok=False)
    screen, _, _ = shown(stage, station)
    assert "Returns closed: the sorter needs staff (diverter jammed)" in screen_text(screen)
    assert bin_actions(screen) == []
    stage.screenshot("returns_bin_fault")


def test_items_in_flight_counted_and_staff_button(stage):
    station = ReturnsStation()
    station.drop("31234000777", answered=False)  # checking in
    screen, _, sent = shown(stage, station)
    assert "Items on their way to a bin: 1" in screen_text(screen)
    stage.tap(button_for(screen, Pressed("staff")))
    assert sent.events == [Pressed("staff")]


@pytest.mark.parametrize("online", [True, False])
def test_render_is_idempotent(stage, online):
    station = ReturnsStation()
    screen, ui, _ = shown(stage, station, online=online)
    first = screen.children[0]
    notice = None if online else offline_notice(False, "offline.banner.returns")
    screen.render(replace(station.state, online=online, offline_notice=notice), ui)
    assert screen.children == [first]


# --- staff at the bin, through the whole app ------------------------------------------------------


@pytest.fixture
def kiosk(stage, tmp_path):
    station = ReturnsStation(capacity=2)
    k = start(stage, tmp_path, station=station)
    yield k
    k.stop()


def tap(kiosk: PatronKiosk, widget: Any) -> list[Event]:
    """A finger on ``widget`` (its list scrolled to it first); the station steps, the app redraws."""
    kiosk.stage.scroll_into_view(widget)
    posted = kiosk.tap(widget)
    kiosk.stage.frames(2)
    return posted


def log_in(kiosk: PatronKiosk) -> None:
    assert tap(kiosk, button_for(kiosk.screen, Pressed("staff"))) == [Pressed("staff")]
    assert kiosk.app.screen_name == "staff_pin"
    for digit in PIN:
        tap(kiosk, keys(kiosk.screen, f"digit:{digit}"))
    assert tap(kiosk, keys(kiosk.screen, "ok")) == [PinEntered(PIN)]
    assert kiosk.app.screen_name == "staff_menu"


def test_staff_log_in_empty_a_full_bin_clear_the_exceptions_and_log_out(kiosk):
    station: ReturnsStation = kiosk.station
    station.drop("31234000111", title="Moby Dick")
    station.drop("31234000222")
    station.drop("")  # no tag: an exception, in the exceptions bin
    kiosk.stage.frames(2)
    assert kiosk.app.screen_name == nav.RETURNS_BIN
    assert not station.state.accepting and bin_actions(kiosk.screen) == []
    kiosk.screenshot("returns_bin_public")

    log_in(kiosk)
    menu = kiosk.screen
    assert isinstance(menu, StaffMenuScreen)
    words = screen_text(menu)
    assert "Bin full — returns closed (reshelve)" in words
    assert "For staff: 1" in words and "No tag could be read" in words and "An item without a readable tag" in words
    assert set(tiles(menu)) == {"holds", "transit", "reshelve", "exceptions"}
    assert "FULL" in screen_text(tiles(menu)["reshelve"]) and "Items: 2" in screen_text(tiles(menu)["reshelve"])
    for event in [*MENU_ENTRIES, Pressed("out_of_service"), Pressed("logout")]:
        assert button_for(menu, event).get_root_window() is not None  # the usual menu, beside the bins
    assert Pressed("open", "program") not in [b.event for b in buttons(menu)]
    assert "Tag programming" not in screen_text(menu)
    kiosk.screenshot("staff_returns_menu")

    assert tap(kiosk, button_for(menu, Pressed("bin_emptied", "reshelve"))) == [Pressed("bin_emptied", "reshelve")]
    assert station.state.returns.count("reshelve") == 0 and station.state.accepting
    assert kiosk.app.screen_name == "staff_menu"
    assert OPEN_SIGN in screen_text(kiosk.screen) and "Items: 0" in screen_text(tiles(kiosk.screen)["reshelve"])

    assert tap(kiosk, button_for(kiosk.screen, Pressed("exceptions_cleared"))) == [Pressed("exceptions_cleared")]
    assert station.state.returns.exceptions == ()
    assert "For staff: 0" in screen_text(kiosk.screen)
    assert button_for(kiosk.screen, Pressed("exceptions_cleared")).disabled  # nothing left to clear

    assert tap(kiosk, button_for(kiosk.screen, Pressed("logout"))) == [Pressed("logout")]
    assert station.state.staff.screen is Screen.CLOSED
    assert kiosk.app.screen_name == nav.RETURNS_BIN
    assert OPEN_SIGN in screen_text(kiosk.screen) and bin_actions(kiosk.screen) == []


def test_staff_clear_the_sorter_fault_and_the_menu_entries_still_work(kiosk):
    station: ReturnsStation = kiosk.station
    station.drop("31234000111", route_ok=False)
    kiosk.stage.frames(2)
    log_in(kiosk)
    words = screen_text(kiosk.screen)
    assert "Sorter fault: diverter jammed" in words and "The sorter could not route this item" in words
    kiosk.screenshot("staff_returns_menu_fault")
    assert tap(kiosk, button_for(kiosk.screen, Pressed("fault_cleared"))) == [Pressed("fault_cleared")]
    assert station.state.returns.fault == "" and station.state.accepting
    assert bin_actions(kiosk.screen).count(Pressed("fault_cleared")) == 0
    assert OPEN_SIGN in screen_text(kiosk.screen)

    tap(kiosk, button_for(kiosk.screen, Pressed("open", "devices")))
    assert kiosk.app.screen_name == "staff_devices"
    tap(kiosk, button_for(kiosk.screen, Pressed("back")))
    assert kiosk.app.screen_name == "staff_menu" and "reshelve" in tiles(kiosk.screen)
    tap(kiosk, button_for(kiosk.screen, Pressed("out_of_service")))
    assert station.state.out_of_service is not None and not station.state.accepting
    assert "This kiosk is OUT OF SERVICE" in screen_text(kiosk.screen)


# --- both views: words and touch targets ----------------------------------------------------------


def busy_station() -> ReturnsStation:
    station = ReturnsStation(capacity=1)
    station.drop("")
    station.drop("31234000111", title="Moby Dick")
    station.drop("39999000999", ok=False, messages=("Item not found",))
    station.step(BinFull("overflow", True))  # a bin only the sensor names still gets a tile
    return station


DATA = {"holds", "transit", "reshelve", "exceptions", "overflow", "Item not found", "E004010000000001", "39999000999"}


def test_every_word_translated_on_both_views(stage):
    station = busy_station()
    ui, _ = context(MarkingTranslator())
    public = ReturnsBinScreen()
    public.render(replace(station.state, online=False), ui)
    stage.show(public)
    assert "overflow" in tiles(public)
    assert untranslated(public, DATA) == []
    station.log_in()
    menu = StaffMenuScreen()
    menu.render(station.state, ui)
    stage.show(menu)
    assert "overflow" in tiles(menu) and bin_actions(menu)
    assert untranslated(menu, DATA) == []


@pytest.mark.parametrize("look", [STANDARD, theme(high_contrast=True, large_text=True)], ids=["standard", "large"])
def test_touch_targets_are_large_enough_on_both_views(stage, look):
    station = busy_station()
    station.log_in()
    ui, _ = context(theme=look)
    for name, screen in (("returns_bin", ReturnsBinScreen()), ("staff_returns_menu", StaffMenuScreen())):
        screen.render(station.state, ui)
        stage.show(screen)
        assert buttons(screen)
        for button in buttons(screen):
            assert min(button.size) >= dp(MIN_TOUCH_DP), (button.text, button.size)
        if look.large_text:
            stage.screenshot(f"{name}_large_high_contrast")
