"""The attract screen: who this kiosk belongs to, how to start, and the patron's own choices.

Language, large text and high contrast are chosen here, before a card is read, so the PIN screen
already speaks the patron's language at the patron's size. Each language button shows the
language's own name ("Deutsch", not "German"), since whoever needs it may not read the current one.
The staff button is small and quiet: it only opens the staff PIN.
"""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp
from kivy.uix.image import Image

from kiosk.circulation.station import KioskState
from kiosk.ui.context import UiContext
from kiosk.ui.screens.base import PatronScreen, spacer, swap
from kiosk.ui.site import Site
from kiosk.ui.widgets import Action, ButtonRow, Text
from kiosk.ui.words import language_name


class IdleScreen(PatronScreen):
    def __init__(self, site: Site, **kwargs: Any) -> None:
        kwargs.setdefault("name", "idle")
        super().__init__(site, **kwargs)
        look = self.look
        if site.logo:
            self.logo = Image(source=site.logo, size_hint_y=None, height=dp(110), fit_mode="contain")
            self.body.add_widget(self.logo)
        self.name_text = Text(look, size="huge", halign="center", bold=True, text=site.name)
        self.prompt = Text(look, size="title", halign="center")
        self.languages = ButtonRow(look)
        self.language_buttons: dict[str, Action] = {}
        self.large_text = Action(look, self.press("large_text"))
        self.high_contrast = Action(look, self.press("high_contrast"))
        self.staff = Action(look, self.press("staff"), kind="quiet", text_role="small", size_hint_x=None,
                            width=dp(140))
        choices = ButtonRow(look)
        for widget in (self.large_text, self.high_contrast, spacer(), self.staff):
            choices.add_widget(widget)
        for widget in (self.name_text, spacer(), self.prompt, spacer(), self.languages, choices):
            self.body.add_widget(widget)

    def update(self, state: KioskState, ui: UiContext) -> None:
        tr = ui.tr
        self.prompt.text = tr.text("Scan your card or place it on the pad")
        current = state.session.language or self.site.language or (state.languages[:1] or ("",))[0]
        buttons = [self._language_button(code) for code in state.languages] if len(state.languages) > 1 else []
        swap(self.languages, buttons)
        self.languages.opacity = 1 if buttons else 0
        for code, button in self.language_buttons.items():
            button.set_kind("selected" if code == current else "secondary")
        tick = "\u2713 "  # ✓
        self.large_text.text = (tick if ui.theme.large_text else "") + tr.text("Large text")
        self.large_text.set_kind("selected" if ui.theme.large_text else "secondary")
        self.high_contrast.text = (tick if ui.theme.high_contrast else "") + tr.text("High contrast")
        self.high_contrast.set_kind("selected" if ui.theme.high_contrast else "secondary")
        self.staff.text = tr.text("Staff")

    def _language_button(self, code: str) -> Action:
        if code not in self.language_buttons:
            self.language_buttons[code] = Action(self.look, self.press("language", code), text=language_name(code))
        return self.language_buttons[code]
