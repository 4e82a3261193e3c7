"""The installation around the kiosk on GPIO: the security gate's relay and alarm, the status light
tower, and the returns bin's diverter, slot lock, bin-full and door sensors and drop-slot beam.

Why gpiozero: one device API over every pin driver (its *pin factories*), and a mock factory the
tests drive pin by pin. On a Pi 5 the factory is lgpio (``/dev/gpiochip*``; pip ``lgpio`` or apt
``python3-lgpio``); RPi.GPIO is not needed and does not work there. Set
``GPIOZERO_PIN_FACTORY=lgpio`` in the systemd unit, or ``[gpio] pin_factory = "lgpio"``, so that a
missing lgpio is an error staff see instead of a silent fall-back to another factory.

No GPIO is a state, not a crash: on a PC, or when ``/dev/gpiochip*`` is not accessible, the board
reports ``gpio`` down with the reason and keeps trying (:meth:`GpioBoard.probe`, called by the
:class:`~kiosk.hardware.health.Reprober`); when the factory appears the devices are created and
shown the kiosk's current state, without a restart. A single device that cannot be opened (pin
busy, not on this board) makes the board *degraded* and is retried the same way.

Fail-safe: every output starts off (``initial_value=False``) and is switched off and released when
the board closes — on ``with``-exit, :meth:`~GpioBoard.close` or interpreter exit (``atexit``; the
kiosk must turn SIGTERM into a normal exit for that, Python's default SIGTERM skips ``atexit``).
That does not cover a killed process or a power cut, and what a released line does depends on the
kernel and the Pi model, so the wiring must make the released state safe: a pull resistor on each
relay input that holds it in the safe state (locked, slot shut, no gate open) when the GPIO floats,
and relays wired so that *energized* means open. The slot lock here is energized to open for that
reason.

Threads: gpiozero calls the input callbacks on its own threads. They only build an event and hand
it to ``on_event``, which must be quick and thread-safe (a runner's ``submit`` is); they never take
the board's lock, so closing the board cannot deadlock with a callback in flight.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any

from gpiozero import Device, DigitalInputDevice, DigitalOutputDevice

from kiosk.hardware.gpio_settings import GpioSettings, pin_warnings
from kiosk.hardware.health import DeviceHealth, HealthRegistry
from kiosk.shell.outputs import OutputUnavailable

log = logging.getLogger(__name__)

COMPONENT = "gpio"


# --- what the inputs report ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GateAlarm:
    """The security gate alarmed: something left with its security still on."""

    at: datetime


@dataclass(frozen=True, slots=True)
class DropDetected:
    """The drop-slot beam was broken: an item is entering the returns chute. ``at`` is monotonic."""

    at: float


@dataclass(frozen=True, slots=True)
class BinSensor:
    """A returns bin's sensor changed: ``sensor`` is "full" (the bin is full) or "door" (its door is
    open); ``active`` says which way."""

    bin: str
    sensor: str
    active: bool


GpioEvent = GateAlarm | DropDetected | BinSensor


@dataclass(frozen=True, slots=True)
class Indication:
    """What the kiosk's state shows on the outputs that follow it."""

    green: bool = False
    amber: bool = False
    red: bool = False
    slot_open: bool = False  # the returns slot's lock is energized (open)
    in_service: bool = False  # a gate in "hold" mode is held while this is on


class GpioUnavailable(Exception):
    """No pin factory could be made; the message says why, for staff and IT."""


# --- finding the pin factory -----------------------------------------------------------------------


