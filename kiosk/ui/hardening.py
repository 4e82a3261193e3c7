"""Kiosk hardening: a patron must not be able to leave, configure or inspect the application.

Kivy reads its display settings once, when ``kivy.core.window`` is first imported, and by default
quits on ESC and opens its settings panel on F1. :func:`configure_kivy` must therefore run before
anything imports the window (``kiosk ui`` calls it first thing); :func:`swallow_keys` is bound to
the window's ``on_keyboard`` once it exists. A barcode scanner that types like a keyboard is read by
the shell, never through Kivy (kiosk/shell/inputs.py), so no key press means anything to the UI.
"""

from __future__ import annotations

from typing import Any

from kiosk.ui.settings import UiSettings

ESCAPE = 27
F1 = 282  # Kivy's (SDL2's) keycode for F1: toggles App's settings panel
SWALLOWED_KEYS = frozenset({ESCAPE, F1})
DEBUG_MODULES = ("inspector", "monitor", "recorder", "showborder", "screen", "touchring", "webdebugger")


def kivy_config(settings: UiSettings) -> dict[tuple[str, str], str]:
    """The Kivy config values the kiosk sets, as (section, key) -> value."""
    return {
        ("graphics", "fullscreen"): "auto" if settings.fullscreen else "0",
        ("graphics", "width"): str(settings.width),
        ("graphics", "height"): str(settings.height),
        ("graphics", "rotation"): str(settings.rotation),
        ("graphics", "show_cursor"): "1" if settings.show_cursor else "0",
        ("graphics", "allow_screensaver"): "0",
        ("graphics", "resizable"): "0",
        ("kivy", "exit_on_escape"): "0",
        ("kivy", "pause_on_minimize"): "0",
    }


def configure_kivy(settings: UiSettings, config: Any = None) -> None:
    """Set Kivy's config for a kiosk and drop its debugging modules (an inspector on a public
    screen would show every widget's properties). ``config`` defaults to ``kivy.config.Config``;
    call this before ``kivy.core.window`` is imported, or the display keys come too late."""
    if config is None:
        from kivy.config import Config

        config = Config
    for (section, key), value in kivy_config(settings).items():
        if not config.has_section(section):
            config.add_section(section)
        config.set(section, key, value)
    if config.has_section("modules"):
        for module in DEBUG_MODULES:
            if config.has_option("modules", module):
                config.remove_option("modules", module)


def swallow_keys(_window: object, key: int, *_args: object, **_kwargs: object) -> bool:
    """``Window.on_keyboard`` handler: ESC and F1 stop here (True ends the dispatch), so neither
    Kivy's quit-on-escape nor App's settings panel ever sees them."""
    return key in SWALLOWED_KEYS


def refuse_close(*_args: object, **_kwargs: object) -> bool:
    """``Window.on_request_close`` handler: no key or window-manager request closes the kiosk
    (leaving is staff mode's "leave the kiosk", which stops the app directly)."""
    return True
