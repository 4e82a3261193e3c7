"""The GPIO board on gpiozero's MockFactory: outputs at the configured polarity, inputs read through the
configured wiring, no GPIO as a state, devices that come back, and outputs off when the board closes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from gpiozero import Device, DigitalOutputDevice
from gpiozero.exc import BadPinFactory
from gpiozero.pins.mock import MockFactory

from hardware_mocks.gpio import DEMO_SETTINGS, MockPins, wired_factory
from kiosk.hardware.gpio import (
    BinSensor,
    DropDetected,
    GateAlarm,
    GpioBoard,
    GpioEvent,
    GpioUnavailable,
    Indication,
    find_pin_factory,
)
from kiosk.hardware.gpio_settings import GpioSettings
from kiosk.hardware.health import HealthRegistry, HealthState
from kiosk.shell.outputs import OutputUnavailable

ROOT = Path(__file__).resolve().parents[3]
WAIT = 5.0  # an upper bound for a background pulse to end; nothing here measures speed


@pytest.fixture
def factory() -> MockFactory:
    return wired_factory()


@pytest.fixture
def boards() -> Iterator[list[GpioBoard]]:
    made: list[GpioBoard] = []
    yield made
    for board in made:
        board.close()


@pytest.fixture
def make(factory: MockFactory, boards: list[GpioBoard]) -> Callable[..., tuple[GpioBoard, MockPins, list]]:
    def build(
        settings: GpioSettings = DEMO_SETTINGS, **kwargs
    ) -> tuple[GpioBoard, MockPins, list[GpioEvent]]:
        events: list[GpioEvent] = []
        pins = MockPins(factory, settings)
        pins.rest()
        kwargs.setdefault("factory", lambda: factory)
        board = GpioBoard(settings, on_event=events.append, **kwargs)
        boards.append(board)
        return board, pins, events

    return build


def wait_until(predicate: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


# --- outputs -----------------------------------------------------------------------------------------


def test_every_output_starts_off_at_its_own_polarity(make) -> None:
    board, pins, _ = make()
    board.open()
    assert pins.level(17) is True  # the active-low gate relay is off when its input is high
    assert [pins.level(p) for p in (22, 23, 24, 25, 5, 6)] == [False] * 6
    assert set(board.output_states().values()) == {False}


def test_the_gate_pulses_once_for_at_least_the_configured_time_on_an_active_low_relay(make) -> None:
    board, pins, _ = make(replace(DEMO_SETTINGS, gate_pulse_seconds=0.05))
    board.open()
    pins.pin(17).clear_states()
    assert board.gate.open() is True
    assert wait_until(lambda: pins.level(17) is True and len(pins.pin(17).states) >= 3)
    levels = [s.state for s in pins.pin(17).states]
    assert levels == [True, False, True]  # idle high, pulled low (energized) once, released
    held = pins.pin(17).states[2].timestamp  # time spent in the state before it
    assert held >= 0.05 - 1e-3


def test_a_gate_in_hold_mode_follows_the_in_service_state_and_does_not_pulse(make) -> None:
    board, pins, _ = make(replace(DEMO_SETTINGS, gate_mode="hold"))
    board.open()
    assert not pins.gate()
    board.show(Indication(in_service=True))
    assert pins.gate() and pins.level(17) is False
    assert board.gate.open() is False
    assert pins.gate()
    board.show(Indication(in_service=False))
    assert not pins.gate() and pins.level(17) is True


def test_lights_and_slot_show_what_they_are_told(make) -> None:
    board, pins, _ = make(replace(DEMO_SETTINGS, lights_active_high=False))
    board.open()
    assert pins.lights() == {"green": False, "amber": False, "red": False}
    assert [pins.level(p) for p in (22, 23, 24)] == [True, True, True]
    board.show(Indication(red=True))
    assert pins.lights() == {"green": False, "amber": False, "red": True} and pins.level(24) is False
    assert not pins.slot_open()
    board.show(Indication(green=True, amber=True, slot_open=True))
    assert pins.lights() == {"green": True, "amber": True, "red": False}
    assert pins.slot_open() and not pins.gate()  # a pulse-mode gate ignores the in-service state


def test_the_diverter_holds_each_bin_position_while_the_item_passes_then_rests(make) -> None:
    held: list[set[int]] = []
    board, pins, _ = make(sleep=lambda seconds: held.append(pins.diverter_pins()))
    board.open()
    for bin_name in ("holds", "transit", "reshelve", "exceptions"):
        board.diverter.route(bin_name)
        assert pins.diverter_pins() == set()
    assert held == [{5}, {6}, set(), {5, 6}]
    with pytest.raises(OutputUnavailable, match="no position for bin 'media'"):
        board.diverter.route("media")


def test_with_no_hold_time_the_position_stays_until_the_next_item(make) -> None:
    slept: list[float] = []
    board, pins, _ = make(
        replace(DEMO_SETTINGS, diverter_hold_seconds=0.0, diverter_active_high=False), sleep=slept.append
    )
    board.open()
    board.diverter.route("exceptions")
    assert pins.diverter_bin() == "exceptions" and [pins.level(5), pins.level(6)] == [False, False]
    board.diverter.route("transit")
    assert pins.diverter_bin() == "transit" and pins.diverter_pins() == {6}
    assert slept == []


# --- inputs ------------------------------------------------------------------------------------------


def test_the_gate_alarm_is_one_event_per_alarm(make) -> None:
    board, pins, events = make()
    board.open()
    events.clear()
    pins.press_gate_alarm()
    pins.press_gate_alarm()
    assert [type(e) for e in events] == [GateAlarm, GateAlarm]
    assert events[0].at.tzinfo is not None


@pytest.mark.parametrize(
    ("pull_up", "normally_closed"), [(True, False), (True, True), (False, False), (False, True)]
)
def test_every_wiring_of_the_alarm_contact_reads_the_same_signal(
    make, pull_up: bool, normally_closed: bool
) -> None:
    settings = GpioSettings(
        gate_alarm_pin=27, gate_alarm_pull_up=pull_up, gate_alarm_normally_closed=normally_closed
    )
    board, pins, events = make(settings)
    board.open()
    assert events == [] and board.input_states() == {"gate_alarm": False}
    pins.signal(27, pull_up, normally_closed, True)
    assert board.input_states() == {"gate_alarm": True}
    assert pins.level(27) is (not pull_up if not normally_closed else pull_up)  # the line really moved
    pins.signal(27, pull_up, normally_closed, False)
    assert [type(e) for e in events] == [GateAlarm]


def test_the_drop_beam_reports_each_break(make) -> None:
    now = iter([10.0, 11.5])
    board, pins, events = make(clock=lambda: next(now))
    board.open()
    pins.break_beam()
    pins.break_beam()
    assert [e for e in events if isinstance(e, DropDetected)] == [DropDetected(10.0), DropDetected(11.5)]


def test_bin_sensors_report_both_ways_and_one_door_speaks_for_each_of_its_bins(make) -> None:
    board, pins, events = make()
    board.open()
    events.clear()
    pins.fill_bin("transit")
    pins.fill_bin("transit", False)
    pins.open_door("reshelve")  # the door on GPIO 21 closes reshelve and exceptions
    pins.open_door("reshelve", False)
    assert events == [
        BinSensor("transit", "full", True),
        BinSensor("transit", "full", False),
        BinSensor("reshelve", "door", True),
        BinSensor("exceptions", "door", True),
        BinSensor("reshelve", "door", False),
        BinSensor("exceptions", "door", False),
    ]


def test_level_sensors_report_their_state_when_the_board_opens(make) -> None:
    board, pins, events = make()
    pins.fill_bin("holds")
    pins.open_door("holds")  # a normally-closed reed switch: open door = line at its pull-up
    board.open()
    assert BinSensor("holds", "full", True) in events
    assert BinSensor("transit", "door", True) in events  # the same door
    assert BinSensor("reshelve", "full", False) in events and BinSensor("reshelve", "door", False) in events
    assert not any(isinstance(e, GateAlarm | DropDetected) for e in events)


# --- no GPIO, degraded, and coming back ----------------------------------------------------------------


def test_no_gpio_is_a_down_state_with_the_reason_and_it_is_picked_up_when_it_appears(make, factory) -> None:
    available = {"now": False}

    def maybe() -> MockFactory:
        if not available["now"]:
            raise GpioUnavailable("no GPIO pin factory (not a Raspberry Pi): BadPinFactory: none")
        return factory

    registry = HealthRegistry()
    board, pins, events = make(factory=maybe, health=registry)
    health = board.open()
    assert health.state is HealthState.DOWN and "not a Raspberry Pi" in health.reason
    assert registry.get("gpio") == health
    with pytest.raises(OutputUnavailable, match="GPIO unavailable: no GPIO pin factory"):
        board.diverter.route("holds")
    with pytest.raises(OutputUnavailable, match="GPIO unavailable"):
        board.gate.open()
    board.show(Indication(red=True))  # never raises: shown once the lights exist
    pins.fill_bin("holds")
    assert board.probe().state is HealthState.DOWN and events == []

    available["now"] = True
    assert board.probe().state is HealthState.UP
    assert registry.get("gpio").state is HealthState.UP
    assert pins.lights() == {"green": False, "amber": False, "red": True}
    assert BinSensor("holds", "full", True) in events
    board.diverter.route("transit")
    pins.press_gate_alarm()
    assert isinstance(events[-1], GateAlarm)


def test_with_no_pin_configured_the_board_never_looks_for_gpio(make) -> None:
    def never() -> MockFactory:
        raise AssertionError("looked for a pin factory")

    registry = HealthRegistry()
    board, _, _ = make(GpioSettings(), factory=never, health=registry)
    assert not board.configured
    assert board.open().state is HealthState.UP
    assert registry.snapshot() == {}  # no staff row for a device the kiosk does not have


def test_a_factory_that_raises_anything_is_down_not_a_crash(make) -> None:
    def broken() -> MockFactory:
        raise BadPinFactory("Unable to load any default pin factory!")

    board, _, _ = make(factory=broken)
    health = board.open()
    assert health.state is HealthState.DOWN
    assert health.reason == "BadPinFactory: Unable to load any default pin factory!"


def test_a_pin_that_cannot_be_set_up_degrades_the_board_and_the_rest_works(make) -> None:
    # GPIO 2 has a fixed pull-up on the Pi the mock emulates: a pull-down input cannot be made there.
    settings = GpioSettings(gate_alarm_pin=2, gate_alarm_pull_up=False, light_red_pin=24)
    board, pins, _ = make(settings)
    health = board.open()
    assert health.state is HealthState.DEGRADED
    assert health.reason.startswith("gate_alarm: GPIO 2: PinFixedPull")
    board.show(Indication(red=True))
    assert pins.lights()["red"]


def test_a_busy_pin_is_retried_and_the_device_picked_up_when_it_is_free(make, factory) -> None:
    squatter = DigitalOutputDevice(22, pin_factory=factory)
    board, pins, _ = make()
    board.show(Indication(green=True))
    health = board.open()
    assert health.state is HealthState.DEGRADED and health.reason.startswith(
        "light.green: GPIO 22: GPIOPinInUse"
    )
    assert board.probe().state is HealthState.DEGRADED
    squatter.close()
    assert board.probe().state is HealthState.UP
    assert pins.lights()["green"]


def test_an_output_that_fails_in_use_is_unavailable_until_a_probe_brings_it_back(make) -> None:
    board, pins, _ = make()
    board.open()
    pin = pins.pin(6)

    def broken(value: bool) -> None:
        raise OSError(5, "Input/output error")

    pin._set_state = broken  # the line fails under the driver
    with pytest.raises(OutputUnavailable, match=re.escape("diverter.6 (pin 6) not open: GPIO 6: OSError")):
        board.diverter.route("transit")
    assert board.current_health().state is HealthState.DEGRADED
    del pin._set_state
    assert board.probe().state is HealthState.UP
    board.diverter.route("transit")


def test_when_every_device_fails_the_board_is_down() -> None:
    factory = MockFactory()
    squatter = DigitalOutputDevice(24, pin_factory=factory)
    board = GpioBoard(GpioSettings(light_red_pin=24), factory=lambda: factory)
    try:
        assert board.open().state is HealthState.DOWN
    finally:
        board.close()
        squatter.close()


# --- closing -----------------------------------------------------------------------------------------


def test_closing_switches_every_output_off_and_releases_every_line(make, factory) -> None:
    board, pins, _ = make(replace(DEMO_SETTINGS, gate_mode="hold", diverter_hold_seconds=0.0))
    board.open()
    board.show(Indication(red=True, slot_open=True, in_service=True))
    board.diverter.route("exceptions")
    assert pins.gate() and pins.slot_open() and pins.diverter_pins() == {5, 6}
    board.close()
    board.close()  # idempotent
    assert not pins.gate() and not pins.slot_open() and pins.diverter_pins() == set()
    assert pins.lights() == {"green": False, "amber": False, "red": False}
    lines = (17, 22, 23, 24, 25, 5, 6, 27, 26, 12, 13, 16, 19, 20, 21)
    assert [pins.pin(p).function for p in lines] == ["input"] * len(lines)
    for line in lines:  # released: anyone may take the line now
        DigitalOutputDevice(line, pin_factory=factory).close()
    assert board.current_health().state is HealthState.DOWN
    with pytest.raises(OutputUnavailable, match="closed"):
        board.diverter.route("holds")
    with pytest.raises(RuntimeError):
        board.open()


def test_the_context_manager_opens_and_closes(factory) -> None:
    pins = MockPins(factory, DEMO_SETTINGS)
    with GpioBoard(replace(DEMO_SETTINGS, slot_active_high=False), factory=lambda: factory) as board:
        board.show(Indication(slot_open=True))
        assert pins.level(25) is False  # active low: energized
    assert pins.pin(25).function == "input"


def test_outputs_go_off_when_the_interpreter_exits_without_close() -> None:
    """atexit: a kiosk that returns from main (or turns SIGTERM into an exit) leaves no relay on."""
    script = """
