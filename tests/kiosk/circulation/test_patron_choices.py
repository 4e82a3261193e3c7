"""The patron's own choices (language, large text, high contrast) and the receipt in their language."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import pytest

from kiosk.circulation.commands import (
    CancelTimer,
    CheckOut,
    Command,
    EmailReceipt,
    EndPatronSession,
    LookUpPatron,
    PrintReceipt,
    SetSecurity,
    StartTimer,
)
from kiosk.circulation.events import (
    CardPresented,
    Event,
    IlsFailed,
    LoanAnswered,
    PadChanged,
    PatronLookedUp,
    PinEntered,
    Pressed,
    Printed,
    SecuritySet,
    TimerFired,
)
from kiosk.circulation.model import Failure, FailureKind, LoanAnswer, Pad, PadItem, PatronAccount
from kiosk.circulation.rows import Param
from kiosk.circulation.session import PatronSessionMachine, Phase, SessionState
from kiosk.circulation.session_text import Render, english, receipt_lines
from kiosk.config import CirculationSettings

PATRON = "21234000000018"
PIN = "1234"
LANGUAGES = ("de", "en", "fr")
NO_PIN = CirculationSettings(pin_required=False)
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


class Kiosk:
    def __init__(self, settings: CirculationSettings = NO_PIN,
                 wording: Callable[[str], Render] | None = None) -> None:
        kwargs = {"wording": wording} if wording is not None else {}
        self.machine = PatronSessionMachine(settings, languages=LANGUAGES, **kwargs)
        self.state, self.last = self.machine.start()

    def feed(self, *events: Event) -> list[Command]:
        commands: list[Command] = []
        for event in events:
            self.state, self.last = self.machine.step(self.state, event)
            commands += self.last
        return commands

    def one(self, cls: type, commands: list[Command]) -> object:
        found = [c for c in commands if isinstance(c, cls)]
        assert len(found) == 1, f"expected one {cls.__name__} in {commands}"
        return found[0]

    def identify(self, account: PatronAccount | None = None) -> list[Command]:
        commands = self.feed(CardPresented(PATRON))
        if self.state.phase is Phase.PIN:
            commands = self.feed(PinEntered(PIN))
        lookup = self.one(LookUpPatron, commands)
        pin_ok = True if lookup.pin else None
        return self.feed(PatronLookedUp(lookup.ref, account or PatronAccount(PATRON, known=True, pin_ok=pin_ok)))

    def borrow(self, item_id: str = "A") -> None:
        commands = self.feed(PadChanged(Pad(items=(PadItem(b"\x01", item_id),))))
        checkout = self.one(CheckOut, commands)
        answer = LoanAnswer(item_id, ok=True, title=f"Title of {item_id}", due="20261201")
        security = self.one(SetSecurity, self.feed(LoanAnswered(checkout.ref, answer)))
        self.feed(SecuritySet(security.ref, ok=True), PadChanged(Pad()))


def choices(state: SessionState) -> tuple[str, bool, bool]:
    return state.language, state.large_text, state.high_contrast


# --- taking the choices --------------------------------------------------------------------------


def test_a_language_on_the_idle_screen_is_taken_and_waits_for_a_card_at_most_the_inactivity_time():
    k = Kiosk()
    commands = k.feed(Pressed("language", "fr"))
    assert k.state.language == "fr" and k.state.phase is Phase.IDLE
    assert commands == [INACTIVITY]


def test_a_language_the_site_does_not_offer_is_ignored():
    k = Kiosk()
    assert k.feed(Pressed("language", "xx")) == [] and k.state == SessionState()
    assert k.feed(Pressed("language", "")) == [] and k.state == SessionState()


def test_large_text_and_high_contrast_toggle():
    k = Kiosk()
    k.feed(Pressed("large_text"), Pressed("high_contrast"))
    assert choices(k.state) == ("", True, True)
    k.feed(Pressed("large_text"))
    assert choices(k.state) == ("", False, True)


def test_an_idle_choice_with_no_card_following_is_forgotten_when_the_timer_fires():
    k = Kiosk()
    k.feed(Pressed("language", "de"), Pressed("large_text"), TimerFired("inactivity"))
    assert k.state == SessionState()


@pytest.mark.parametrize("settings", [NO_PIN, WITH_PIN], ids=["no PIN", "PIN"])
def test_a_choice_made_before_the_card_is_kept_through_identification(settings: CirculationSettings):
    k = Kiosk(settings)
    k.feed(Pressed("language", "de"), Pressed("high_contrast"))
    k.identify()
    assert k.state.phase is Phase.ACTIVE and choices(k.state) == ("de", False, True)


def test_the_choices_are_kept_for_the_refusal_notice_and_forgotten_when_it_is_dismissed():
    k = Kiosk()
    k.feed(Pressed("language", "de"), CardPresented(PATRON))
    lookup = k.one(LookUpPatron, k.last)
    k.feed(IlsFailed(lookup.ref, Failure(FailureKind.UNREACHABLE, "down")))
    assert k.state.phase is Phase.REFUSED and k.state.language == "de"
    k.feed(Pressed("high_contrast"))
    assert k.state.phase is Phase.REFUSED and k.state.high_contrast
    k.feed(Pressed("ok"))
    assert k.state.phase is Phase.IDLE and k.state == SessionState(seq=k.state.seq)


def test_walking_away_at_the_pin_pad_forgets_the_choices():
    k = Kiosk(WITH_PIN)
    k.feed(Pressed("large_text"), CardPresented(PATRON), Pressed("language", "fr"), TimerFired("inactivity"))
    assert k.state.phase is Phase.IDLE and choices(k.state) == ("", False, False)


def test_the_choices_end_with_the_session():
    k = Kiosk()
    k.feed(Pressed("language", "fr"))
    k.identify()
    k.feed(Pressed("large_text"))
    commands = k.feed(Pressed("finish"))
    assert k.one(EndPatronSession, commands) and k.state.phase is Phase.IDLE
    assert choices(k.state) == ("", False, False)


def test_the_choices_are_taken_in_every_phase():
    k = Kiosk(WITH_PIN)
    seen: dict[Phase, bool] = {}

    def toggle() -> None:
        before = k.state.large_text
        k.feed(Pressed("large_text"))
        seen[k.state.phase] = k.state.large_text is not before

    toggle()  # IDLE
    k.feed(CardPresented(PATRON))
    toggle()  # PIN
    lookup = k.one(LookUpPatron, k.feed(PinEntered(PIN)))
    toggle()  # LOOKING_UP
    k.feed(PatronLookedUp(lookup.ref, PatronAccount(PATRON, known=True, pin_ok=True)))
    toggle()  # ACTIVE
    k.borrow()
    checkout = k.one(CheckOut, k.feed(PadChanged(Pad(items=(PadItem(b"\x02", "B"),)))))
    k.feed(Pressed("finish"))
    toggle()  # FINISHING (B is still out)
    answer = LoanAnswer("B", ok=True, title="B", due="20261201")
    security = k.one(SetSecurity, k.feed(LoanAnswered(checkout.ref, answer)))
    k.feed(SecuritySet(security.ref, ok=True))
    toggle()  # RECEIPT
    k.feed(Pressed("receipt_print"))
    toggle()  # SENDING_RECEIPT
    assert seen == {phase: True for phase in Phase if phase is not Phase.REFUSED}
    k.feed(Pressed("language", "de"))
    assert k.state.language == "de"


def test_a_choice_during_the_session_is_patron_activity():
    k = Kiosk()
    k.identify()
    k.feed(TimerFired("inactivity"))
    assert k.state.more_time
    commands = k.feed(Pressed("language", "de"))
    assert not k.state.more_time and INACTIVITY in commands and CancelTimer("more_time") in commands


def test_the_machine_needs_at_least_one_language():
    with pytest.raises(ValueError):
        PatronSessionMachine(NO_PIN, languages=())


# --- the receipt in the patron's language -------------------------------------------------------------


def _receipt_text(k: Kiosk, choice: str = "receipt_print") -> list[str]:
    k.feed(Pressed("finish"))
    assert k.state.phase is Phase.RECEIPT
    command = k.one(PrintReceipt if choice == "receipt_print" else EmailReceipt, k.feed(Pressed(choice)))
    return [line.text for line in command.lines]


def test_the_receipt_is_worded_in_the_language_the_patron_picked():
    wording = Wording({"de": GERMAN})
    k = Kiosk(wording=wording)
    k.feed(Pressed("language", "de"))
    k.identify()
    k.borrow()
    text = _receipt_text(k)
    assert text == ["Quittung der Bibliothek", "Ausweis: ****0018", "Ausgeliehen", "Title of A", "  fällig am 20261201"]
    assert set(wording.asked) == {"de"}


def test_a_session_without_a_choice_is_worded_in_the_site_language():
    wording = Wording({"de": GERMAN})
    k = Kiosk(dataclasses.replace(NO_PIN, email_receipts=True), wording=wording)
    k.identify(PatronAccount(PATRON, known=True, pin_ok=None, email="p@example.org"))
    k.borrow()
    text = _receipt_text(k, "receipt_email")
    assert text[0] == "Quittung der Bibliothek" and set(wording.asked) == {"de"}  # LANGUAGES[0]


def test_an_english_choice_at_a_german_site_prints_english():
    wording = Wording({"de": GERMAN})
    k = Kiosk(wording=wording)
    k.feed(Pressed("language", "en"))
    k.identify()
    k.borrow()
    assert _receipt_text(k)[:2] == ["Library receipt", "Card: ****0018"]


def test_a_wording_that_fails_gives_english_and_the_session_still_ends():
    def broken(language: str) -> Render:
        def render(message_id: str, params: Mapping[str, Param]) -> str:
            return "{datum}".format(**params)  # a catalog naming a parameter that does not exist

        return render

    def unloadable(language: str) -> Render:
        raise LookupError(language)

    for wording in (broken, unloadable):
        k = Kiosk(wording=wording)  # type: ignore[arg-type]
        k.identify()
        k.borrow()
        text = _receipt_text(k)
        assert text[0] == "Library receipt" and "  due 20261201" in text
        printed = k.one(PrintReceipt, k.last)
        k.one(EndPatronSession, k.feed(Printed(printed.ref, ok=True)))


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
    k = Kiosk()
    k.feed(PadChanged(Pad(items=(PadItem(b"\x01", "A"),))))
    staff_left = Pad(items=(PadItem(b"\x01", "A"), PadItem(b"\x02", "B")))
    state, commands = k.machine.pad_while_closed(k.state, staff_left, card_on_pad=False, staff_left_items=True)
    assert commands == [] and state.left_behind == ("B",) and state.pad == staff_left
    k.state = state
    commands = k.identify()
    assert [c.item_id for c in commands if isinstance(c, CheckOut)] == ["A"]


def test_a_card_lying_on_the_pad_meanwhile_starts_nothing_until_put_down_again():
    k = Kiosk()
    k.state, commands = k.machine.pad_while_closed(k.state, Pad(), card_on_pad=True, staff_left_items=False)
    assert commands == [] and k.state.card_on_pad and k.state.phase is Phase.IDLE
    assert not k.feed(PadChanged(Pad(patron_cards=(PATRON,))))
    k.feed(PadChanged(Pad()))
    assert k.one(LookUpPatron, k.feed(PadChanged(Pad(patron_cards=(PATRON,))))).patron_id == PATRON


def test_the_pad_handed_back_mid_session_is_an_ordinary_pad_change():
    k = Kiosk()
    k.identify()
    state, commands = k.machine.pad_while_closed(
        k.state, Pad(items=(PadItem(b"\x01", "A"),)), card_on_pad=False, staff_left_items=True)
    assert [c.item_id for c in commands if isinstance(c, CheckOut)] == ["A"] and state.left_behind == ()
