"""The world on the other side of the kiosk's GPIO, over gpiozero's MockFactory: a gate that alarms,
bins that fill, doors that open, a beam that items break — and relays and lights to look at.

The wire here is the pin level. :class:`WiredPin` models a contact or sensor output on a line: while
it conducts it holds the line at its level whatever the pull; while it is open the pull decides.
:class:`MockPins` turns "the bin is full" into the level the configured wiring gives (pull-up or
pull-down, normally open or closed), so the production :class:`~kiosk.hardware.gpio.GpioBoard`
reads it through gpiozero exactly as on a Pi, and reads outputs back as the relays would see them.

``python -m hardware_mocks.gpio`` runs the production GPIO shell over the mock with a returns-bin
runner (no ILS: every item goes to the exceptions bin) and takes commands on stdin or ``--script``::

    alarm | beam | full BIN | empty BIN | open BIN | close BIN | service off | service on | show | quit
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from gpiozero.pins.mock import MockFactory, MockPin

from kiosk.hardware.gpio_settings import GpioSettings


class WiredPin(MockPin):
    """A mock pin with the world attached. ``external`` is the level a conducting contact holds the
    line at (None: the contact is open and the pull decides)."""

    def __init__(self, factory: Any, info: Any) -> None:
        self.external: bool | None = None
        super().__init__(factory, info)

    def _set_pull(self, value: str) -> None:
        super()._set_pull(value)
        if self.external is not None:
            self.settle()

    def settle(self) -> None:
        """Drive the line to where the contact and the pull put it (inputs only)."""
        if self.function != "input":
            return
        level = self.external if self.external is not None else self.pull == "up"
        if level:
            self.drive_high()
        else:
            self.drive_low()


def wired_factory() -> MockFactory:
    """A MockFactory whose pins are :class:`WiredPin`."""
    return MockFactory(pin_class=WiredPin)


class MockPins:
    """The installation as the configured wiring sees it (``settings``), on ``factory``'s pins."""

    def __init__(self, factory: MockFactory, settings: GpioSettings) -> None:
        self.factory = factory
        self.settings = settings

    def pin(self, number: int) -> WiredPin:
        pin = self.factory.pin(number)
        assert isinstance(pin, WiredPin), "use wired_factory()"
        return pin

    # -- inputs: what the world does ----------------------------------------------------------------

    def signal(self, number: int, pull_up: bool, normally_closed: bool, on: bool) -> None:
        """Make the input on ``number`` signal (or stop): a contact to GND (pull-up wiring) or to
        3V3 (pull-down wiring) that closes to signal, or opens to signal if normally closed."""
        conducting = on != normally_closed
        pin = self.pin(number)
        pin.external = (not pull_up) if conducting else None
        pin.settle()

    def rest(self) -> None:
        """Every input in its quiet state: gate quiet, beam clear, bins not full, doors shut."""
        s = self.settings
        if s.gate_alarm_pin is not None:
            self.signal(s.gate_alarm_pin, s.gate_alarm_pull_up, s.gate_alarm_normally_closed, False)
        if s.drop_beam_pin is not None:
            self.signal(s.drop_beam_pin, s.drop_beam_pull_up, s.drop_beam_normally_closed, False)
        for pin in s.bin_full_pins.values():
            self.signal(pin, s.bin_full_pull_up, s.bin_full_normally_closed, False)
        for pin in s.door_pins.values():
            self.signal(pin, s.door_pull_up, s.door_normally_closed, False)

    def press_gate_alarm(self) -> None:
        s = self.settings
        assert s.gate_alarm_pin is not None, "no gate_alarm_pin configured"
        self.signal(s.gate_alarm_pin, s.gate_alarm_pull_up, s.gate_alarm_normally_closed, True)
        self.signal(s.gate_alarm_pin, s.gate_alarm_pull_up, s.gate_alarm_normally_closed, False)

    def break_beam(self) -> None:
        s = self.settings
        assert s.drop_beam_pin is not None, "no drop_beam_pin configured"
        self.signal(s.drop_beam_pin, s.drop_beam_pull_up, s.drop_beam_normally_closed, True)
        self.signal(s.drop_beam_pin, s.drop_beam_pull_up, s.drop_beam_normally_closed, False)

    def fill_bin(self, bin_name: str, full: bool = True) -> None:
        s = self.settings
        self.signal(s.bin_full_pins[bin_name], s.bin_full_pull_up, s.bin_full_normally_closed, full)

    def open_door(self, bin_name: str, open_: bool = True) -> None:
        s = self.settings
        self.signal(s.door_pins[bin_name], s.door_pull_up, s.door_normally_closed, open_)

    # -- outputs: what the world sees ---------------------------------------------------------------

    def level(self, number: int) -> bool:
        """The line's electrical level (True: high)."""
        return bool(self.pin(number).state)

    def energized(self, number: int | None, active_high: bool) -> bool:
        return number is not None and self.level(number) == active_high

    def gate(self) -> bool:
        return self.energized(self.settings.gate_pin, self.settings.gate_active_high)

    def slot_open(self) -> bool:
        return self.energized(self.settings.slot_pin, self.settings.slot_active_high)

    def lights(self) -> dict[str, bool]:
        s = self.settings
        return {c: self.energized(getattr(s, f"light_{c}_pin"), s.lights_active_high)
                for c in ("green", "amber", "red")}

    def diverter_pins(self) -> set[int]:
        """The diverter pins energized now."""
        s = self.settings
        pins = {p for ps in s.diverter_bins.values() for p in ps}
        return {p for p in pins if self.energized(p, s.diverter_active_high)}

    def diverter_bin(self) -> str | None:
        """The bin the diverter's position leads to now (None: no configured position matches)."""
        on = self.diverter_pins()
        return next((b for b, ps in self.settings.diverter_bins.items() if set(ps) == on), None)


