"""A whole patron session on the real app, offscreen, with real touches: language, card, PIN keypad,
items with due dates and a renewal offer, loans, finish, receipt, thank you, back to idle.

The station is fake (see patron_ui_support): each step publishes the state the runner would, and
checks what the touches submitted. Every screen is saved to artifacts/ui/<screen>.png.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from kivy.uix.label import Label
from patron_ui_support import LANGUAGES, MarkingTranslators, button, find, kiosk_state, start, unmarked, words
from PIL import Image

from kiosk.circulation.events import PinEntered, Pressed
from kiosk.circulation.model import Loan, PatronAccount
from kiosk.circulation.rows import Message, Request, Row, RowKind, RowState
from kiosk.circulation.session import Mode, Phase, Renewal, RenewalState
from kiosk.ui import navigation as nav
from kiosk.ui.screens.pin import MAX_DIGITS

ACCOUNT = PatronAccount(
    "23456000042", known=True, pin_ok=True, name="Erika Mustermann", loans_count=3, overdue_count=1,
    holds_ready_count=1, fines="2.50", currency="EUR",
    loans=(Loan("3001", "Der Process", "20250401    000000"), Loan("3002", "Momo", "20250412    000000"),
           Loan("3003", "Les Misérables", "20250415    000000")),
)

ROWS = (
    Row("1001", RowKind.BORROW, RowState.DONE, Message.of("item.done", due="20250430    000000"),
        request=Request.CHECKOUT, confirmed=True, title="Die unendliche Geschichte", due="20250430    000000"),
    Row("3002", RowKind.BORROW, RowState.OFFERED, Message.of("item.offer_renewal", due="20250412    000000"),
        title="Momo", due="20250412    000000"),
    Row("1002", RowKind.BORROW, RowState.UNREACHABLE, Message("item.unreachable"), request=Request.CHECKOUT,
        title="Krabat"),
    Row("1003", RowKind.BORROW, RowState.PUT_BACK, Message("item.put_back"), request=Request.CHECKOUT,
        confirmed=True, title="Emil und die Detektive", due="20250430    000000"),
    Row("1004", RowKind.BORROW, RowState.WAITING, Message.of("item.put_all_parts", parts=3, missing=(2,)),
        title="Hörbuch (3 CDs)"),
)


@pytest.fixture
def kiosk(stage, tmp_path):
    k = start(stage, tmp_path)
    yield k
    k.stop()


def assert_renders(path: str) -> None:
    """The screenshot is the window's size and shows something (not one flat colour, not black)."""
    with Image.open(path) as image:
        assert image.size == (1024, 600)
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 8, f"{path}: {len(colours or [])} colours: nothing drawn"
        brightest = max(high for _low, high in rgb.getextrema())
        assert brightest > 100, f"{path}: black"


