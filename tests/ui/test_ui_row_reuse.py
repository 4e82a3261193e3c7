"""The items and loans lists keep the widgets of rows that did not change.

Each ILS answer for one book of a stack is a new state; building a row costs milliseconds, so a
list rebuilds only the rows whose shown value changed. These tests pin that down by widget identity
(a kept row is the very same object, still on the screen, in its place) and check that what changes
does show: a changed row gets a new widget with its new words and buttons, a gone row leaves the
screen, another language rebuilds every row, and another look restyles the kept widgets.
"""

from __future__ import annotations

import gc
from dataclasses import replace

import pytest
from patron_ui_support import kiosk_state, start

from kiosk.circulation.events import Pressed
from kiosk.circulation.model import Loan, PatronAccount
from kiosk.circulation.rows import Message, Request, Row, RowKind, RowState
from kiosk.circulation.session import Phase, Renewal, RenewalState
from kiosk.ui import navigation as nav
from kiosk.ui.theme import LARGE_TEXT_SCALE, STANDARD, theme
from kiosk.ui.widgets import Look, Reuse, Text

ACCOUNT = PatronAccount(
    "23456000042", known=True, pin_ok=True, name="Erika Mustermann", loans_count=3,
    loans=(Loan("3001", "Der Process", "20250401    000000"), Loan("3002", "Momo", "20250412    000000"),
           Loan("3003", "Les Misérables", "20250415    000000")),
)


def asking(item_id: str, title: str) -> Row:
    return Row(item_id, RowKind.BORROW, RowState.ASKING, Message("item.asking"), request=Request.CHECKOUT,
               ref=f"c-{item_id}", asked=True, title=title)


def done(row: Row) -> Row:
    return replace(row, state=RowState.DONE, message=Message.of("item.done", due="20250430    000000"), ref="",
                   confirmed=True, due="20250430    000000")


STACK = (asking("1001", "Die unendliche Geschichte"), asking("1002", "Krabat"), asking("1003", "Momo"),
         asking("1004", "Emil und die Detektive"))


@pytest.fixture
def kiosk(stage, tmp_path):
    k = start(stage, tmp_path)
    yield k
    k.stop()


def active(rows: tuple[Row, ...] = (), **fields) -> object:
    return kiosk_state(phase=Phase.ACTIVE, patron_id=ACCOUNT.patron_id, account=ACCOUNT, rows=rows, **fields)


def on_screen(screen) -> list:
    """The rows the list shows, top to bottom."""
    return list(reversed(screen.rows.column.children))


def test_an_answer_for_one_row_rebuilds_that_row_only(kiosk) -> None:
    screen = kiosk.show(active(STACK))
    assert kiosk.app.screen_name == nav.ITEMS
    before = list(screen.row_widgets)
    assert [w.row.item_id for w in before] == ["1001", "1002", "1003", "1004"]
    assert on_screen(screen) == before

    answered = (STACK[0], done(STACK[1]), *STACK[2:])
    kiosk.show(active(answered))
    after = screen.row_widgets
    assert [after[i] is before[i] for i in range(4)] == [True, False, True, True]
    assert on_screen(screen) == after
    assert after[1].row == answered[1]
    assert after[1].symbol.text == "\u2713" and after[1].message.text.startswith("Checked out.")
    assert after[1].due.text.startswith("Due ")
    assert before[1].parent is None  # the old widget left the list
    assert all(w.get_root_window() is not None for w in after)

    # The same state again (a redraw for the clock, say) keeps every widget.
    kiosk.show(active(answered))
    assert all(a is b for a, b in zip(screen.row_widgets, after, strict=True))


def test_a_kept_row_still_posts_its_own_item(kiosk) -> None:
    unreachable = replace(STACK[2], state=RowState.UNREACHABLE, message=Message("item.unreachable"), ref="")
    screen = kiosk.show(active((STACK[0], STACK[1], unreachable)))
    kept = screen.row_widgets[2]
    kiosk.show(active((done(STACK[0]), STACK[1], unreachable)))
    assert screen.row_widgets[2] is kept
    assert kiosk.tap(kept.buttons["retry"]) == [Pressed("retry", "1003")]


