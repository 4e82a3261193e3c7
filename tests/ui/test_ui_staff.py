"""Staff mode's screens on a real (offscreen) window with real touches, driven by the real
StaffMachine: what a tap posts goes back into the machine, and the next screen shows its answer."""

from __future__ import annotations

import pytest
from kivy.metrics import dp
from kivy.uix.screenmanager import Screen as KivyScreen
from staff_ui_support import (
    MarkingTranslator,
    StaffDesk,
    button_for,
    buttons,
    context,
    keys,
    screen_text,
    untranslated,
)

from kiosk.circulation.commands import LeaveKiosk, OpenGate, SetOutOfService, TestDevice
from kiosk.circulation.events import (
    DeviceStatus,
    DeviceTested,
    GateOpened,
    IlsHealth,
    OfflineQueueChanged,
    PinEntered,
    Pressed,
)
from kiosk.circulation.staff import OPEN_GATE, DeviceRow, Screen, StaffMachine, StaffState
from kiosk.circulation.station import KioskState, ReturnsStationState
from kiosk.ui.screens.blocks import status_colour
from kiosk.ui.screens.staff import MASK, STAFF_SCREENS, StaffDevicesScreen, StaffMenuScreen, StaffPinScreen
from kiosk.ui.theme import MIN_TOUCH_DP, STANDARD, theme

REPORTS = (
    DeviceStatus("reader", "ok", "FEIG ID ISC.MR102 on /dev/ttyUSB0"),
    DeviceStatus("printer", "failed", "paper out"),
    DeviceStatus("gpio", "warning", "bin sensor 2 not answering"),
    IlsHealth(connected=True, latency_ms=42.4),
    OfflineQueueChanged(waiting=3, needs_staff=1, oldest="2025-03-14 09:12"),
)


def logged_in(stage, **kwargs) -> StaffDesk:
    desk = StaffDesk(stage, **kwargs)
    desk.feed(*REPORTS, Pressed("staff"), PinEntered("2468"))
    assert desk.staff.screen is Screen.MENU
    return desk


def test_every_staff_screen_but_closed_has_a_kivy_screen():
    assert set(STAFF_SCREENS) == set(Screen) - {Screen.CLOSED}
    for cls in STAFF_SCREENS.values():
        assert issubclass(cls, KivyScreen) and callable(cls.render)


# --- PIN --------------------------------------------------------------------------------------


def test_pin_keypad_sends_the_digits_masked_and_only_once(stage):
    desk = StaffDesk(stage)
    desk.feed(Pressed("staff"))
    screen = desk.screen
    assert isinstance(screen, StaffPinScreen)
    for key in ("digit:1", "digit:3", "digit:5", "delete", "digit:7"):
        assert desk.tap_key(key) == []  # digits stay on the screen until OK
    assert screen.digits == "137"
    assert MASK * 3 in screen_text(screen)
    assert "137" not in screen_text(screen)  # never shown in clear
    assert desk.tap_key("ok") == [PinEntered("137")]
    # Wrong: the machine says how many tries are left, and the screen shows it with the keypad cleared.
    assert "Wrong PIN (2 tries left)" in screen_text(desk.screen)
    assert desk.screen.digits == ""
    assert desk.tap_key("ok") == []  # nothing typed: nothing sent (a second tap cannot count twice)
    stage.screenshot("staff_pin")
    for digit in "2468":
        desk.tap_key(f"digit:{digit}")
    assert desk.tap_key("ok") == [PinEntered("2468")]
    assert desk.staff.screen is Screen.MENU


def test_pin_digits_survive_a_device_report_and_cancel_closes(stage):
    desk = StaffDesk(stage)
    desk.feed(Pressed("staff"))
    desk.tap_key("digit:9")
    desk.tap_key("digit:8")
    desk.feed(DeviceStatus("printer", "failed", "cover open"))  # arrives while staff type
    assert desk.screen.digits == "98"
    assert desk.tap(Pressed("cancel")) == [Pressed("cancel")]
    assert desk.staff.screen is Screen.CLOSED


def test_pin_locked_out_disables_the_keypad(stage):
    ui, sent = context()
    screen = StaffPinScreen()
    state = KioskState(staff=StaffState(screen=Screen.PIN, locked_out=True, notice=("staff.locked_out", {})))
    screen.render(state, ui)
    stage.show(screen)
    assert "Staff login locked: too many wrong PINs. Try again later." in screen_text(screen)
    stage.tap(keys(screen, "digit:5"))
    stage.tap(keys(screen, "ok"))
    assert screen.digits == "" and sent.events == []


# --- the menu -----------------------------------------------------------------------------------