def test_a_whole_patron_session_with_real_touches(kiosk) -> None:
    # Idle: the library's name, the prompt, one button per language in its own name.
    screen = kiosk.show(kiosk_state(phase=Phase.IDLE))
    assert kiosk.app.screen_name == nav.IDLE
    text = words(kiosk.app.root)
    assert "Stadtbibliothek Musterstadt" in text and "Scan your card or place it on the pad" in text
    assert [kiosk.app.manager.get_screen("idle").language_buttons[c].text for c in LANGUAGES] == [
        "English", "Deutsch", "Français"]
    assert_renders(kiosk.screenshot("idle"))

    assert kiosk.tap(button(screen, "Deutsch")) == [Pressed("language", "de")]
    assert kiosk.tap(button(screen, "Large text")) == [Pressed("large_text")]
    assert kiosk.tap(button(screen, "High contrast")) == [Pressed("high_contrast")]
    assert kiosk.tap(button(screen, "Staff")) == [Pressed("staff")]

    # The card was read: the PIN keypad. Four taps on the keys, dots only, then OK.
    screen = kiosk.show(kiosk_state(phase=Phase.PIN))
    assert kiosk.app.screen_name == nav.PIN
    for digit in "1234":
        assert kiosk.tap(screen.keys[digit]) == []  # digits stay in the screen until OK
    assert screen.dots.text == "\u25cf \u25cf \u25cf \u25cf"
    assert "1234" not in words(kiosk.app.root)
    assert_renders(kiosk.screenshot("pin"))
    assert kiosk.tap(screen.keys["ok"]) == [PinEntered("1234")]
    assert screen.dots.text.strip() == ""  # forgotten once sent

    screen = kiosk.show(kiosk_state(phase=Phase.LOOKING_UP))
    assert kiosk.app.screen_name == nav.LOOKING_UP
    assert_renders(kiosk.screenshot("looking_up"))

    # Identified, nothing on the pad yet: the account.
    active = dict(phase=Phase.ACTIVE, patron_id=ACCOUNT.patron_id, account=ACCOUNT)
    screen = kiosk.show(kiosk_state(**active))
    assert kiosk.app.screen_name == nav.HOME
    text = words(kiosk.app.root)
    assert "Hello, Erika Mustermann" in text and "Items on loan: 3" in text and "Overdue: 1" in text
    assert "Holds ready for you: 1" in text and "Fines: 2.50 EUR" in text
    assert_renders(kiosk.screenshot("home"))
    assert kiosk.tap(button(screen, "Borrow")) == []  # already borrowing: only the items list opens
    assert kiosk.app.screen_name == nav.ITEMS

    # Items on the pad: a row each, with its state, message and due date.
    screen = kiosk.show(kiosk_state(**active, rows=ROWS))
    assert kiosk.app.screen_name == nav.ITEMS
    tr = kiosk.app.context(kiosk.station.state).tr  # the real English translator: dates as words
    by_id = {w.row.item_id: w for w in screen.row_widgets}
    assert list(by_id) == ["1001", "3002", "1002", "1003", "1004"]
    assert by_id["1001"].due.text == f"Due {tr.due('20250430    000000')}"
    assert by_id["1001"].message.text == tr.message(ROWS[0].message)
    assert by_id["1001"].message.text.startswith("Checked out.")
    assert "Put all 3 parts on the pad: part 2 missing." in by_id["1004"].message.text
    assert "Put the item back on the pad" in words(kiosk.app.root)
    assert_renders(kiosk.screenshot("items"))
    assert kiosk.tap(by_id["3002"].buttons["renew_offered"]) == [Pressed("renew_offered", "3002")]
    assert kiosk.tap(by_id["3002"].buttons["renew_declined"]) == [Pressed("renew_declined", "3002")]
    assert kiosk.tap(by_id["1002"].buttons["retry"]) == [Pressed("retry", "1002")]
    assert set(by_id["1001"].buttons) == set()  # a done row offers nothing
    assert kiosk.tap(button(screen, "Return items instead")) == [Pressed("return")]

    # Back to the account, then the loans list with renewal results.
    assert kiosk.tap(button(screen, "My account")) == []
    assert kiosk.app.screen_name == nav.HOME
    assert kiosk.tap(button(kiosk.screen, "My loans")) == []
    assert kiosk.app.screen_name == nav.LOANS
    renewals = (
        Renewal("3001", RenewalState.RENEWED, Message.of("renew.done", due="20250501    000000"), title="Der Process",
                due="20250501    000000"),
        Renewal("3003", RenewalState.ASKING, Message("renew.asking"), ref="rn-9", title="Les Misérables"),
    )
    renewed = replace(ACCOUNT, loans=(replace(ACCOUNT.loans[0], due="20250501    000000"), *ACCOUNT.loans[1:]))
    screen = kiosk.show(kiosk_state(**{**active, "account": renewed}, rows=ROWS, renewals=renewals))
    assert kiosk.app.screen_name == nav.LOANS
    loans = {w.loan.item_id: w for w in screen.row_widgets}
    assert loans["3002"].due.text == f"Due {tr.due('20250412    000000')}"
    assert tr.message(renewals[0].message) in words(loans["3001"])
    assert "Renewed until" in words(loans["3001"])
    assert loans["3003"].renew is None  # its renewal is still out: "Renewing…" instead of the button
    assert_renders(kiosk.screenshot("loans"))
    assert kiosk.tap(loans["3002"].renew) == [Pressed("renew", "3002")]
    assert kiosk.tap(button(screen, "Renew all")) == [Pressed("renew_all")]
    assert kiosk.tap(button(screen, "Finish")) == [Pressed("finish")]

    screen = kiosk.show(kiosk_state(phase=Phase.FINISHING, account=ACCOUNT, rows=ROWS))
    assert kiosk.app.screen_name == nav.FINISHING
    assert_renders(kiosk.screenshot("finishing"))

    # The receipt question offers exactly the core's choices.
    screen = kiosk.show(kiosk_state(phase=Phase.RECEIPT, account=ACCOUNT, rows=ROWS,
                                    receipt_choices=("print", "none")))
    assert kiosk.app.screen_name == nav.RECEIPT
    assert [b.text for b in reversed(screen.choices.children)] == ["Print a receipt", "No receipt"]
    assert_renders(kiosk.screenshot("receipt"))
    assert kiosk.tap(button(screen, "Print a receipt")) == [Pressed("receipt_print")]

    screen = kiosk.show(kiosk_state(phase=Phase.SENDING_RECEIPT, receipt_kind="print", account=ACCOUNT))
    assert kiosk.app.screen_name == nav.SENDING_RECEIPT
    assert "Printing your receipt…" in words(kiosk.app.root)
    assert_renders(kiosk.screenshot("sending_receipt"))

    # The session ended: thank you, for [ui] thank_you_seconds, then idle.
    kiosk.show(kiosk_state(phase=Phase.IDLE))
    assert kiosk.app.screen_name == nav.THANK_YOU
    assert_renders(kiosk.screenshot("thank_you"))
    kiosk.later(3.9)
    assert kiosk.app.screen_name == nav.THANK_YOU
    kiosk.later(0.2)
    assert kiosk.app.screen_name == nav.IDLE
    assert kiosk.station.take() == []


