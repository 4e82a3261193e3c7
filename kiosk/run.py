"""``kiosk run``: the kiosk process — the station from the configuration, with its touch screen, or
headless (``--headless``: a returns bin needs no screen).

Under systemd (``Type=notify``, ``WatchdogSec=``) the process says READY=1 once the station runs
(and, with a screen, once Kivy's clock ticks), and pings the watchdog while the runner is alive: from
the main loop headless, from Kivy's clock with a screen, so a frozen screen is restarted too. SIGTERM
and SIGINT end it normally: every device is closed (GPIO outputs off) before the process exits.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from kiosk.assembly import Station
from kiosk.config import ConfigError, Settings, load_settings
from kiosk.sync.journal import JournalError

log = logging.getLogger("kiosk.run")

#: Seconds between the headless main loop's checks (watchdog pings are paced by the watchdog itself).
LOOP_SECONDS = 1.0


def _load(args: argparse.Namespace) -> Settings | None:
    try:
        return load_settings(args.config_dir, args.secrets)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return None


def run_kiosk(args: argparse.Namespace) -> int:
    """0 after a normal stop; 2 for a configuration that cannot be used; 3 when the journal cannot
    be opened; 4 when the screen cannot start (the station is not started then)."""
    from kiosk.ops.logging import setup_logging
    from kiosk.ops.watchdog import Watchdog
    from kiosk.ops.wiring import attach_ops

    settings = _load(args)
    if settings is None:
        return 2
    setup_logging(settings.logging)
    try:
        station = Station.from_settings(settings)
    except JournalError as exc:
        print(f"kiosk run: cannot open the journal: {exc}", file=sys.stderr)
        return 3
    watchdog = Watchdog.from_environment()
    watchdog.add_check("runner", lambda: station.runner.alive)
    # Metrics, /metrics + /healthz on [metrics] listen, alerts ([alerts]): attached before the start,
    # so they see the first device reports.
    ops = attach_ops(settings, health=station.health, journal=station.gateway.journal,
                     observe_steps=station.on_step)
    try:
        if args.headless:
            return _headless(station, watchdog)
        return _with_screen(station, watchdog)
    finally:
        ops.close()


def _headless(station: Station[Any], watchdog: Any) -> int:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        station.start()
        log.info("kiosk station running headless (%s)", station.kind)
        watchdog.notifier.ready(f"{station.kind} station running")
        while not watchdog.wait(stop, LOOP_SECONDS):
            if not station.runner.alive:
                log.error("the station's runner stopped; exiting so the service restarts")
                return 1
        return 0
    finally:
        watchdog.notifier.stopping("closing the station")
        station.close()
        log.info("kiosk station closed")


def _with_screen(station: Station[Any], watchdog: Any) -> int:
    try:
        from kiosk.ui.app import KioskApp  # Kivy loads only for a screen
    except ImportError as exc:
        station.close()
        print(f"kiosk run: the touch screen cannot start ({exc}); `kiosk run --headless` runs without it",
              file=sys.stderr)
        return 4
    from kivy.clock import Clock

    app = KioskApp(station)
    station.kiosk_mode = app
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: Clock.schedule_once(lambda _dt: app.stop()))
    Clock.schedule_once(lambda _dt: watchdog.notifier.ready("screen up, station running"))
    if watchdog.enabled and watchdog.interval:
        Clock.schedule_interval(lambda _dt: watchdog.feed(), watchdog.interval / 2)
    try:
        station.start()
        app.run()
        return 0
    finally:
        watchdog.notifier.stopping("closing the station")
        station.close()
