"""The patron's own choices (language, large text, high contrast) and the receipt in their language."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import pytest
from circulation_drive import NO_PIN, PATRON, PIN, Desk, lent, on_pad, tag

from kiosk.circulation.commands import (
    CancelTimer,
    CheckOut,
    EmailReceipt,
    EndPatronSession,
    LookUpPatron,
    PrintReceipt,
    StartTimer,
)
from kiosk.circulation.events import (
    CardPresented,
    IlsFailed,
    PatronLookedUp,
    PinEntered,
    Pressed,
    Printed,
    TimerFired,
)
from kiosk.circulation.model import Failure, FailureKind, Pad, PatronAccount
from kiosk.circulation.rows import Param
from kiosk.circulation.session import PatronSessionMachine, Phase, SessionState
from kiosk.circulation.session_text import Render, english, receipt_lines
from kiosk.config import CirculationSettings

LANGUAGES = ("de", "en", "fr")
WITH_PIN = CirculationSettings(pin_required=True)
INACTIVITY = StartTimer("inactivity", NO_PIN.inactivity_seconds)

# A fake German catalog: not the project's words, just enough to see which language a line came from.
# "receipt.due" is written without the English indent on purpose (the receipt keeps the layout's).
GERMAN: dict[str, str] = {
    "receipt.title": "Quittung der Bibliothek",
    "receipt.card": "Ausweis: {card}",
    "receipt.borrowed": "Ausgeliehen",
    "receipt.due": "fällig am {due}",
}


class Wording:
    """A wording from a table per language, recording which languages it was asked for."""

    def __init__(self, tables: Mapping[str, Mapping[str, str]]) -> None:
        self.tables = tables
        self.asked: list[str] = []

    def __call__(self, language: str) -> Render:
        self.asked.append(language)
        table = self.tables.get(language, {})

        def render(message_id: str, params: Mapping[str, Param]) -> str:
            if message_id not in table:
                return english(message_id, params)
            return table[message_id].format(**{k: str(v) for k, v in params.items()})

        return render


def kiosk(settings: CirculationSettings = NO_PIN, wording: Callable[[str], Render] | None = None) -> Desk:
    options = {"wording": wording} if wording is not None else {}
    return Desk(settings, languages=LANGUAGES, **options)


def borrowed(k: Desk) -> None:
    """A lent (its receipt line: "Title of A", due 20261201), secured and taken off the pad."""
    k.borrow(tag("A", 1), lent("A", due="20261201"))
    k.feed(on_pad())


def choices(state: SessionState) -> tuple[str, bool, bool]:
    return state.language, state.large_text, state.high_contrast


# --- taking the choices --------------------------------------------------------------------------


def test_a_language_on_the_idle_screen_is_taken_and_waits_for_a_card_at_most_the_inactivity_time():
    k = kiosk()
    commands = k.feed(Pressed("language", "fr"))
    assert k.state.language == "fr" and k.state.phase is Phase.IDLE
    assert commands == [INACTIVITY]


def test_a_language_the_site_does_not_offer_is_ignored():
    k = kiosk()
    assert k.feed(Pressed("language", "xx")) == [] and k.state == SessionState()
    assert k.feed(Pressed("language", "")) == [] and k.state == SessionState()


def test_large_text_and_high_contrast_toggle():
    k = kiosk()
    k.feed(Pressed("large_text"), Pressed("high_contrast"))
    assert choices(k.state) == ("", True, True)
    k.feed(Pressed("large_text"))
    assert choices(k.state) == ("", False, True)


def test_an_idle_choice_with_no_card_following_is_forgotten_when_the_timer_fires():
    k = kiosk()
    k.feed(Pressed("language", "de"), Pressed("large_text"), TimerFired("inactivity"))
    assert k.state == SessionState()


@pytest.mark.parametrize("settings", [NO_PIN, WITH_PIN], ids=["no PIN", "PIN"])
def test_a_choice_made_before_the_card_is_kept_through_identification(settings: CirculationSettings):
    k = kiosk(settings)
    k.feed(Pressed("language", "de"), Pressed("high_contrast"))
    k.identify()
    assert k.state.phase is Phase.ACTIVE and choices(k.state) == ("de", False, True)


def test_the_choices_are_kept_for_the_refusal_notice_and_forgotten_when_it_is_dismissed():
    k = kiosk()
    k.feed(Pressed("language", "de"), CardPresented(PATRON))
    lookup = k.only(LookUpPatron, k.last)
    k.feed(IlsFailed(lookup.ref, Failure(FailureKind.UNREACHABLE, "down")))
    assert k.state.phase is Phase.REFUSED and k.state.language == "de"
    k.feed(Pressed("high_contrast"))
    assert k.state.phase is Phase.REFUSED and k.state.high_contrast
    k.feed(Pressed("ok"))
    assert k.state.phase is Phase.IDLE and k.state == SessionState(seq=k.state.seq)


def test_walking_away_at_the_pin_pad_forgets_the_choices():
    k = kiosk(WITH_PIN)
    k.feed(Pressed("large_text"), CardPresented(PATRON), Pressed("language", "fr"), TimerFired("inactivity"))
    assert k.state.phase is Phase.IDLE and choices(k.state) == ("", False, False)


def test_the_choices_end_with_the_session():
    k = kiosk()
    k.feed(Pressed("language", "fr"))
    k.identify()
    k.feed(Pressed("large_text"))
    commands = k.feed(Pressed("finish"))
    assert k.only(EndPatronSession, commands) and k.state.phase is Phase.IDLE
    assert choices(k.state) == ("", False, False)


def test_the_choices_are_taken_in_every_phase():
    k = kiosk(WITH_PIN)
    seen: dict[Phase, bool] = {}

    def toggle() -> None:
        before = k.state.large_text
        k.feed(Pressed("large_text"))
        seen[k.state.phase] = k.state.large_text is not before

    toggle()  # IDLE
    k.feed(CardPresented(PATRON))
    toggle()  # PIN
    lookup = k.only(LookUpPatron, k.feed(PinEntered(PIN)))
    toggle()  # LOOKING_UP
    k.feed(PatronLookedUp(lookup.ref, PatronAccount(PATRON, known=True, pin_ok=True)))
    toggle()  # ACTIVE
    borrowed(k)
    checkout = k.only(CheckOut, k.feed(on_pad(tag("B", 2))))
    k.feed(Pressed("finish"))
    toggle()  # FINISHING (B is still out)
    k.confirm_and_secure("B", lent("B", title="B", due="20261201"), checkout)
    toggle()  # RECEIPT
    k.feed(Pressed("receipt_print"))
    toggle()  # SENDING_RECEIPT
    assert seen == {phase: True for phase in Phase if phase is not Phase.REFUSED}
    k.feed(Pressed("language", "de"))
    assert k.state.language == "de"


def test_a_choice_during_the_session_is_patron_activity():
    k = kiosk()
    k.identify()
    k.feed(TimerFired("inactivity"))
    assert k.state.more_time
    commands = k.feed(Pressed("language", "de"))
    assert not k.state.more_time and INACTIVITY in commands and CancelTimer("more_time") in commands


def test_the_machine_needs_at_least_one_language():
    with pytest.raises(ValueError):
        PatronSessionMachine(NO_PIN, languages=())


# --- the receipt in the patron's language -------------------------------------------------------------


def _receipt_text(k: Desk, choice: str = "receipt_print") -> list[str]:
    k.feed(Pressed("finish"))
    assert k.state.phase is Phase.RECEIPT
    command = k.only(PrintReceipt if choice == "receipt_print" else EmailReceipt, k.feed(Pressed(choice)))
    return [line.text for line in command.lines]


def test_the_receipt_is_worded_in_the_language_the_patron_picked():
    wording = Wording({"de": GERMAN})
    k = kiosk(wording=wording)
    k.feed(Pressed("language", "de"))
    k.identify()
    borrowed(k)
    text = _receipt_text(k)
    assert text == ["Quittung der Bibliothek", "Ausweis: ****0018", "Ausgeliehen", "Title of A", "  fällig am 20261201"]
    assert set(wording.asked) == {"de"}


def test_a_session_without_a_choice_is_worded_in_the_site_language():
    wording = Wording({"de": GERMAN})
    k = kiosk(dataclasses.replace(NO_PIN, email_receipts=True), wording=wording)
    k.identify(PatronAccount(PATRON, known=True, pin_ok=None, email="p@example.org"))
    borrowed(k)
    text = _receipt_text(k, "receipt_email")
    assert text[0] == "Quittung der Bibliothek" and set(wording.asked) == {"de"}  # LANGUAGES[0]


def test_an_english_choice_at_a_german_site_prints_english():
    wording = Wording({"de": GERMAN})
    k = kiosk(wording=wording)
    k.feed(Pressed("language", "en"))
    k.identify()
    borrowed(k)
    assert _receipt_text(k)[:2] == ["Library receipt", "Card: ****0018"]


def test_a_wording_that_fails_gives_english_and_the_session_still_ends():
    def broken(language: str) -> Render:
        def render(message_id: str, params: Mapping[str, Param]) -> str:
            return "{datum}".format(**params)  # a catalog naming a parameter that does not exist

        return render

    def unloadable(language: str) -> Render:
        raise LookupError(language)

    for wording in (broken, unloadable):
        k = kiosk(wording=wording)  # type: ignore[arg-type]
        k.identify()
        borrowed(k)
        text = _receipt_text(k)
        assert text[0] == "Library receipt" and "  due 20261201" in text
        printed = k.only(PrintReceipt, k.last)
        k.only(EndPatronSession, k.feed(Printed(printed.ref, ok=True)))


def test_receipt_lines_take_the_render_and_keep_the_layouts_indent():
    from kiosk.circulation.rows import Message, Row, RowKind, RowState

    row = Row("A", RowKind.BORROW, RowState.DONE, Message("item.done"), confirmed=True, title="Emma", due="2026-12-01")
    english_lines = receipt_lines(PATRON, [row], [])
    assert [line.text for line in english_lines] == [
        "Library receipt", "Card: ****0018", "Borrowed", "Emma", "  due 2026-12-01"]
    german = receipt_lines(PATRON, [row], [], Wording({"de": GERMAN})("de"))
    assert [(line.text, line.bold) for line in german] == [
        ("Quittung der Bibliothek", True), ("Ausweis: ****0018", False), ("Ausgeliehen", True), ("Emma", False),
        ("  fällig am 2026-12-01", False)]


# --- the pad while patrons could not use the kiosk ----------------------------------------------------


def test_items_staff_leave_are_not_the_next_patrons_but_those_already_there_are():
    k = kiosk()
    k.feed(on_pad(tag("A", 1)))
    staff_left = Pad(items=(tag("A", 1), tag("B", 2)))
    state, commands = k.machine.pad_while_closed(k.state, staff_left, card_on_pad=False, staff_left_items=True)
    assert commands == [] and state.left_behind == ("B",) and state.pad == staff_left
    k.state = state
    commands = k.identify()
    assert [c.item_id for c in commands if isinstance(c, CheckOut)] == ["A"]


def test_a_card_lying_on_the_pad_meanwhile_starts_nothing_until_put_down_again():
    k = kiosk()
    k.state, commands = k.machine.pad_while_closed(k.state, Pad(), card_on_pad=True, staff_left_items=False)
    assert commands == [] and k.state.card_on_pad and k.state.phase is Phase.IDLE
    assert not k.feed(on_pad(cards=(PATRON,)))
    k.feed(on_pad())
    assert k.only(LookUpPatron, k.feed(on_pad(cards=(PATRON,)))).patron_id == PATRON


def test_the_pad_handed_back_mid_session_is_an_ordinary_pad_change():
    k = kiosk()
    k.identify()
    state, commands = k.machine.pad_while_closed(
        k.state, Pad(items=(tag("A", 1),)), card_on_pad=False, staff_left_items=True)
    assert [c.item_id for c in commands if isinstance(c, CheckOut)] == ["A"] and state.left_behind == ()
