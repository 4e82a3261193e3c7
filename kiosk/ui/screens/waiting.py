"""The screens that only say "one moment": looking up the card, finishing, sending the receipt.

Nothing can be touched here: the kiosk waits for the ILS, a tag write or the printer, and the
session's machine moves on by itself (or times out) when the answer comes.
"""

from __future__ import annotations

from typing import Any

from kiosk.circulation.station import KioskState
from kiosk.ui.context import Translator, UiContext
from kiosk.ui.screens.base import PatronScreen, spacer
from kiosk.ui.site import Site
from kiosk.ui.widgets import Text


class WaitingScreen(PatronScreen):
    """A title and a line below it; subclasses say which."""

    def __init__(self, site: Site, **kwargs: Any) -> None:
        super().__init__(site, **kwargs)
        self.title = Text(self.look, size="huge", halign="center", bold=True)
        self.detail = Text(self.look, size="title", halign="center", tone="muted")
        for widget in (spacer(), self.title, self.detail, spacer()):
            self.body.add_widget(widget)

    def update(self, state: KioskState, ui: UiContext) -> None:
        self.title.text, self.detail.text = self.words(state, ui.tr)

    def words(self, state: KioskState, tr: Translator) -> tuple[str, str]:
        raise NotImplementedError


class LookingUpScreen(WaitingScreen):
    def __init__(self, site: Site, **kwargs: Any) -> None:
        kwargs.setdefault("name", "looking_up")
        super().__init__(site, **kwargs)

    def words(self, state: KioskState, tr: Translator) -> tuple[str, str]:
        return tr.text("One moment…"), tr.text("Checking your card")


class FinishingScreen(WaitingScreen):
    def __init__(self, site: Site, **kwargs: Any) -> None:
        kwargs.setdefault("name", "finishing")
        super().__init__(site, **kwargs)

    def words(self, state: KioskState, tr: Translator) -> tuple[str, str]:
        return tr.text("Finishing…"), tr.text("Please leave your items on the pad for a moment")


class SendingReceiptScreen(WaitingScreen):
    def __init__(self, site: Site, **kwargs: Any) -> None:
        kwargs.setdefault("name", "sending_receipt")
        super().__init__(site, **kwargs)

    def words(self, state: KioskState, tr: Translator) -> tuple[str, str]:
        if state.session.receipt_kind == "email":
            return tr.text("Sending your receipt…"), tr.text("It goes to the e-mail address the library has for you")
        return tr.text("Printing your receipt…"), tr.text("Please take it from the printer")
