"""[gpio]: which pin does what, and how each is wired.

Why pins are data: every installation wires its relay board, light tower and bin sensors its own
way (DESIGN.md §2.7). A pin is a BCM GPIO number (what ``gpioinfo`` and gpiozero call GPIO17, not
header pin 11). Polarity is said per output (``active_high``: a relay board that switches on a low
input is ``false``) and per input as wiring: ``pull_up`` (contact to GND with the internal pull-up,
else to 3V3 with the pull-down) and ``normally_closed`` (the contact *opens* to signal: a door reed
switch that is closed while the door is shut, a beam sensor whose relay drops out when the beam is
broken).

An unset pin means the installation has no such device; with no pin set at all the kiosk does
not touch GPIO.

Checks between keys (no pin used twice, bin names that exist in [returns], one diverter position
per bin) are :func:`check_gpio`, to be appended to ``kiosk.config.CROSS_CHECKS``; pins that work but
are usually a mistake (I²C, UART) are :func:`pin_warnings`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kiosk.config_schema import Check, boolean, non_negative_number, one_of, positive_number, setting

if TYPE_CHECKING:
    from kiosk.config import Provenance

FIRST_PIN, LAST_PIN = 0, 27  # the 40-pin header's GPIO lines on every Pi with one
PIN_FACTORIES = ("", "lgpio", "rpigpio", "pigpio", "native")

# Pins that work as plain GPIO but usually mean a wiring mistake, and why.
RISKY_PINS: dict[int, str] = {
    2: "I²C SDA with a fixed 1.8 kΩ pull-up: an input reads active-high when open, the pull-down cannot win",
    3: "I²C SCL with a fixed 1.8 kΩ pull-up: an input reads active-high when open, the pull-down cannot win",
    14: "UART TXD: the serial console or a serial reader may drive it",
    15: "UART RXD: the serial console or a serial reader may use it",
}


def _is_pin(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and FIRST_PIN <= value <= LAST_PIN


def bcm_pin() -> Check:
    return Check(f"a BCM GPIO number {FIRST_PIN}-{LAST_PIN}", _is_pin)


def _is_bin_name(key: object) -> bool:
    return isinstance(key, str) and key.strip() != ""


def pin_per_bin() -> Check:
    return Check(
        f'a table of bin name = BCM GPIO number {FIRST_PIN}-{LAST_PIN} (for example {{ holds = 20 }})',
        lambda v: isinstance(v, dict) and all(_is_bin_name(k) and _is_pin(p) for k, p in v.items()),
    )


def _is_position(value: object) -> bool:
    return isinstance(value, list) and all(_is_pin(p) for p in value) and len(set(value)) == len(value)


def pins_per_bin() -> Check:
    return Check(
        f"a table of bin name = list of distinct BCM GPIO numbers {FIRST_PIN}-{LAST_PIN} "
        "(for example { holds = [5], transit = [6], reshelve = [] })",
        lambda v: isinstance(v, dict) and all(_is_bin_name(k) and _is_position(p) for k, p in v.items()),
        convert=lambda v: {k: tuple(p) for k, p in v.items()},
    )


@dataclass(frozen=True, kw_only=True)
class GpioSettings:
    """[gpio]: the gate, the status lights and the returns bin's diverter, slot and sensors."""

    pin_factory: str = setting(
        "", check=one_of(*PIN_FACTORIES),
        doc="gpiozero pin factory; empty: $GPIOZERO_PIN_FACTORY, else gpiozero's own order",
    )
    probe_seconds: float = setting(10.0, check=positive_number(), doc="retry interval while GPIO is missing")
    bounce_seconds: float = setting(
        0.05, check=non_negative_number(), doc="debounce of the contacts (alarm, bin full, doors); 0: none"
    )

    gate_pin: int | None = setting(None, check=bcm_pin(), doc="security gate / exit barrier relay")
    gate_active_high: bool = setting(True, check=boolean(), doc="the gate relay switches on a high output")
    gate_mode: str = setting(
        "pulse", check=one_of("pulse", "hold"),
        doc="pulse per opening (a patron leaving with a loan, staff), or hold while the kiosk is in service",
    )
    gate_pulse_seconds: float = setting(1.0, check=positive_number(), doc="length of the gate relay's pulse")

    gate_alarm_pin: int | None = setting(None, check=bcm_pin(), doc="the gate's alarm output (opto-isolated)")
    gate_alarm_pull_up: bool = setting(True, check=boolean(), doc="alarm contact to GND with the pull-up")
    gate_alarm_normally_closed: bool = setting(False, check=boolean(), doc="alarm contact opens to signal")

    light_green_pin: int | None = setting(None, check=bcm_pin(), doc="light tower: green, ready")
    light_amber_pin: int | None = setting(None, check=bcm_pin(), doc="light tower: amber, busy or offline")
    light_red_pin: int | None = setting(None, check=bcm_pin(), doc="light tower: red, out of service")
    lights_active_high: bool = setting(True, check=boolean(), doc="a light is on at a high output")

    slot_pin: int | None = setting(None, check=bcm_pin(), doc="returns slot lock: energized = slot open")
    slot_active_high: bool = setting(True, check=boolean(), doc="the slot lock is energized at a high output")

    diverter_bins: dict[str, tuple[int, ...]] = setting(
        default_factory=dict, check=pins_per_bin(), doc="bin -> diverter pins switched on to reach it"
    )
    diverter_active_high: bool = setting(True, check=boolean(), doc="diverter pins are on at a high output")
    diverter_hold_seconds: float = setting(
        2.0, check=non_negative_number(), doc="hold a position for the item to pass; 0: until the next item"
    )

    bin_full_pins: dict[str, int] = setting(
        default_factory=dict, check=pin_per_bin(), doc="bin -> its full sensor"
    )
    bin_full_pull_up: bool = setting(True, check=boolean(), doc="full sensors switch to GND with the pull-up")
    bin_full_normally_closed: bool = setting(False, check=boolean(), doc="full sensors open to signal")

    door_pins: dict[str, int] = setting(
        default_factory=dict, check=pin_per_bin(), doc="bin -> door sensor (one door may serve several bins)"
    )
    door_pull_up: bool = setting(True, check=boolean(), doc="door switches to GND with the pull-up")
    door_normally_closed: bool = setting(True, check=boolean(), doc="the door switch is closed while shut")

    drop_beam_pin: int | None = setting(None, check=bcm_pin(), doc="drop-slot light barrier")
    drop_beam_pull_up: bool = setting(True, check=boolean(), doc="beam output to GND with the pull-up")
    drop_beam_normally_closed: bool = setting(False, check=boolean(), doc="the beam output opens when broken")
    drop_beam_bounce_seconds: float = setting(0.0, check=non_negative_number(), doc="debounce of the beam")
    drop_beam_read_seconds: float = setting(
        2.0, check=positive_number(), doc="wait for the chute reader after the beam; then: untagged item"
    )

    @property
    def configured(self) -> bool:
        """Some device is wired: the kiosk uses GPIO (and reports its health)."""
        return bool(pin_uses(self))


