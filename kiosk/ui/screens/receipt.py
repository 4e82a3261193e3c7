"""Receipt or not: one button per choice the core offers (print only while the printer can)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.circulation.station import KioskState
from kiosk.ui.context import Translator, UiContext
from kiosk.ui.screens.base import PatronScreen, spacer, swap
from kiosk.ui.site import Site
from kiosk.ui.widgets import Action, ButtonRow, Text

LABELS: dict[str, Callable[[Translator], str]] = {
    "print": lambda tr: tr.text("Print a receipt"),
    "email": lambda tr: tr.text("Send it by e-mail"),
    "none": lambda tr: tr.text("No receipt"),
}


class ReceiptScreen(PatronScreen):
    def __init__(self, site: Site, **kwargs: Any) -> None:
        kwargs.setdefault("name", "receipt")
        super().__init__(site, **kwargs)
        self.title = Text(self.look, size="title", bold=True, halign="center")
        self.choices = ButtonRow(self.look)
        self.buttons = {
            choice: Action(self.look, self.press(f"receipt_{choice}"),
                           kind="secondary" if choice == "none" else "primary")
            for choice in LABELS
        }
        for widget in (spacer(), self.title, spacer(), self.choices, spacer()):
            self.body.add_widget(widget)

    def update(self, state: KioskState, ui: UiContext) -> None:
        self.title.text = ui.tr.text("Would you like a receipt?")
        offered = [c for c in state.session.receipt_choices if c in self.buttons]
        for choice in offered:
            self.buttons[choice].text = LABELS[choice](ui.tr)
        swap(self.choices, [self.buttons[c] for c in offered])
