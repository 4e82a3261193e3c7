"""The demo kiosk: the real station and the real Kivy app on the simulated world, with the hardware
panel beside the kiosk's screen.

One window: the kiosk's screen at the size of the usual 7" kiosk display (1024x600) on the left —
the app's own root, exactly what ``kiosk run`` shows — and the demo's hardware panel
(:class:`~kiosk.ui.demo_panel.DemoPanel`) to the right, demo-only chrome the kiosk never has.
``kiosk demo`` shows it on a desktop; its headless tour (:mod:`kiosk.demo.tour`) photographs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kiosk.assembly import Station
from kiosk.config import Layer, Settings
from kiosk.demo.hardware import DemoHardware

#: The kiosk's screen (the app's root) and the panel's width beside it, in pixels.
SCREEN = (1024, 600)
PANEL_WIDTH = 440
#: Languages the demo offers on the idle screen besides the site's English (complete catalogs).
LANGUAGES = ("de", "fr")


def demo_settings(world: DemoHardware, *, base: Sequence[Layer] | None = None, desktop: bool = True) -> Settings:
    """The kiosk's settings for the demo: ``base`` (the package defaults when None), the simulated
    world's devices, three languages, and a window holding the screen and the panel. On a desktop
    the mouse pointer shows and the sound cues play; headless there is neither.

    The simulated devices are threads of this process, sharing it with Kivy, whose software-rendered
    frames (no GPU: Mesa's llvmpipe) can hold the interpreter for a good part of a second on a busy
    machine. So the printer gets 2 s for a status answer instead of 0.5 (the FEIG reader, which
    reopens after a missed reply, runs 8N1 in every simulated world: see ``DemoHardware.overrides``).
    """
    extra = {
        "printer": {"status_timeout_seconds": 2.0},
        "station": {"languages": list(LANGUAGES)},
        "ui": {"fullscreen": False, "width": SCREEN[0] + PANEL_WIDTH, "height": SCREEN[1],
               "show_cursor": desktop, "sounds": desktop},
    }
    return world.settings(extra, base=base)


class DemoKiosk:
    """A station on ``world`` with its app and the panel, built (nothing started). :meth:`start` the
    station, run the app (``app.run()`` or frame by frame), then :meth:`close`.

    Kivy reads its display settings once, when the window is made, and the panel's text field makes
    it: so the settings are applied here first, before anything builds a widget.
    """

    def __init__(self, world: DemoHardware, settings: Settings) -> None:
        import sys

        from kiosk.ui.hardening import configure_kivy

        if "kivy.core.window" not in sys.modules:
            configure_kivy(settings.ui)
        from kivy.metrics import dp

        from kiosk.ui.app import KioskApp
        from kiosk.ui.demo_panel import DemoPanel

        self.world = world
        self.station: Station[Any] = Station.from_settings(settings, devices=world.devices())
        try:
            self.panel = DemoPanel(world, size_hint_x=None, width=dp(PANEL_WIDTH))
            self.app = KioskApp(self.station, side_panel=self.panel)
        except BaseException:
            self.station.close()
            raise
        self.station.kiosk_mode = self.app  # staff's "leave the kiosk" ends the app

    def start(self) -> DemoKiosk:
        self.station.start()
        return self

    def close(self) -> None:
        """Stop listening to the world, close the station (every device, GPIO outputs off)."""
        try:
            self.panel.close()
        finally:
            self.station.close()
