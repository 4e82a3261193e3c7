"""[ui]: how the kiosk's screen looks and behaves — display, sounds, accessibility defaults.

The languages patrons may pick are the station's business (``[station] languages``: the session
machine must know them to accept a choice); the UI shows whatever ``state.languages`` lists.

A schema section in the style of :mod:`kiosk.config` (a frozen dataclass of ``setting(...)`` fields),
declared next to the UI it configures. It imports no Kivy: the config loader and ``kiosk config
check`` read it on machines (and in processes, such as ``kiosk sync``) that never open a window.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kiosk.config_schema import Check, boolean, integer, positive_number, setting

ROTATIONS = (0, 90, 180, 270)


def rotation() -> Check:
    return Check(
        "one of 0, 90, 180, 270 (degrees)",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v in ROTATIONS,
    )


def fraction() -> Check:
    return Check(
        "a number 0-1",
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1,
        convert=float,
    )


def image_file_or_empty() -> Check:
    """A logo is optional; when given it must be there, or the idle screen would show a broken box."""
    return Check(
        'an absolute path to an existing image file (PNG or JPEG), or "" for none',
        lambda v: isinstance(v, str) and (v == "" or (os.path.isabs(v) and os.path.isfile(v))),
    )


@dataclass(frozen=True, kw_only=True)
class UiSettings:
    """[ui]: the touch screen."""

    fullscreen: bool = setting(True, check=boolean(), doc="fill the display at its native resolution")
    rotation: int = setting(0, check=rotation(), doc="rotate the picture (degrees); touch rotates in [input]")
    show_cursor: bool = setting(False, check=boolean(), doc="show the mouse pointer")
    sounds: bool = setting(True, check=boolean(), doc="play success, attention and error sounds")
    volume: float = setting(0.8, check=fraction(), doc="sound volume, 0-1")
    logo: str = setting("", check=image_file_or_empty(), doc="library logo on the idle screen; empty: none")
    thank_you_seconds: float = setting(4.0, check=positive_number(), doc="how long 'thank you' shows")
    width: int = setting(1024, check=integer(320, 7680), doc="window width when not fullscreen")
    height: int = setting(600, check=integer(240, 4320), doc="window height when not fullscreen")
    large_text: bool = setting(False, check=boolean(), doc="start every session with large text")
    high_contrast: bool = setting(False, check=boolean(), doc="start every session in high contrast")
