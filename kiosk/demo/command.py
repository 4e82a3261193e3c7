"""``kiosk demo``: the kiosk on simulated hardware, in a window or, without a display, as a
photographed tour.

With a display (``DISPLAY`` or ``WAYLAND_DISPLAY`` set, or ``SDL_VIDEODRIVER`` naming a real video
driver) the kiosk's screen opens with the hardware panel beside it, to play with by hand
(:mod:`kiosk.demo.desktop`). Without one — a server, CI, an SSH session — the scripted tour runs
offscreen and writes a screenshot of every screen and the printed receipt to a folder it names
(:mod:`kiosk.demo.tour`). ``--headless`` asks for the tour on a desktop too.

Kivy reads its environment when first imported, so this module sets it before anything imports
Kivy: its config and logs in a throwaway home, its log through Python's logging, no reading of
the command line, and the offscreen video driver for the tour.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import MutableMapping
from datetime import datetime
from pathlib import Path

from kiosk.config import ConfigError, Layer, parse_layers, read_layers, resolve_secrets_path

#: SDL video drivers that show nothing (the tour's offscreen one, and one Kivy cannot use at all).
NO_DISPLAY_DRIVERS = frozenset({"offscreen", "dummy"})


def has_display(environ: MutableMapping[str, str]) -> bool:
    """Whether a window can be shown: SDL's driver when one is named, else an X or Wayland display."""
    driver = environ.get("SDL_VIDEODRIVER", "").strip().lower()
    if driver:
        return driver not in NO_DISPLAY_DRIVERS
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def prepare_kivy(environ: MutableMapping[str, str], *, headless: bool, home: str) -> None:
    """Kivy's environment for the demo (a value already set by the caller wins, except the video
    driver of a headless run, which must be the offscreen one: the dummy driver has no GL)."""
    environ.setdefault("KIVY_HOME", home)
    environ.setdefault("KIVY_NO_ARGS", "1")
    environ.setdefault("KIVY_NO_FILELOG", "1")
    environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    environ.setdefault("KIVY_USE_DEFAULTCONFIG", "1")  # a user's ~/.kivy/config.ini plays no part
    # Kivy's default clipboard providers shell out to xsel/xclip and log a traceback when they are
    # missing; SDL's own clipboard needs nothing (and offscreen there is nothing to paste).
    environ.setdefault("KIVY_CLIPBOARD", "dummy" if headless else "sdl2")
    logging.getLogger("kivy").addFilter(_not_news)
    if headless:
        environ["SDL_VIDEODRIVER"] = "offscreen"
        environ.setdefault("SDL_AUDIODRIVER", "dummy")
        environ.setdefault("KIVY_METRICS_DENSITY", "1")  # the screenshots at the kiosk's own scale


#: Kivy log lines that are no news in the demo: X's cut buffer (xsel/xclip) is looked for even with
#: a clipboard chosen, and its absence logged as critical with tracebacks; and a fresh KIVY_HOME's
#: default config is "upgraded" with a warning.
QUIET_KIVY = ("Cutbuffer", "Config: Older configuration version", "Config: Upgrading configuration")


def _not_news(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(QUIET_KIVY)


def default_out(now: datetime | None = None) -> Path:
    return Path("demo-output") / (now or datetime.now()).strftime("%Y%m%d-%H%M%S")


def _base_layers(args: argparse.Namespace) -> list[Layer] | None:
    """The site's configuration under the demo's (``--config-dir``), or None for the package defaults.
    Raises ConfigError before anything starts when it is not valid on its own."""
    if args.config_dir is None:
        return None
    directory = Path(args.config_dir)
    layers = read_layers(directory, resolve_secrets_path(directory, args.secrets, os.environ))
    parse_layers(layers)
    return layers


def _log_to_stderr(level: int) -> None:
    """Problems to stderr, nothing chattier: the tour prints its own progress. (The handler's level
    filters, not the root logger's: Kivy's logger passes its INFO lines on to the root's handlers.)"""
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


def run_demo(args: argparse.Namespace) -> int:
    """0 after the window was closed or the tour ran through; 1 when a tour step failed; 2 for a
    configuration (``--config-dir``) that cannot be used."""
    try:
        base = _base_layers(args)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 2
    headless = bool(args.headless) or not has_display(os.environ)
    _log_to_stderr(logging.ERROR if headless else logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="kiosk-demo-kivy-") as home:
        prepare_kivy(os.environ, headless=headless, home=home)
        if headless:
            from kiosk.demo.tour import run_tour

            return run_tour(Path(args.out) if args.out else default_out(), base=base,
                            step_seconds=float(args.step_seconds))
        from kiosk.demo.desktop import run_desktop

        return run_desktop(base=base, returns_bin=bool(args.returns_bin))
