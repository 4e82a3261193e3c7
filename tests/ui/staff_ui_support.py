"""Helpers for the staff-facing screens' tests: a UiContext that records what is sent, a translator
that marks its output (so a test sees that every word went through it), and finders for buttons by
the event they post."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.circulation.events import Event
from kiosk.circulation.rows import Message, Param
from kiosk.ui.context import EnglishTranslator, UiContext
from kiosk.ui.theme import STANDARD, Theme

OPEN, CLOSE = "\u2039", "\u203a"  # ‹ ›


class MarkingTranslator(EnglishTranslator):
    """English, with every string it returns wrapped in ‹ ›: text not wrapped never went through it."""

    language = "en-x-marked"

    def text(self, english: str, /, **params: Param) -> str:
        return OPEN + super().text(english, **params) + CLOSE

    def message(self, message: Message) -> str:
        return OPEN + super().message(message) + CLOSE


class Recorder:
    """``ui.send``: what the screen posted, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


def context(translator: Any = None, theme: Theme = STANDARD) -> tuple[UiContext, Recorder]:
    sent = Recorder()
    return UiContext(translator or EnglishTranslator(), theme, sent), sent


def buttons(root: Widget) -> list[Any]:
    """Every button that posts an event (``.event``), in tree order."""
    return [w for w in root.walk(restrict=True) if getattr(w, "event", None) is not None]


def button_for(root: Widget, event: Event) -> Any:
    found = [b for b in buttons(root) if b.event == event]
    assert len(found) == 1, f"{len(found)} buttons post {event}: {[b.event for b in buttons(root)]}"
    return found[0]


def keys(root: Widget, key: str) -> Any:
    found = [w for w in root.walk(restrict=True) if getattr(w, "key", "") == key]
    assert len(found) == 1, f"{len(found)} widgets carry key {key!r}"
    return found[0]


def texts(root: Widget) -> list[str]:
    """The words on screen (labels and buttons), in tree order."""
    return [w.text for w in root.walk(restrict=True) if isinstance(w, Label) and w.text]


def screen_text(root: Widget) -> str:
    return "\n".join(texts(root))


def untranslated(root: Widget, data: Iterable[str] = ()) -> list[str]:
    """Texts on screen that did not come from the marking translator and are not data (item ids,
    counts, bin names: shown as they are in every language)."""
    allowed = set(data)
    return [t for t in texts(root) if not (t.startswith(OPEN) and t.endswith(CLOSE)) and t not in allowed]


class StaffDesk:
    """Staff mode end to end without the app: the real StaffMachine, the station state it is part of,
    and the screen ``STAFF_SCREENS`` names for its current screen, on the test window. What a tap
    posts is fed back to the machine, as the runner would."""

    def __init__(self, stage: Any, translator: Any = None, theme: Theme = STANDARD, pin: str = "2468",
                 station: Any = None) -> None:
        from kiosk.circulation.staff import StaffMachine
        from kiosk.circulation.station import KioskState
        from kiosk.ui.screens.staff import STAFF_SCREENS

        self.stage = stage
        self.machine = StaffMachine(lambda entered: entered == pin, max_attempts=3)
        staff, _ = self.machine.start()
        self.station = station if station is not None else KioskState(staff=staff)
        self.ui, self.sent = context(translator, theme)
        self.screens = {name: cls() for name, cls in STAFF_SCREENS.items()}
        self.commands: list[Any] = []

    @property
    def staff(self) -> Any:
        return self.station.staff

    @property
    def screen(self) -> Any:
        return self.screens[self.staff.screen]

    def feed(self, *events: Event) -> None:
        from dataclasses import replace

        for event in events:
            staff, commands = self.machine.step(self.staff, event)
            self.station = replace(self.station, staff=staff)
            self.commands.extend(commands)
        self.show()

    def show(self) -> None:
        from kiosk.circulation.staff import Screen

        if self.staff.screen is Screen.CLOSED:
            self.stage.clear()
            return
        screen = self.screen
        screen.render(self.station, self.ui)
        if screen.parent is None:
            self.stage.show(screen)
        else:
            self.stage.frames(2)

    def tap(self, event: Event) -> list[Event]:
        """Tap the button that posts ``event``; returns what was posted (and feeds it)."""
        self.stage.tap(button_for(self.screen, event))
        return self._deliver()

    def tap_key(self, key: str) -> list[Event]:
        self.stage.tap(keys(self.screen, key))
        return self._deliver()

    def _deliver(self) -> list[Event]:
        posted = self.sent.take()
        if posted:
            self.feed(*posted)
        return posted