def test_menu_summarises_devices_and_queue(stage):
    desk = logged_in(stage)
    words = screen_text(desk.screen)
    assert "Devices: 2 OK, 1 warning, 1 failed" in words  # the ILS row counts as a device
    assert "Receipt printer: Failed" in words
    assert "Gate, lights and sensors: Warning" in words
    assert "Offline queue: 3 waiting, 1 need staff" in words
    assert "This kiosk is in service" in words
    stage.screenshot("staff_menu")


@pytest.mark.parametrize(
    ("entry", "screen"),
    [
        ("devices", Screen.DEVICES),
        ("offline_queue", Screen.OFFLINE_QUEUE),
        ("reader_test", Screen.READER_TEST),
        ("printer_test", Screen.PRINTER_TEST),
        ("program", Screen.PROGRAM),
        ("leave", Screen.CONFIRM_LEAVE),
    ],
)
def test_menu_opens_each_entry_back_returns_and_log_out_is_there(stage, entry, screen):
    desk = logged_in(stage)
    assert desk.tap(Pressed("open", entry)) == [Pressed("open", entry)]
    assert desk.staff.screen is screen
    back = Pressed("back")
    assert desk.tap(back) == [back]
    assert desk.staff.screen is Screen.MENU
    desk.tap(Pressed("open", entry))
    assert desk.tap(Pressed("logout")) == [Pressed("logout")]
    assert desk.staff.screen is Screen.CLOSED


def test_out_of_service_button_shows_the_current_state_and_toggles(stage):
    desk = logged_in(stage)
    assert "Out of service: off" in screen_text(desk.screen)
    assert desk.tap(Pressed("out_of_service")) == [Pressed("out_of_service")]
    assert desk.commands[-1] == SetOutOfService(True)
    words = screen_text(desk.screen)
    assert "Out of service: ON" in words
    assert "This kiosk is OUT OF SERVICE" in words
    stage.screenshot("staff_menu_out_of_service")
    desk.tap(Pressed("out_of_service"))
    assert desk.commands[-1] == SetOutOfService(False)


def test_open_the_gate_is_offered_only_where_a_gate_is_wired_and_staff_see_how_it_went(stage):
    plain = logged_in(stage)
    assert "Open the gate" not in screen_text(plain.screen)
    desk = StaffDesk(stage)
    desk.machine = StaffMachine(lambda entered: entered == "2468", max_attempts=3, gate=True)
    desk.station = KioskState(staff=desk.machine.start()[0])
    desk.feed(*REPORTS, Pressed("staff"), PinEntered("2468"))
    assert desk.tap(Pressed(OPEN_GATE)) == [Pressed(OPEN_GATE)]
    opening = desk.commands[-1]
    assert isinstance(opening, OpenGate) and desk.staff.screen is Screen.MENU
    assert "Opening the gate…" in screen_text(desk.screen)
    desk.feed(GateOpened(opening.ref, False, "GPIO unavailable: no gpiochip"))
    assert "The gate did not open (GPIO unavailable: no gpiochip)" in screen_text(desk.screen)
    desk.tap(Pressed(OPEN_GATE))
    desk.feed(GateOpened(desk.commands[-1].ref, True))
    assert "The gate was opened" in screen_text(desk.screen)
    stage.screenshot("staff_menu_gate_opened")


# --- devices, queue, tests, leave ---------------------------------------------------------------


def test_devices_rows_with_state_colour_reason_and_ils_latency(stage):
    desk = logged_in(stage)
    desk.tap(Pressed("open", "devices"))
    screen = desk.screen
    assert isinstance(screen, StaffDevicesScreen)
    lines = [w for w in screen.walk(restrict=True) if hasattr(w, "row")]
    assert [line.row.component for line in lines] == ["reader", "printer", "gpio", "ils"]
    for line in lines:
        chip = line.children[-1]  # the first child added: the coloured state
        painted = [i.rgba for i in chip.canvas.before.children if hasattr(i, "rgba")]
        assert tuple(painted[0]) == pytest.approx(status_colour(STANDARD, line.row.state))
    words = screen_text(screen)
    assert "paper out" in words and "bin sensor 2 not answering" in words
    assert "Response time: 42 ms" in words
    assert "Library system (ILS)" in words
    stage.screenshot("staff_devices")


def test_offline_queue_figures_and_what_to_do(stage):
    desk = logged_in(stage)
    desk.tap(Pressed("open", "offline_queue"))
    words = screen_text(desk.screen)
    for figure in ("3", "1", "2025-03-14 09:12"):
        assert figure in words.split("\n")
    assert "kiosk queue report" in words
    stage.screenshot("staff_offline_queue")


@pytest.mark.parametrize(("entry", "component", "name"),
                         [("reader_test", "reader", "RFID reader"), ("printer_test", "printer", "Receipt printer")])
