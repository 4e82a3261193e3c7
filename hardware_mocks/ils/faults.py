"""Faults a test can switch on in the running ILS simulator: slow answers, dropped connections,
stalls, corrupted answers, refused logins, idle sessions closed.

Each fault is a rule matched against incoming requests by command code. A rule fires after
``after`` matching requests went through untouched, ``times`` times (None = for ever), so a
test can say "let the login and the first checkout through, then drop the connection on the
second checkout after applying it". Rules are set from the test thread while connection
threads read them, hence the lock. :meth:`Faults.reset` puts everything back and wakes any
stalled connection, so one test's faults never leak into the next.

``When.AFTER_APPLY`` is the case that matters most: the ILS changed its data but the self-check
never hears about it, which is exactly the "outcome unknown" a kiosk must resolve with 17/63
instead of resending.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum

#: What "garbage" looks like on the wire: not a SIP2 frame, but CR-terminated so the client
#: reads it as one frame and must reject it with a typed error rather than wait.
GARBAGE = b"\x00\xff#!garbage, not SIP2\xfe\r"


class When(StrEnum):
    BEFORE_APPLY = "before"  # the request changes nothing
    AFTER_APPLY = "after"  # the request is applied, then the answer is lost


class Action(StrEnum):
    DROP = "drop"
    STALL = "stall"
    GARBAGE = "garbage"
    BAD_CHECKSUM = "bad_checksum"


@dataclass
class _Rule:
    action: Action
    code: str | None
    when: When
    after: int
    times: int | None
    seen: int = 0
    fired: int = 0

    def matches(self, code: str) -> bool:
        """Count a matching request; True when this one triggers the fault."""
        if self.code is not None and self.code != code:
            return False
        self.seen += 1
        if self.seen <= self.after or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do to one request, decided once when it arrives."""

    drop: When | None = None
    stall: When | None = None
    corrupt: Action | None = None  # GARBAGE or BAD_CHECKSUM instead of the answer
    delay_before: float = 0.0
    delay_after: float = 0.0
    release: threading.Event | None = None  # set when a stall or delay must end early


@dataclass(frozen=True, slots=True)
class Fired:
    """A fault that triggered, for tests to check the fault they set really happened."""

    action: str
    code: str
    when: str | None


class Faults:
    """Thread-safe fault settings for one simulator. All setters may be called at any time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._latency: dict[str | None, tuple[float, When]] = {}
        self._reject_logins = False
        self._idle_timeout: float | None = None
        self._release = threading.Event()
        self._fired: list[Fired] = []

    # -- setting --------------------------------------------------------------------------------

    def latency(self, seconds: float, *, code: str | None = None, when: When = When.AFTER_APPLY) -> None:
        """Delay every answer (or those to ``code``) by ``seconds``; 0 removes it.

        After applying by default: a client that times out then finds the change made, which is
        deterministic; ``BEFORE_APPLY`` makes the change land only after the delay.
        """
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            if seconds:
                self._latency[code] = (seconds, When(when))
            else:
                self._latency.pop(code, None)

    def drop(
        self,
        *,
        code: str | None = None,
        after: int = 0,
        when: When = When.BEFORE_APPLY,
        times: int | None = 1,
    ) -> None:
        """Close the connection instead of answering."""
        self._add(_Rule(Action.DROP, code, When(when), after, times))

    def stall(
        self,
        *,
        code: str | None = None,
        after: int = 0,
        when: When = When.BEFORE_APPLY,
        times: int | None = 1,
    ) -> None:
        """Never answer: the connection stays open and silent until :meth:`reset` or the server stops."""
        self._add(_Rule(Action.STALL, code, When(when), after, times))

    def garbage(self, *, code: str | None = None, after: int = 0, times: int | None = 1) -> None:
        """Send :data:`GARBAGE` instead of the answer (the request is applied)."""
        self._add(_Rule(Action.GARBAGE, code, When.AFTER_APPLY, after, times))

    def bad_checksum(self, *, code: str | None = None, after: int = 0, times: int | None = 1) -> None:
        """Send the real answer with a wrong AZ checksum (the request is applied)."""
        self._add(_Rule(Action.BAD_CHECKSUM, code, When.AFTER_APPLY, after, times))

    def _add(self, rule: _Rule) -> None:
        if rule.after < 0 or (rule.times is not None and rule.times < 1):
            raise ValueError("after must be >= 0 and times >= 1 (or None for always)")
        with self._lock:
            self._rules.append(rule)

    @property
    def reject_logins(self) -> bool:
        with self._lock:
            return self._reject_logins

    @reject_logins.setter
    def reject_logins(self, value: bool) -> None:
        with self._lock:
            self._reject_logins = bool(value)

    @property
    def idle_timeout(self) -> float | None:
        """Seconds after which an idle connection is closed silently, as SIPServer does. Applies to
        connections opened after it is set; None = the server's own setting."""
        with self._lock:
            return self._idle_timeout

    @idle_timeout.setter
    def idle_timeout(self, seconds: float | None) -> None:
        if seconds is not None and seconds <= 0:
            raise ValueError("idle timeout must be > 0 (or None)")
        with self._lock:
            self._idle_timeout = seconds

    def reset(self) -> None:
        """Remove every fault and wake stalled or delayed connections (they then close)."""
        with self._lock:
            self._rules.clear()
            self._latency.clear()
            self._reject_logins = False
            self._idle_timeout = None
            self._fired.clear()
            self._release.set()
            self._release = threading.Event()

    def release(self) -> None:
        """Wake stalled and delayed connections without removing the rules (server shutdown)."""
        with self._lock:
            self._release.set()
            self._release = threading.Event()

    # -- applying -------------------------------------------------------------------------------

    def plan(self, code: str) -> Plan:
        """Decide the fate of one request with command ``code`` (counts it against every rule)."""
        with self._lock:
            drop = stall = None
            corrupt = None
            for rule in self._rules:
                if not rule.matches(code):
                    continue
                self._fired.append(Fired(rule.action.value, code, rule.when.value))
                if rule.action is Action.DROP and drop is None:
                    drop = rule.when
                elif rule.action is Action.STALL and stall is None:
                    stall = rule.when
                elif rule.action in (Action.GARBAGE, Action.BAD_CHECKSUM) and corrupt is None:
                    corrupt = rule.action
            seconds, when = self._latency.get(code) or self._latency.get(None) or (0.0, When.AFTER_APPLY)
            return Plan(
                drop=drop,
                stall=stall,
                corrupt=corrupt,
                delay_before=seconds if when is When.BEFORE_APPLY else 0.0,
                delay_after=seconds if when is When.AFTER_APPLY else 0.0,
                release=self._release,
            )

    @staticmethod
    def wait(plan: Plan, seconds: float | None) -> None:
        """Sleep ``seconds`` (None: until released), ending early when the faults are reset."""
        if plan.release is not None:
            plan.release.wait(seconds)

    @property
    def fired(self) -> list[Fired]:
        with self._lock:
            return list(self._fired)
