"""The returns station's screens: the public face of the bin, and the bins panel staff work with.

An unattended returns bin has no patron session: its public screen is the sign on the slot (open,
or closed and why), how full each bin is and how many items wait for staff. It has no button that
clears anything: the station takes the bin's actions only from staff who are logged in (a passer-by
must not clear what staff must see), so those buttons live on the staff menu, which shows
:func:`bins_panel` with ``staff=True`` for a returns station: the same tiles with "Bin emptied",
the exceptions themselves with "Exceptions cleared", and the sorter's fault with "Fault cleared".
Whether a bin is full and whether the slot is open is decided by the returns machine
(``full_bins``, ``sign``); these screens show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.circulation.events import Pressed
from kiosk.circulation.returns import ReturnException, ReturnsState
from kiosk.circulation.station import ReturnsStationState
from kiosk.ui.context import Translator, UiContext
from kiosk.ui.screens.blocks import Panel, RenderedScreen, Words, column, header, scrolling, spacer
from kiosk.ui.theme import Theme


@dataclass(frozen=True, slots=True)
class BinsView:
    """The part of the returns state the bins panel shows: a screen rebuilds only when it changes."""

    sign: tuple[str, dict[str, str]]
    bins: tuple[tuple[str, int], ...]  # every bin with its count
    full_bins: tuple[str, ...]
    sensor_full: tuple[str, ...]
    exceptions: tuple[ReturnException, ...]
    fault: str

    @classmethod
    def of(cls, returns: ReturnsState) -> BinsView:
        return cls(returns.sign, _bins(returns), returns.full_bins, returns.sensor_full, returns.exceptions,
                   returns.fault)


class ReturnsBinScreen(RenderedScreen):
    """The public face: the slot's sign, the bins, the exceptions count and the way into staff mode."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "returns_bin")
        super().__init__(**kwargs)

    def view(self, state: ReturnsStationState) -> object:
        r = state.returns
        return BinsView.of(r), len(r.in_flight), r.routed_total, state.offline_notice

    def build(self, view: Any, ui: UiContext) -> Widget:
        bins, in_flight, routed, offline_notice = view
        theme, tr = ui.theme, ui.tr
        root = Panel(theme.background, orientation="vertical", spacing=dp(theme.spacing_dp))
        staff = self.button(tr.text("Staff"), Pressed("staff"), role="quiet", size="small",
                            size_hint_x=None, width=dp(140), height=theme.button_dp - 16)
        figures = BoxLayout(orientation="vertical", size_hint_x=None, width=dp(20 * theme.small_sp))
        figures.add_widget(Words(tr.text("Items on their way to a bin: {count}", count=in_flight), theme,
                                 size="small", color=theme.background))
        figures.add_widget(Words(tr.text("Sorted since start: {count}", count=routed), theme, size="small",
                                 color=theme.background))
        root.add_widget(header(theme, tr.text("Returns"), figures, staff))
        content = BoxLayout(orientation="vertical", spacing=dp(theme.spacing_dp),
                            padding=(dp(theme.spacing_dp), 0, dp(theme.spacing_dp), dp(theme.spacing_dp)))
        content.add_widget(slot_sign(theme, tr, bins.sign, height=80))
        if offline_notice is not None:
            banner = Panel(theme.banner, size_hint_y=None, height=dp(48), padding=(dp(theme.spacing_dp), 0))
            banner.add_widget(Words(tr.message(offline_notice), theme, size="small", color=theme.on_banner,
                                    bold=True))
            content.add_widget(banner)
        content.add_widget(bins_panel(self, ui, bins, staff=False))
        root.add_widget(content)
        return root


def slot_sign(theme: Theme, tr: Translator, sign: tuple[str, dict[str, str]], *, height: float) -> Widget:
    """The slot's sign: green while it takes items, red with the reason while closed. At least
    ``height`` dp (in title words from 80), taller when the reason wraps (large text, many bins)."""
    is_open = sign[0] == "returns.open"
    least = dp(height)
    board = Panel(theme.success if is_open else theme.error, radius=8, size_hint_y=None, height=least,
                  padding=(dp(theme.spacing_dp), dp(4)))
    board.add_widget(Words(tr.message_id(sign[0], **sign[1]), theme, size="title" if height >= 80 else "text",
                           bold=True, color=theme.on_primary, halign="center", size_hint_y=None,
                           pos_hint={"center_y": 0.5}))
    board.bind(minimum_height=lambda _board, needed: setattr(board, "height", max(least, needed)))
    return board