# A complete installation for the demo and the tests: a Pi 3B-style header, nothing on 2/3/14/15.
DEMO_SETTINGS = GpioSettings(
    gate_pin=17, gate_active_high=False, gate_pulse_seconds=0.5,
    gate_alarm_pin=27,
    light_green_pin=22, light_amber_pin=23, light_red_pin=24,
    slot_pin=25,
    diverter_bins={"holds": (5,), "transit": (6,), "reshelve": (), "exceptions": (5, 6)},
    diverter_hold_seconds=0.2,
    bin_full_pins={"holds": 12, "transit": 13, "reshelve": 16, "exceptions": 19},
    door_pins={"holds": 20, "transit": 20, "reshelve": 21, "exceptions": 21},
    drop_beam_pin=26, drop_beam_read_seconds=0.3,
)


def describe(pins: MockPins) -> str:
    lights = " ".join(f"{c} {'●' if on else '○'}" for c, on in pins.lights().items())
    where = pins.diverter_bin()
    return (f"lights: {lights} | slot {'open' if pins.slot_open() else 'shut'} | "
            f"gate {'open' if pins.gate() else 'closed'} | diverter: {where or 'rest'}")


def run(commands: Iterable[str], out: TextIO, settings: GpioSettings = DEMO_SETTINGS) -> int:
    """Run the production GPIO shell and a returns-bin runner over the mock; one command per line."""
    # Imported here: the demo wiring is the one place this module reaches into the kiosk's shell.
    from kiosk.circulation.commands import SetOutOfService
    from kiosk.circulation.events import Pressed
    from kiosk.circulation.returns import ReturnsBinMachine, ReturnsState
    from kiosk.config import ReturnsSettings
    from kiosk.runner import Runner
    from kiosk.shell.gate_alarm import GateAlarmLog
    from kiosk.shell.gpio_wiring import GpioShell
    from kiosk.shell.outputs import Outputs

    factory = wired_factory()
    pins = MockPins(factory, settings)
    pins.rest()
    alarms = GateAlarmLog(on_report=lambda report: print(report.text(), file=out))
    shell = GpioShell(settings, factory=lambda: factory, alarms=alarms)
    runner: Runner[ReturnsState] = Runner(
        ReturnsBinMachine(ReturnsSettings()), outputs=Outputs(diverter=shell.diverter),
        on_step=shell.on_step, name="returns",
    )
    runner.start()
    health = shell.start(runner.submit)
    print(f"gpio: {health.state}{f' ({health.reason})' if health.reason else ''}", file=out)
    try:
        for line in commands:
            words = line.split()
            if not words:
                continue
            verb, arg = words[0], (words[1] if len(words) > 1 else "")
            routed = runner.snapshot().routed_total
            if verb == "quit":
                break
            if verb == "alarm":
                pins.press_gate_alarm()
            elif verb == "beam":
                pins.break_beam()
            elif verb in ("full", "empty"):
                pins.fill_bin(arg, verb == "full")
            elif verb in ("open", "close"):
                pins.open_door(arg, verb == "open")
            elif verb == "service":
                shell.on_step(Pressed("out_of_service"), None, (SetOutOfService(arg == "off"),))
            elif verb != "show":
                print(f"unknown command {line.strip()!r}", file=out)
                continue
            if verb == "beam":  # wait for the untagged item to be sorted
                runner.wait_for(lambda s, n=routed: s.routed_total > n and not s.in_flight, 5.0)
            runner.wait_idle(5.0)
            state = runner.snapshot()
            print(f"> {line.strip()}: {describe(pins)} | routed {state.routed_total}"
                  f" | full bins: {', '.join(state.full_bins) or '-'}", file=out)
    finally:
        runner.close()
        shell.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hardware_mocks.gpio", description=__doc__.split("\n")[0])
    parser.add_argument("--script", help="commands separated by ';' instead of stdin")
    args = parser.parse_args(argv)
    commands = args.script.split(";") if args.script else sys.stdin
    return run(commands, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
