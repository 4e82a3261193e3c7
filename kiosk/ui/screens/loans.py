"""The patron's loans with their due dates: renew one, or all, and see how each renewal went.

Renewal results come from ``session.renewals`` (the latest per item; one with no item is the answer
to "renew all"). A loan whose renewal is still out shows "renewing…" instead of its button.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout

from kiosk.circulation.events import Pressed
from kiosk.circulation.model import Loan
from kiosk.circulation.session import Renewal, RenewalState
from kiosk.circulation.station import KioskState
from kiosk.ui.context import Translator, UiContext
from kiosk.ui.navigation import View
from kiosk.ui.screens.base import PatronScreen, swap
from kiosk.ui.site import Site
from kiosk.ui.theme import Theme
from kiosk.ui.widgets import Action, ButtonRow, Look, Panel, Reuse, Rows, Text, fit_height

TONE_OF_RENEWAL = {
    RenewalState.ASKING: "muted",
    RenewalState.RENEWED: "success",
    RenewalState.REFUSED: "error",
    RenewalState.FAILED: "error",
}


class LoanKey(NamedTuple):
    """Everything a loan's row shows: its widget is kept while this stays equal."""

    loan: Loan
    renewal: Renewal | None  # the latest renewal of this loan, if any
    busy: bool  # a renewal of it (or "renew all") is out: no button
    language: str


class LoanRow(Panel):
    def __init__(self, look: Look, loan: Loan, renewal: Renewal | None, busy: bool, tr: Translator,
                 send: Callable[[Pressed], None]) -> None:
        super().__init__(look, fill="surface", orientation="horizontal", size_hint_y=None)
        self.loan = loan
        words = BoxLayout(orientation="vertical", pos_hint={"center_y": 0.5})
        fit_height(words)
        words.add_widget(Text(look, bold=True, text=loan.title or loan.item_id))
        if renewal is not None:
            words.add_widget(Text(look, size="small", tone=TONE_OF_RENEWAL[renewal.state],
                                  text=tr.message(renewal.message)))
        self.add_widget(words)
        due = tr.text("Due {date}", date=tr.due(loan.due)) if loan.due else ""
        self.due = Text(look, halign="right", text=due, size_hint_x=None, width=dp(250), pos_hint={"center_y": 0.5})
        self.add_widget(self.due)
        self.renew: Action | None = None
        if not busy:
            self.renew = Action(look, lambda: send(Pressed("renew", loan.item_id)), text=tr.text("Renew"),
                                size_hint_x=None, width=dp(170), pos_hint={"center_y": 0.5})
            self.add_widget(self.renew)
        self._words = words
        words.bind(height=self._fit)
        self.due.bind(height=self._fit)
        look.follow(self._space)
        self._space(look, look.theme)

    def _space(self, _look: Look, theme: Theme) -> None:
        self.padding = (dp(theme.spacing_dp), dp(theme.spacing_dp / 2))
        self.spacing = dp(theme.spacing_dp)
        self._fit()

    def _fit(self, *_: Any) -> None:
        theme = self.look.theme
        tallest = max(self._words.height, self.due.height, self.renew.height if self.renew is not None else 0)
        self.height = max(dp(theme.row_dp), tallest + dp(theme.spacing_dp))


class LoansScreen(PatronScreen):
    def __init__(self, site: Site, navigate: Callable[[View], None], **kwargs: Any) -> None:
        kwargs.setdefault("name", "loans")
        super().__init__(site, **kwargs)
        look = self.look
        self.navigate = navigate
        self.title = Text(look, size="title", bold=True)
        self.all_result = Text(look)
        self.header = BoxLayout(orientation="vertical")
        fit_height(self.header)
        self.rows = Rows(look)
        self.row_widgets: list[LoanRow] = []
        # Kept per loan while what it shows stays the same (see LoanKey): a renewal's answer
        # rebuilds that loan's row only.
        self._reuse: Reuse[LoanKey, LoanRow] = Reuse()
        self.account = Action(look, lambda: self.navigate(View.HOME))
        self.renew_all = Action(look, self.press("renew_all"))
        self.finish = Action(look, self.press("finish"), kind="primary")
        self.actions = ButtonRow(look)
        for widget in (self.header, self.rows, self.actions):
            self.body.add_widget(widget)

    def update(self, state: KioskState, ui: UiContext) -> None:
        tr = ui.tr
        session = state.session
        loans = session.account.loans if session.account is not None else ()
        latest = {r.item_id: r for r in session.renewals}
        everything = latest.get("")
        self.title.text = tr.text("Your loans: {count}", count=len(loans))
        header = [self.title]
        if everything is not None:
            self.all_result.text = tr.message(everything.message)
            self.all_result.set_tone(TONE_OF_RENEWAL[everything.state])
            header.append(self.all_result)
        swap(self.header, header)
        all_busy = everything is not None and everything.state is RenewalState.ASKING
        keys = []
        for loan in loans:
            renewal = latest.get(loan.item_id)
            busy = all_busy or (renewal is not None and renewal.state is RenewalState.ASKING)
            keys.append(LoanKey(loan, renewal, busy, tr.language))
        self.row_widgets = self._reuse.widgets(
            keys, lambda key: LoanRow(self.look, key.loan, key.renewal, key.busy, tr, self.send))
        self.rows.show(self.row_widgets)
        self.account.text = tr.text("My account")
        self.renew_all.text = tr.text("Renew all")
        self.finish.text = tr.text("Finish")
        swap(self.actions, [self.account, *([self.renew_all] if loans and not all_busy else []), self.finish])
