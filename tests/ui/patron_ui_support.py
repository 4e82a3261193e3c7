"""Helpers for the patron screens' tests: a fake station, a clock the test moves, translators that
mark their output, and a driver that runs the real KioskApp on the test window.

The station is fake on purpose: the test publishes states built from the real ``KioskState`` and
``SessionState`` values (what the runner would publish) and reads back what the app submitted, so a
test says exactly what the screen is shown and checks exactly what a touch posted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.circulation.events import Event
from kiosk.circulation.rows import Message, Param
from kiosk.circulation.session import SessionState
from kiosk.circulation.station import KioskState, offline_notice
from kiosk.ui.app import KioskApp
from kiosk.ui.context import EnglishTranslator, Translator
from kiosk.ui.settings import UiSettings
from kiosk.ui.site import Site
from kiosk.ui.sounds import Sounds

LANGUAGES = ("en", "de", "fr")
OPEN, CLOSE = "\u2039", "\u203a"  # ‹ ›


class FakeStation:
    """Records what the app submits; ``publish`` hands a state to the app as the runner would."""

    def __init__(self, state: KioskState | None = None) -> None:
        self.state = state or KioskState(languages=LANGUAGES)
        self.events: list[Event] = []
        self.subscribers: list[Callable[[Any], None]] = []
        self.signal_subscribers: list[Callable[[str], None]] = []

    def snapshot(self) -> Any:
        return self.state

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback)

    def subscribe_signals(self, callback: Callable[[str], None]) -> Callable[[], None]:
        self.signal_subscribers.append(callback)
        return lambda: self.signal_subscribers.remove(callback)

    def submit(self, event: Event) -> bool:
        self.events.append(event)
        return True

    def publish(self, state: Any) -> None:
        self.state = state
        for callback in list(self.subscribers):
            callback(state)

    def signal(self, kind: str) -> None:
        for callback in list(self.signal_subscribers):
            callback(kind)

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class MarkingTranslator(EnglishTranslator):
    """English wrapped in ‹lang|…›, and dates as lang-date(…): text on screen that is not wrapped never
    went through the translator, and the mark says which language's translator made it."""

    def __init__(self, language: str) -> None:
        self.language = language

    def _mark(self, text: str) -> str:
        return f"{OPEN}{self.language}|{text}{CLOSE}"

    def text(self, english: str, /, **params: Param) -> str:
        return self._mark(super().text(english, **params))

    def message(self, message: Message) -> str:
        return self._mark(super().message(message))

    def due(self, ils_text: str) -> str:
        return f"{self.language}-date({ils_text})"


class MarkingTranslators:
    """Stands in for the app's translator cache; remembers which languages were asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def get(self, language: str) -> Translator:
        self.asked.append(language)
        return MarkingTranslator(language)


class RecordingSounds(Sounds):
    """Real cue files, no audio device: records which cues were started."""

    def __init__(self, cache_dir: Any) -> None:
        super().__init__(enabled=True, cache_dir=cache_dir, loader=lambda _path: _SilentSound())


class _SilentSound:
    volume = 1.0

    def play(self) -> None:
        pass

    def stop(self) -> None:
        pass


def session(**fields: Any) -> SessionState:
    return replace(SessionState(), **fields)


def kiosk_state(online: bool = True, out_of_service: Message | None = None, **fields: Any) -> KioskState:
    """A kiosk state as the station makes it (offline under the default policy, "checkin")."""
    return KioskState(session=session(**fields), online=online, out_of_service=out_of_service, languages=LANGUAGES,
                      offline_notice=offline_notice(online, "offline.banner.checkin"))


def labels(root: Widget) -> list[Label]:
    """Every label or button with words, in tree order (what the patron reads)."""
    return [w for w in root.walk(restrict=True) if isinstance(w, Label) and w.text.strip()
            and w.get_root_window() is not None and w.opacity > 0]


def words(root: Widget) -> str:
    return "\n".join(w.text for w in labels(root))


def unmarked(root: Widget, data: Iterable[str] = ()) -> list[str]:
    """Words on screen that did not come through a MarkingTranslator and are not data (names,
    titles, digits, symbols: shown as they are in every language)."""
    allowed = set(data)
    return [w.text for w in labels(root)
            if OPEN not in w.text and w.text not in allowed and not w.text.strip().isdigit()]


class PatronKiosk:
    """The real KioskApp on the test window, with a fake station and clock."""

    def __init__(self, stage: Any, station: FakeStation, site: Site, clock: FakeClock, sounds: Sounds,
                 side_panel: Widget | None = None) -> None:
        self.stage = stage
        self.station = station
        self.clock = clock
        self.app = KioskApp(station, site=site, sounds=sounds, clock=clock, side_panel=side_panel)
        # What App.run does before its loop: build, put the root on the window, start. The test's
        # frames are the loop.
        self.app._run_prepare()
        self.stage.frames(2)

    @property
    def window(self) -> Any:
        return self.stage.window

    @property
    def screen(self) -> Any:
        return self.app.manager.current_screen

    def show(self, state: Any, frames: int = 2) -> Any:
        """Publish ``state`` as the runner would and let the app draw it; returns the screen shown."""
        self.station.publish(state)
        self.stage.frames(frames)
        return self.screen

    def tap(self, widget: Widget) -> list[Event]:
        """Touch the widget (a real touch at its window position); returns what the app submitted."""
        assert widget.get_root_window() is not None, f"{widget!r} is not on the screen"
        self.stage.tap(widget, frames=1)
        return self.station.take()

    def later(self, seconds: float) -> None:
        """Let ``seconds`` pass on the app's clock and redraw (what the app's timers do)."""
        self.clock.now += seconds
        self.app.refresh()
        self.stage.frames(2)

    def screenshot(self, name: str) -> str:
        return self.stage.screenshot(name)

    def stop(self) -> None:
        self.app.stop()
        self.stage.frames(1)


def start(stage: Any, tmp_path: Any, *, ui: UiSettings | None = None, checkin_enabled: bool = True,
          more_time_seconds: float = 20.0, state: KioskState | None = None,
          side_panel: Widget | None = None, station: Any = None) -> PatronKiosk:
    """The app on the test window; ``station`` (else a :class:`FakeStation` showing ``state``) must
    have ``take()`` like the fake's."""
    ui = ui or UiSettings(fullscreen=False, width=1024, height=600, thank_you_seconds=4.0)
    site = Site(name="Stadtbibliothek Musterstadt", language="en", logo=ui.logo, checkin_enabled=checkin_enabled,
                more_time_seconds=more_time_seconds, ui=ui)
    return PatronKiosk(stage, station or FakeStation(state), site, FakeClock(), RecordingSounds(tmp_path / "sounds"),
                       side_panel)


def find(root: Widget, kind: type, predicate: Callable[[Any], bool] = lambda _w: True) -> list[Any]:
    return [w for w in root.walk(restrict=True) if isinstance(w, kind) and predicate(w)]


def button(root: Widget, text: str) -> Any:
    """The one button on screen whose words contain ``text``."""
    from kivy.uix.button import Button

    found = [b for b in find(root, Button, lambda b: text in b.text) if b.get_root_window() is not None]
    assert len(found) == 1, f"{len(found)} buttons say {text!r}: {[b.text for b in find(root, Button)]}"
    return found[0]
