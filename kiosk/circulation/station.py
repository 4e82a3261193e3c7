"""One kiosk's whole decision-making: the patron session (or the returns bin) together with staff
mode, and whether the kiosk is in service at all.

The runner drives one machine, and a kiosk's screen shows one state; this module combines the
machines a station runs into that one machine. It routes each event to the machine it concerns
(staff mode's screens take the touches while they are open; device and ILS reports go to both)
and decides — policy, so here and not in the UI — when the kiosk must not take patrons: staff
switched it out of service, or it cannot work (see :class:`StationMachine`).

STATUS: the state shapes below are the contract the UI builds on; the machines are filled in by the
station work (issue 7).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.circulation.returns import ReturnsState
from kiosk.circulation.rows import Message
from kiosk.circulation.session import SessionState
from kiosk.circulation.staff import StaffState


@dataclass(frozen=True, slots=True)
class KioskState:
    """A patron self-service kiosk: the patron session and staff mode.

    ``online``: the ILS answered last time it was asked (``IlsHealth``); False shows the offline
    banner while the kiosk serves under the offline policy. ``out_of_service``: why the kiosk takes
    no patrons now (a message id such as ``"oos.staff"``, ``"oos.ils"``, ``"oos.devices"``), None
    while it is in service. ``languages``: the languages patrons may pick on the idle screen, the
    site's own first; the session's current one is ``session.language`` ("" = the site's).
    """

    session: SessionState = field(default_factory=SessionState)
    staff: StaffState = field(default_factory=StaffState)
    online: bool = True
    out_of_service: Message | None = None
    languages: tuple[str, ...] = ("en",)


@dataclass(frozen=True, slots=True)
class ReturnsStationState:
    """An unattended returns bin: the bin and staff mode (same meaning of the shared fields)."""

    returns: ReturnsState = field(default_factory=ReturnsState)
    staff: StaffState = field(default_factory=StaffState)
    online: bool = True
    out_of_service: Message | None = None
    languages: tuple[str, ...] = ("en",)
