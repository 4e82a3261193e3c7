"""The sign a kiosk shows while it takes no patrons: why, and where to go instead.

Staff switch a kiosk out of service from the staff menu, and the station decides it on its own when
it cannot work; either way staff must be able to log in here to put it back, so the sign keeps a
small staff button (Pressed("staff") opens the staff PIN).
"""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp
from kivy.uix.anchorlayout import AnchorLayout
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.circulation.events import Pressed
from kiosk.circulation.station import KioskState, ReturnsStationState
from kiosk.ui.context import UiContext
from kiosk.ui.screens.blocks import Panel, RenderedScreen, Words, spacer
from kiosk.ui.theme import MIN_TOUCH_DP


class OutOfServiceScreen(RenderedScreen):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "out_of_service")
        super().__init__(**kwargs)

    def view(self, state: KioskState | ReturnsStationState) -> object:
        return state.out_of_service, isinstance(state, ReturnsStationState)

    def build(self, view: Any, ui: UiContext) -> Widget:
        reason_message, returns_station = view
        theme, tr = ui.theme, ui.tr
        root = Panel(theme.background, orientation="vertical", padding=dp(3 * theme.spacing_dp),
                     spacing=dp(2 * theme.spacing_dp))
        sign = Panel(theme.error, radius=12, orientation="vertical", padding=dp(2 * theme.spacing_dp),
                     size_hint_y=None, height=dp(170))
        sign.add_widget(Words(tr.text("Out of service"), theme, size="huge", bold=True, color=theme.on_primary,
                              halign="center"))
        root.add_widget(sign)
        reason = tr.message(reason_message) if reason_message is not None else ""
        if reason_message is not None and reason == reason_message.id:
            reason = ""  # an id no catalog or table knows means nothing to a patron
        if reason:
            # The station's reasons say where to go as well ("… or ask at the desk"): not said twice.
            root.add_widget(Words(reason, theme, size="title", halign="center", size_hint_y=None))
        elif returns_station:
            root.add_widget(Words(tr.text("Please return your items at the service desk"), theme, size="title",
                                  halign="center", size_hint_y=None))
        else:
            root.add_widget(Words(tr.text("Please use another kiosk or ask at the service desk"), theme,
                                  size="title", halign="center", size_hint_y=None))
        root.add_widget(spacer())
        corner = BoxLayout(orientation="horizontal", size_hint_y=None, height=dp(MIN_TOUCH_DP))
        corner.add_widget(spacer())
        holder = AnchorLayout(anchor_x="right", anchor_y="bottom", size_hint_x=None, width=dp(120))
        holder.add_widget(self.button(tr.text("Staff"), Pressed("staff"), role="quiet", size="small",
                                      height=MIN_TOUCH_DP, size_hint_x=None, width=dp(120)))
        corner.add_widget(holder)
        root.add_widget(corner)
        return root
