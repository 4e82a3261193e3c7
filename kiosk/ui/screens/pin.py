"""The PIN keypad: large keys, the digits shown only as dots, clear / OK / cancel.

The digits typed so far live in this screen alone until OK sends them as ``PinEntered``; they are
forgotten when the screen is entered again, after OK, and when a new notice arrives (a wrong PIN
starts a fresh attempt). The notice ("Wrong PIN. Tries left: 2") shows here, next to the keypad.
"""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from kiosk.circulation.events import PinEntered
from kiosk.circulation.rows import Message
from kiosk.circulation.station import KioskState
from kiosk.ui.context import UiContext
from kiosk.ui.screens.base import PatronScreen, spacer
from kiosk.ui.site import Site
from kiosk.ui.theme import Theme
from kiosk.ui.widgets import Action, Look, Text

MAX_DIGITS = 12
DOT = "\u25cf"  # ●


class PinScreen(PatronScreen):
    shows_notice = True

    def __init__(self, site: Site, **kwargs: Any) -> None:
        kwargs.setdefault("name", "pin")
        super().__init__(site, **kwargs)
        look = self.look
        self.digits = ""
        self._notice: Message | None = None
        self.body.orientation = "horizontal"
        left = BoxLayout(orientation="vertical")
        self.title = Text(look, size="title", bold=True)
        self.dots = Text(look, size="huge", halign="center")
        self.notice = Text(look, tone="error")
        self.cancel = Action(look, self.press("cancel"))
        for widget in (self.title, self.dots, self.notice, spacer(), self.cancel):
            left.add_widget(widget)
        self.keypad = GridLayout(cols=3, size_hint=(None, None), pos_hint={"center_y": 0.5})
        self.keypad.bind(minimum_height=self.keypad.setter("height"))
        self.keys: dict[str, Action] = {}
        for key in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "ok"):
            kind = "primary" if key == "ok" else "secondary"
            button = Action(look, lambda key=key: self.tap(key), kind=kind, height_role="keypad_dp",
                            text_role="title" if key.isdigit() else "text")
            self.keys[key] = button
            self.keypad.add_widget(button)
        self.body.add_widget(left)
        self.body.add_widget(self.keypad)
        look.bind(theme=self._size_keypad)
        self._size_keypad(look, look.theme)

    def on_pre_enter(self, *_: Any) -> None:
        self.digits = ""
        self._show_digits()

    def tap(self, key: str) -> None:
        if key == "clear":
            self.digits = ""
        elif key == "ok":
            if self.digits:
                pin, self.digits = self.digits, ""
                self.send(PinEntered(pin))
        elif len(self.digits) < MAX_DIGITS:
            self.digits += key
        self._show_digits()

    def update(self, state: KioskState, ui: UiContext) -> None:
        tr = ui.tr
        notice = state.session.notice
        if notice != self._notice:
            self._notice = notice
            self.digits = ""  # a wrong PIN: start again
            self._show_digits()
        self.title.text = tr.text("Enter your PIN")
        self.notice.text = tr.message(notice) if notice is not None else ""
        self.cancel.text = tr.text("Cancel")
        self.keys["clear"].text = tr.text("Clear")
        self.keys["ok"].text = tr.text("OK")
        for digit in "0123456789":
            self.keys[digit].text = digit

    def _show_digits(self) -> None:
        self.dots.text = " ".join(DOT * len(self.digits)) if self.digits else " "

    def _size_keypad(self, _look: Look, theme: Theme) -> None:
        gap = dp(theme.spacing_dp)
        self.keypad.spacing = gap
        self.keypad.col_default_width = dp(theme.keypad_dp * 1.45)
        self.keypad.width = 3 * self.keypad.col_default_width + 2 * gap
        for key in self.keys.values():
            key.size_hint_x = None
            key.width = self.keypad.col_default_width
