"""The few widgets every kiosk screen is built from, each styled by the current theme.

A screen owns a :class:`Look` (the theme it renders with now); its widgets are made with that look
and restyle themselves whenever it changes, attached to the screen or not. So a patron who switches
on large text or high contrast sees every widget change at once, including rows and buttons a
screen builds later, and no screen walks its tree to restyle it.

Sizes come from the theme in sp (text) and dp (touch targets); nothing here is below 48 dp.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

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

K = TypeVar("K", bound=Hashable)
W = TypeVar("W")


def _register_fonts() -> None:
    """DejaVuSans ships with Kivy (Latin, Greek, Cyrillic): make it known by its theme name."""
    import kivy

    path = os.path.join(os.path.dirname(kivy.__file__), "data", "fonts", "DejaVuSans.ttf")
    if os.path.isfile(path):
        LabelBase.register(name="DejaVuSans", fn_regular=path)


_register_fonts()

TEXT_SIZES = {"small": "small_sp", "text": "text_sp", "title": "title_sp", "huge": "huge_sp"}


class Look(EventDispatcher):
    """The theme a screen renders with now; widgets follow its changes (:meth:`follow`)."""

    theme = ObjectProperty(STANDARD)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._followers: list[weakref.WeakMethod[Callable[[Look, Theme], Any]]] = []
        self._live_at_prune = 0

    def follow(self, restyle: Callable[[Look, Theme], Any]) -> None:
        """Call ``restyle(look, theme)`` (a widget's method) on every change of theme, for as long
        as its widget lives.

        Not ``bind(theme=...)``: Kivy's ``bind`` compares a new observer with every one bound
        before, and forgets the observers of dead widgets only when the theme changes, which it
        rarely does. A list that builds rows for every patron then makes each new widget slower
        than the last: the items screen's Look held 870 observers, nearly all dead, after five
        10-book sessions, and grows with every session. Here a widget holds a weak reference,
        adding one costs the same however many came and went, and the dead are dropped whenever
        the list has doubled.
        """
        self._followers.append(weakref.WeakMethod(restyle))
        if len(self._followers) > 2 * self._live_at_prune + 64:
            self._prune()

    @property
    def held(self) -> int:
        """Followers held now, dead ones included until the next prune (at most twice the live
        ones plus 64)."""
        return len(self._followers)

    def on_theme(self, _look: Look, theme: Theme) -> None:
        for ref in list(self._followers):  # a restyle may make widgets that follow
            restyle = ref()
            if restyle is not None:
                restyle(self, theme)
        self._prune()

    def _prune(self) -> None:
        self._followers = [ref for ref in self._followers if ref() is not None]
        self._live_at_prune = len(self._followers)


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
        look.follow(self._restyle)
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
        look.follow(self._restyle)
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
        look.follow(self._restyle)

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
        look.follow(self._restyle)
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
    """A scrolling column of rows (items, loans): ``replace`` swaps them all at once, ``show`` moves
    only the rows that are new, gone or out of place (kept rows are not taken off and put back)."""

    def __init__(self, look: Look, **kwargs: Any) -> None:
        super().__init__(do_scroll_x=False, bar_width=dp(8), **kwargs)
        self.look = look
        self.column = GridLayout(cols=1, size_hint_y=None)
        self.column.bind(minimum_height=self.column.setter("height"))
        self.add_widget(self.column)
        look.follow(self._restyle)
        self._restyle(look, look.theme)

    def replace(self, rows: list[Any]) -> None:
        self.column.clear_widgets()
        for row in rows:
            self.column.add_widget(row)

    def show(self, rows: list[Any]) -> None:
        """Make ``rows`` the column's rows, top to bottom, touching only what differs."""
        column = self.column
        if list(reversed(column.children)) == rows:
            return
        wanted = {id(row) for row in rows}
        for child in list(column.children):
            if id(child) not in wanted:
                column.remove_widget(child)
        for position, row in enumerate(rows):
            shown = column.children  # bottom row first: position p is children[-1 - p]
            if position < len(shown) and shown[-1 - position] is row:
                continue
            if row.parent is column:
                column.remove_widget(row)
            column.add_widget(row, index=len(column.children) - position)

    def _restyle(self, _look: Look, theme: Theme) -> None:
        self.column.spacing = dp(theme.spacing_dp)
        self.column.padding = (0, 0, self.bar_width + dp(theme.spacing_dp / 2), 0)  # the bar never covers a button
        self.bar_color = theme.muted


class Reuse(Generic[K, W]):
    """Widgets made from keys, kept for as long as their key is still wanted.

    A screen's list redraws on every state change, and most changes touch one row (an ILS answer
    for one of ten books); building a row's widgets costs milliseconds of Python, so the rows whose
    key (everything the row shows) did not change keep their widgets and only new or changed keys
    are built. Equal keys may repeat: each is matched to one kept widget, in order.
    """

    def __init__(self) -> None:
        self._kept: list[tuple[K, W]] = []

    def widgets(self, keys: Sequence[K], build: Callable[[K], W]) -> list[W]:
        """One widget per key, in the keys' order: the kept one where the key was wanted last time,
        else ``build(key)``. Widgets whose key is no longer wanted are let go."""
        pool: dict[K, list[W]] = {}
        for key, widget in self._kept:
            pool.setdefault(key, []).append(widget)
        made: list[tuple[K, W]] = []
        for key in keys:
            spare = pool.get(key)
            made.append((key, spare.pop(0) if spare else build(key)))
        self._kept = made
        return [widget for _key, widget in made]
