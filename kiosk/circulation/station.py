"""One kiosk's whole decision-making: the patron session (or the returns bin) together with staff
mode, and whether the kiosk is in service at all.

The runner drives one machine, and a kiosk's screen shows one state; this module combines the
machines a station runs into that one machine. It routes each event to the machine it concerns
(staff mode's screens take the touches while they are open; device and ILS reports go to both)
and decides — policy, so here and not in the UI — when the kiosk must not take patrons: staff
switched it out of service, or it cannot work (see :func:`out_of_service`).

Routing (both stations):

* ``DeviceStatus``, ``IlsHealth``, ``OfflineQueueChanged``: to both machines (the patron's machine
  first); ``IlsHealth.connected`` is also the station's ``online``;
* ``TagWritten``, ``DeviceTested``, ``GateOpened``, and timers named ``staff.*``: to staff mode,
  but for the answer to the barrier opened for a patron leaving with a loan, which is the session's
  (the patron may be stuck at it); other timers to the patron's machine;
* touches and inputs (``Pressed``, ``PinEntered``, ``ItemScanned``, ``WrongBarcode``, ``CardPresented``,
  ``PadChanged``): to staff mode only while it is open (``staff.screen`` is not CLOSED). Closed,
  ``Pressed("staff")`` opens it — at the self-check kiosk only between patrons (session IDLE or
  REFUSED), and the patron's machine never sees that press — and the rest go to the patron's machine;
* everything else (the ILS's and devices' answers, ``GateAlarm``, the returns bin's reports): to the
  patron's machine.

The pad is physical and outlives the screens: the station keeps the latest one it was told about,
hands it to staff mode when staff mode opens (tags already lying there are seen at once) and back to
the session when it closes (:meth:`PatronSessionMachine.pad_while_closed`), so items staff leave on it
are known — and are not charged to the next patron. Commands come back in the order the machines
produced them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kiosk.circulation.commands import Command, StartTimer
from kiosk.circulation.events import (
    CardPresented,
    DeviceStatus,
    DeviceTested,
    Event,
    GateOpened,
    IlsHealth,
    ItemScanned,
    OfflineQueueChanged,
    PadChanged,
    PinEntered,
    Pressed,
    TagWritten,
    TimerFired,
    WrongBarcode,
)
from kiosk.circulation.model import Pad
from kiosk.circulation.returns import ReturnsBinMachine, ReturnsState
from kiosk.circulation.rows import Message
from kiosk.circulation.session import CHOICES, PatronSessionMachine, Phase, SessionState
from kiosk.circulation.staff import IDLE_TIMER, Screen, StaffMachine, StaffState

MESSAGES: dict[str, str] = {
    "oos.staff": "This kiosk is out of service. Please use another kiosk or ask at the desk.",
    "oos.ils": "The library system cannot be reached. Please ask at the desk.",
    "oos.devices": "This kiosk cannot read items right now. Please ask at the desk.",
    # the offline banner: what working offline means under this site's offline policy
    "offline.banner.none": "The library system is offline.",
    "offline.banner.checkin": "The library system is offline: returns are recorded and sent to it later. "
                              "Borrowing is not possible right now.",
    "offline.banner.checkin_and_checkout": "The library system is offline: loans and returns are recorded "
                                           "and sent to it later.",
    "offline.banner.returns": "The library system is offline: returns are recorded and sent to it later.",
}
"""English for the message ids this module puts in states (the UI's catalogs translate them)."""

OFFLINE_MODES = ("none", "checkin", "checkin_and_checkout")  # OfflineSettings.mode
ITEM_INPUTS = frozenset({"reader", "scanner"})
"""DeviceStatus components through which a kiosk learns which items are in front of it."""
STAFF_TIMERS = "staff."  # prefix of staff mode's timer names
BIN_ACTIONS = frozenset({"bin_emptied", "fault_cleared", "exceptions_cleared"})
"""The returns bin's Pressed actions: staff's, taken only while staff are logged in."""
RETURNS_STATION_WITHHOLDS = frozenset({"program"})
"""Staff-menu entries a returns station does not offer. Tag programming waits for a tag lying on the
pad, but a returns station's reader sits in the chute and reports only drops: no tag would ever come."""

_REPORTS = (DeviceStatus, IlsHealth, OfflineQueueChanged)
_STAFF_ANSWERS = (TagWritten, DeviceTested, GateOpened)
_INPUTS = (Pressed, PinEntered, ItemScanned, WrongBarcode, CardPresented, PadChanged)
_BETWEEN_PATRONS = (Phase.IDLE, Phase.REFUSED)  # no patron session under way


@dataclass(frozen=True, slots=True)
class KioskState:
    """A patron self-service kiosk: the patron session and staff mode.

    ``online``: the ILS answered last time it was asked (``IlsHealth``); False shows the offline
    banner while the kiosk serves under the offline policy. ``out_of_service``: why the kiosk takes
    no patrons now (a message id such as ``"oos.staff"``, ``"oos.ils"``, ``"oos.devices"``), None
    while it is in service. ``languages``: the languages patrons may pick on the idle screen, the
    site's own first; the session's current one is ``session.language`` ("" = the site's).
    ``offline_notice``: what the offline banner says (what the site's offline policy still allows),
    None while online. ``pad`` / ``card_on_pad``: what lies on the pad now (patron cards' ids
    removed), kept here because the session does not see the pad while staff mode is open.
    """

    session: SessionState = field(default_factory=SessionState)
    staff: StaffState = field(default_factory=StaffState)
    online: bool = True
    out_of_service: Message | None = None
    languages: tuple[str, ...] = ("en",)
    pad: Pad = field(default_factory=Pad)
    card_on_pad: bool = False
    offline_notice: Message | None = None


@dataclass(frozen=True, slots=True)
class ReturnsStationState:
    """An unattended returns bin: the bin and staff mode (same meaning of the shared fields)."""

    returns: ReturnsState = field(default_factory=ReturnsState)
    staff: StaffState = field(default_factory=StaffState)
    online: bool = True
    out_of_service: Message | None = None
    languages: tuple[str, ...] = ("en",)
    offline_notice: Message | None = None

    @property
    def accepting(self) -> bool:
        """The slot is open: the bin can take items and the station is in service."""
        return self.returns.accepting and self.out_of_service is None


def offline_notice(online: bool, message_id: str) -> Message | None:
    """The offline banner's words: they say what the site's offline policy lets the patron do, so the
    banner never promises a loan the policy refuses."""
    return None if online else Message(message_id)


def out_of_service(staff: StaffState, online: bool, offline_mode: str, *,
                   item_inputs_matter: bool = True) -> Message | None:
    """Why the station must not take patrons now, most telling first; None when it may.

    1. ``oos.staff``: staff switched it out of service;
    2. ``oos.ils``: the ILS cannot be reached and the site does nothing offline (mode "none");
    3. ``oos.devices`` (self-check only): every item input that reported (reader, scanner) failed,
       and at least one did — a kiosk whose scanner was never wired is not out of service because
       of it, and one whose reader failed can still take scanned items.

    Device health comes from staff mode's device rows, which keep every report whatever the screen.
    """
    if staff.out_of_service:
        return Message("oos.staff")
    if not online and offline_mode == "none":
        return Message("oos.ils")
    inputs = [row for row in staff.devices if row.component in ITEM_INPUTS]
    if item_inputs_matter and inputs and all(row.state == "failed" for row in inputs):
        return Message("oos.devices")
    return None


def _check(offline_mode: str, languages: tuple[str, ...]) -> None:
    if offline_mode not in OFFLINE_MODES:
        raise ValueError(f"offline_mode must be one of {OFFLINE_MODES}, not {offline_mode!r}")
    if not languages:
        raise ValueError("languages must name at least one language, the site's first")


def _for_staff(event: Event) -> bool:
    """Staff mode's answers and timers: nobody else's business."""
    return isinstance(event, _STAFF_ANSWERS) or (isinstance(event, TimerFired) and event.name.startswith(STAFF_TIMERS))


def _staff_open(staff: StaffState) -> bool:
    return staff.screen is not Screen.CLOSED


class KioskStationMachine:
    """The self-check kiosk: :class:`PatronSessionMachine` + :class:`StaffMachine` as one machine.

    ``offline_mode`` is ``OfflineSettings.mode``; ``languages`` the codes patrons may pick, the site's
    first — the same tuple the session machine was built with (it is the session that checks a
    ``Pressed("language", code)`` against them, and words "" in the first), else ValueError.

    Out of service and between patrons (session IDLE or REFUSED), nothing that would start a session
    is taken — a card presented or put on the pad, on the idle screen any press but the patron's
    choices (language, large text, contrast) — while a session under way finishes normally, and a
    refusal notice can still be dismissed. A card that arrived on the pad meanwhile must be put down
    again once the kiosk is back in service.
    """

    def __init__(self, session: PatronSessionMachine, staff: StaffMachine, *, offline_mode: str,
                 languages: tuple[str, ...]) -> None:
        _check(offline_mode, languages)
        if tuple(languages) != session.languages:
            raise ValueError(
                f"the station's languages {tuple(languages)!r} differ from the session machine's "
                f"{session.languages!r}: build both from the same setting"
            )
        self.session = session
        self.staff = staff
        self.offline_mode = offline_mode
        self.languages = tuple(languages)

    def start(self) -> tuple[KioskState, list[Command]]:
        session, session_commands = self.session.start()
        staff, staff_commands = self.staff.start()
        state = KioskState(session=session, staff=staff, languages=self.languages)
        return self._judged(state), [*session_commands, *staff_commands]

    def step(self, state: KioskState, event: Event) -> tuple[KioskState, list[Command]]:
        new, commands = self._route(state, event)
        if _staff_open(state.staff) and not _staff_open(new.staff):
            new, more = self._staff_closed(new)
            commands += more
        new = self._judged(new)
        return (state, commands) if new == state else (new, commands)

    # --- routing ----------------------------------------------------------------------------------

    def _route(self, state: KioskState, event: Event) -> tuple[KioskState, list[Command]]:
        if isinstance(event, _REPORTS):
            if isinstance(event, IlsHealth):
                state = replace(state, online=event.connected)
            return self._both(state, event)
        if isinstance(event, GateOpened) and state.session.gate_ref and event.ref == state.session.gate_ref:
            return self._to_session(state, event)  # the patron's own barrier, opened as they left
        if _for_staff(event):
            return self._to_staff(state, event)
        if isinstance(event, _INPUTS):
            return self._input(state, event)
        return self._to_session(state, event)

    def _input(self, state: KioskState, event: Event) -> tuple[KioskState, list[Command]]:
        if isinstance(event, PadChanged):
            cards = bool(event.pad.patron_cards)
            state = replace(state, pad=replace(event.pad, patron_cards=()), card_on_pad=cards)
        if _staff_open(state.staff):
            # Staff mode needs the tags, never whose card lies there.
            return self._to_staff(state, PadChanged(state.pad) if isinstance(event, PadChanged) else event)
        if isinstance(event, Pressed) and event.action == "staff":
            if state.session.phase not in _BETWEEN_PATRONS:
                return state, []  # never in the middle of a patron's session
            return self._staff_opened(*self._to_staff(state, event))
        if state.out_of_service is not None and state.session.phase in _BETWEEN_PATRONS:
            return self._closed_to_patrons(state, event)
        return self._to_session(state, event)

    def _closed_to_patrons(self, state: KioskState, event: Event) -> tuple[KioskState, list[Command]]:
        """Out of service with no session under way: the pad is still watched, the patron's choices
        still taken, but nothing starts a session."""
        match event:
            case PadChanged():
                session, commands = self.session.pad_while_closed(
                    state.session, state.pad, card_on_pad=state.card_on_pad, staff_left_items=False)
                return replace(state, session=session), commands
            case Pressed(action=action) if action in CHOICES or state.session.phase is Phase.REFUSED:
                return self._to_session(state, event)  # in REFUSED: "ok" ends the refusal, starts nothing
        return state, []

    def _staff_opened(self, state: KioskState, commands: list[Command]) -> tuple[KioskState, list[Command]]:
        if not _staff_open(state.staff):
            return state, commands  # locked out: staff mode said so and stayed closed
        staff, more = self.staff.step(state.staff, PadChanged(state.pad))
        return replace(state, staff=staff), [*commands, *more]

    def _staff_closed(self, state: KioskState) -> tuple[KioskState, list[Command]]:
        session, commands = self.session.pad_while_closed(
            state.session, state.pad, card_on_pad=state.card_on_pad, staff_left_items=True)
        return replace(state, session=session), commands

    def _both(self, state: KioskState, event: Event) -> tuple[KioskState, list[Command]]:
        state, first = self._to_session(state, event)
        state, second = self._to_staff(state, event)
        return state, [*first, *second]

    def _to_session(self, state: KioskState, event: Event) -> tuple[KioskState, list[Command]]:
        session, commands = self.session.step(state.session, event)
        return (state if session is state.session else replace(state, session=session)), list(commands)

    def _to_staff(self, state: KioskState, event: Event) -> tuple[KioskState, list[Command]]:
        staff, commands = self.staff.step(state.staff, event)
        return (state if staff is state.staff else replace(state, staff=staff)), list(commands)

    def _judged(self, state: KioskState) -> KioskState:
        reason = out_of_service(state.staff, state.online, self.offline_mode)
        banner = offline_notice(state.online, f"offline.banner.{self.offline_mode}")
        if (reason, banner) == (state.out_of_service, state.offline_notice):
            return state
        return replace(state, out_of_service=reason, offline_notice=banner)


class ReturnsStationMachine:
    """The unattended returns bin: :class:`ReturnsBinMachine` + :class:`StaffMachine` as one machine.

    Out of service when staff switched it so, or when the ILS cannot be reached and the site takes no
    returns offline (``offline_mode`` "none"); ``ReturnsStationState.accepting`` is then False and the
    shell closes the slot. Items already through the slot are processed whatever happens: they are
    physically inside. The bin's own actions (``BIN_ACTIONS``: a bin emptied, the sorter's fault or
    the exceptions list cleared) are staff's: they are taken only while staff are logged in, so a
    passer-by at the bin's screen cannot clear what staff must see. Staff mode's menu leaves out what
    cannot work at a bin (``RETURNS_STATION_WITHHOLDS``).
    """

    def __init__(self, returns: ReturnsBinMachine, staff: StaffMachine, *, offline_mode: str,
                 languages: tuple[str, ...]) -> None:
        _check(offline_mode, languages)
        self.returns = returns
        self.staff = staff
        self.offline_mode = offline_mode
        self.languages = tuple(languages)

    def start(self) -> tuple[ReturnsStationState, list[Command]]:
        returns, returns_commands = self.returns.start()
        staff, staff_commands = self.staff.start()
        staff = replace(staff, withheld=staff.withheld | RETURNS_STATION_WITHHOLDS)
        state = ReturnsStationState(returns=returns, staff=staff, languages=self.languages)
        return self._judged(state), [*returns_commands, *staff_commands]

    def step(self, state: ReturnsStationState, event: Event) -> tuple[ReturnsStationState, list[Command]]:
        new, commands = self._route(state, event)
        new = self._judged(new)
        return (state, commands) if new == state else (new, commands)

    def _route(self, state: ReturnsStationState, event: Event) -> tuple[ReturnsStationState, list[Command]]:
        if isinstance(event, _REPORTS):
            if isinstance(event, IlsHealth):
                state = replace(state, online=event.connected)
            state, first = self._to_returns(state, event)
            state, second = self._to_staff(state, event)
            return state, [*first, *second]
        if _for_staff(event):
            return self._to_staff(state, event)
        if isinstance(event, Pressed) and event.action in BIN_ACTIONS:
            if not state.staff.logged_in:
                return state, []
            state, commands = self._to_returns(state, event)
            # A staff action like any other: it keeps staff logged in.
            return state, [StartTimer(IDLE_TIMER, self.staff.idle_seconds), *commands]
        if isinstance(event, PadChanged):
            event = PadChanged(replace(event.pad, patron_cards=()))  # staff mode needs the tags, not whose card
        if isinstance(event, _INPUTS):
            return self._to_staff(state, event)  # closed, staff mode takes only Pressed("staff")
        return self._to_returns(state, event)

    def _to_returns(self, state: ReturnsStationState, event: Event) -> tuple[ReturnsStationState, list[Command]]:
        returns, commands = self.returns.step(state.returns, event)
        return (state if returns is state.returns else replace(state, returns=returns)), list(commands)

    def _to_staff(self, state: ReturnsStationState, event: Event) -> tuple[ReturnsStationState, list[Command]]:
        staff, commands = self.staff.step(state.staff, event)
        return (state if staff is state.staff else replace(state, staff=staff)), list(commands)

    def _judged(self, state: ReturnsStationState) -> ReturnsStationState:
        reason = out_of_service(state.staff, state.online, self.offline_mode, item_inputs_matter=False)
        banner = offline_notice(state.online, "offline.banner.none" if self.offline_mode == "none"
                                else "offline.banner.returns")
        if (reason, banner) == (state.out_of_service, state.offline_notice):
            return state
        return replace(state, out_of_service=reason, offline_notice=banner)
