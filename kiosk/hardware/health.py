"""How each device is doing (up, degraded, down, with a reason), in one place everyone reads.

Why a registry: the device drivers know when they fail, but three others need to know it too —
staff mode (its device rows), the metrics of the deployment (``kiosk_component_up``) and the
re-prober that brings a device back without a restart. Drivers report into a
:class:`HealthRegistry`; readers take a :meth:`~HealthRegistry.snapshot` or subscribe to changes.

Why re-probe here: a device that was missing at start (the printer switched on later, the GPIO
chip not yet accessible) must be picked up when it appears. The :class:`Reprober` calls each
registered probe while its component is not up; what "probe" means (reopen a port, recreate
gpiozero devices) is the driver's business.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)


class HealthState(StrEnum):
    UP = "up"  # works as configured
    DEGRADED = "degraded"  # works, but part of it does not (one pin, paper low): staff should look
    DOWN = "down"  # does not work at all: its function is unavailable until it comes back


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """One component's health. ``reason`` says what is wrong in words staff and IT can act on."""

    component: str
    state: HealthState
    reason: str = ""

    @classmethod
    def up(cls, component: str, reason: str = "") -> DeviceHealth:
        return cls(component, HealthState.UP, reason)

    @classmethod
    def degraded(cls, component: str, reason: str) -> DeviceHealth:
        return cls(component, HealthState.DEGRADED, reason)

    @classmethod
    def down(cls, component: str, reason: str) -> DeviceHealth:
        return cls(component, HealthState.DOWN, reason)

    @classmethod
    def from_status(cls, component: str, state: str, reason: str = "") -> DeviceHealth:
        """From staff mode's words ("ok", "warning", "failed"), which some drivers speak already."""
        return cls(component, _FROM_STATUS[state], reason)

    @property
    def usable(self) -> bool:
        """Up or degraded: the device does (some of) its job."""
        return self.state is not HealthState.DOWN


def metric_value(health: DeviceHealth) -> float:
    """``kiosk_component_up``: 1 while the device does its job (degraded included), else 0."""
    return 1.0 if health.usable else 0.0


_FROM_STATUS = {"ok": HealthState.UP, "warning": HealthState.DEGRADED, "failed": HealthState.DOWN}

Listener = Callable[[DeviceHealth], None]


class HealthRegistry:
    """The latest health of every component. Thread-safe; listeners hear only real changes.

    Listeners are called on the reporting thread, outside the registry's lock, in report order per
    component; a listener that raises is logged and the others still hear the change.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._health: dict[str, DeviceHealth] = {}
        self._listeners: list[Listener] = []

    def report(self, health: DeviceHealth) -> bool:
        """Record ``health``; True when it differs from what was known (and listeners were told)."""
        with self._lock:
            if self._health.get(health.component) == health:
                return False
            self._health[health.component] = health
            listeners = list(self._listeners)
        level = logging.INFO if health.state is HealthState.UP else logging.WARNING
        because = f": {health.reason}" if health.reason else ""
        log.log(level, "%s is %s%s", health.component, health.state, because)
        for listener in listeners:
            try:
                listener(health)
            except Exception:
                log.exception("health listener %r failed", listener)
        return True

    def get(self, component: str) -> DeviceHealth | None:
        with self._lock:
            return self._health.get(component)

    def snapshot(self) -> dict[str, DeviceHealth]:
        """Every component's health now, by name (a copy: safe to keep)."""
        with self._lock:
            return dict(self._health)

    def subscribe(self, listener: Listener, *, replay: bool = True) -> Callable[[], None]:
        """Hear every change from now on (and, with ``replay``, the current health of each component
        first, so a staff screen built late is complete). Returns the unsubscribe function."""
        with self._lock:
            self._listeners.append(listener)
            current = list(self._health.values()) if replay else []
        for health in current:
            listener(health)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe


Probe = Callable[[], object]


@dataclass(slots=True)
class _Probing:
    probe: Probe
    interval: float
    due: float  # monotonic time of the next probe


class Reprober:
    """Calls each component's probe while that component is not up, every ``interval`` seconds (its
    own, given to :meth:`add`, or the reprober's).

    ``threaded=False`` leaves the calls to :meth:`run_once` (tests, or a caller with its own loop);
    ``clock`` is injectable for them. A probe that raises is logged and tried again at its next
    turn: a driver should report its own health, so an exception here is a bug, not a device state.
    """

    def __init__(
        self,
        registry: HealthRegistry,
        interval: float = 10.0,
        *,
        threaded: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.interval = interval
        self._clock = clock
        self._probes: dict[str, _Probing] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, name="kiosk-reprobe", daemon=True)
            self._thread.start()

    def add(self, component: str, probe: Probe, interval: float | None = None) -> None:
        """Probe ``component`` from the next round on while it is not up."""
        with self._lock:
            self._probes[component] = _Probing(probe, interval or self.interval, self._clock())

    def remove(self, component: str) -> None:
        with self._lock:
            self._probes.pop(component, None)

    def run_once(self) -> list[str]:
        """Probe every component that is not up and whose turn it is; returns the components probed."""
        now = self._clock()
        due: list[tuple[str, Probe]] = []
        with self._lock:
            for component, probing in self._probes.items():
                health = self.registry.get(component)
                if health is not None and health.state is HealthState.UP:
                    probing.due = now  # when it fails later, the first probe comes at once
                    continue
                if now >= probing.due:
                    probing.due = now + probing.interval
                    due.append((component, probing.probe))
        for component, probe in due:
            try:
                probe()
            except Exception:
                log.exception("probing %s failed", component)
        return [component for component, _ in due]

    def _tick(self) -> float:
        with self._lock:
            return min([p.interval for p in self._probes.values()] + [self.interval])

    def _run(self) -> None:
        while not self._stop.wait(self._tick()):
            self.run_once()

    def close(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> Reprober:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