def test_rows_come_and_go_in_the_states_order_with_their_widgets(kiosk) -> None:
    screen = kiosk.show(active(STACK[:3]))
    first, second, third = screen.row_widgets
    kiosk.show(active((STACK[2], STACK[0], STACK[3])))  # 1002 taken off, 1004 new, 1003 moved up
    assert screen.row_widgets[0] is third and screen.row_widgets[1] is first
    assert screen.row_widgets[2].row == STACK[3] and screen.row_widgets[2] not in (first, second, third)
    assert on_screen(screen) == screen.row_widgets
    assert second.parent is None
    kiosk.show(active())
    assert screen.row_widgets == [] and on_screen(screen) == []


def test_another_language_rebuilds_every_row_in_that_language(kiosk) -> None:
    answered = (done(STACK[0]), *STACK[1:])
    screen = kiosk.show(active(answered))
    english = list(screen.row_widgets)
    kiosk.show(active(answered, language="de"))
    german = screen.row_widgets
    assert not {id(w) for w in german} & {id(w) for w in english}
    assert on_screen(screen) == german
    tr = kiosk.app.context(kiosk.station.state).tr
    assert tr.language == "de"
    assert german[0].due.text == tr.text("Due {date}", date=tr.due("20250430    000000"))
    assert german[1].message.text == tr.message(Message("item.asking"))
    assert german[0].message.text != english[0].message.text


def test_another_look_restyles_the_kept_rows(kiosk) -> None:
    screen = kiosk.show(active(STACK))
    before = list(screen.row_widgets)
    size = before[0].title.font_size
    kiosk.show(active(STACK, large_text=True))
    assert all(a is b for a, b in zip(screen.row_widgets, before, strict=True))
    assert before[0].title.font_size == pytest.approx(size * LARGE_TEXT_SCALE)


def test_a_renewal_answer_rebuilds_that_loan_only_and_renew_all_every_loan(kiosk) -> None:
    kiosk.show(active())
    kiosk.app.navigate(nav.View.LOANS)
    kiosk.stage.frames(2)
    screen = kiosk.screen
    assert kiosk.app.screen_name == nav.LOANS
    before = list(screen.row_widgets)
    assert [w.loan.item_id for w in before] == ["3001", "3002", "3003"]
    assert all(w.renew is not None for w in before)

    one = (Renewal("3002", RenewalState.ASKING, Message("renew.asking"), ref="rn-1", title="Momo"),)
    kiosk.show(active(renewals=one))
    after = list(screen.row_widgets)
    assert [after[i] is before[i] for i in range(3)] == [True, False, True]
    assert after[1].renew is None  # its renewal is out: no button
    assert on_screen(screen) == after

    everything = (*one, Renewal("", RenewalState.ASKING, Message("renew.asking"), ref="rn-2"))
    kiosk.show(active(renewals=everything))
    busy = screen.row_widgets
    assert busy[1] is after[1]  # already without its button: nothing it shows changed
    assert busy[0] is not after[0] and busy[2] is not after[2]
    assert all(w.renew is None for w in busy)
    assert on_screen(screen) == busy


def test_reuse_matches_each_key_to_one_kept_widget_in_order() -> None:
    made: list[str] = []

    def build(key: str) -> list[str]:
        made.append(key)
        return [key]  # a fresh object per build

    reuse: Reuse[str, list[str]] = Reuse()
    a1, a2, b = reuse.widgets(["a", "a", "b"], build)
    assert made == ["a", "a", "b"] and a1 is not a2
    again = reuse.widgets(["b", "a", "c", "a", "a"], build)
    assert again[0] is b and again[1] is a1 and again[3] is a2
    assert made == ["a", "a", "b", "c", "a"]  # only the new "c" and the third "a" were built
    assert reuse.widgets([], build) == []
    fresh = reuse.widgets(["a"], build)
    assert fresh[0] is not a1 and made[-1] == "a"  # let go once not wanted: built anew


def test_a_look_forgets_the_widgets_that_are_gone(stage) -> None:
    look = Look()
    kept = Text(look, text="kept")
    size = kept.font_size
    for n in range(400):  # rows built and let go, patron after patron
        Text(look, text=str(n))
        if n % 100 == 99:
            stage.frames(1)
            gc.collect()
    assert len(look.get_property_observers("theme")) <= 1  # widgets do not bind to it one by one
    assert look.held <= 2 * 1 + 64 + 100  # pruned as it grows: the dead are not kept
    look.theme = theme(high_contrast=False, large_text=True)
    assert kept.font_size == pytest.approx(size * LARGE_TEXT_SCALE)
    assert look.held == 1  # a change of theme drops every dead follower
    look.theme = STANDARD
    assert kept.font_size == pytest.approx(size)
