"""Which screen shows: the station's state decides, plus the little the UI keeps for itself.

:func:`screen_for` is the UI contract's mapping from a station state to a screen (no policy: the
state machines decided everything already). :class:`Presentation` is what the UI keeps that changes
no core state: which part of an open session the patron is looking at (account, items, loans), the
"thank you" shown for a few seconds after a session ends, and when the "need more time?" prompt
appeared (for its countdown). Time is passed in (``now``, monotonic seconds) so all of it is tested
without a window or a clock.

No Kivy import here: this module is pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from kiosk.circulation.session import Mode, Phase
from kiosk.circulation.staff import Screen as StaffScreen
from kiosk.circulation.station import KioskState, ReturnsStationState

StationState = KioskState | ReturnsStationState

# Screen names (Kivy's ScreenManager knows screens by name).
IDLE = "idle"
PIN = "pin"
LOOKING_UP = "looking_up"
REFUSED = "refused"
ACTIVE = "active"  # resolved to one of the ACTIVE views below by the presentation
HOME = "home"
ITEMS = "items"
LOANS = "loans"
FINISHING = "finishing"
RECEIPT = "receipt"
SENDING_RECEIPT = "sending_receipt"
THANK_YOU = "thank_you"
OUT_OF_SERVICE = "out_of_service"
RETURNS_BIN = "returns_bin"


class View(StrEnum):
    """The parts of an open session (phase ACTIVE) the patron moves between."""

    HOME = HOME  # the account: name, loans, holds, fines; borrow / return / my loans / finish
    ITEMS = ITEMS  # the items on the pad or scanned, one row each
    LOANS = LOANS  # the patron's loans, renew one or all


_PHASE_SCREENS = {
    Phase.IDLE: IDLE,
    Phase.PIN: PIN,
    Phase.LOOKING_UP: LOOKING_UP,
    Phase.REFUSED: REFUSED,
    Phase.ACTIVE: ACTIVE,
    Phase.FINISHING: FINISHING,
    Phase.RECEIPT: RECEIPT,
    Phase.SENDING_RECEIPT: SENDING_RECEIPT,
}

# Phases of a session that ended properly when IDLE comes next (a cancelled PIN or an acknowledged
# refusal is no session to thank anyone for).
_SESSION_PHASES = frozenset({Phase.ACTIVE, Phase.FINISHING, Phase.RECEIPT, Phase.SENDING_RECEIPT})

PATRON_SCREENS = frozenset({
    IDLE, PIN, LOOKING_UP, REFUSED, HOME, ITEMS, LOANS, FINISHING, RECEIPT, SENDING_RECEIPT, THANK_YOU,
})
"""Screens a patron sees: they carry the offline banner and the session's notice."""


def staff_screen_name(screen: StaffScreen) -> str:
    """The screen name of a staff-mode screen, e.g. ``staff_offline_queue``."""
    return f"staff_{screen.name.lower()}"


def screen_for(state: StationState) -> str:
    """The contract's mapping: staff mode first, then out of service (a patron session under way is
    finished first), then the session's phase (or the returns bin). ``ACTIVE`` stands for the session
    views, which :meth:`Presentation.screen` resolves."""
    if state.staff.screen is not StaffScreen.CLOSED:
        return staff_screen_name(state.staff.screen)
    if isinstance(state, ReturnsStationState):
        return OUT_OF_SERVICE if state.out_of_service is not None else RETURNS_BIN
    if state.out_of_service is not None and state.session.phase is Phase.IDLE:
        return OUT_OF_SERVICE
    return _PHASE_SCREENS[state.session.phase]


@dataclass(frozen=True, slots=True)
class Presentation:
    """What the UI shows beyond the state: pure presentation, reset when no session runs.

    ``view``: the open session's part on screen. ``thank_you_until``: "thank you" shows until then.
    ``more_time_since``: when "need more time?" appeared (its countdown runs from there).
    ``phase``, ``rows``, ``mode``: what the last state had, to notice what changed.
    """

    view: View = View.HOME
    thank_you_until: float | None = None
    more_time_since: float | None = None
    phase: Phase = Phase.IDLE
    rows: int = 0
    mode: Mode = Mode.BORROW

    def follow(self, state: StationState, now: float, thank_you_seconds: float) -> Presentation:
        """The presentation after a new state arrived at ``now``."""
        if not isinstance(state, KioskState):
            return Presentation()
        session = state.session
        p = self
        if session.phase is Phase.IDLE:
            ended = self.phase in _SESSION_PHASES
            until = now + thank_you_seconds if ended else self.thank_you_until
            if state.staff.screen is not StaffScreen.CLOSED:
                until = None  # staff took over the screen: nobody to thank
            p = Presentation(thank_you_until=until)
        elif session.phase is Phase.ACTIVE:
            if self.phase is not Phase.ACTIVE:
                view = View.ITEMS if session.rows else View.HOME
            elif session.mode is not self.mode or (len(session.rows) > self.rows and self.view is View.HOME):
                view = View.ITEMS  # the patron switched mode or put an item down: show what happens to it
            else:
                view = self.view
            p = replace(p, view=view, thank_you_until=None)
        else:
            p = replace(p, thank_you_until=None)
        since = None
        if session.more_time:
            since = self.more_time_since if self.more_time_since is not None else now
        return replace(p, more_time_since=since, phase=session.phase, rows=len(session.rows), mode=session.mode)

    def screen(self, state: StationState, now: float) -> str:
        """The screen to show for ``state`` at ``now``."""
        name = screen_for(state)
        if name == ACTIVE:
            return self.view.value
        if name in (IDLE, OUT_OF_SERVICE) and self.thanking(now):
            return THANK_YOU
        return name

    def thanking(self, now: float) -> bool:
        return self.thank_you_until is not None and now < self.thank_you_until

    def show(self, view: View) -> Presentation:
        """The patron opened another part of the session."""
        return replace(self, view=view)

    def dismiss_thank_you(self) -> Presentation:
        """The patron touched "thank you": the idle screen at once."""
        return replace(self, thank_you_until=None)

    def more_time_left(self, now: float, seconds: float) -> int:
        """Whole seconds left on the "need more time?" countdown (0 when not showing or run out)."""
        if self.more_time_since is None:
            return 0
        return max(0, math.ceil(seconds - (now - self.more_time_since)))
