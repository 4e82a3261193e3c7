"""The patron's account once identified: who, how many loans, holds ready, fines — and what to do.

"Borrow" and "return" set the core's mode (``Pressed("borrow" / "return")``) and open the items
list; "return" shows only where this kiosk takes returns. "My loans" only opens the loans list
(presentation, no event). Finishing is always one tap away.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.uix.boxlayout import BoxLayout

from kiosk.circulation.events import Pressed
from kiosk.circulation.session import Mode
from kiosk.circulation.station import KioskState
from kiosk.ui.context import UiContext
from kiosk.ui.navigation import View
from kiosk.ui.screens.base import PatronScreen, spacer, swap
from kiosk.ui.site import Site
from kiosk.ui.widgets import Action, ButtonRow, Text, fit_height


class HomeScreen(PatronScreen):
    def __init__(self, site: Site, navigate: Callable[[View], None], **kwargs: Any) -> None:
        kwargs.setdefault("name", "home")
        super().__init__(site, **kwargs)
        look = self.look
        self.navigate = navigate
        self.mode = Mode.BORROW
        self.greeting = Text(look, size="title", bold=True)
        self.facts = BoxLayout(orientation="vertical")
        fit_height(self.facts)
        self.loans = Text(look)
        self.overdue = Text(look, tone="error")
        self.holds = Text(look, tone="success")
        self.fines = Text(look, tone="attention")
        self.borrow = Action(look, lambda: self._open_items(Mode.BORROW))
        self.give_back = Action(look, lambda: self._open_items(Mode.RETURN))
        self.my_loans = Action(look, lambda: self.navigate(View.LOANS))
        self.finish = Action(look, self.press("finish"), kind="primary")
        self.actions = ButtonRow(look)
        for widget in (self.greeting, self.facts, spacer(), self.actions):
            self.body.add_widget(widget)

    def _open_items(self, mode: Mode) -> None:
        if mode is not self.mode:
            self.send(Pressed(mode.value))
        self.navigate(View.ITEMS)

    def update(self, state: KioskState, ui: UiContext) -> None:
        tr = ui.tr
        session = state.session
        account = session.account
        self.mode = session.mode
        if account is not None and account.name:
            self.greeting.text = tr.text("Hello, {name}", name=account.name)
        else:
            self.greeting.text = tr.text("Welcome")
        facts = []
        if account is not None:
            self.loans.text = tr.text("Items on loan: {count}", count=account.loans_count or len(account.loans))
            facts.append(self.loans)
            if account.overdue_count:
                self.overdue.text = tr.text("Overdue: {count}", count=account.overdue_count)
                facts.append(self.overdue)
            if account.holds_ready_count:
                self.holds.text = tr.text("Holds ready for you: {count}", count=account.holds_ready_count)
                facts.append(self.holds)
            if account.fines:
                amount = f"{account.fines} {account.currency}".strip()
                self.fines.text = tr.text("Fines: {amount}", amount=amount)
                facts.append(self.fines)
        swap(self.facts, facts)
        self.borrow.text = tr.text("Borrow")
        self.give_back.text = tr.text("Return")
        self.my_loans.text = tr.text("My loans")
        self.finish.text = tr.text("Finish")
        actions = [self.borrow, *([self.give_back] if self.site.checkin_enabled else []), self.my_loans, self.finish]
        swap(self.actions, actions)