def test_device_test_running_ok_failed_and_retest(stage, entry, component, name):
    desk = logged_in(stage)
    desk.tap(Pressed("open", entry))
    command = desk.commands[-1]
    assert command == TestDevice(command.ref, component)
    assert f"Testing the {name}…" in screen_text(desk.screen)
    stage.screenshot(f"staff_{entry}_running")
    desk.feed(DeviceTested(command.ref, True, "answers; 2 tags in the field"))
    assert f"{name}: OK (answers; 2 tags in the field)" in screen_text(desk.screen)
    stage.screenshot(f"staff_{entry}_ok")
    assert desk.tap(Pressed("retest")) == [Pressed("retest")]
    again = desk.commands[-1]
    assert again.ref != command.ref and f"Testing the {name}…" in screen_text(desk.screen)
    desk.feed(DeviceTested(again.ref, False, "no answer on /dev/ttyUSB0"))
    assert f"{name}: FAILED (no answer on /dev/ttyUSB0)" in screen_text(desk.screen)
    stage.screenshot(f"staff_{entry}_failed")


def test_confirm_leave_leaves_only_on_confirmation(stage):
    desk = logged_in(stage)
    desk.tap(Pressed("open", "leave"))
    stage.screenshot("staff_confirm_leave")
    assert desk.tap(Pressed("back")) == [Pressed("back")]  # "Stay"
    assert not any(isinstance(c, LeaveKiosk) for c in desk.commands)
    desk.tap(Pressed("open", "leave"))
    assert desk.tap(Pressed("confirm")) == [Pressed("confirm")]
    assert desk.commands[-1] == LeaveKiosk() and desk.staff.screen is Screen.CLOSED


# --- for every staff screen ---------------------------------------------------------------------


def _rich(screen: Screen) -> KioskState:
    staff = StaffState(
        screen=screen,
        devices=(DeviceRow("reader", "ok"), DeviceRow("printer", "failed", "paper out"),
                 DeviceRow("ils", "ok", "12 ms")),
        notice=("staff.pin_wrong", {"left": "2"}) if screen is Screen.PIN else None,
        withheld=frozenset(),  # every entry the menu can offer, the gate's included
    )
    return KioskState(staff=staff, online=False)


@pytest.mark.parametrize("screen", [s for s in Screen if s is not Screen.CLOSED])
def test_every_word_goes_through_the_translator(stage, screen):
    ui, _ = context(MarkingTranslator())
    view = STAFF_SCREENS[screen]()
    view.render(_rich(screen), ui)
    stage.show(view)
    digits = {str(n) for n in range(10)}
    data = {"paper out", "12 ms", "0", "1", "\u2212", "+", "\u2014", *digits}
    assert untranslated(view, data) == []


@pytest.mark.parametrize("screen", [s for s in Screen if s is not Screen.CLOSED])
def test_touch_targets_are_at_least_48_dp_in_every_theme(stage, screen):
    for look in (STANDARD, theme(high_contrast=True, large_text=True)):
        ui, _ = context(theme=look)
        view = STAFF_SCREENS[screen]()
        view.render(_rich(screen), ui)
        stage.show(view)
        targets = buttons(view) + [w for w in view.walk(restrict=True) if getattr(w, "key", "")]
        assert targets
        for target in targets:
            assert min(target.size) >= dp(MIN_TOUCH_DP), (target.text, target.size)


def test_render_is_idempotent_and_a_theme_change_restyles(stage):
    ui, _ = context()
    view = StaffMenuScreen()
    state = _rich(Screen.MENU)
    view.render(state, ui)
    first = view.children[0]
    view.render(state, ui)
    assert view.children == [first]  # nothing rebuilt for the same state
    again, sent_again = context(ui.tr)
    view.render(state, again)  # the same words and look, another ``send``: kept, and taps use the new one
    assert view.children == [first]
    stage.show(view)
    stage.tap(button_for(view, Pressed("open", "devices")))
    assert sent_again.events == [Pressed("open", "devices")]
    contrast, _ = context(theme=theme(high_contrast=True))
    view.render(state, contrast)
    assert view.children[0] is not first
    stage.show(view)
    assert button_for(view, Pressed("open", "devices")).background_color == list(contrast.theme.primary)
    stage.screenshot("staff_menu_high_contrast")


def test_staff_screens_render_a_returns_station_too(stage):
    ui, sent = context()
    view = StaffMenuScreen()
    view.render(ReturnsStationState(staff=StaffState(screen=Screen.MENU)), ui)
    stage.show(view)
    stage.tap(button_for(view, Pressed("logout")))
    assert sent.events == [Pressed("logout")]
