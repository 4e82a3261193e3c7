"""[ui] as the config loader sees it, and the Kivy settings the kiosk derives from it (no window)."""

from __future__ import annotations

import pytest
from kivy.config import ConfigParser

from kiosk.config import ConfigError, Layer, defaults_layer, parse_layers
from kiosk.ui.hardening import DEBUG_MODULES, configure_kivy, kivy_config
from kiosk.ui.settings import UiSettings
from kiosk.ui.site import Site


def load(toml: str) -> UiSettings:
    return parse_layers([defaults_layer(), Layer("/etc/kiosk/kiosk.toml", toml.encode())]).settings.ui


def problems(toml: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(toml)
    return caught.value.problems


def test_the_shipped_defaults_are_the_ui_settings_defaults() -> None:
    assert load("") == UiSettings()
    assert UiSettings().fullscreen and not UiSettings().show_cursor and UiSettings().sounds


def test_ui_values_are_read_and_checked(tmp_path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG")
    ui = load(f'[ui]\nrotation = 90\nvolume = 1\nlogo = "{logo}"\nfullscreen = false\nwidth = 800\nheight = 480\n'
              "large_text = true\nthank_you_seconds = 2.5\n")
    assert (ui.rotation, ui.volume, ui.logo) == (90, 1.0, str(logo))
    assert (ui.fullscreen, ui.width, ui.height) == (False, 800, 480)
    assert ui.large_text and ui.thank_you_seconds == 2.5
    assert problems("[ui]\nrotation = 45\n") == [
        "/etc/kiosk/kiosk.toml: ui.rotation: expected one of 0, 90, 180, 270 (degrees), got 45"]
    assert problems("[ui]\nvolume = 1.5\n") == ["/etc/kiosk/kiosk.toml: ui.volume: expected a number 0-1, got 1.5"]
    missing = problems(f'[ui]\nlogo = "{tmp_path}/nope.png"\n')
    assert len(missing) == 1 and "ui.logo: expected an absolute path to an existing image file" in missing[0]
    assert problems("[ui]\nshow_curser = true\n") == [
        '/etc/kiosk/kiosk.toml: ui.show_curser: unknown key (did you mean "ui.show_cursor"?)']


def test_kivy_is_configured_for_a_kiosk_before_its_window_exists() -> None:
    config = ConfigParser(name="kiosk-test")
    config.add_section("modules")
    config.set("modules", "inspector", "")
    config.set("modules", "monitor", "")
    configure_kivy(UiSettings(rotation=270, show_cursor=False), config)
    assert config.get("graphics", "fullscreen") == "auto"
    assert config.get("graphics", "rotation") == "270"
    assert config.get("graphics", "show_cursor") == "0"
    assert config.get("kivy", "exit_on_escape") == "0"
    assert not any(config.has_option("modules", m) for m in DEBUG_MODULES)
    windowed = kivy_config(UiSettings(fullscreen=False, width=800, height=480, show_cursor=True))
    assert windowed[("graphics", "fullscreen")] == "0"
    assert (windowed[("graphics", "width")], windowed[("graphics", "height")]) == ("800", "480")
    assert windowed[("graphics", "show_cursor")] == "1"


def test_the_site_comes_from_the_kiosks_settings(tmp_path) -> None:
    toml = b'[site]\nlanguage = "de"\n[circulation]\ncheckin_enabled = false\nmore_time_seconds = 30\n'
    loaded = parse_layers([defaults_layer(), Layer("/etc/kiosk/kiosk.toml", toml)])

    class AssembledStation:  # what kiosk.assembly.Station offers the UI
        settings = loaded.settings

    site = Site.of(AssembledStation())
    assert (site.name, site.language) == ("Demo Library", "de")
    assert (site.checkin_enabled, site.more_time_seconds) == (False, 30)
    assert site.ui == loaded.settings.ui

    class PlainStation:
        site_name = "Branch"
        ui_settings = UiSettings(sounds=False)

    plain = Site.of(PlainStation())
    assert (plain.name, plain.checkin_enabled, plain.ui.sounds) == ("Branch", True, False)
