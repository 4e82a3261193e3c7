"""The few widgets every kiosk screen is built from, each styled by the current theme.

A screen owns a :class:`Look` (the theme it renders with now); its widgets are made with that look
and restyle themselves whenever it changes, attached to the screen or not. So a patron who switches
on large text or high contrast sees every widget change at once, including rows and buttons a
screen builds later, and no screen walks its tree to restyle it.

Sizes come from the theme in sp (text) and dp (touch targets); nothing here is below 48 dp.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from kivy.core.text import LabelBase
from kivy.event import EventDispatcher
from kivy.graphics import Color, Rectangle
from kivy.metrics import dp, sp
from kivy.properties import ObjectProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView

from kiosk.ui.theme import MIN_TOUCH_DP, STANDARD, Theme


def _register_fonts() -> None:
    """DejaVuSans ships with Kivy (Latin, Greek, Cyrillic): make it known by its theme name."""
    import kivy

    path = os.path.join(os.path.dirname(kivy.__file__), "data", "fonts", "DejaVuSans.ttf")
    if os.path.isfile(path):
        LabelBase.register(name="DejaVuSans", fn_regular=path)


_register_fonts()

TEXT_SIZES = {"small": "small_sp", "text": "text_sp", "title": "title_sp", "huge": "huge_sp"}


class Look(EventDispatcher):
    """The theme a screen renders with now; widgets follow its changes."""

    theme = ObjectProperty(STANDARD)


def colour(theme: Theme, role: str) -> tuple[float, float, float, float]:
    return getattr(theme, role)


class Text(Label):
    """Wrapped text at a theme size (``size``: small, text, title, huge) and colour (``tone``: a
    theme colour name). Its height follows its text, so it sits in a vertical box as a paragraph."""

    def __init__(self, look: Look, *, size: str = "text", tone: str = "text", halign: str = "left",
                 bold: bool = False, **kwargs: Any) -> None:
        super().__init__(size_hint_y=None, halign=halign, valign="middle", bold=bold, **kwargs)
        self.look = look
        self.size_role = size
        self.tone = tone
        self.bind(width=self._wrap, texture_size=self._fit)
        look.bind(theme=self._restyle)
        self._restyle(look, look.theme)
        self._wrap()  # a width given as an argument was set before the binding

    def set_tone(self, tone: str) -> None:
        self.tone = tone
        self.color = colour(self.look.theme, tone)

    def _restyle(self, _look: Look, theme: Theme) -> None:
        self.font_name = theme.font_name
        self.font_size = sp(getattr(theme, TEXT_SIZES[self.size_role]))
        self.color = colour(theme, self.tone)

    def _wrap(self, *_: Any) -> None:
        self.text_size = (self.width, None)

    def _fit(self, *_: Any) -> None:
        self.height = self.texture_size[1]


class Action(Button):
    """A touch target: at least the theme's button height (never below 48 dp), text wrapped inside.

    ``kind``: "primary" (the main thing to do on a screen), "secondary", "quiet" (discreet, e.g.
    staff) or "selected" (a toggle or language that is on). ``on_tap`` runs on release inside it.
    """

    def __init__(self, look: Look, on_tap: Callable[[], Any], *, kind: str = "secondary",
                 height_role: str = "button_dp", text_role: str = "text", **kwargs: Any) -> None:
        super().__init__(background_normal="", background_down="", halign="center", valign="middle",
                         size_hint_y=None, **kwargs)
        self.look = look
        self.kind = kind
        self.height_role = height_role
        self.text_role = text_role
        self.on_tap = on_tap
        self.bind(width=self._wrap, texture_size=self._fit, state=self._pressed)
        look.bind(theme=self._restyle)
        self._restyle(look, look.theme)
        self._wrap()  # a width given as an argument was set before the binding

    def on_release(self) -> None:
        self.on_tap()

    def set_kind(self, kind: str) -> None:
        if kind != self.kind:
            self.kind = kind
            self._restyle(self.look, self.look.theme)

    def _colours(self, theme: Theme) -> tuple[tuple[float, ...], tuple[float, ...]]:
        match self.kind:
            case "primary" | "selected":
                return theme.primary, theme.on_primary
            case "quiet":
                return theme.background, theme.muted
        return theme.secondary, theme.on_secondary

    def _restyle(self, _look: Look, theme: Theme) -> None:
        background, text = self._colours(theme)
        self.background_color = background
        self.color = text
        self.font_name = theme.font_name
        self.font_size = sp(getattr(theme, TEXT_SIZES[self.text_role]))
        self.bold = self.kind in ("primary", "selected")
        self._fit()

    def _pressed(self, *_: Any) -> None:
        background, _text = self._colours(self.look.theme)
        if self.state == "down":
            background = (*(c * 0.75 for c in background[:3]), background[3])
        self.background_color = background

    def _wrap(self, *_: Any) -> None:
        self.text_size = (max(self.width - dp(16), 1), None)

    def _fit(self, *_: Any) -> None:
        least = dp(max(getattr(self.look.theme, self.height_role), MIN_TOUCH_DP))
        self.height = max(least, self.texture_size[1] + dp(16))


class Panel(BoxLayout):
    """A box painted in a theme colour (``fill``): screens, cards, rows, banners."""

    def __init__(self, look: Look, *, fill: str = "background", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.look = look
        self.fill = fill
        with self.canvas.before:
            self._paint = Color(*colour(look.theme, fill))
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._place, size=self._place)
        look.bind(theme=self._restyle)

    def set_fill(self, fill: str) -> None:
        self.fill = fill
        self._paint.rgba = colour(self.look.theme, fill)

    def _restyle(self, _look: Look, theme: Theme) -> None:
        self._paint.rgba = colour(theme, self.fill)

    def _place(self, *_: Any) -> None:
        self._rect.pos = self.pos
        self._rect.size = self.size


def fit_height(box: BoxLayout) -> None:
    """A vertical box as tall as its children (for boxes inside scrolling lists and cards)."""
    box.size_hint_y = None
    box.bind(minimum_height=box.setter("height"))


class ButtonRow(BoxLayout):
    """Buttons side by side, the row as tall as its tallest (a long word wraps, the row grows)."""

    def __init__(self, look: Look, **kwargs: Any) -> None:
        super().__init__(orientation="horizontal", size_hint_y=None, **kwargs)
        self.look = look
        look.bind(theme=self._restyle)
        self._restyle(look, look.theme)

    def add_widget(self, widget: Any, *args: Any, **kwargs: Any) -> None:
        super().add_widget(widget, *args, **kwargs)
        widget.bind(height=self._fit)
        self._fit()

    def remove_widget(self, widget: Any, *args: Any, **kwargs: Any) -> None:
        super().remove_widget(widget, *args, **kwargs)
        widget.unbind(height=self._fit)
        self._fit()

    def _fit(self, *_: Any) -> None:
        least = dp(max(self.look.theme.button_dp, MIN_TOUCH_DP))
        self.height = max([least, *(c.height for c in self.children if c.size_hint_y is None)])

    def _restyle(self, _look: Look, theme: Theme) -> None:
        self.spacing = dp(theme.spacing_dp)
        self._fit()


class Rows(ScrollView):
    """A scrolling column of rows (items, loans); ``replace`` swaps them all at once."""

    def __init__(self, look: Look, **kwargs: Any) -> None:
        super().__init__(do_scroll_x=False, bar_width=dp(8), **kwargs)
        self.look = look
        self.column = GridLayout(cols=1, size_hint_y=None)
        self.column.bind(minimum_height=self.column.setter("height"))
        self.add_widget(self.column)
        look.bind(theme=self._restyle)
        self._restyle(look, look.theme)

    def replace(self, rows: list[Any]) -> None:
        self.column.clear_widgets()
        for row in rows:
            self.column.add_widget(row)

    def _restyle(self, _look: Look, theme: Theme) -> None:
        self.column.spacing = dp(theme.spacing_dp)
        self.column.padding = (0, 0, self.bar_width + dp(theme.spacing_dp / 2), 0)  # the bar never covers a button
        self.bar_color = theme.muted
