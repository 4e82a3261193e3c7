"""``kiosk demo``'s choices before anything starts: window or headless tour, Kivy's environment, the
output folder, and a site configuration that cannot be used."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from kiosk.cli import build_parser, main
from kiosk.demo.command import default_out, has_display, prepare_kivy


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, False),
    ({"DISPLAY": ":0"}, True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, True),
    ({"DISPLAY": ""}, False),
    ({"SDL_VIDEODRIVER": "kmsdrm"}, True),  # a Pi's console, no X
    ({"SDL_VIDEODRIVER": "x11", "DISPLAY": ":0"}, True),
    ({"SDL_VIDEODRIVER": "offscreen", "DISPLAY": ":0"}, False),  # asked for offscreen: no window
    ({"SDL_VIDEODRIVER": "dummy"}, False),
    ({"SDL_VIDEODRIVER": " Offscreen "}, False),
])
def test_a_display_is_an_x_or_wayland_display_or_a_real_sdl_video_driver(environ, expected) -> None:
    assert has_display(dict(environ)) is expected


def test_headless_kivy_is_offscreen_even_when_the_dummy_driver_was_asked_for_and_keeps_what_the_caller_set() -> None:
    environ = {"SDL_VIDEODRIVER": "dummy", "KIVY_HOME": "/somewhere"}
    prepare_kivy(environ, headless=True, home="/tmp/home")
    assert environ["SDL_VIDEODRIVER"] == "offscreen"  # the dummy driver has no GL: Kivy cannot start on it
    assert environ["KIVY_HOME"] == "/somewhere"
    assert environ["KIVY_NO_ARGS"] == "1" and environ["KIVY_USE_DEFAULTCONFIG"] == "1"
    assert environ["KIVY_CLIPBOARD"] == "dummy" and environ["SDL_AUDIODRIVER"] == "dummy"

    desktop: dict[str, str] = {"DISPLAY": ":0"}
    prepare_kivy(desktop, headless=False, home="/tmp/home")
    assert "SDL_VIDEODRIVER" not in desktop and "SDL_AUDIODRIVER" not in desktop  # sound plays on a desktop
    assert desktop["KIVY_HOME"] == "/tmp/home" and desktop["KIVY_CLIPBOARD"] == "sdl2"


def test_the_tour_writes_to_a_dated_folder_unless_told_where() -> None:
    assert default_out(datetime(2025, 3, 4, 5, 6, 7)) == Path("demo-output/20250304-050607")
    args = build_parser().parse_args(["demo", "--out", "x", "--step-seconds", "2.5", "--headless"])
    assert (args.out, args.step_seconds, args.headless, args.returns_bin) == ("x", 2.5, True, False)


def test_a_site_configuration_that_cannot_be_used_is_refused_before_anything_starts(tmp_path, capsys) -> None:
    (tmp_path / "kiosk.toml").write_text('[sip2]\nport = "abc"\n', encoding="utf-8")
    assert main(["demo", "--config-dir", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "sip2.port" in err and "kiosk.toml" in err
    assert not (tmp_path / "out").exists()
