"""What the status light tower shows (and whether the returns slot is open, and a held gate), as a
pure function of the kiosk's condition.

Why pure: the lights are how staff across the room and patrons walking up read the kiosk, so the
rules (which light for which state, which wins) are decided here, testable without pins; the GPIO
board only switches what :func:`indicate` says. :func:`observe` folds what the runner sees at each
step (the event, the machine's new state, its commands) into a :class:`KioskCondition`, so one
condition can follow several machines (the patron session, the returns bin, staff mode), or one
station machine that holds them (:mod:`kiosk.circulation.station`), whose own judgement of being out
of service (staff's switch, the ILS gone under offline mode "none", no way to read items) wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from kiosk.circulation.commands import Command, SetOutOfService
from kiosk.circulation.events import Event, IlsHealth
from kiosk.circulation.returns import ReturnsState
from kiosk.circulation.session import Phase, SessionState
from kiosk.circulation.staff import StaffState
from kiosk.circulation.station import KioskState, ReturnsStationState
from kiosk.hardware.gpio import Indication


@dataclass(frozen=True, slots=True)
class KioskCondition:
    """The facts the lights show."""

    out_of_service: bool = False  # staff switched the kiosk out of service
    online: bool = True  # the ILS answers (offline, the kiosk still works under its offline policy)
    serving: bool = False  # a patron is at the kiosk (any session phase but idle)
    sorting: bool = False  # items are between the returns slot and their bins
    returns_closed: bool = False  # the returns bin takes no items: a bin is full or the diverter failed

    @property
    def busy(self) -> bool:
        return self.serving or self.sorting


def indicate(condition: KioskCondition) -> Indication:
    """Red alone when the kiosk (or its returns slot) is out of service: one unmistakable signal.
    Otherwise green when ready for the next patron, amber while busy or offline; both together mean
    "free, but working offline". The slot opens only when items are taken; a held gate follows the
    staff switch alone, not a full bin."""
    in_service = not condition.out_of_service
    if condition.out_of_service or condition.returns_closed:
        return Indication(red=True, slot_open=False, in_service=in_service)
    return Indication(
        green=not condition.busy,
        amber=condition.busy or not condition.online,
        slot_open=True,
        in_service=in_service,
    )


def observe(
    condition: KioskCondition, event: Event, state: object, commands: Iterable[Command]
) -> KioskCondition:
    """The condition after one runner step (the arguments of the runner's ``on_step``)."""
    changes: dict[str, bool] = {}
    if isinstance(event, IlsHealth):
        changes["online"] = event.connected
    station = state if isinstance(state, KioskState | ReturnsStationState) else None
    parts = _parts(station) if station is not None else (state,)
    for part in parts:
        if isinstance(part, SessionState):
            changes["serving"] = part.phase is not Phase.IDLE
        elif isinstance(part, ReturnsState):
            changes["sorting"] = bool(part.in_flight)
            changes["returns_closed"] = not part.accepting
        elif isinstance(part, StaffState):
            changes["out_of_service"] = part.out_of_service
    for command in commands:
        if isinstance(command, SetOutOfService):
            changes["out_of_service"] = command.on
    if station is not None:  # the station's judgement includes staff's switch and the commands' effect
        changes["out_of_service"] = station.out_of_service is not None
        changes["online"] = station.online
    if all(getattr(condition, k) == v for k, v in changes.items()):
        return condition
    return replace(condition, **changes)


def _parts(station: KioskState | ReturnsStationState) -> tuple[object, ...]:
    """The machines' states a station holds: the patron's (session or bin) and staff mode's."""
    if isinstance(station, KioskState):
        return (station.session, station.staff)
    return (station.returns, station.staff)