@dataclass(frozen=True, slots=True)
class PinUse:
    """One pin the settings use: ``role`` (entries of one role may share a pin where that is the
    wiring), ``field`` the [gpio] key that sets it, ``key`` the entry shown in messages."""

    role: str
    field: str
    key: str
    pin: int


def pin_uses(gpio: GpioSettings) -> list[PinUse]:
    """Every pin the settings use. One door may serve several bins, and a diverter position is a
    combination of the diverter's pins; across roles a pin is used once."""
    uses: list[PinUse] = []
    for name in ("gate_pin", "gate_alarm_pin", "light_green_pin", "light_amber_pin", "light_red_pin",
                 "slot_pin", "drop_beam_pin"):
        pin = getattr(gpio, name)
        if pin is not None:
            uses.append(PinUse(name, f"gpio.{name}", f"gpio.{name}", pin))
    for role, name in (("bin_full", "bin_full_pins"), ("door", "door_pins")):
        table: dict[str, int] = getattr(gpio, name)
        uses.extend(PinUse(role, f"gpio.{name}", f"gpio.{name}.{b}", p) for b, p in table.items())
    uses.extend(
        PinUse("diverter", "gpio.diverter_bins", f"gpio.diverter_bins.{b}", p)
        for b, pins in gpio.diverter_bins.items() for p in pins
    )
    return uses


