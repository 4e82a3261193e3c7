"""A simulated library system: a real SIP2 server on loopback over a small SQLite library.

Used by the tests and by ``kiosk demo``; run on its own with ``kiosk ils-sim --port 6001``.
``library`` holds the data and circulation rules (no sockets), ``app`` maps SIP2 requests onto
them, ``faults`` lets a test break the conversation on purpose, ``simulator`` ties them to a
server. README.md lists the sample patrons and items by scenario.

The names below load on first use: ``kiosk`` builds its argument parser from ``ils.cli`` for
every command, and ``kiosk config check`` should not pay for SQLite and the server to do so.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_ACCOUNTS": "hardware_mocks.ils.app",
    "IlsApp": "hardware_mocks.ils.app",
    "Faults": "hardware_mocks.ils.faults",
    "When": "hardware_mocks.ils.faults",
    "Behaviour": "hardware_mocks.ils.library",
    "Library": "hardware_mocks.ils.library",
    "load_sample_data": "hardware_mocks.ils.library",
    "IlsSimulator": "hardware_mocks.ils.simulator",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
