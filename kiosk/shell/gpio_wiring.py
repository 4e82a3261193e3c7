"""The GPIO board wired to the kiosk's runners, without the runner knowing about GPIO.

What goes where:

* outputs follow the machines through the runner's ``on_step`` hook (:meth:`GpioShell.on_step`):
  the light tower, the slot lock and a held gate show :func:`~kiosk.shell.indication.indicate` of
  the condition the steps add up to (``SetOutOfService`` → red);
* ``RouteToBin`` reaches the diverter through ``Outputs(diverter=shell.diverter)``, on the runner's
  diverter lane like any other diverter, and ``OpenGate`` the gate relay through
  ``Outputs(gate=shell.gate)`` (a pulse in "pulse" mode; a held gate is left as it is);
* inputs become core events for the returns bin's runner (``submit``): bin sensors → ``BinFull``,
  beam breaks (with the chute reader's drops through :attr:`GpioShell.chute_submit`) →
  ``ItemDropped``; gate alarms go to the :class:`~kiosk.shell.gate_alarm.GateAlarmLog`, which logs
  them with the last session's context, and, as the core's ``GateAlarm``, to the patron session
  (``alarms_to``, or ``submit`` on a patron kiosk), which shows the patron a notice and counts it;
* health goes to the registry; :func:`device_status` makes staff mode's event of it, and
  :meth:`GpioShell.probe` is what the :class:`~kiosk.hardware.health.Reprober` calls.

A patron kiosk without a returns bin wires only ``on_step`` (lights, gate) and the alarm log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from kiosk.circulation import events as core
from kiosk.circulation.commands import Command
from kiosk.circulation.events import DeviceStatus, Event
from kiosk.hardware.gpio import BinSensor, DropDetected, GateAlarm, GateRelay, GpioBoard, GpioDiverter, GpioEvent
from kiosk.hardware.gpio_settings import GpioSettings
from kiosk.hardware.health import DeviceHealth, HealthRegistry, HealthState
from kiosk.shell.gate_alarm import GateAlarmLog
from kiosk.shell.gpio_inputs import BinSensors, DropBeam, bin_event
from kiosk.shell.indication import KioskCondition, indicate, observe
from kiosk.shell.timers import TimerService

log = logging.getLogger(__name__)

Submit = Callable[[Event], object]

# Staff mode's device rows speak "ok" / "warning" / "failed" (kiosk/circulation/staff.py).
_STAFF_STATES = {HealthState.UP: "ok", HealthState.DEGRADED: "warning", HealthState.DOWN: "failed"}


def device_status(health: DeviceHealth) -> DeviceStatus:
    """The event staff mode takes for a health change: ``registry.subscribe(lambda h:
    staff_runner.submit(device_status(h)))``."""
    return DeviceStatus(health.component, _STAFF_STATES[health.state], health.reason)


class GpioShell:
    """One kiosk's GPIO, wired (see the module docstring). Build it, build the runner with
    ``outputs=Outputs(diverter=shell.diverter, gate=shell.gate)`` and ``on_step=shell.on_step``, start the runner,
    then :meth:`start` the shell with the runner's ``submit``; :meth:`close` on the way out."""

    def __init__(
        self,
        settings: GpioSettings,
        *,
        health: HealthRegistry | None = None,
        alarms: GateAlarmLog | None = None,
        factory: Callable[[], Any] | None = None,
        timers: TimerService | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.health = health if health is not None else HealthRegistry()
        self.alarms = alarms if alarms is not None else GateAlarmLog(clock=clock)
        self.board = GpioBoard(settings, on_event=self._on_gpio, health=self.health, factory=factory,
                               clock=clock, sleep=sleep)
        self._lock = threading.Lock()
        self._condition = KioskCondition()
        self._bins = BinSensors()
        self._submit: Submit | None = None
        self._alarms_to: Submit | None = None
        self._beam = DropBeam(self._core, settings.drop_beam_read_seconds, timers=timers, clock=clock)

    @property
    def diverter(self) -> GpioDiverter:
        return self.board.diverter

    @property
    def gate(self) -> GateRelay:
        return self.board.gate

    @property
    def condition(self) -> KioskCondition:
        with self._lock:
            return self._condition

    @property
    def chute_submit(self) -> Submit:
        """The ``submit`` to give the chute reader's ChuteFeed, so its drops match beam breaks."""
        return self._beam.tag_drop

    def start(self, submit: Submit, *, alarms_to: Submit | None = None) -> DeviceHealth:
        """Open the board; inputs report to ``submit`` from now on (the returns runner's, or the patron
        session's on a kiosk without a bin). Gate alarms go to ``alarms_to`` when given (the patron
        session's runner on a kiosk that has both), else to ``submit``."""
        with self._lock:
            self._submit = submit
            self._alarms_to = alarms_to
            condition = self._condition
        self.board.show(indicate(condition))  # shown as each output opens
        return self.board.open()

    def probe(self) -> DeviceHealth:
        return self.board.probe()

    def close(self) -> None:
        self.board.close()
        self._beam.close()

    def __enter__(self) -> GpioShell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- from the runner ------------------------------------------------------------------------------

    def on_step(self, event: Event, state: object, commands: Iterable[Command]) -> None:
        """The runner's ``on_step``: the lights follow the machines, the alarm log the session."""
        commands = tuple(commands)
        self.alarms.observe(event, state, commands)
        with self._lock:
            condition = observe(self._condition, event, state, commands)
            changed = condition != self._condition
            self._condition = condition
        if changed:
            self.board.show(indicate(condition))

    # -- from the board (gpiozero's threads) ----------------------------------------------------------

    def _on_gpio(self, event: GpioEvent) -> None:
        if isinstance(event, GateAlarm):
            self.alarms.alarm(event)
            self._core(core.GateAlarm(event.at.timestamp()), to_session=True)
        elif isinstance(event, DropDetected):
            self._beam.beam(event.at)
        elif isinstance(event, BinSensor):
            with self._lock:
                self._bins, full = bin_event(self._bins, event)
            if full is not None:
                self._core(full)

    def _core(self, event: Event, *, to_session: bool = False) -> object:
        with self._lock:
            submit = (self._alarms_to or self._submit) if to_session else self._submit
        if submit is None:
            log.warning("GPIO: %s before the shell was started; dropped", type(event).__name__)
            return False
        return submit(event)