def find_pin_factory(name: str = "") -> tuple[Any, bool]:
    """The pin factory to use, and whether the caller owns it (must close it).

    ``name`` empty: gpiozero's shared default (``$GPIOZERO_PIN_FACTORY``, else lgpio, rpigpio,
    pigpio, native in that order), which gpiozero itself closes at exit. Named: a factory of that
    entry point made for us. Raises :class:`GpioUnavailable` naming each factory's own complaint.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if not name:
                Device.ensure_pin_factory()
                return Device.pin_factory, False
            for entry in entry_points(group="gpiozero_pin_factories"):
                if entry.name == name:
                    return entry.load()(), True
            raise GpioUnavailable(f"gpiozero has no pin factory named {name!r}")
        except GpioUnavailable:
            raise
        except Exception as exc:
            tried = [str(w.message) for w in caught if "Falling back" in str(w.message)]
            detail = "; ".join([*tried, f"{type(exc).__name__}: {exc}"])
            raise GpioUnavailable(
                "no GPIO pin factory (not a Raspberry Pi, lgpio not installed, or /dev/gpiochip* not "
                f"accessible to this user): {detail}"
            ) from exc


# --- the board -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Input:
    """One input line: how it is wired, and what its signal means."""

    name: str
    pin: int
    pull_up: bool
    normally_closed: bool
    bounce: float
    events: Callable[[bool], list[GpioEvent]]  # signal (on/off) -> what to report
    level: bool  # a level sensor: reports its state when opened, and both edges


@dataclass(frozen=True)
class _Output:
    name: str
    pin: int
    active_high: bool


def _momentary(make: Callable[[], GpioEvent]) -> Callable[[bool], list[GpioEvent]]:
    return lambda signal: [make()] if signal else []


def _inputs(s: GpioSettings, clock: Callable[[], float]) -> list[_Input]:
    inputs: list[_Input] = []
    if s.gate_alarm_pin is not None:
        alarm = _momentary(lambda: GateAlarm(datetime.now(UTC)))
        inputs.append(_Input("gate_alarm", s.gate_alarm_pin, s.gate_alarm_pull_up,
                             s.gate_alarm_normally_closed, s.bounce_seconds, alarm, level=False))
    if s.drop_beam_pin is not None:
        beam = _momentary(lambda: DropDetected(clock()))
        inputs.append(_Input("drop_beam", s.drop_beam_pin, s.drop_beam_pull_up,
                             s.drop_beam_normally_closed, s.drop_beam_bounce_seconds, beam, level=False))
    for bin_name, pin in s.bin_full_pins.items():
        inputs.append(_Input(f"bin_full.{bin_name}", pin, s.bin_full_pull_up, s.bin_full_normally_closed,
                             s.bounce_seconds, lambda on, b=bin_name: [BinSensor(b, "full", on)], level=True))
    doors: dict[int, list[str]] = {}
    for bin_name, pin in s.door_pins.items():
        doors.setdefault(pin, []).append(bin_name)
    for pin, bins in doors.items():
        inputs.append(_Input(f"door.{pin}", pin, s.door_pull_up, s.door_normally_closed, s.bounce_seconds,
                             lambda on, bs=tuple(bins): [BinSensor(b, "door", on) for b in bs], level=True))
    return inputs


def _outputs(s: GpioSettings) -> list[_Output]:
    outputs: list[_Output] = []
    if s.gate_pin is not None:
        outputs.append(_Output("gate", s.gate_pin, s.gate_active_high))
    for colour in ("green", "amber", "red"):
        pin = getattr(s, f"light_{colour}_pin")
        if pin is not None:
            outputs.append(_Output(f"light.{colour}", pin, s.lights_active_high))
    if s.slot_pin is not None:
        outputs.append(_Output("slot", s.slot_pin, s.slot_active_high))
    diverter_pins = dict.fromkeys(p for pins in s.diverter_bins.values() for p in pins)
    outputs.extend(_Output(f"diverter.{pin}", pin, s.diverter_active_high) for pin in diverter_pins)
    return outputs


EventSink = Callable[[GpioEvent], object]


class GpioBoard:
    """Every configured GPIO device on one pin factory: opened, probed and closed together.

    ``factory`` makes the pin factory (tests pass gpiozero's ``MockFactory``); by default it is
    :func:`find_pin_factory` with the configured name. ``on_event`` receives what the inputs report.
    Health goes to ``health`` under the component name "gpio".
    """

    def __init__(
        self,
        settings: GpioSettings,
        *,
        on_event: EventSink | None = None,
        health: HealthRegistry | None = None,
        factory: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.health = health if health is not None else HealthRegistry()
        self._on_event = on_event
        self._make_factory = factory
        self._sleep = sleep
        self._inputs = _inputs(settings, clock)
        self._outputs = {o.name: o for o in _outputs(settings)}
        self._lock = threading.RLock()
        self._factory: Any = None
        self._owns_factory = False
        self._down = "not opened yet"  # why there is no factory; "" once there is one
        self._devices: dict[str, Any] = {}
        self._errors: dict[str, str] = {}  # device name -> why it is not open
        self._indication = Indication()
        self._opened = False
        self._closed = False
        self.gate = GateRelay(self)
        self.diverter = GpioDiverter(self)
        for warning in pin_warnings(settings):
            log.warning("%s", warning)

    # -- life cycle -----------------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        return bool(self._inputs or self._outputs)

    def open(self) -> DeviceHealth:
        """Create every device that can be created now; the rest wait for :meth:`probe`."""
        with self._lock:
            if self._closed:
                raise RuntimeError("GPIO board already closed")
            if not self._opened:
                self._opened = True
                atexit.register(self.close)
        return self.probe()

    def probe(self) -> DeviceHealth:
        """Make the pin factory if there is none yet, create the devices not open yet, show them the
        current indication, report the health, and report the level sensors' state."""
        opened: list[_Input] = []
        if not self.configured:  # no pin set: GPIO is not part of this kiosk, nothing to report
            return DeviceHealth.up(COMPONENT, "no GPIO device configured")
        with self._lock:
            if self._closed or not self._opened:
                return self.current_health()
            if self._factory is None:
                try:
                    self._factory, self._owns_factory = (
                        (self._make_factory(), False) if self._make_factory is not None
                        else find_pin_factory(self.settings.pin_factory)
                    )
                    self._down = ""
                except GpioUnavailable as exc:
                    self._down = str(exc)
                except Exception as exc:  # an injected factory's own failure
                    self._down = f"{type(exc).__name__}: {exc}"
            if self._factory is not None:
                for output in self._outputs.values():
                    if output.name not in self._devices:
                        self._create(output.name, output.pin, lambda o=output: self._new_output(o))
                for spec in self._inputs:
                    if spec.name not in self._devices and self._create(
                        spec.name, spec.pin, lambda i=spec: self._new_input(i)
                    ):
                        opened.append(spec)
                self._apply(self._indication)
            health = self.current_health()
        self.health.report(health)
        for spec in opened:
            if spec.level:
                self._input_changed(spec, self._closed_contact(spec))
        return health

    def close(self) -> None:
        """Switch every output off and release every line (idempotent; also run at exit)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for name in list(self._devices):
                if name in self._outputs:
                    try:
                        self._devices[name].off()
                    except Exception:
                        log.exception("GPIO: switching %s off at close failed", name)
            for name in list(self._devices):
                self._release(name)
            if self._owns_factory and self._factory is not None:
                try:
                    self._factory.close()
                except Exception:
                    log.exception("GPIO: closing the pin factory failed")
            self._factory = None
        atexit.unregister(self.close)

    def __enter__(self) -> GpioBoard:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- health ---------------------------------------------------------------------------------------

    def current_health(self) -> DeviceHealth:
        with self._lock:
            if self._closed:
                return DeviceHealth.down(COMPONENT, "closed")
            if self._factory is None:
                return DeviceHealth.down(COMPONENT, self._down)
            failed = "; ".join(f"{n}: {e}" for n, e in self._errors.items())
            if failed and not self._devices:
                return DeviceHealth.down(COMPONENT, failed)
            if failed:
                return DeviceHealth.degraded(COMPONENT, failed)
            return DeviceHealth.up(COMPONENT)

    # -- outputs --------------------------------------------------------------------------------------

    def show(self, indication: Indication) -> None:
        """Show the kiosk's state on the lights, the slot lock and a gate in "hold" mode. Devices that
        are not open get it when they open; a write that fails makes the board degraded. Never raises:
        the runner calls this for every step."""
        with self._lock:
            self._indication = indication
            self._apply(indication)

    @property
    def indication(self) -> Indication:
        with self._lock:
            return self._indication

    def _apply(self, indication: Indication) -> None:
        wanted = {
            "light.green": indication.green,
            "light.amber": indication.amber,
            "light.red": indication.red,
            "slot": indication.slot_open,
        }
        if self.settings.gate_mode == "hold":
            wanted["gate"] = indication.in_service
        for name, on in wanted.items():
            if name in self._devices:
                with contextlib.suppress(OutputUnavailable):  # recorded as the board's health
                    self._write(name, on)

    def _write(self, name: str, on: bool) -> None:
        """Switch output ``name``; OutputUnavailable (naming why) when it is not open or failed."""
        with self._lock:
            device = self._devices.get(name)
            if device is None:
                raise OutputUnavailable(self._why_not(name))
            try:
                if on:
                    device.on()
                else:
                    device.off()
            except Exception as exc:
                self._fail(name, exc)
                raise OutputUnavailable(self._why_not(name)) from exc

    def _pulse(self, name: str, seconds: float) -> None:
        with self._lock:
            device = self._devices.get(name)
            if device is None:
                raise OutputUnavailable(self._why_not(name))
            try:
                device.blink(on_time=seconds, off_time=0, n=1, background=True)
            except Exception as exc:
                self._fail(name, exc)
                raise OutputUnavailable(self._why_not(name)) from exc

    def _why_not(self, name: str) -> str:
        if name not in self._outputs:
            return f"no GPIO output {name!r} configured"
        if self._closed:
            return "GPIO closed"
        if self._factory is None:
            return f"GPIO unavailable: {self._down}"
        return f"GPIO {name} (pin {self._outputs[name].pin}) not open: {self._errors.get(name, 'unknown')}"

    def output_states(self) -> dict[str, bool]:
        """Each open output's logical state (on = energized), for staff and tests."""
        with self._lock:
            return {n: bool(d.value) for n, d in self._devices.items() if n in self._outputs}

    # -- inputs ---------------------------------------------------------------------------------------

    def input_states(self) -> dict[str, bool]:
        """Each open input's signal (after pull and normally-closed wiring), for staff and tests."""
        with self._lock:
            specs = {s.name: s for s in self._inputs}
            return {n: self._closed_contact(specs[n]) != specs[n].normally_closed
                    for n in self._devices if n in specs}

    def _closed_contact(self, spec: _Input) -> bool:
        device = self._devices.get(spec.name)
        return bool(device is not None and device.is_active)

    def _input_changed(self, spec: _Input, contact_closed: bool) -> None:
        """A callback from gpiozero's thread (or the initial read): never takes the board's lock."""
        signal = contact_closed != spec.normally_closed
        if not spec.level and not signal:
            return
        if self._on_event is None:
            return
        for event in spec.events(signal):
            try:
                self._on_event(event)
            except Exception:
                log.exception("GPIO: delivering %r failed", event)

    # -- devices --------------------------------------------------------------------------------------

    def _create(self, name: str, pin: int, make: Callable[[], Any]) -> bool:
        try:
            self._devices[name] = make()
        except Exception as exc:
            self._errors[name] = f"GPIO {pin}: {type(exc).__name__}: {exc}"
            return False
        self._errors.pop(name, None)
        return True

    def _new_output(self, spec: _Output) -> Any:
        return DigitalOutputDevice(
            spec.pin, active_high=spec.active_high, initial_value=False, pin_factory=self._factory
        )

    def _new_input(self, spec: _Input) -> Any:
        device = DigitalInputDevice(
            spec.pin, pull_up=spec.pull_up, bounce_time=spec.bounce or None, pin_factory=self._factory
        )
        device.when_activated = lambda: self._input_changed(spec, True)
        device.when_deactivated = lambda: self._input_changed(spec, False)
        return device

    def _fail(self, name: str, exc: Exception) -> None:
        """A device failed in use: release it and let the re-probe bring it back."""
        pin = self._outputs[name].pin if name in self._outputs else "?"
        self._errors[name] = f"GPIO {pin}: {type(exc).__name__}: {exc}"
        self._release(name)
        self.health.report(self.current_health())

    def _release(self, name: str) -> None:
        device = self._devices.pop(name, None)
        if device is None:
            return
        try:
            device.close()
        except Exception:
            log.exception("GPIO: closing %s failed", name)


# --- the devices the rest of the kiosk holds -------------------------------------------------------


@dataclass
class GateRelay:
    """The security gate or exit barrier's relay (:class:`kiosk.shell.outputs.Gate`). In "pulse" mode
    :meth:`open` pulses it for ``gate_pulse_seconds``: the runner calls it for the core's ``OpenGate``
    (a patron leaving with a loan, staff's "Open the gate"). In "hold" mode it follows the kiosk's
    in-service state (:meth:`GpioBoard.show`) and :meth:`open` does nothing."""

    board: GpioBoard

    def open(self) -> bool:
        """Pulse the gate open; False in "hold" mode. Raises OutputUnavailable without a gate."""
        s = self.board.settings
        if s.gate_mode != "pulse":
            return False
        self.board._pulse("gate", s.gate_pulse_seconds)
        return True


@dataclass
class GpioDiverter:
    """The returns bin's diverter (:class:`kiosk.shell.outputs.BinDiverter`).

    A bin is reached by switching on exactly its pins from ``diverter_bins`` (one pin per flap, or a
    code across several); the position is held for ``diverter_hold_seconds`` while the item passes,
    then every pin goes off again (0: the position stays until the next item). Routing blocks for
    the hold, which keeps items in order on the runner's one diverter thread.
    """

    board: GpioBoard

    def route(self, bin: str) -> None:
        s = self.board.settings
        pins = s.diverter_bins.get(bin)
        if pins is None:
            raise OutputUnavailable(f"the diverter has no position for bin {bin!r}")
        self._position(set(pins))
        if s.diverter_hold_seconds > 0:
            self.board._sleep(s.diverter_hold_seconds)
            self._position(set())

    def _position(self, on: set[int]) -> None:
        for pin in dict.fromkeys(p for pins in self.board.settings.diverter_bins.values() for p in pins):
            self.board._write(f"diverter.{pin}", pin in on)
