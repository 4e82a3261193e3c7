"""What the kiosk application does when staff switch it out of service or leave it.

The staff machine decides (``SetOutOfService``, ``LeaveKiosk``); the screen carries it out: the
patron screens show an out-of-service sign and take no patrons, the returns slot closes, and
leaving hands the screen back to the desktop or a maintenance shell. The Kivy UI (issue 7)
implements :class:`KioskMode`; until then a runner without one keeps the flag itself
(:attr:`kiosk.runner.Runner.out_of_service`) and logs that it cannot leave.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol


class KioskMode(Protocol):
    """Called on the runner thread: hand the work to the UI's own thread and return at once."""

    def set_out_of_service(self, on: bool) -> None: ...

    def leave(self) -> None: ...


@dataclass
class MemoryKioskMode:
    """Keeps what it was told, for tests and the demo."""

    out_of_service: bool = False
    switches: list[bool] = field(default_factory=list)  # every SetOutOfService, in order
    left: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set_out_of_service(self, on: bool) -> None:
        with self._lock:
            self.out_of_service = on
            self.switches.append(on)

    def leave(self) -> None:
        with self._lock:
            self.left += 1