def bins_panel(screen: RenderedScreen, ui: UiContext, view: BinsView, *, staff: bool) -> Widget:
    """A tile per bin beside what waits for staff. ``staff``: with the buttons that tell the machine
    staff dealt with it, and the exceptions themselves (titles patrons returned are not shown to
    the next passer-by); without, the counts only."""
    theme, tr = ui.theme, ui.tr
    body = BoxLayout(orientation="horizontal", spacing=dp(theme.spacing_dp if staff else 2 * theme.spacing_dp))
    # Beside the menu, large words need a bin's whole column.
    tiles = GridLayout(cols=1 if staff and theme.large_text else 2, spacing=dp(theme.spacing_dp), size_hint_y=None)
    tiles.bind(minimum_height=tiles.setter("height"))
    for name, count in view.bins:
        tiles.add_widget(_tile(screen, theme, tr, name, count, name in view.full_bins, name in view.sensor_full,
                               staff=staff))
    left = scrolling(tiles)
    left.size_hint_x = 0.58 if staff else 0.7
    body.add_widget(left)
    side = BoxLayout(orientation="vertical", spacing=dp(theme.spacing_dp), size_hint_x=1 - left.size_hint_x)
    if staff and view.fault:
        alarm = Panel(theme.error, radius=8, orientation="vertical", size_hint_y=None,
                      height=dp(theme.button_dp + 80), padding=dp(theme.spacing_dp / 2), spacing=dp(4))
        alarm.add_widget(Words(tr.text("Sorter fault: {detail}", detail=view.fault), theme, bold=True,
                               color=theme.on_primary))
        alarm.add_widget(screen.button(tr.text("Fault cleared"), Pressed("fault_cleared"), size="small"))
        side.add_widget(alarm)
    exceptions = view.exceptions
    side.add_widget(Words(tr.text("For staff: {count}", count=len(exceptions)), theme, bold=True,
                          color=theme.attention if exceptions else theme.text, size_hint_y=None))
    if staff:
        rows = column(theme, spacing=dp(6))
        for exception in exceptions:
            rows.add_widget(_exception_row(theme, tr, exception))
        side.add_widget(scrolling(rows))
        clear = screen.button(tr.text("Exceptions cleared"), Pressed("exceptions_cleared"), size="small")
        clear.disabled = not exceptions
        side.add_widget(clear)
    else:
        side.add_widget(spacer())
    body.add_widget(side)
    return body


def _tile(screen: RenderedScreen, theme: Theme, tr: Translator, name: str, count: int, full: bool, sensor: bool,
          *, staff: bool) -> Widget:
    """A bin: its name, FULL and why, its count; for staff the button saying it was emptied. As
    tall as its words (the theme's sizes), so large text is not cut off."""
    tile = Panel(theme.surface, radius=8, orientation="vertical", size_hint_y=None,
                 padding=dp(theme.spacing_dp / 2), spacing=dp(4))
    tile.bind(minimum_height=tile.setter("height"))
    top = BoxLayout(orientation="horizontal", size_hint_y=None, height=dp(1.7 * theme.text_sp), spacing=dp(8))
    top.add_widget(Words(name, theme, bold=True, shorten=True))
    if full:
        badge = Panel(theme.error, radius=4, size_hint_x=None, width=dp(3.5 * theme.small_sp))
        badge.add_widget(Words(tr.text("FULL"), theme, size="small", bold=True, color=theme.on_primary,
                               halign="center"))
        top.add_widget(badge)
    tile.add_widget(top)
    tile.add_widget(Words(tr.text("Items: {count}", count=count), theme, size="title", shorten=True,
                          color=theme.error if full else theme.text, size_hint_y=None,
                          height=dp(1.3 * theme.title_sp)))
    why = ""
    if full:
        why = tr.text("its sensor says full") if sensor else tr.text("capacity reached")
    line = BoxLayout(size_hint_y=None, height=dp(1.35 * theme.small_sp))  # kept when there is no why
    line.add_widget(Words(why, theme, size="small", color=theme.muted, shorten=True))
    tile.add_widget(line)
    if staff:
        tile.add_widget(screen.button(tr.text("Bin emptied"), Pressed("bin_emptied", name),
                                      role="primary" if full else "secondary", size="small"))
    tile.bin = name  # for tests and debugging: which bin this tile shows
    return tile


def _bins(returns: ReturnsState) -> tuple[tuple[str, int], ...]:
    """Every bin with its count: the machine's bins, then any bin only a sensor has named."""
    known = {name for name, _ in returns.counts}
    return (*returns.counts, *((name, 0) for name in returns.sensor_full if name not in known))


def _exception_row(theme: Theme, tr: Translator, exception: ReturnException) -> Widget:
    row = Panel(theme.surface, radius=6, orientation="vertical", size_hint_y=None, padding=dp(8), spacing=dp(2))
    row.bind(minimum_height=row.setter("height"))
    item = exception.title or exception.item_id or tr.text("An item without a readable tag")
    if exception.title and exception.item_id:
        item = tr.text("{title} ({item_id})", title=exception.title, item_id=exception.item_id)
    row.add_widget(Words(item, theme, size="small", bold=True, size_hint_y=None))
    row.add_widget(Words(tr.message_id(exception.reason), theme, size="small", color=theme.attention,
                         size_hint_y=None))
    if exception.detail:  # the ILS's or the device's own words, untranslated
        row.add_widget(Words(exception.detail, theme, size="small", color=theme.muted, size_hint_y=None))
    if exception.bin:
        row.add_widget(Words(tr.text("In bin {bin}", bin=exception.bin), theme, size="small", color=theme.muted,
                             size_hint_y=None))
    row.exception = exception  # for tests and debugging
    return row
