"""Identification refused: the reason (the core's notice, in the ILS's words where it gave some)
and OK. A card presented here starts again; the machine also returns to idle on its own."""

from __future__ import annotations

from typing import Any

from kiosk.circulation.station import KioskState
from kiosk.ui.context import UiContext
from kiosk.ui.screens.base import PatronScreen, spacer
from kiosk.ui.site import Site
from kiosk.ui.widgets import Action, Text


class RefusedScreen(PatronScreen):
    shows_notice = True

    def __init__(self, site: Site, **kwargs: Any) -> None:
        kwargs.setdefault("name", "refused")
        super().__init__(site, **kwargs)
        self.title = Text(self.look, size="title", bold=True, halign="center", tone="error")
        self.reason = Text(self.look, size="title", halign="center")
        self.ok = Action(self.look, self.press("ok"), kind="primary")
        for widget in (spacer(), self.title, self.reason, spacer(), self.ok):
            self.body.add_widget(widget)

    def update(self, state: KioskState, ui: UiContext) -> None:
        notice = state.session.notice
        self.title.text = ui.tr.text("Sorry, this did not work")
        self.reason.text = ui.tr.message(notice) if notice is not None else ""
        self.ok.text = ui.tr.text("OK")