def test_every_word_on_every_patron_screen_goes_through_the_translator_of_the_session_language(kiosk) -> None:
    translators = MarkingTranslators()
    kiosk.app.translators = translators
    data = {"Stadtbibliothek Musterstadt", "English", "Deutsch", "Français", "Staff" , "\u2713", "\u2717", "?", "!",
            "\u2026", "\u2013", "Erika Mustermann", *(r.title for r in ROWS), *(loan.title for loan in ACCOUNT.loans)}
    active = dict(phase=Phase.ACTIVE, patron_id=ACCOUNT.patron_id, account=ACCOUNT, rows=ROWS, language="de")
    states = [
        kiosk_state(phase=Phase.IDLE, language="de"),
        kiosk_state(phase=Phase.PIN, language="de", notice=Message.of("pin.wrong", left=2)),
        kiosk_state(phase=Phase.LOOKING_UP, language="de"),
        kiosk_state(phase=Phase.REFUSED, language="de", notice=Message("patron.lookup_failed")),
        kiosk_state(**active),
        kiosk_state(phase=Phase.FINISHING, language="de"),
        kiosk_state(phase=Phase.RECEIPT, language="de", receipt_choices=("print", "email", "none")),
        kiosk_state(phase=Phase.SENDING_RECEIPT, language="de", receipt_kind="email"),
        kiosk_state(phase=Phase.IDLE, language="de", online=False, notice=Message("gate.alarm")),
    ]
    seen = set()
    for state in states:
        kiosk.show(state)
        views = (nav.View.ITEMS, nav.View.HOME, nav.View.LOANS) if state.session.phase is Phase.ACTIVE else (None,)
        for view in views:
            if view is not None:
                kiosk.app.navigate(view)
                kiosk.stage.frames(2)
            seen.add(kiosk.app.screen_name)
            assert unmarked(kiosk.app.root, data) == [], kiosk.app.screen_name
            assert "\u2039de|" in words(kiosk.app.root)
            if view is nav.View.LOANS:
                due = kiosk.screen.row_widgets[0].due.text
                assert due == "\u2039de|Due de-date(20250401 000000)\u203a"  # the date through tr.due
    assert seen == {nav.IDLE, nav.PIN, nav.LOOKING_UP, nav.REFUSED, nav.ITEMS, nav.HOME, nav.LOANS, nav.FINISHING,
                    nav.RECEIPT, nav.SENDING_RECEIPT, nav.THANK_YOU}
    kiosk.later(5)  # thank you is over: idle, offline, with a gate alarm notice
    assert kiosk.app.screen_name == nav.IDLE
    assert kiosk.app.banner.parent is not None and kiosk.app.notice.parent is not None
    assert unmarked(kiosk.app.root, data) == []
    assert set(translators.asked) == {"de"}
    # No choice made: the site's language.
    kiosk.show(kiosk_state(phase=Phase.IDLE))
    assert translators.asked[-1] == "en"


def test_the_home_screen_offers_return_only_where_the_kiosk_takes_returns(stage, tmp_path) -> None:
    active = kiosk_state(phase=Phase.ACTIVE, patron_id=ACCOUNT.patron_id, account=ACCOUNT)
    with_returns = start(stage, tmp_path, checkin_enabled=True)
    try:
        screen = with_returns.show(active)
        assert with_returns.tap(button(screen, "Return")) == [Pressed("return")]
        assert with_returns.app.screen_name == nav.ITEMS
    finally:
        with_returns.stop()
    without = start(stage, tmp_path, checkin_enabled=False)
    try:
        screen = without.show(active)
        assert "Return" not in [b.text for b in screen.actions.children]
        assert without.tap(button(screen, "Borrow")) == []
        assert "Return items instead" not in words(without.app.root)
    finally:
        without.stop()


