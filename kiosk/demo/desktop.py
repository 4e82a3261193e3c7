"""``kiosk demo`` on a desktop: the kiosk's screen and the hardware panel in one window, by hand.

Kivy's own main loop runs the real app; the panel beside it puts books and cards on the simulated
pad, scans barcodes, empties the printer's paper and takes the library system away. The kiosk's
hardening stays (ESC and F1 do nothing), except that the window's close button ends the demo: a
desktop window that cannot be closed is no demo. Ctrl-C in the terminal ends it too, as does staff
mode's "leave the kiosk".
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from typing import Any

from hardware_mocks.ils import scenarios as S
from kiosk.config import Layer
from kiosk.demo.hardware import DEMO_STAFF_PIN, DemoHardware
from kiosk.demo.wiring import DemoKiosk, demo_settings


def instructions(returns_bin: bool) -> str:
    if returns_bin:
        first = "Tap a book on the panel to drop it into the returns bin's chute."
    else:
        first = (f"Tap a patron card on the panel to put it on the pad (e.g. {S.PATRON_VALID.name}, "
                 f"PIN {S.PATRON_VALID.pin}), then books.")
    return "\n".join([
        "kiosk demo: the kiosk's screen on the left, the demo's hardware panel on the right.",
        f"  {first}",
        f"  Staff mode: the small 'Staff' button, PIN {DEMO_STAFF_PIN}.",
        "  Close the window or press Ctrl-C here to end.",
    ])


def run_desktop(*, base: Sequence[Layer] | None = None, returns_bin: bool = False) -> int:
    from kivy.clock import Clock

    with DemoHardware(returns_bin=returns_bin) as world:
        kiosk = DemoKiosk(world, demo_settings(world, base=base, desktop=True))
        app = kiosk.app

        def stop(*_: Any) -> None:
            Clock.schedule_once(lambda _dt: app.stop(), 0)

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, stop)
        Clock.schedule_once(_closable, 0)  # after the app's on_start refused closing
        print(instructions(returns_bin), flush=True)
        try:
            kiosk.start()
            app.run()
        finally:
            kiosk.close()
    return 0


def _closable(_dt: float) -> None:
    """Let the window's close button end the demo (the kiosk itself refuses it)."""
    from kivy.core.window import Window

    from kiosk.ui.hardening import refuse_close

    Window.unbind(on_request_close=refuse_close)
