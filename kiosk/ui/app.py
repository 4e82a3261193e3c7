"""The kiosk's Kivy application: shows the station's state, posts the patron's touches, plays cues.

The app decides nothing. A station object (the runner, seen through a small protocol) hands it
immutable states on the runner's thread; the app passes the newest to Kivy's thread with
``Clock.schedule_once`` (a burst of states while the ILS answers a stack of items is drawn once),
picks the screen (:mod:`kiosk.ui.navigation`), and renders it with a :class:`UiContext` in the
patron's language and look. Touches become events for ``station.submit``, which returns at once; no
I/O happens on Kivy's thread once it runs (catalogs and sound files are read at start).

The app is also the runner's :class:`~kiosk.shell.kiosk_mode.KioskMode`: out of service needs no
more than a redraw (the state carries it), and "leave the kiosk" stops the app.

Display settings reach Kivy before its window exists: constructing a :class:`KioskApp` before
anything imported ``kivy.core.window`` applies them (see :mod:`kiosk.ui.hardening`).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from kivy.app import App
from kivy.clock import Clock
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager
from kivy.uix.widget import Widget

from kiosk.circulation.events import Event, Pressed
from kiosk.circulation.station import KioskState
from kiosk.ui import navigation as nav
from kiosk.ui.chrome import MoreTimeOverlay, NoticeBar, OfflineBanner
from kiosk.ui.context import UiContext
from kiosk.ui.hardening import configure_kivy, refuse_close, swallow_keys
from kiosk.ui.screens.home import HomeScreen
from kiosk.ui.screens.idle import IdleScreen
from kiosk.ui.screens.items import ItemsScreen
from kiosk.ui.screens.loans import LoansScreen
from kiosk.ui.screens.out_of_service import OutOfServiceScreen
from kiosk.ui.screens.pin import PinScreen
from kiosk.ui.screens.receipt import ReceiptScreen
from kiosk.ui.screens.refused import RefusedScreen
from kiosk.ui.screens.returns_bin import ReturnsBinScreen
from kiosk.ui.screens.staff import STAFF_SCREENS
from kiosk.ui.screens.thank_you import ThankYouScreen
from kiosk.ui.screens.waiting import FinishingScreen, LookingUpScreen, SendingReceiptScreen
from kiosk.ui.site import Site
from kiosk.ui.sounds import Sounds
from kiosk.ui.theme import Theme, theme
from kiosk.ui.widgets import Look
from kiosk.ui.words import Translators

log = logging.getLogger(__name__)


class Station(Protocol):
    """What the app needs from the kiosk's core: states, and a way to send events.

    ``subscribe(callback)``: call ``callback(state)`` with every new state, on any thread (it may
    return a function that unsubscribes). ``submit(event)``: queue an event, thread-safe, return at
    once (False once closed). The site's facts come from :meth:`Site.of`: the station's
    ``settings`` (as :class:`kiosk.assembly.Station` has), else ``site_name`` and ``ui_settings``.
    Sound cues come from ``on_signal(callback)`` or ``subscribe_signals(callback)`` when the station
    has one (else wire the runner's ``on_signal`` to :meth:`KioskApp.signal`).
    """

    def snapshot(self) -> nav.StationState: ...

    def subscribe(self, callback: Callable[[nav.StationState], None]) -> object: ...

    def submit(self, event: Event) -> bool: ...


class KioskApp(App):
    """The kiosk's screen for ``station`` (see :class:`Station`).

    ``site`` defaults to :meth:`Site.of(station) <kiosk.ui.site.Site.of>`; ``sounds`` to cues per
    ``[ui] sounds`` and ``volume``; ``side_panel`` is a widget shown beside the screens (the demo's
    hardware panel); ``clock`` gives monotonic seconds (tests pass their own).
    """

    def __init__(self, station: Station, *, site: Site | None = None, sounds: Sounds | None = None,
                 side_panel: Widget | None = None, clock: Callable[[], float] = time.monotonic,
                 **kwargs: Any) -> None:
        self.site = site or Site.of(station)
        if "kivy.core.window" not in sys.modules:
            configure_kivy(self.site.ui)
        else:
            log.info("Kivy's window already exists: [ui] display settings not applied")
        super().__init__(**kwargs)
        self.station = station
        self.sounds = sounds or Sounds(enabled=self.site.ui.sounds, volume=self.site.ui.volume)
        self.side_panel = side_panel
        self.clock = clock
        self.title = self.site.name
        self.use_kivy_settings = False
        self.translators = Translators()
        self.presentation = nav.Presentation()
        self.state: nav.StationState | None = None
        self.screen_name = ""
        self.renders = 0  # how many times a state was drawn (bursts are coalesced)
        self.render_errors = 0  # screens that raised while drawing (logged; the kiosk carries on)
        self.manager: ScreenManager | None = None
        self._lock = threading.Lock()
        self._latest: nav.StationState | None = None
        self._scheduled = False
        self._stopped = False
        self._chrome = Look()
        self._thanks_timer: Any = None
        self._countdown: Any = None
        self._unsubscribe: list[object] = []

    # -- building ---------------------------------------------------------------------------------

    def build(self) -> Widget:
        site = self.site
        manager = ScreenManager(transition=NoTransition())
        screens: list[Screen] = [
            IdleScreen(site),
            PinScreen(site),
            LookingUpScreen(site),
            RefusedScreen(site),
            HomeScreen(site, self.navigate),
            ItemsScreen(site, self.navigate),
            LoansScreen(site, self.navigate),
            FinishingScreen(site),
            ReceiptScreen(site),
            SendingReceiptScreen(site),
            ThankYouScreen(site, self.dismiss_thank_you),
        ]
        screens += self._other_screens()
        for screen in screens:
            manager.add_widget(screen)
        manager.current = nav.IDLE
        self.manager = manager
        self.banner = OfflineBanner(self._chrome)
        self.notice = NoticeBar(self._chrome)
        self.more_time = MoreTimeOverlay(self._chrome, lambda: self.send(Pressed("more_time")))
        self.column = BoxLayout(orientation="vertical")
        self.column.add_widget(manager)
        main = BoxLayout(orientation="horizontal")
        main.add_widget(self.column)
        if self.side_panel is not None:
            main.add_widget(self.side_panel)
        self.root_layout = FloatLayout()
        self.root_layout.add_widget(main)
        return self.root_layout

    def _other_screens(self) -> list[Screen]:
        """Staff mode (one screen per staff screen), the returns bin and the out-of-service sign."""
        made: list[Screen] = [cls(name=nav.staff_screen_name(staff_screen)) for staff_screen, cls in
                              STAFF_SCREENS.items()]
        made.append(ReturnsBinScreen(name=nav.RETURNS_BIN))
        made.append(OutOfServiceScreen(name=nav.OUT_OF_SERVICE))
        return made

    def on_start(self) -> None:
        from kivy.core.window import Window

        # Bound after App's own F1 handler, so called before it: True stops the dispatch.
        Window.bind(on_keyboard=swallow_keys, on_request_close=refuse_close)
        self.sounds.prepare()
        self._unsubscribe = [self.station.subscribe(self.publish)]
        for name in ("on_signal", "subscribe_signals"):
            subscribe_signals = getattr(self.station, name, None)
            if callable(subscribe_signals):
                self._unsubscribe.append(subscribe_signals(self.signal))
                break
        first = self.station.snapshot()
        for language in (self.site.language, *first.languages):
            if language:
                self.translators.get(language)  # read every catalog now, not during a patron's session
        with self._lock:
            fresh = self._latest is None and self.state is None
        if fresh:
            self.publish(first)

    def on_stop(self) -> None:
        from kivy.core.window import Window

        self._stopped = True
        Window.unbind(on_keyboard=swallow_keys, on_request_close=refuse_close)
        unsubscribes, self._unsubscribe = self._unsubscribe, []
        for unsubscribe in unsubscribes:
            if callable(unsubscribe):
                unsubscribe()
        for event in (self._thanks_timer, self._countdown):
            if event is not None:
                event.cancel()

    def open_settings(self, *_: Any) -> bool:
        """Kivy's settings panel is never shown on a kiosk."""
        return False

    # -- from the station (any thread) --------------------------------------------------------------

    def publish(self, state: nav.StationState) -> None:
        """A new state, on any thread: drawn on Kivy's next frame; newer states replace it unseen."""
        with self._lock:
            self._latest = state
            if self._scheduled:
                return
            self._scheduled = True
        Clock.schedule_once(self._take_latest, 0)

    def signal(self, kind: str) -> None:
        """A sound cue ("success", "attention", "error"), on any thread."""
        Clock.schedule_once(lambda _dt: self._play(kind), 0)

    def set_out_of_service(self, on: bool) -> None:
        """KioskMode: the state says it too; redraw so the sign shows even before the next state."""
        Clock.schedule_once(lambda _dt: self.refresh(), 0)

    def leave(self) -> None:
        """KioskMode: staff left the kiosk; the app ends (systemd or the shell decide what next)."""
        Clock.schedule_once(lambda _dt: self.stop(), 0)

    # -- on Kivy's thread ---------------------------------------------------------------------------

    def _take_latest(self, _dt: float = 0) -> None:
        with self._lock:
            state, self._latest = self._latest, None
            self._scheduled = False
        if state is None or self._stopped:
            return
        self.state = state
        self.presentation = self.presentation.follow(state, self.clock(), self.site.ui.thank_you_seconds)
        self.refresh()

    def _play(self, kind: str) -> None:
        if not self._stopped:
            self.sounds.play(kind)

    def send(self, event: Event) -> None:
        self.station.submit(event)

    def navigate(self, view: nav.View) -> None:
        """A patron screen opened another part of the session (no event: presentation only)."""
        self.presentation = self.presentation.show(view)
        self.refresh()

    def dismiss_thank_you(self) -> None:
        self.presentation = self.presentation.dismiss_thank_you()
        self.refresh()

    def context(self, state: nav.StationState) -> UiContext:
        """The patron's language and look for this state."""
        return UiContext(tr=self.translators.get(self.language(state)), theme=self.theme_for(state),
                         send=self.station.submit)

    def language(self, state: nav.StationState) -> str:
        chosen = state.session.language if isinstance(state, KioskState) else ""
        return chosen or self.site.language or (state.languages[0] if state.languages else "en")

    def theme_for(self, state: nav.StationState) -> Theme:
        """The kiosk's defaults ([ui] large_text, high_contrast), each flipped by the patron's toggle."""
        session = state.session if isinstance(state, KioskState) else None
        flip_large = bool(getattr(session, "large_text", False))
        flip_contrast = bool(getattr(session, "high_contrast", False))
        return theme(high_contrast=self.site.ui.high_contrast != flip_contrast,
                     large_text=self.site.ui.large_text != flip_large)

    def refresh(self, *_: Any) -> None:
        """Draw the current state: the screen, the banner, the notice and the prompt.

        A screen that fails to draw a state is a bug, logged with the screen's name; it must not
        end the kiosk (an exception in a Kivy callback ends the app), so the last good picture
        stays and the next state is drawn afresh."""
        state, manager = self.state, self.manager
        if state is None or manager is None or self._stopped:
            return
        now = self.clock()
        name = self.presentation.screen(state, now)
        try:
            ui = self.context(state)
            screen = manager.get_screen(name)
            screen.render(state, ui)
            if manager.current != name:
                manager.current = name
            self.screen_name = name
            self._draw_chrome(state, ui, screen)
            self._time_thank_you(name, now)
        except Exception:
            self.render_errors += 1
            log.exception("the %s screen could not draw the state; the last picture stays", name)
            return
        self.renders += 1

    def _draw_chrome(self, state: nav.StationState, ui: UiContext, screen: Screen) -> None:
        from kivy.core.window import Window

        Window.clearcolor = ui.theme.background
        self._chrome.theme = ui.theme
        session = state.session if isinstance(state, KioskState) and self.screen_name in nav.PATRON_SCREENS else None
        offline = session is not None and not state.online
        notice = session.notice if session is not None else None
        if notice is not None and (getattr(screen, "shows_notice", False)
                                   or (offline and notice.id == "patron.offline")):
            notice = None  # the screen shows it itself, or the banner says the same
        if offline:
            self.banner.update(ui.tr, state.offline_notice)
        if notice is not None:
            self.notice.update(ui.tr.message(notice))
        wanted = [*([self.banner] if offline else []), *([self.notice] if notice is not None else []), self.manager]
        if list(reversed(self.column.children)) != wanted:
            self.column.clear_widgets()
            for widget in wanted:
                self.column.add_widget(widget)
        if session is not None and session.more_time:
            self._tick_more_time()
            if self.more_time.parent is None:
                self.root_layout.add_widget(self.more_time)
            if self._countdown is None:
                self._countdown = Clock.schedule_interval(self._tick_more_time, 0.25)
        else:
            if self.more_time.parent is not None:
                self.root_layout.remove_widget(self.more_time)
            if self._countdown is not None:
                self._countdown.cancel()
                self._countdown = None

    def _tick_more_time(self, *_: Any) -> None:
        if self.state is None:
            return
        left = self.presentation.more_time_left(self.clock(), self.site.more_time_seconds)
        self.more_time.update(self.context(self.state).tr, left)

    def _time_thank_you(self, name: str, now: float) -> None:
        if self._thanks_timer is not None:
            self._thanks_timer.cancel()
            self._thanks_timer = None
        until = self.presentation.thank_you_until
        if name == nav.THANK_YOU and until is not None:
            self._thanks_timer = Clock.schedule_once(self.refresh, max(0.0, until - now) + 0.01)