def test_returning_mode_shows_return_rows_and_switches_back(kiosk) -> None:
    rows = (*ROWS, Row("2001", RowKind.RETURN, RowState.DONE, Message.of("return.slot"), confirmed=True,
                        title="Jim Knopf"))
    screen = kiosk.show(kiosk_state(phase=Phase.ACTIVE, account=ACCOUNT, mode=Mode.RETURN, rows=rows))
    assert kiosk.app.screen_name == nav.ITEMS  # a mode change opens the items list
    assert [w.row.item_id for w in screen.row_widgets] == ["2001"]
    assert "Returning" in words(kiosk.app.root)
    assert screen.row_widgets[0].due.text == ""
    assert kiosk.tap(button(screen, "Borrow items instead")) == [Pressed("borrow")]


def test_refused_shows_the_reason_and_ok(kiosk) -> None:
    screen = kiosk.show(kiosk_state(phase=Phase.REFUSED, notice=Message.of("pin.locked", attempts=3)))
    assert kiosk.app.screen_name == nav.REFUSED
    assert "Wrong PIN 3 times: this card is refused here. Please ask staff." in screen.reason.text
    assert kiosk.app.notice.parent is None  # the screen shows the notice; no second copy above it
    assert_renders(kiosk.screenshot("refused"))
    assert kiosk.tap(button(screen, "OK")) == [Pressed("ok")]


def test_a_wrong_pin_says_so_on_the_keypad_and_starts_a_fresh_attempt(kiosk) -> None:
    screen = kiosk.show(kiosk_state(phase=Phase.PIN))
    for digit in "98":
        kiosk.tap(screen.keys[digit])
    assert screen.digits == "98"
    kiosk.tap(screen.keys["clear"])
    assert screen.digits == ""
    for digit in "9876":
        kiosk.tap(screen.keys[digit])
    assert kiosk.tap(screen.keys["ok"]) == [PinEntered("9876")]
    kiosk.show(kiosk_state(phase=Phase.LOOKING_UP))
    screen = kiosk.show(kiosk_state(phase=Phase.PIN, notice=Message.of("pin.wrong", left=2)))
    assert screen.notice.text == "Wrong PIN. Tries left: 2."
    kiosk.tap(screen.keys["5"])
    # The same state again (a pad change, say) keeps what is typed; a new notice starts afresh.
    kiosk.show(kiosk_state(phase=Phase.PIN, notice=Message.of("pin.wrong", left=2)))
    assert screen.digits == "5"
    kiosk.show(kiosk_state(phase=Phase.PIN, notice=Message.of("pin.wrong", left=1)))
    assert screen.digits == ""
    assert kiosk.tap(screen.keys["ok"]) == []  # nothing typed: nothing sent
    for _ in range(MAX_DIGITS + 2):
        screen.tap("7")  # (the keypad's own handler: real taps above, speed here)
    assert screen.digits == "7" * MAX_DIGITS and screen.dots.text.count("\u25cf") == MAX_DIGITS
    kiosk.tap(screen.keys["clear"])
    assert kiosk.tap(screen.cancel) == [Pressed("cancel")]


def test_the_session_language_reaches_every_word_and_date(kiosk) -> None:
    english = kiosk.show(kiosk_state(phase=Phase.ACTIVE, account=ACCOUNT, rows=ROWS))
    english_words = [w.row.label for w in english.row_widgets], english.title.text, english.row_widgets[0].due.text
    german = kiosk.show(kiosk_state(phase=Phase.ACTIVE, account=ACCOUNT, rows=ROWS, language="de"))
    tr = kiosk.app.context(kiosk.station.state).tr
    assert tr.language == "de"
    assert german.title.text == tr.text("Borrowing")
    assert german.row_widgets[0].due.text == tr.text("Due {date}", date=tr.due("20250430    000000"))
    assert [w.row.label for w in german.row_widgets] == english_words[0]  # titles are data
    kiosk.screenshot("items_de")
    for widget in find(kiosk.app.root, Label, lambda w: w.text.strip() != ""):  # long German words wrap
        assert widget.texture_size[0] <= widget.width + 1, widget.text
    kiosk.show(kiosk_state(phase=Phase.IDLE, language="fr"))
    kiosk.later(5)  # after "thank you"
    french = kiosk.screen
    assert french.prompt.text == kiosk.app.context(kiosk.station.state).tr.text("Scan your card or place it on the pad")
    kiosk.screenshot("idle_fr")
