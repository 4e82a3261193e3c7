"""Building blocks of the staff-facing screens (staff mode, the returns bin, the out-of-service sign).

Plain Python widgets rather than kv rules, so a screen's whole look is a function of the state and
the :class:`~kiosk.ui.context.UiContext` it is rendered with, and a test can find a button by the
event it posts (:attr:`EventButton.event`) instead of by its words, which change with the language.

:class:`RenderedScreen` makes ``render`` idempotent and cheap: a screen names the part of the state
it shows (``view``), and its widgets are rebuilt only when that part, the words or the look change.
A device report arriving while staff type a PIN therefore does not wipe the digits typed so far.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from typing import Any

import kivy
from kivy.core.text import LabelBase
from kivy.graphics import Color, Rectangle, RoundedRectangle
from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.layout import Layout
from kivy.uix.screenmanager import Screen as KivyScreen
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk.circulation.events import Event
from kiosk.ui.context import UiContext
from kiosk.ui.theme import MIN_TOUCH_DP, RGBA, Theme

ROLES = ("primary", "secondary", "danger", "success", "quiet")


def _register_font() -> None:
    """The theme names its font "DejaVuSans" (shipped with Kivy): make that name resolve."""
    path = os.path.join(os.path.dirname(kivy.__file__), "data", "fonts", "DejaVuSans.ttf")
    if os.path.isfile(path):
        LabelBase.register(name="DejaVuSans", fn_regular=path)


_register_font()


def paint(widget: Widget, rgba: RGBA, *, radius: float = 0.0) -> None:
    """A solid background that follows the widget (Kivy layouts have none of their own)."""
    with widget.canvas.before:
        Color(*rgba)
        shape = (
            RoundedRectangle(pos=widget.pos, size=widget.size, radius=[dp(radius)])
            if radius
            else Rectangle(pos=widget.pos, size=widget.size)
        )

    def follow(*_: object) -> None:
        shape.pos = widget.pos
        shape.size = widget.size

    widget.bind(pos=follow, size=follow)


class Panel(BoxLayout):
    """A box with a background colour."""

    def __init__(self, rgba: RGBA, *, radius: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        paint(self, rgba, radius=radius)


class Words(Label):
    """Wrapped text in the theme's font. With ``size_hint_y=None`` the label is as tall as its text
    (for lists and columns); otherwise it fills its slot and centres the text vertically."""

    def __init__(self, text: str, theme: Theme, *, size: str = "text", color: RGBA | None = None,
                 bold: bool = False, halign: str = "left", **kwargs: Any) -> None:
        sizes = {"text": theme.text_sp, "small": theme.small_sp, "title": theme.title_sp, "huge": theme.huge_sp}
        super().__init__(
            text=text,
            font_name=theme.font_name,
            font_size=sp(sizes[size]),
            color=color or theme.text,
            bold=bold,
            halign=halign,
            valign="middle",
            **kwargs,
        )
        self.bind(width=self._wrap, height=self._wrap)
        if self.size_hint_y is None:
            self.bind(texture_size=self._fit)
            self._fit()  # empty text never changes texture_size: without this it keeps Kivy's 100 px
        self._wrap()

    def _wrap(self, *_: object) -> None:
        self.text_size = (self.width, None if self.size_hint_y is None else self.height)

    def _fit(self, *_: object) -> None:
        self.height = self.texture_size[1]


class EventButton(Button):
    """A flat button of a theme role. ``event`` is what it posts (None for keys that only change the
    screen itself, such as PIN digits; those carry a ``key``)."""

    def __init__(self, text: str, theme: Theme, on_tap: Callable[[], object], *, role: str = "secondary",
                 event: Event | None = None, key: str = "", height: float | None = None,
                 size: str = "text", **kwargs: Any) -> None:
        background, foreground = _role_colours(theme, role)
        kwargs.setdefault("size_hint_y", None)
        self.theme = theme
        self.role = role
        touch_dp = max(MIN_TOUCH_DP, height if height is not None else theme.button_dp)
        super().__init__(
            text=text,
            font_name=theme.font_name,
            font_size=sp(theme.small_sp if size == "small" else theme.title_sp if size == "title" else theme.text_sp),
            color=foreground,
            disabled_color=(*foreground[:3], 0.55),
            background_normal="",
            background_down="",
            background_disabled_normal="",
            background_disabled_down="",
            background_color=background,
            halign="center",
            valign="middle",
            **kwargs,
        )
        self._least = dp(touch_dp)
        if self.size_hint_y is None:
            self.height = self._least
            self.bind(texture_size=self._fit)  # long words (large text, a long translation) grow it
        self.event = event
        self.key = key
        self._background = background
        self._on_tap = on_tap
        self.bind(size=self._wrap, state=self._shade, disabled=self._shade)
        self._wrap()
        self._shade()

    def on_release(self) -> None:
        self._on_tap()

    def set_role(self, role: str) -> None:
        """Show another role (a toggle switched on or off)."""
        if role != self.role:
            self.role = role
            self._background, self.color = _role_colours(self.theme, role)
            self.disabled_color = (*self.color[:3], 0.55)
            self._shade()

    def _wrap(self, *_: object) -> None:
        self.text_size = (max(0.0, self.width - dp(16)), None)

    def _fit(self, *_: object) -> None:
        self.height = max(self._least, self.texture_size[1] + dp(16))

    def _shade(self, *_: object) -> None:
        r, g, b, a = self._background
        if self.disabled:
            self.background_color = (r, g, b, a * 0.45)
        elif self.state == "down":  # a touch screen's only feedback that the tap landed
            self.background_color = (r * 0.75, g * 0.75, b * 0.75, a)
        else:
            self.background_color = self._background


def _role_colours(theme: Theme, role: str) -> tuple[RGBA, RGBA]:
    return {
        "primary": (theme.primary, theme.on_primary),
        "secondary": (theme.secondary, theme.on_secondary),
        "danger": (theme.error, theme.on_primary),
        "success": (theme.success, theme.on_primary),
        "quiet": (theme.surface, theme.muted),
    }[role]


def status_colour(theme: Theme, state: str) -> RGBA:
    """A device state ("ok", "warning", "failed") as a colour; anything else is shown as muted."""
    return {"ok": theme.success, "warning": theme.attention, "failed": theme.error}.get(state, theme.muted)


def header(theme: Theme, title: str, *right: Widget, badge: str = "") -> BoxLayout:
    """The band across the top of a staff-facing screen: inverted colours, so staff (and patrons)
    see at a glance that this is not a patron screen."""
    band = Panel(theme.text, orientation="horizontal", size_hint_y=None, height=dp(theme.button_dp),
                 padding=(dp(theme.spacing_dp), 0), spacing=dp(theme.spacing_dp))
    if badge:
        band.add_widget(Words(badge, theme, size="small", color=theme.background, size_hint_x=None,
                              width=dp(140)))
    band.add_widget(Words(title, theme, size="title", color=theme.background, bold=True, shorten=True,
                          shorten_from="right"))
    for widget in right:
        widget.size_hint_y = None
        widget.height = dp(max(MIN_TOUCH_DP, theme.button_dp - 16))
        widget.pos_hint = {"center_y": 0.5}
        band.add_widget(widget)
    return band


def spacer(**kwargs: Any) -> Widget:
    return Widget(**kwargs)


def scrolling(column: Layout) -> ScrollView:
    """A vertical list that scrolls when it outgrows its slot (``column`` must have size_hint_y None)."""
    column.bind(minimum_height=column.setter("height"))
    view = ScrollView(do_scroll_x=False, bar_width=dp(8))
    view.add_widget(column)
    return view


def column(theme: Theme, **kwargs: Any) -> BoxLayout:
    """A vertical stack as tall as its children, for use in :func:`scrolling`."""
    kwargs.setdefault("spacing", dp(theme.spacing_dp))
    return BoxLayout(orientation="vertical", size_hint_y=None, **kwargs)


class RenderedScreen(KivyScreen):
    """A screen rebuilt only when what it shows changes.

    Subclasses implement ``view(state)`` (the hashable-or-comparable part of the state they show;
    keep it narrow) and ``build(view, ui)`` (returns the screen's root widget). Buttons post through
    :meth:`send`, which always uses the latest context.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: tuple[object, object, Theme] | None = None
        self._ui: UiContext | None = None

    def render(self, state: Any, ui: UiContext) -> None:
        self._ui = ui  # ``send`` is looked up at each tap: a new one needs no rebuild
        shown = (self.view(state), ui.tr, ui.theme)
        if self._shown is not None and self._shown == shown:
            return
        self._shown = shown
        self.clear_widgets()
        self.add_widget(self.build(shown[0], ui))

    def view(self, state: Any) -> Hashable | object:
        raise NotImplementedError

    def build(self, view: Any, ui: UiContext) -> Widget:
        raise NotImplementedError

    def send(self, event: Event) -> None:
        if self._ui is not None:
            self._ui.send(event)

    def button(self, text: str, event: Event, *, role: str = "secondary", **kwargs: Any) -> EventButton:
        """A button posting ``event``."""
        assert self._ui is not None, "buttons are made while rendering"
        return EventButton(text, self._ui.theme, lambda: self.send(event), role=role, event=event, **kwargs)
