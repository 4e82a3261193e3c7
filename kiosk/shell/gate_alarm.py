"""The security gate alarmed: tell staff "an item was not checked out", with what the last patron
session did, so they can judge whether it was the kiosk's doing.

Why the context: most gate alarms at a self-service kiosk are an item whose loan went through but
whose tag was never seen (security not turned off), an item the ILS refused that the patron took
anyway, or one left on the pad. The session machine forgets its patron when the session ends, so
this module keeps, for each step, a summary of the session's items (item ids and what became of
them) — never who the patron was: no patron id, name or PIN is kept here or logged.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from kiosk.circulation.commands import Command
from kiosk.circulation.events import Event
from kiosk.circulation.rows import RowKind, RowState
from kiosk.circulation.session import Phase, SessionState
from kiosk.circulation.station import KioskState
from kiosk.hardware.gpio import GateAlarm

log = logging.getLogger(__name__)

MESSAGE = "an item was not checked out"

# Borrow rows about items already on loan to the patron (a renewal offered or declined): their
# security was turned off at the earlier checkout, so they say nothing about an alarm.
_ALREADY_LENT = frozenset({RowState.OFFERED, RowState.DECLINED})


@dataclass(frozen=True, slots=True)
class SessionContext:
    """What one patron session did with its items (item ids only)."""

    lent: tuple[str, ...] = ()  # loans and renewals confirmed, every tag verified
    unverified: tuple[str, ...] = ()  # confirmed, but a tag's security was not verified off
    not_lent: tuple[tuple[str, str], ...] = ()  # (item id, row state) for borrow rows that did not go out
    left_behind: tuple[str, ...] = ()  # items still on the pad when the session ended


def context_of(state: SessionState) -> SessionContext:
    lent: list[str] = []
    unverified: list[str] = []
    not_lent: list[tuple[str, str]] = []
    for row in state.rows:
        if row.kind is not RowKind.BORROW:
            continue
        if row.state is RowState.DONE:
            lent.append(row.item_id)
        elif row.confirmed:  # untagged, put back, still securing, or the tag would not take it
            unverified.append(row.item_id)
        elif row.state not in _ALREADY_LENT:
            not_lent.append((row.item_id, str(row.state)))
    return SessionContext(tuple(lent), tuple(unverified), tuple(not_lent), state.left_behind)


@dataclass(frozen=True, slots=True)
class SessionMemory:
    """The current or last session's context; ``ended_at`` (monotonic) is None while one is under way."""

    context: SessionContext | None = None
    ended_at: float | None = None


def remember(memory: SessionMemory, state: SessionState, now: float) -> SessionMemory:
    """The memory after the session machine reached ``state``."""
    if state.phase is not Phase.IDLE:
        return SessionMemory(context_of(state), None)
    if memory.context is not None and memory.ended_at is None:
        ended = SessionContext(memory.context.lent, memory.context.unverified, memory.context.not_lent,
                               state.left_behind)
        return SessionMemory(ended, now)
    return memory


@dataclass(frozen=True, slots=True)
class GateAlarmReport:
    """One alarm as staff see it: when, and the context of the session before it."""

    at: datetime
    context: SessionContext | None  # None: no patron session since the kiosk started
    in_progress: bool = False
    seconds_since_session: float | None = None  # since the last session ended

    def text(self) -> str:
        head = f"security gate alarm at {self.at.astimezone():%H:%M:%S}: {MESSAGE}"
        c = self.context
        if c is None:
            return f"{head}; no patron session since the kiosk started"
        when = (
            "a session is under way" if self.in_progress
            else f"the last session ended {self.seconds_since_session or 0:.0f} s before"
        )
        parts = [when, f"{len(c.lent)} lent"]
        if c.unverified:
            parts.append(f"lent but security not verified: {', '.join(c.unverified)}")
        if c.not_lent:
            parts.append("not lent: " + ", ".join(f"{item} ({why})" for item, why in c.not_lent))
        if c.left_behind:
            parts.append(f"left on the pad: {', '.join(c.left_behind)}")
        return f"{head}; {'; '.join(parts)}"


class GateAlarmLog:
    """Follows the patron session (``observe``, the runner's ``on_step``) and turns each gate alarm
    into a logged :class:`GateAlarmReport`, kept (the last ``keep``) for staff mode and passed to
    ``on_report`` (e.g. the UI's notice). Thread-safe: alarms arrive on gpiozero's threads."""

    def __init__(
        self,
        *,
        keep: int = 20,
        on_report: Callable[[GateAlarmReport], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._memory = SessionMemory()
        self._reports: collections.deque[GateAlarmReport] = collections.deque(maxlen=keep)
        self._on_report = on_report
        self._clock = clock

    def observe(self, event: Event, state: object, commands: Iterable[Command] = ()) -> None:
        """Follow a step of the patron session's machine, or of the self-check station holding it."""
        if isinstance(state, KioskState):
            state = state.session
        if not isinstance(state, SessionState):
            return
        with self._lock:
            self._memory = remember(self._memory, state, self._clock())

    def alarm(self, alarm: GateAlarm) -> GateAlarmReport:
        with self._lock:
            memory = self._memory
            now = self._clock()
        since = None if memory.ended_at is None else max(0.0, now - memory.ended_at)
        in_progress = memory.context is not None and since is None
        report = GateAlarmReport(alarm.at, memory.context, in_progress, since)
        with self._lock:
            self._reports.append(report)
        log.warning("%s", report.text())
        if self._on_report is not None:
            try:
                self._on_report(report)
            except Exception:
                log.exception("gate alarm listener failed")
        return report

    def recent(self) -> tuple[GateAlarmReport, ...]:
        """The kept reports, oldest first."""
        with self._lock:
            return tuple(self._reports)
