"""The demo: the kiosk run against simulated hardware, the one place ``kiosk/`` may use
``hardware_mocks/``.

* :mod:`kiosk.demo.hardware`: ``DemoHardware``, the simulated ILS, RFID pad, scanner, printer and
  GPIO, with the settings that point a real :class:`~kiosk.assembly.Station` at them;
* :mod:`kiosk.demo.panel_api`: what the demo's hardware panel may do to that world;
* :mod:`kiosk.demo.wiring`: the station and the Kivy app on that world, the panel beside the screen;
* :mod:`kiosk.demo.command`: ``kiosk demo`` — a window (:mod:`kiosk.demo.desktop`), or without a
  display the photographed tour (:mod:`kiosk.demo.tour`, touching the screen with
  :mod:`kiosk.demo.fingers`);
* :mod:`kiosk.demo.script`: a scripted patron session against a station, without a screen.

Names load on first use, so importing the panel protocol does not start SQLite, pyserial or Kivy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "run_demo": "kiosk.demo.command",
    "DemoHardware": "kiosk.demo.hardware",
    "DemoPanelApi": "kiosk.demo.panel_api",
    "SampleTag": "kiosk.demo.panel_api",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
