"""The kiosk's decisions, as pure state machines: (state, event) -> (state, commands).

Nothing here touches a socket, a device, a thread or the clock: the runner (``kiosk/runner.py``)
performs the commands and feeds the results back as events, and the UI renders the states.
That is what makes every path testable in microseconds, and replayable from a log.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from kiosk.circulation.commands import Command
from kiosk.circulation.events import Event

S = TypeVar("S")


class Machine(Protocol[S]):
    """A state machine the runner can drive. States are immutable values (snapshots for the UI)."""

    def start(self) -> tuple[S, list[Command]]:
        """The initial state and the commands to run at start (e.g. timers)."""
        ...

    def step(self, state: S, event: Event) -> tuple[S, list[Command]]:
        """The next state and the commands to run. Never raises for an event that makes no sense
        in ``state``: it is ignored (returned unchanged), because devices and patrons do odd things."""
        ...
