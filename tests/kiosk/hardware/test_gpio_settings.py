"""[gpio] settings: TOML through the real layered parser, and the checks between keys."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

import kiosk.config as config
from kiosk.config import ConfigError, Layer, Provenance, ReturnsSettings, parse_layers
from kiosk.hardware.gpio_settings import GpioSettings, check_gpio, pin_problems, pin_uses, pin_warnings

BASE = b"""
[site]
name = "Test"
institution_id = "t"
[sip2]
host = "127.0.0.1"
tls = false
allow_plain_tcp = true
"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class _WithGpio(config.Settings):
    """Settings with [gpio] registered, as kiosk.config.Settings will have it."""

    gpio: GpioSettings = dataclasses.field(default_factory=GpioSettings)


@pytest.fixture
def parse(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(config, "Settings", _WithGpio)
    if check_gpio not in config.CROSS_CHECKS:  # until kiosk.config registers the section itself
        monkeypatch.setattr(config, "CROSS_CHECKS", [*config.CROSS_CHECKS, check_gpio])

    def run(toml: str):
        return parse_layers([Layer("kiosk.toml", BASE + toml.encode())]).settings

    return run


def problems(parse, toml: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(toml)
    return caught.value.problems


def test_an_installation_parses_into_typed_settings(parse) -> None:
    s = parse("""
[gpio]
gate_pin = 17
gate_active_high = false
gate_mode = "hold"
light_red_pin = 24
diverter_bins = { holds = [5], transit = [6], reshelve = [], exceptions = [5, 6] }
bin_full_pins = { holds = 12 }
door_pins = { holds = 20, transit = 20 }
drop_beam_pin = 26
bounce_seconds = 0
""").gpio
    assert (s.gate_pin, s.gate_active_high, s.gate_mode, s.light_red_pin) == (17, False, "hold", 24)
    assert s.diverter_bins == {"holds": (5,), "transit": (6,), "reshelve": (), "exceptions": (5, 6)}
    assert s.bin_full_pins == {"holds": 12} and s.door_pins == {"holds": 20, "transit": 20}
    assert s.bounce_seconds == 0.0 and isinstance(s.bounce_seconds, float)
    assert s.configured


def test_the_built_in_defaults_use_no_pin(parse) -> None:
    s = parse("").gpio
    assert s == GpioSettings()
    assert not s.configured and pin_uses(s) == []


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("gate_pin = 28", "kiosk.toml: gpio.gate_pin: expected a BCM GPIO number 0-27, got 28"),
        ("gate_pin = true", "kiosk.toml: gpio.gate_pin: expected a BCM GPIO number 0-27, got true"),
        ('gate_mode = "pulsed"', 'expected one of "pulse", "hold", got "pulsed" (did you mean "pulse"?)'),
        ("gate_pulse_seconds = 0", "gpio.gate_pulse_seconds: expected a number > 0, got 0"),
        ("bin_full_pins = { holds = 40 }", "gpio.bin_full_pins: expected a table of bin name = BCM GPIO"),
        (
            "diverter_bins = { holds = [5, 5] }",
            "gpio.diverter_bins: expected a table of bin name = list of distinct",
        ),
        (
            "diverter_bins = { holds = 5 }",
            "gpio.diverter_bins: expected a table of bin name = list of distinct",
        ),
        ('pin_factory = "RPi.GPIO"', 'gpio.pin_factory: expected one of "", "lgpio", "rpigpio"'),
        ("gate_pn = 17", 'gpio.gate_pn: unknown key (did you mean "gpio.gate_pin"?)'),
    ],
)
def test_a_bad_value_is_one_clear_line(parse, toml: str, expected: str) -> None:
    found = problems(parse, f"[gpio]\n{toml}\n")
    assert len(found) == 1 and expected in found[0], found


def test_a_pin_used_twice_is_refused_naming_both_keys(parse) -> None:
    found = problems(
        parse,
        "[gpio]\ngate_pin = 17\nlight_red_pin = 17\nbin_full_pins = { holds = 5 }\n"
        "diverter_bins = { holds = [5], transit = [], reshelve = [6], exceptions = [7] }\n",
    )
    assert found == [
        "kiosk.toml: gpio.light_red_pin: expected a pin no other [gpio] key uses, got 17 "
        "(also gpio.gate_pin)",
        "kiosk.toml: gpio.diverter_bins.holds: expected a pin no other [gpio] key uses, got 5 "
        "(also gpio.bin_full_pins.holds)",
    ]


def test_a_door_may_serve_several_bins_but_two_full_sensors_may_not_share_a_pin(parse) -> None:
    assert parse("[gpio]\ndoor_pins = { holds = 20, transit = 20 }\n").gpio.door_pins == {
        "holds": 20,
        "transit": 20,
    }
    found = problems(parse, "[gpio]\nbin_full_pins = { holds = 12, transit = 12 }\n")
    assert found == [
        "kiosk.toml: gpio.bin_full_pins.transit: expected a pin no other [gpio] key uses, got 12 "
        "(also gpio.bin_full_pins.holds)"
    ]


def test_two_bins_at_one_diverter_position_are_refused(parse) -> None:
    found = problems(
        parse,
        "[gpio]\ndiverter_bins = { holds = [5, 6], transit = [6, 5], reshelve = [], exceptions = [5] }\n",
    )
    assert found == [
        "kiosk.toml: gpio.diverter_bins.transit: expected a diverter position of its own, "
        "got the pins of bin 'holds' ([5, 6])"
    ]


def test_bins_must_be_bins_of_returns_and_the_diverter_must_reach_each(parse) -> None:
    found = problems(parse, "[gpio]\nbin_full_pins = { hold = 12 }\ndiverter_bins = { holds = [5] }\n")
    assert found[0] == (
        'kiosk.toml: gpio.bin_full_pins.hold: expected a bin of [returns] ("holds", "transit", "reshelve", '
        '"exceptions"), got \'hold\' (did you mean "holds"?)'
    )
    assert found[1] == (
        "kiosk.toml: gpio.diverter_bins: expected a position for every bin of [returns], "
        "got none for 'transit', 'reshelve', 'exceptions'"
    )
    assert len(found) == 2


def test_a_sort_bin_of_returns_is_a_bin_the_gpio_may_name(parse) -> None:
    s = parse('[returns]\nsort_bins = { "4" = "media" }\n[gpio]\nbin_full_pins = { media = 12 }\n')
    assert s.gpio.bin_full_pins == {"media": 12}


def test_i2c_and_uart_pins_are_warned_about_not_refused() -> None:
    s = GpioSettings(gate_alarm_pin=2, light_red_pin=15, light_green_pin=22)
    warnings = pin_warnings(s)
    assert [w.split(":")[0] for w in warnings] == ["gpio.gate_alarm_pin", "gpio.light_red_pin"]
    assert "I²C SDA" in warnings[0] and "UART RXD" in warnings[1]
    assert pin_problems(s) == []


def test_the_cross_check_names_the_file_that_set_the_key() -> None:
    settings = SimpleNamespace(gpio=GpioSettings(gate_pin=4, slot_pin=4), returns=ReturnsSettings())
    origin = Provenance({"gpio.slot_pin": "/etc/kiosk/kiosk.d/50-local.toml"}, {})
    assert list(check_gpio(settings, origin)) == [
        "/etc/kiosk/kiosk.d/50-local.toml: gpio.slot_pin: expected a pin no other [gpio] key uses, got 4 "
        "(also gpio.gate_pin)"
    ]
