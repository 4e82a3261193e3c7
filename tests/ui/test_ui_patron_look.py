"""The patron's look and what the app draws around the screens: large text, high contrast, the
offline banner, the session's notice and the "need more time?" prompt with its countdown."""

from __future__ import annotations

import pytest
from kivy.metrics import dp
from kivy.uix.button import Button
from kivy.uix.label import Label
from patron_ui_support import button, find, kiosk_state, start, words
from PIL import Image

from kiosk.circulation.events import Pressed
from kiosk.circulation.model import Loan, PatronAccount
from kiosk.circulation.rows import Message, Row, RowKind, RowState
from kiosk.circulation.session import Phase
from kiosk.ui import navigation as nav
from kiosk.ui.settings import UiSettings
from kiosk.ui.theme import HIGH_CONTRAST, LARGE_TEXT_SCALE, MIN_TOUCH_DP, STANDARD
from kiosk.ui.widgets import Rows

ACCOUNT = PatronAccount("23456000042", known=True, pin_ok=True, name="Erika Mustermann")
OFFLINE_WORDS = "The library system is offline: returns are recorded and sent to it later."


@pytest.fixture
def kiosk(stage, tmp_path):
    k = start(stage, tmp_path)
    yield k
    k.stop()


def pixel(path: str, x: int, y: int) -> tuple[int, int, int]:
    """The colour at window coordinates (origin bottom left, as Kivy has it)."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        return rgb.getpixel((x, rgb.height - 1 - y))


def rgb255(rgba: tuple[float, ...]) -> tuple[int, int, int]:
    return tuple(round(c * 255) for c in rgba[:3])


def close(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return all(abs(x - y) <= 3 for x, y in zip(a, b, strict=True))


def assert_on_screen(root) -> None:
    """Every text and button lies wholly inside the 1024x600 window (nothing pushed off by large text;
    rows in a scrolling list may lie below, they scroll), and every button is a touch target of at
    least 48 dp each way."""
    for widget in find(root, Button):
        assert widget.height >= dp(MIN_TOUCH_DP) and widget.width >= dp(MIN_TOUCH_DP), widget.text
    scrolled = {id(w) for rows in find(root, Rows) for w in rows.walk(restrict=True)}
    for widget in find(root, Label, lambda w: w.text.strip() != "" and id(w) not in scrolled):
        x, y = widget.to_window(widget.x, widget.y)
        assert x >= 0 and x + widget.width <= 1024.5 and y >= 0 and y + widget.height <= 600.5, widget.text


def test_large_text_makes_every_text_larger_and_keeps_touch_targets_large(kiosk) -> None:
    screen = kiosk.show(kiosk_state(phase=Phase.IDLE))
    prompt, staff = screen.prompt.font_size, screen.staff.font_size
    keys_before = kiosk.app.manager.get_screen("pin").keys["5"].font_size
    kiosk.show(kiosk_state(phase=Phase.IDLE, large_text=True))
    assert screen.prompt.font_size == pytest.approx(prompt * LARGE_TEXT_SCALE)
    assert screen.staff.font_size == pytest.approx(staff * LARGE_TEXT_SCALE)
    assert screen.large_text.text.startswith("\u2713")  # the toggle shows it is on
    assert_path = kiosk.screenshot("idle_large_text")
    assert_on_screen(kiosk.app.root)
    screen = kiosk.show(kiosk_state(phase=Phase.PIN, large_text=True))
    assert screen.keys["5"].font_size == pytest.approx(keys_before * LARGE_TEXT_SCALE)
    kiosk.screenshot("pin_large_text")
    assert_on_screen(kiosk.app.root)
    assert assert_path.endswith("idle_large_text.png")
    # The session ended: the next patron starts at the kiosk's own size again.
    screen = kiosk.show(kiosk_state(phase=Phase.IDLE))
    assert kiosk.app.manager.get_screen("idle").prompt.font_size == pytest.approx(prompt)


def test_every_patron_screen_fits_the_window_in_large_text_and_high_contrast(kiosk) -> None:
    account = PatronAccount("23456000042", known=True, pin_ok=True, name="Maximilian Mustermann-Schulze",
                            loans_count=12, overdue_count=2, holds_ready_count=3, fines="12.50", currency="EUR",
                            loans=(Loan("3001", "Der Process", "20250401    000000"),))
    rows = (Row("3001", RowKind.BORROW, RowState.OFFERED, Message.of("item.offer_renewal", due="20250401    000000"),
                title="Der Process", due="20250401    000000"),
            Row("1002", RowKind.BORROW, RowState.UNREACHABLE, Message("item.unreachable"), title="Krabat"))
    common = dict(large_text=True, high_contrast=True, online=False, notice=Message("card.finish_first"))
    states = [
        kiosk_state(phase=Phase.IDLE, **common),
        kiosk_state(phase=Phase.PIN, **{**common, "notice": Message.of("pin.wrong", left=2)}),
        kiosk_state(phase=Phase.LOOKING_UP, **common),
        kiosk_state(phase=Phase.REFUSED, **{**common, "notice": Message.of("pin.locked", attempts=3)}),
        kiosk_state(phase=Phase.ACTIVE, account=account, rows=rows, **common),
        kiosk_state(phase=Phase.FINISHING, **common),
        kiosk_state(phase=Phase.RECEIPT, receipt_choices=("print", "email", "none"), **common),
        kiosk_state(phase=Phase.SENDING_RECEIPT, receipt_kind="email", **common),
    ]
    for state in states:
        kiosk.show(state)
        assert_on_screen(kiosk.app.root)
        if state.session.phase is Phase.ACTIVE:
            for view in (nav.View.HOME, nav.View.ITEMS, nav.View.LOANS):
                kiosk.app.navigate(view)
                kiosk.stage.frames(2)
                assert_on_screen(kiosk.app.root)
                kiosk.screenshot(f"{view.value}_large_high_contrast_offline")
            assert len(find(kiosk.screen, Button, lambda b: b.text == "Renew")) == 1  # the rows were there
    kiosk.screenshot("sending_receipt_large_high_contrast_offline")


def test_the_kiosk_default_is_flipped_by_the_patrons_toggle(stage, tmp_path) -> None:
    k = start(stage, tmp_path, ui=UiSettings(fullscreen=False, large_text=True, high_contrast=True))
    try:
        screen = k.show(kiosk_state(phase=Phase.IDLE))
        big = screen.prompt.font_size
        assert k.app.theme_for(k.station.state).high_contrast
        k.show(kiosk_state(phase=Phase.IDLE, large_text=True, high_contrast=True))
        assert screen.prompt.font_size == pytest.approx(big / LARGE_TEXT_SCALE)
        assert not k.app.theme_for(k.station.state).high_contrast
    finally:
        k.stop()


def test_high_contrast_paints_the_screen_in_the_high_contrast_colours(kiosk) -> None:
    screen = kiosk.show(kiosk_state(phase=Phase.IDLE))
    path = kiosk.screenshot("idle")
    assert close(pixel(path, 5, 300), rgb255(STANDARD.background))
    kiosk.show(kiosk_state(phase=Phase.IDLE, high_contrast=True))
    path = kiosk.screenshot("idle_high_contrast")
    assert close(pixel(path, 5, 300), rgb255(HIGH_CONTRAST.background))  # black
    lx, ly = screen.high_contrast.to_window(screen.high_contrast.x + 3, screen.high_contrast.y + 3)
    assert close(pixel(path, int(lx), int(ly)), rgb255(HIGH_CONTRAST.primary))  # the toggle is on: yellow
    assert screen.prompt.color == list(HIGH_CONTRAST.text)
    rows_state = kiosk_state(phase=Phase.ACTIVE, account=ACCOUNT, high_contrast=True)
    kiosk.show(rows_state)
    kiosk.screenshot("home_high_contrast")


def test_the_offline_banner_shows_on_every_patron_screen_while_offline(kiosk) -> None:
    states = [
        kiosk_state(phase=Phase.IDLE, online=False),
        kiosk_state(phase=Phase.PIN, online=False),
        kiosk_state(phase=Phase.ACTIVE, account=ACCOUNT, online=False, notice=Message("patron.offline")),
        kiosk_state(phase=Phase.RECEIPT, receipt_choices=("none",), online=False),
    ]
    for state in states:
        kiosk.show(state)
        assert kiosk.app.banner.parent is kiosk.app.column, kiosk.app.screen_name
        assert OFFLINE_WORDS in words(kiosk.app.root)
        # The banner is at the top of the window, above the screen.
        assert kiosk.app.banner.y >= kiosk.app.manager.top - 1
    # The offline notice says what the banner says: shown once.
    kiosk.show(states[2])
    assert kiosk.app.notice.parent is None
    path = kiosk.screenshot("home_offline")
    assert close(pixel(path, 3, 597), rgb255(STANDARD.banner))
    kiosk.show(kiosk_state(phase=Phase.ACTIVE, account=ACCOUNT, online=True))
    assert kiosk.app.banner.parent is None
    assert OFFLINE_WORDS not in words(kiosk.app.root)


def test_the_sessions_notice_shows_above_the_screen(kiosk) -> None:
    kiosk.show(kiosk_state(phase=Phase.ACTIVE, account=ACCOUNT, notice=Message("card.finish_first")))
    assert kiosk.app.notice.parent is kiosk.app.column
    assert kiosk.app.notice.words.text == "Please finish this session before using another card."
    kiosk.screenshot("home_notice")
    kiosk.show(kiosk_state(phase=Phase.ACTIVE, account=ACCOUNT))
    assert kiosk.app.notice.parent is None
    # After the session: the printer went away, the thank-you screen says why no receipt came out.
    kiosk.show(kiosk_state(phase=Phase.IDLE, notice=Message("receipt.printer_unavailable")))
    assert kiosk.app.screen_name == nav.THANK_YOU
    assert kiosk.app.notice.words.text == "The printer is not available."


def test_need_more_time_covers_the_screen_with_a_countdown_and_one_button(kiosk) -> None:
    screen = kiosk.show(kiosk_state(phase=Phase.ACTIVE, account=ACCOUNT))
    kiosk.show(kiosk_state(phase=Phase.ACTIVE, account=ACCOUNT, more_time=True))
    overlay = kiosk.app.more_time
    assert overlay.parent is kiosk.app.root
    assert overlay.countdown.text == "Your session ends in 20 seconds"
    kiosk.screenshot("more_time")
    kiosk.later(6.5)
    assert overlay.countdown.text == "Your session ends in 14 seconds"
    # The screen below is covered: its Finish button does not take the touch.
    assert kiosk.tap(button(screen, "Finish")) == []
    assert kiosk.tap(overlay.button) == [Pressed("more_time")]
    kiosk.show(kiosk_state(phase=Phase.ACTIVE, account=ACCOUNT))
    assert overlay.parent is None
    # A new prompt counts from the start again.
    kiosk.show(kiosk_state(phase=Phase.ACTIVE, account=ACCOUNT, more_time=True))
    assert overlay.countdown.text == "Your session ends in 20 seconds"
    kiosk.later(25)
    assert overlay.countdown.text == "Your session ends in 0 seconds"


def test_the_countdown_uses_the_sites_more_time_seconds(stage, tmp_path) -> None:
    k = start(stage, tmp_path, more_time_seconds=45)
    try:
        k.show(kiosk_state(phase=Phase.RECEIPT, receipt_choices=("print", "none"), more_time=True))
        assert k.app.more_time.countdown.text == "Your session ends in 45 seconds"
    finally:
        k.stop()


def test_the_library_logo_shows_above_its_name(stage, tmp_path) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (200, 100), (200, 30, 30)).save(logo)
    k = start(stage, tmp_path, ui=UiSettings(fullscreen=False, logo=str(logo)))
    try:
        screen = k.show(kiosk_state(phase=Phase.IDLE))
        assert screen.logo.source == str(logo) and screen.logo.texture is not None
        assert screen.logo.y > screen.name_text.y  # above the name
        path = k.screenshot("idle_logo")
        x, y = screen.logo.to_window(*screen.logo.center)
        assert close(pixel(path, int(x), int(y)), (200, 30, 30))
    finally:
        k.stop()
