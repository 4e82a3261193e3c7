"""The out-of-service sign: why, where to go, and the staff button to switch it back."""

from __future__ import annotations

import pytest
from kivy.metrics import dp
from staff_ui_support import MarkingTranslator, button_for, context, screen_text, untranslated

from kiosk.circulation import station as station_module
from kiosk.circulation.events import Pressed
from kiosk.circulation.rows import Message
from kiosk.circulation.station import KioskState, ReturnsStationState
from kiosk.ui.context import CORE_MESSAGES, EnglishTranslator
from kiosk.ui.screens.out_of_service import OutOfServiceScreen
from kiosk.ui.theme import MIN_TOUCH_DP

OOS = station_module.MESSAGES


class StationEnglish(EnglishTranslator):
    """English that knows the station's out-of-service reasons as well as the core's messages."""

    def message(self, message: Message):
        from kiosk.circulation import session_text

        return session_text.render(message, {**CORE_MESSAGES, **OOS})


def shown(stage, state, translator=None):
    ui, sent = context(translator or StationEnglish())
    screen = OutOfServiceScreen()
    screen.render(state, ui)
    stage.show(screen)
    return screen, sent


@pytest.mark.parametrize("reason", sorted(OOS))
def test_sign_says_why_and_where_to_go(stage, reason):
    screen, _ = shown(stage, KioskState(out_of_service=Message(reason)))
    words = screen_text(screen).split("\n")
    assert "Out of service" in words
    assert OOS[reason] in words  # the station's reason, which says where to go
    stage.screenshot(f"out_of_service_{reason.split('.')[1]}")


def test_unknown_reason_is_not_shown_but_where_to_go_is(stage):
    screen, _ = shown(stage, KioskState(out_of_service=Message("oos.not_a_known_id")))
    words = screen_text(screen)
    assert "oos.not_a_known_id" not in words
    assert "Please use another kiosk or ask at the service desk" in words


def test_returns_station_sends_returns_to_the_desk(stage):
    screen, _ = shown(stage, ReturnsStationState(out_of_service=Message("oos.unknown")))
    assert "Please return your items at the service desk" in screen_text(screen)


def test_staff_button_is_discreet_but_touchable_and_opens_staff_login(stage):
    screen, sent = shown(stage, KioskState(out_of_service=Message("oos.staff")))
    button = button_for(screen, Pressed("staff"))
    assert min(button.size) >= dp(MIN_TOUCH_DP)
    assert button.width * button.height < screen.width * screen.height / 40  # small, in a corner
    assert button.right > screen.width * 0.8 and button.y < screen.height * 0.2
    stage.tap(button)
    assert sent.events == [Pressed("staff")]


def test_every_word_translated(stage):
    screen, _ = shown(stage, KioskState(out_of_service=Message("oos.staff")), MarkingTranslator())
    assert untranslated(screen) == []