_SHARED_WITHIN_ROLE = {"door", "diverter"}


def pin_problems(gpio: GpioSettings) -> list[tuple[PinUse, str]]:
    """Pins used twice, and diverter positions that are not distinct, each with what is wrong."""
    problems: list[tuple[PinUse, str]] = []
    first: dict[int, PinUse] = {}
    for use in pin_uses(gpio):
        seen = first.setdefault(use.pin, use)
        if seen is not use and (seen.role != use.role or use.role not in _SHARED_WITHIN_ROLE):
            problem = f"expected a pin no other [gpio] key uses, got {use.pin} (also {seen.key})"
            problems.append((use, problem))
    positions: dict[frozenset[int], str] = {}
    for bin_name, pins in gpio.diverter_bins.items():
        other = positions.setdefault(frozenset(pins), bin_name)
        if other != bin_name:
            use = PinUse("diverter", "gpio.diverter_bins", f"gpio.diverter_bins.{bin_name}", -1)
            problems.append((use, f"expected a diverter position of its own, got the pins of bin {other!r} "
                                  f"({sorted(pins)})"))
    return problems


def pin_warnings(gpio: GpioSettings) -> list[str]:
    """Pins that work but are usually a wiring mistake."""
    return [f"{u.key}: GPIO {u.pin} is {RISKY_PINS[u.pin]}" for u in pin_uses(gpio) if u.pin in RISKY_PINS]


def returns_bins(returns: Any) -> list[str]:
    """The bin names [returns] routes to, in its order."""
    names = [returns.hold_here_bin, returns.hold_other_branch_bin, returns.transit_bin, returns.reshelve_bin,
             returns.exceptions_bin, *returns.sort_bins.values()]
    return list(dict.fromkeys(names))


def check_gpio(settings: Any, origin: Provenance) -> Iterator[str]:
    """The [gpio] cross-check for ``kiosk.config.CROSS_CHECKS`` (needs ``settings.gpio`` and
    ``settings.returns``): pins used twice, bins [returns] does not know (a typo would leave a bin
    unsorted or its sensor unheard), and a diverter that cannot reach every bin."""
    gpio: GpioSettings = settings.gpio
    for use, problem in pin_problems(gpio):
        yield f"{origin.label(use.field)}: {use.key}: {problem}"
    known = returns_bins(settings.returns)
    for table in ("diverter_bins", "bin_full_pins", "door_pins"):
        for bin_name in getattr(gpio, table):
            if bin_name not in known:
                close = difflib.get_close_matches(bin_name, known, n=1, cutoff=0.6)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                listed = ", ".join(f'"{b}"' for b in known)
                yield (
                    f"{origin.label(f'gpio.{table}')}: gpio.{table}.{bin_name}: expected a bin of [returns] "
                    f"({listed}), got {bin_name!r}{hint}"
                )
    if gpio.diverter_bins:
        missing = [b for b in known if b not in gpio.diverter_bins]
        if missing:
            yield (
                f"{origin.label('gpio.diverter_bins')}: gpio.diverter_bins: expected a position for "
                f"every bin of [returns], got none for {', '.join(repr(b) for b in missing)}"
            )
