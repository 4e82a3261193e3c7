"""What the app shows around and over the patron screens: the offline banner, the session's notice,
and the "need more time?" prompt.

They belong to no single screen: the banner shows on every patron screen while the library system
is offline, the notice (a gate alarm, a printer gone, "finish this session first") wherever the
patron is, and the prompt over whatever screen timed out. The app decides when; these only draw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.graphics import Color, Rectangle
from kivy.metrics import dp
from kivy.uix.anchorlayout import AnchorLayout
from kivy.uix.boxlayout import BoxLayout

from kiosk.circulation.rows import Message
from kiosk.ui.context import Translator
from kiosk.ui.theme import Theme
from kiosk.ui.widgets import Action, Look, Panel, Text, fit_height


class Bar(Panel):
    """A full-width band of one line or two, as tall as its text."""

    def __init__(self, look: Look, *, fill: str, tone: str) -> None:
        super().__init__(look, fill=fill, orientation="vertical")
        fit_height(self)
        self.words = Text(look, tone=tone, halign="center", bold=True)
        self.add_widget(self.words)
        look.bind(theme=self._space)
        self._space(look, look.theme)

    def _space(self, _look: Look, theme: Theme) -> None:
        self.padding = (dp(theme.spacing_dp * 2), dp(theme.spacing_dp))


class OfflineBanner(Bar):
    def __init__(self, look: Look) -> None:
        super().__init__(look, fill="banner", tone="on_banner")

    def update(self, tr: Translator, notice: Message | None) -> None:
        """``notice``: the station's words for what its offline policy allows."""
        self.words.text = tr.message(notice) if notice is not None else tr.text("The library system is offline.")


class NoticeBar(Bar):
    def __init__(self, look: Look) -> None:
        super().__init__(look, fill="attention", tone="on_primary")

    def update(self, text: str) -> None:
        self.words.text = text


class MoreTimeOverlay(AnchorLayout):
    """Covers the screen (touches below it are blocked) with the question, a countdown and one big
    button that answers it."""

    def __init__(self, look: Look, on_more_time: Callable[[], None]) -> None:
        super().__init__(anchor_x="center", anchor_y="center")
        self.look = look
        with self.canvas.before:
            self._veil = Color(0, 0, 0, 0.6)
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._place, size=self._place)
        self.card = Panel(look, fill="surface", orientation="vertical", size_hint=(0.7, None))
        fit_height(self.card)
        self.title = Text(look, size="huge", bold=True, halign="center")
        self.countdown = Text(look, size="title", halign="center")
        self.button = Action(look, on_more_time, kind="primary", text_role="title")
        buttons = BoxLayout(orientation="vertical")
        fit_height(buttons)
        buttons.add_widget(self.button)
        for widget in (self.title, self.countdown, buttons):
            self.card.add_widget(widget)
        self.add_widget(self.card)
        look.bind(theme=self._space)
        self._space(look, look.theme)

    def update(self, tr: Translator, seconds_left: int) -> None:
        self.title.text = tr.text("Need more time?")
        self.countdown.text = tr.text("Your session ends in {seconds} seconds", seconds=seconds_left)
        self.button.text = tr.text("Yes, more time")

    def on_touch_down(self, touch: Any) -> bool:
        super().on_touch_down(touch)
        return True  # nothing under the prompt may be touched

    def on_touch_move(self, touch: Any) -> bool:
        super().on_touch_move(touch)
        return True

    def on_touch_up(self, touch: Any) -> bool:
        super().on_touch_up(touch)
        return True

    def _space(self, _look: Look, theme: Theme) -> None:
        self.card.padding = dp(theme.spacing_dp * 2)
        self.card.spacing = dp(theme.spacing_dp * 2)

    def _place(self, *_: Any) -> None:
        self._rect.pos = self.pos
        self._rect.size = self.size
