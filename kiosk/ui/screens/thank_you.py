"""Shown for a few seconds after a session ends (the UI's own, ``[ui] thank_you_seconds``); a touch
anywhere goes straight back to the idle screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.circulation.station import KioskState
from kiosk.ui.context import UiContext
from kiosk.ui.screens.base import PatronScreen, spacer
from kiosk.ui.site import Site
from kiosk.ui.widgets import Text


class ThankYouScreen(PatronScreen):
    def __init__(self, site: Site, dismiss: Callable[[], None], **kwargs: Any) -> None:
        kwargs.setdefault("name", "thank_you")
        super().__init__(site, **kwargs)
        self.dismiss = dismiss
        self.title = Text(self.look, size="huge", bold=True, halign="center", tone="success")
        self.detail = Text(self.look, size="title", halign="center")
        for widget in (spacer(), self.title, self.detail, spacer()):
            self.body.add_widget(widget)

    def update(self, state: KioskState, ui: UiContext) -> None:
        self.title.text = ui.tr.text("Thank you!")
        self.detail.text = ui.tr.text("Please take your card and your items. Goodbye!")

    def on_touch_up(self, touch: Any) -> bool:
        if self.collide_point(*touch.pos) and self.manager is not None and self.manager.current == self.name:
            self.dismiss()
            return True
        return super().on_touch_up(touch)
