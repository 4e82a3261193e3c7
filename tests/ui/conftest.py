"""One Kivy window for every UI test in the process, and a stage to put screens on and touch them.

Kivy allows one window per process, so the window is made once (1024x600, offscreen: the
environment is set in ../conftest.py) and each test gets it cleared. Touches are real: a
``UnitTestTouch`` goes through the event loop at the widget's window coordinates, exactly the way
the kiosk's touch screen's events do, so a button that is covered, disabled, off-screen or too
small to hit does not fire. Screenshots go to ``artifacts/ui/<name>.png`` (CI keeps them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

WIDTH, HEIGHT = 1024, 600
#: The repository's artifacts/ui (gitignored; CI keeps it).
SCREENSHOTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "artifacts", "ui")


class Stage:
    """The window as a test sees it: show a widget, advance frames, tap, take a screenshot."""

    def __init__(self, window: object) -> None:
        self.window = window

    def clear(self) -> None:
        from kivy.base import EventLoop

        for child in self.window.children[:]:
            self.window.remove_widget(child)
        EventLoop.touches.clear()

    def show(self, widget: object, frames: int = 3) -> None:
        self.clear()
        self.window.add_widget(widget)
        self.frames(frames)

    def frames(self, count: int = 2) -> None:
        from kivy.base import EventLoop

        for _ in range(count):
            EventLoop.idle()

    def tap(self, widget: object, frames: int = 2) -> None:
        """A finger down and up on the middle of ``widget``."""
        x, y = widget.to_window(*widget.center)
        self.tap_at(x, y, frames)

    def scroll_into_view(self, widget: object) -> None:
        """Scroll every list holding ``widget`` until it shows, as a finger would before tapping it."""
        from kivy.uix.scrollview import ScrollView

        parent = widget.parent
        while parent is not None and parent is not self.window:
            if isinstance(parent, ScrollView):
                parent.scroll_to(widget, padding=0, animate=False)
                self.frames(2)
            parent = parent.parent

    def tap_at(self, x: float, y: float, frames: int = 2) -> None:
        from kivy.tests.common import UnitTestTouch

        assert 0 <= x < self.window.width and 0 <= y < self.window.height, f"({x}, {y}) is off the screen"
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()
        self.frames(frames)

    def screenshot(self, name: str) -> str:
        """Save what the window shows now as ``artifacts/ui/<name>.png``; returns the path."""
        os.makedirs(SCREENSHOTS, exist_ok=True)
        self.frames(1)
        target = os.path.join(SCREENSHOTS, f"{name}.png")
        # Window.screenshot numbers its files (name0001.png): take it under a private name, then rename.
        taken = self.window.screenshot(name=os.path.join(SCREENSHOTS, f".{name}.png"))
        os.replace(taken, target)
        return target


@pytest.fixture(scope="session")
def kivy_window() -> object:
    """The process's one Kivy window, at the kiosk screen's size, with no input device of this
    machine attached (only the tests' touches reach it)."""
    from kivy.config import Config

    for key, _ in Config.items("input"):
        Config.remove_option("input", key)
    from kivy.base import EventLoop
    from kivy.core.window import Window

    EventLoop.ensure_window()
    assert tuple(Window.size) == (WIDTH, HEIGHT), f"the window was made at {Window.size} before this fixture"
    return Window


@pytest.fixture
def stage(kivy_window: object) -> Iterator[Stage]:
    s = Stage(kivy_window)
    s.clear()
    yield s
    s.clear()
