"""The app around the screens: states from a foreign thread drawn on Kivy's (bursts drawn once),
sound cues, staff's out-of-service and leave, other screens routed in, and kiosk hardening."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

import pytest
from kivy.app import App
from kivy.base import EventLoop
from kivy.uix.widget import Widget
from patron_ui_support import kiosk_state, start

from kiosk.circulation.returns import ReturnsState
from kiosk.circulation.rows import Message
from kiosk.circulation.session import Phase
from kiosk.circulation.staff import Screen as StaffScreen
from kiosk.circulation.staff import StaffState
from kiosk.circulation.station import ReturnsStationState
from kiosk.ui import navigation as nav
from kiosk.ui.hardening import ESCAPE, F1


@pytest.fixture
def kiosk(stage, tmp_path):
    k = start(stage, tmp_path)
    yield k
    k.stop()


def on_runner_thread(work) -> None:
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def test_a_burst_of_states_from_another_thread_is_drawn_once_the_newest(kiosk) -> None:
    kiosk.show(kiosk_state(phase=Phase.IDLE))
    before = kiosk.app.renders
    states = [kiosk_state(phase=Phase.PIN, notice=Message.of("pin.wrong", left=n)) for n in range(50)]
    on_runner_thread(lambda: [kiosk.station.publish(s) for s in states])
    assert kiosk.app.renders == before  # nothing drawn off Kivy's thread
    kiosk.stage.frames(3)
    assert kiosk.app.renders == before + 1
    assert kiosk.app.state is states[-1]
    assert kiosk.screen.notice.text == "Wrong PIN. Tries left: 49."


def test_the_first_state_is_the_stations_snapshot(stage, tmp_path) -> None:
    k = start(stage, tmp_path, state=kiosk_state(phase=Phase.LOOKING_UP))
    try:
        k.stage.frames(2)
        assert k.app.screen_name == nav.LOOKING_UP
        assert k.station.subscribers == [k.app.publish]
    finally:
        k.stop()
    assert k.station.subscribers == [] and k.station.signal_subscribers == []  # unsubscribed on stop


def test_sound_cues_from_the_runner_thread_are_played_on_kivys(kiosk) -> None:
    on_runner_thread(lambda: [kiosk.station.signal(kind) for kind in ("success", "error")])
    assert kiosk.app.sounds.played == []
    kiosk.stage.frames(2)
    assert kiosk.app.sounds.played == ["success", "error"]


def test_out_of_service_shows_the_sign_once_the_session_is_over(kiosk) -> None:
    oos = Message("oos.staff")
    kiosk.show(kiosk_state(phase=Phase.ACTIVE, out_of_service=oos))
    assert kiosk.app.screen_name == nav.HOME  # the patron finishes first
    on_runner_thread(lambda: kiosk.app.set_out_of_service(True))
    kiosk.show(kiosk_state(phase=Phase.IDLE, out_of_service=oos))
    kiosk.later(10)  # after "thank you"
    assert kiosk.app.screen_name == nav.OUT_OF_SERVICE
    assert kiosk.app.banner.parent is None  # the sign is no patron screen: no banner, no notice


def test_staff_screens_and_the_returns_bin_are_the_staff_modules_screens(kiosk) -> None:
    from kiosk.ui.screens.out_of_service import OutOfServiceScreen
    from kiosk.ui.screens.returns_bin import ReturnsBinScreen
    from kiosk.ui.screens.staff import STAFF_SCREENS

    for staff_screen, cls in STAFF_SCREENS.items():
        assert isinstance(kiosk.app.manager.get_screen(nav.staff_screen_name(staff_screen)), cls)
    assert isinstance(kiosk.app.manager.get_screen(nav.RETURNS_BIN), ReturnsBinScreen)
    assert isinstance(kiosk.app.manager.get_screen(nav.OUT_OF_SERVICE), OutOfServiceScreen)
    kiosk.show(replace(kiosk_state(phase=Phase.IDLE), staff=StaffState(screen=StaffScreen.PIN)))
    assert kiosk.app.screen_name == "staff_pin"
    assert isinstance(kiosk.screen, STAFF_SCREENS[StaffScreen.PIN])
    kiosk.show(ReturnsStationState(returns=ReturnsState(), languages=("en",)))
    assert kiosk.app.screen_name == nav.RETURNS_BIN


def test_a_touch_on_thank_you_goes_straight_to_idle(kiosk) -> None:
    kiosk.show(kiosk_state(phase=Phase.ACTIVE))
    kiosk.show(kiosk_state(phase=Phase.IDLE))
    assert kiosk.app.screen_name == nav.THANK_YOU
    kiosk.stage.tap_at(500, 300)
    assert kiosk.app.screen_name == nav.IDLE
    assert kiosk.station.take() == []  # presentation only: nothing sent


def test_escape_and_f1_are_swallowed_and_the_app_keeps_running(stage, tmp_path) -> None:
    window = stage.window
    reached: list[int] = []

    def below(_window, key, *_args):
        reached.append(key)

    # Bound before the app starts, so called after the app's handler: where Kivy's own handling of
    # ESC (quit) would be reached if the app let the key through.
    window.bind(on_keyboard=below)
    k = start(stage, tmp_path)
    try:
        k.show(kiosk_state(phase=Phase.IDLE))
        for key in (ESCAPE, F1):
            assert window.dispatch("on_keyboard", key, 0, None, []) is True
        k.stage.frames(2)
        assert reached == []
        window.dispatch("on_keyboard", 13, 0, None, [])  # any other key passes on
        assert reached == [13]
        assert window.dispatch("on_request_close") is True  # no window manager closes the kiosk either
        assert App.get_running_app() is k.app and k.app.root.parent is window
        assert EventLoop.status not in ("stopped", "closed")
        assert k.app._app_settings is None  # F1 never built Kivy's settings panel
        assert k.app.open_settings() is False
        assert k.app.screen_name == nav.IDLE
    finally:
        window.unbind(on_keyboard=below)
        k.stop()


def test_leave_from_the_runner_thread_stops_the_app(kiosk) -> None:
    kiosk.show(kiosk_state(phase=Phase.IDLE))
    on_runner_thread(kiosk.app.leave)
    assert App.get_running_app() is kiosk.app  # not on the runner's thread
    kiosk.stage.frames(2)
    assert App.get_running_app() is None
    assert kiosk.app.root.parent is None
    assert kiosk.station.subscribers == []
    before = kiosk.app.renders
    kiosk.station.publish(kiosk_state(phase=Phase.PIN))  # a late state after leaving is ignored
    kiosk.stage.frames(2)
    assert kiosk.app.renders == before


def test_a_side_panel_sits_beside_the_screens(stage, tmp_path) -> None:
    panel = Widget(size_hint_x=0.3)
    k = start(stage, tmp_path, side_panel=panel)
    try:
        k.show(kiosk_state(phase=Phase.IDLE))
        assert panel.get_root_window() is stage.window
        assert panel.x == pytest.approx(k.app.manager.right, abs=1)
        assert k.app.manager.width == pytest.approx(1024 / 1.3, rel=0.02)  # 1 : 0.3
    finally:
        k.stop()


def test_a_screen_that_fails_to_draw_is_logged_and_the_kiosk_carries_on(kiosk, caplog) -> None:
    kiosk.show(kiosk_state(phase=Phase.IDLE))
    receipt = kiosk.app.manager.get_screen(nav.RECEIPT)

    def broken(state, ui):
        raise KeyError("a bug")

    receipt.render = broken
    with caplog.at_level(logging.ERROR, logger="kiosk.ui.app"):
        kiosk.show(kiosk_state(phase=Phase.RECEIPT, receipt_choices=("none",)))
    assert kiosk.app.render_errors == 1
    assert "the receipt screen could not draw the state" in caplog.text
    assert kiosk.app.screen_name == nav.IDLE  # the last good picture
    del receipt.render
    kiosk.show(kiosk_state(phase=Phase.RECEIPT, receipt_choices=("print", "none")))
    assert kiosk.app.screen_name == nav.RECEIPT
    assert App.get_running_app() is kiosk.app


def test_every_staff_screen_has_a_screen_in_the_app(kiosk) -> None:
    for staff_screen in StaffScreen:
        if staff_screen is not StaffScreen.CLOSED:
            assert kiosk.app.manager.has_screen(nav.staff_screen_name(staff_screen)), staff_screen
