"""What every patron screen shares: a themed body, the latest UiContext, and posting events.

A patron screen builds its widgets once and updates their words and visibility in ``update``; the
look follows the context's theme by itself (:class:`kiosk.ui.widgets.Look`). So ``render`` is cheap,
can run on every state change, and keeps what only the screen holds (the PIN digits typed so far).
"""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk.circulation.events import Event, Pressed
from kiosk.circulation.station import KioskState
from kiosk.ui.context import UiContext
from kiosk.ui.site import Site
from kiosk.ui.theme import Theme
from kiosk.ui.widgets import Look, Panel


class PatronScreen(Screen):
    """Subclasses build into ``self.body`` (a vertical themed box) and implement :meth:`update`."""

    shows_notice = False  # True: the screen shows the session's notice itself (the app's bar stays away)

    def __init__(self, site: Site, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.site = site
        self.look = Look()
        self.ui: UiContext | None = None
        self.body = Panel(self.look, orientation="vertical")
        self.add_widget(self.body)
        self.look.bind(theme=self._space)
        self._space(self.look, self.look.theme)

    def render(self, state: KioskState, ui: UiContext) -> None:
        self.ui = ui
        self.look.theme = ui.theme
        self.update(state, ui)

    def update(self, state: KioskState, ui: UiContext) -> None:
        raise NotImplementedError

    def send(self, event: Event) -> None:
        if self.ui is not None:
            self.ui.send(event)

    def press(self, action: str, arg: str = "") -> Any:
        """A tap handler that posts ``Pressed(action, arg)``."""
        return lambda: self.send(Pressed(action, arg))

    def _space(self, _look: Look, theme: Theme) -> None:
        self.body.padding = dp(2 * theme.spacing_dp)
        self.body.spacing = dp(theme.spacing_dp)


def spacer() -> Widget:
    """Takes the room left in a box (pushes what follows to the end)."""
    return Widget()


def swap(box: Widget, widgets: list[Widget]) -> None:
    """Make ``widgets`` the box's children, in order, touching it only when they differ (so a
    render that changes nothing does not re-layout the screen)."""
    if list(reversed(box.children)) == widgets:
        return
    box.clear_widgets()
    for widget in widgets:
        box.add_widget(widget)
