"""Named one-shot timers for the state machines (``StartTimer`` / ``CancelTimer`` → ``TimerFired``).

One scheduler thread serves every timer, however many a session restarts. A restarted or cancelled
timer whose earlier fire is already queued must not reach the core (the patron touched the screen
just as "need more time?" was due): each start gets a generation, and the runner lets a fire
through only if :meth:`TimerService.claim` still finds that generation current. The clock is
injectable, and :meth:`TimerService.tick` fires what is due, so tests drive time by hand.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Fire = Callable[[str, int], None]


@dataclass(slots=True)
class _Timer:
    deadline: float
    generation: int
    fired: bool = False


class TimerService:
    """Timers by name. ``threaded=False`` leaves firing to explicit :meth:`tick` calls (tests)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, threaded: bool = True) -> None:
        self._clock = clock
        self._threaded = threaded
        self._cond = threading.Condition()
        self._timers: dict[str, _Timer] = {}
        self._generation = 0
        self._fire: Fire | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def attach(self, fire: Fire) -> None:
        """Where due timers go (the runner's inbox); starts the scheduler thread when threaded."""
        with self._cond:
            self._fire = fire
            if self._threaded and self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="kiosk-timers", daemon=True)
                self._thread.start()

    def start(self, name: str, seconds: float) -> int:
        """(Re)start ``name``; an earlier, not yet claimed fire of it becomes stale."""
        with self._cond:
            self._generation += 1
            self._timers[name] = _Timer(self._clock() + max(0.0, seconds), self._generation)
            self._cond.notify_all()
            return self._generation

    def cancel(self, name: str) -> None:
        with self._cond:
            self._timers.pop(name, None)
            self._cond.notify_all()

    def claim(self, name: str, generation: int) -> bool:
        """True once for a fire that is still current: the timer was neither restarted nor cancelled."""
        with self._cond:
            timer = self._timers.get(name)
            if timer is None or timer.generation != generation or not timer.fired:
                return False
            del self._timers[name]
            return True

    def pending(self) -> dict[str, float]:
        """Seconds left per running timer (staff screens, tests)."""
        with self._cond:
            now = self._clock()
            return {name: t.deadline - now for name, t in self._timers.items() if not t.fired}

    def tick(self) -> list[str]:
        """Fire every timer that is due now, earliest deadline first; returns their names in that order."""
        with self._cond:
            now = self._clock()
            due = sorted(
                ((name, t) for name, t in self._timers.items() if not t.fired and t.deadline <= now),
                key=lambda entry: entry[1].deadline,
            )
            for _, timer in due:
                timer.fired = True
            fire = self._fire
        if fire is not None:
            for name, timer in due:
                try:
                    fire(name, timer.generation)
                except Exception:
                    log.exception("delivering timer %s failed", name)
        return [name for name, _ in due]

    def _next_deadline(self) -> float | None:
        waiting = [t.deadline for t in self._timers.values() if not t.fired]
        return min(waiting) if waiting else None

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                deadline = self._next_deadline()
                timeout = None if deadline is None else deadline - self._clock()
                if timeout is None or timeout > 0:
                    self._cond.wait(timeout)
                    continue
            self.tick()

    def close(self, timeout: float = 1.0) -> None:
        with self._cond:
            self._closed = True
            self._timers.clear()
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