import atexit
from gpiozero.pins.mock import MockFactory
from kiosk.hardware.gpio import GpioBoard, Indication
from kiosk.hardware.gpio_settings import GpioSettings
factory = MockFactory()
# registered first, so it runs last: after the board's own exit handler
gate, slot = factory.pin(17), factory.pin(25)
atexit.register(lambda: print("at exit:", gate.state, slot.state, gate.function))
board = GpioBoard(GpioSettings(gate_pin=17, gate_mode="hold", slot_pin=25), factory=lambda: factory)
board.open()
board.show(Indication(slot_open=True, in_service=True))
print("running:", factory.pin(17).state, factory.pin(25).state)
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.splitlines() == ["running: True True", "at exit: False False input"]


# --- finding the factory -------------------------------------------------------------------------------


def test_the_default_factory_failing_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "nosuchfactory")
    with pytest.raises(
        GpioUnavailable, match=r"no GPIO pin factory .* BadPinFactory: Unable to find pin factory"
    ):
        find_pin_factory("")


def test_a_named_factory_is_made_for_the_caller_and_an_unknown_name_is_refused() -> None:
    made, owned = find_pin_factory("mock")
    try:
        assert isinstance(made, MockFactory) and owned
    finally:
        made.close()
    with pytest.raises(GpioUnavailable, match=re.escape("no pin factory named 'RPi.GPIO'")):
        find_pin_factory("RPi.GPIO")
