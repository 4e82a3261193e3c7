"""The items on the pad (or scanned) in this session, one live row each.

Each row shows the item's title, a colour and symbol for where it stands, the due date, and what
the core says about it (its ``message``, translated; a missing part of a set as its ``note``). A row
offering a renewal has "renew" / "no" buttons, a row that could not reach the library system a
"try again" button. Nothing here decides anything: the buttons post events, the rows come back
changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout

from kiosk.circulation.events import Pressed
from kiosk.circulation.rows import Row, RowKind, RowState
from kiosk.circulation.session import Mode
from kiosk.circulation.station import KioskState
from kiosk.ui.context import Translator, UiContext
from kiosk.ui.navigation import View
from kiosk.ui.screens.base import PatronScreen, swap
from kiosk.ui.site import Site
from kiosk.ui.theme import Theme
from kiosk.ui.widgets import Action, ButtonRow, Look, Panel, Reuse, Rows, Text, fit_height

# (theme colour, symbol) per row state; symbols are in DejaVuSans.
LOOK_OF_STATE: dict[RowState, tuple[str, str]] = {
    RowState.WAITING: ("attention", "\u2026"),  # …
    RowState.OFFERED: ("attention", "?"),
    RowState.ASKING: ("muted", "\u2026"),
    RowState.SECURING: ("muted", "\u2026"),
    RowState.PUT_BACK: ("attention", "!"),
    RowState.DONE: ("success", "\u2713"),  # ✓
    RowState.UNTAGGED: ("attention", "\u2713"),
    RowState.DECLINED: ("muted", "\u2013"),  # –
    RowState.REFUSED: ("error", "\u2717"),  # ✗
    RowState.UNREACHABLE: ("error", "!"),
    RowState.NEEDS_STAFF: ("error", "!"),
}


class ItemRow(Panel):
    """One item: stripe and symbol in the state's colour, title, message, note, due date, buttons."""

    def __init__(self, look: Look, row: Row, tr: Translator, send: Callable[[Pressed], None]) -> None:
        super().__init__(look, fill="surface", orientation="horizontal", size_hint_y=None)
        self.row = row
        tone, symbol = LOOK_OF_STATE[row.state]
        self.add_widget(Panel(look, fill=tone, size_hint_x=None, width=dp(10)))
        self.symbol = Text(look, size="title", tone=tone, halign="center", bold=True, text=symbol,
                           size_hint_x=None, width=dp(44), pos_hint={"center_y": 0.5})
        self.add_widget(self.symbol)
        words = BoxLayout(orientation="vertical", pos_hint={"center_y": 0.5})
        fit_height(words)
        self.title = Text(look, bold=True, text=row.label)
        self.message = Text(look, size="small", tone=tone if tone != "muted" else "text", text=tr.message(row.message))
        words.add_widget(self.title)
        words.add_widget(self.message)
        if row.note is not None:
            words.add_widget(Text(look, size="small", tone="attention", text=tr.message(row.note)))
        self.add_widget(words)
        self.due = Text(look, halign="right", size_hint_x=None, width=dp(250), pos_hint={"center_y": 0.5})
        if row.due and row.kind is RowKind.BORROW and row.state is not RowState.REFUSED:
            self.due.text = tr.text("Due {date}", date=tr.due(row.due))
        else:
            self.due.width = 0  # no date: the words get the room
        self.add_widget(self.due)
        self.buttons: dict[str, Action] = {}
        if row.state is RowState.OFFERED:
            self._button(look, "renew_offered", tr.text("Renew"), send, kind="primary")
            self._button(look, "renew_declined", tr.text("No, thanks"), send)
        elif row.state is RowState.UNREACHABLE:
            self._button(look, "retry", tr.text("Try again"), send, kind="primary")
        self._parts = words
        words.bind(height=self._fit)
        self.due.bind(height=self._fit)
        look.follow(self._space)
        self._space(look, look.theme)

    def _button(self, look: Look, action: str, text: str, send: Callable[[Pressed], None],
                kind: str = "secondary") -> None:
        button = Action(look, lambda: send(Pressed(action, self.row.item_id)), kind=kind, text=text,
                        size_hint_x=None, width=dp(170), pos_hint={"center_y": 0.5})
        self.buttons[action] = button
        self.add_widget(button)

    def _space(self, _look: Look, theme: Theme) -> None:
        self.padding = (0, dp(theme.spacing_dp / 2), dp(theme.spacing_dp), dp(theme.spacing_dp / 2))
        self.spacing = dp(theme.spacing_dp)
        self._fit()

    def _fit(self, *_: Any) -> None:
        theme = self.look.theme
        tallest = max([self._parts.height, self.due.height, *(b.height for b in self.buttons.values())])
        self.height = max(dp(theme.row_dp), tallest + dp(theme.spacing_dp))


class ItemsScreen(PatronScreen):
    def __init__(self, site: Site, navigate: Callable[[View], None], **kwargs: Any) -> None:
        kwargs.setdefault("name", "items")
        super().__init__(site, **kwargs)
        look = self.look
        self.navigate = navigate
        self.mode = Mode.BORROW
        self.title = Text(look, size="title", bold=True)
        self.hint = Text(look, tone="muted")
        self.put_back = Text(look, size="title", tone="attention", bold=True)
        self.rows = Rows(look)
        self.row_widgets: list[ItemRow] = []
        # A row's widget is kept while its row and the language stay the same (the theme restyles
        # kept widgets through the Look): each ILS answer rebuilds one row, not the whole list.
        self._reuse: Reuse[tuple[Row, str], ItemRow] = Reuse()
        self.account = Action(look, lambda: self.navigate(View.HOME))
        self.switch = Action(look, self._switch)
        self.finish = Action(look, self.press("finish"), kind="primary")
        self.actions = ButtonRow(look)
        self.header = BoxLayout(orientation="vertical")
        fit_height(self.header)
        for widget in (self.header, self.rows, self.actions):
            self.body.add_widget(widget)

    def _switch(self) -> None:
        self.send(Pressed("return" if self.mode is Mode.BORROW else "borrow"))

    def update(self, state: KioskState, ui: UiContext) -> None:
        tr = ui.tr
        session = state.session
        self.mode = session.mode
        kind = RowKind.BORROW if session.mode is Mode.BORROW else RowKind.RETURN
        rows = [r for r in session.rows if r.kind is kind]
        if session.mode is Mode.BORROW:
            self.title.text = tr.text("Borrowing")
            self.hint.text = tr.text("Place your items on the pad, or scan their barcodes")
            self.switch.text = tr.text("Return items instead")
        else:
            self.title.text = tr.text("Returning")
            self.hint.text = tr.text("Place the items you are returning on the pad, or scan their barcodes")
            self.switch.text = tr.text("Borrow items instead")
        put_back = any(r.state is RowState.PUT_BACK for r in rows)
        self.put_back.text = tr.text("Put the item back on the pad") if put_back else ""
        swap(self.header, [self.title, self.hint, *([self.put_back] if put_back else [])])
        self.row_widgets = self._reuse.widgets([(row, tr.language) for row in rows],
                                               lambda key: ItemRow(self.look, key[0], tr, self.send))
        self.rows.show(self.row_widgets)
        self.account.text = tr.text("My account")
        self.finish.text = tr.text("Finish")
        swap(self.actions, [self.account, *([self.switch] if self.site.checkin_enabled else []), self.finish])
