"""A patron's finger on the kiosk's window, for scripts that play the real UI without a person.

The headless demo and ``bench/ui.py`` drive Kivy's event loop themselves, one frame at a time (the
way Kivy's own graphic tests do), instead of handing it to ``App.run``: a script can then wait for a
screen, touch a button, and photograph the window in plain sequential code, on Kivy's thread, with
no second thread poking at widgets.

A touch is a real one: a motion event at the widget's window coordinates, dispatched through the
event loop exactly as the touch screen's events are, so a button that is covered, disabled,
off-screen or too small to hit does not fire. :class:`Finger` is the same mechanism as Kivy's
``UnitTestTouch``, without importing Kivy's test package (which needs pytest, not installed on a
kiosk).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kivy.base import EventLoop
from kivy.input.motionevent import MotionEvent
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

#: Frames after a state is on screen before it counts as shown: new rows are laid out over a few
#: frames (their labels' textures first, then the heights that follow from them).
SETTLE_FRAMES = 3


class StepFailed(Exception):
    """A scripted step did not reach what it waited for; the message says which step and what shows."""


class Finger(MotionEvent):
    """One touch at window position (x, y): ``down()`` then ``up()``."""

    def __init__(self, x: float, y: float) -> None:
        window = EventLoop.window
        super().__init__("Finger", 99, {"x": x / (window.width - 1.0), "y": y / (window.height - 1.0)},
                         is_touch=True, type_id="touch")
        self.profile = ["pos"]

    def depack(self, args: dict[str, float]) -> None:
        self.sx = args["x"]
        self.sy = args["y"]
        super().depack(args)

    def down(self) -> None:
        EventLoop.post_dispatch_input("begin", self)

    def up(self) -> None:
        EventLoop.post_dispatch_input("end", self)


class Fingers:
    """Frames, waits, touches and screenshots on Kivy's one window (``EventLoop.window``).

    ``describe`` says what the window shows now (a screen name), for the message of a step that
    failed. ``timeout`` bounds each wait; nothing here measures time.
    """

    def __init__(self, describe: Callable[[], str] = lambda: "?", timeout: float = 15.0) -> None:
        EventLoop.ensure_window()
        self.window: Any = EventLoop.window
        self.describe = describe
        self.timeout = timeout

    def frames(self, count: int = 2) -> None:
        """Let Kivy run ``count`` frames: clock callbacks (the app's state updates), input, drawing."""
        for _ in range(count):
            EventLoop.idle()

    def until(self, what: str, predicate: Callable[[], bool], timeout: float | None = None) -> None:
        """Run frames until ``predicate()`` holds; :class:`StepFailed` naming ``what`` otherwise."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not predicate():
            if time.monotonic() >= deadline:
                raise StepFailed(f"{what}: not reached within {self.timeout if timeout is None else timeout:g} s "
                                 f"(the window shows {self.describe()})")
            self.frames(1)
        self.frames(SETTLE_FRAMES)  # laid out and drawn, not only decided

    def tap(self, widget: Widget, what: str = "") -> None:
        """Touch the middle of ``widget``, scrolled into view first as a finger would."""
        name = what or getattr(widget, "text", "") or type(widget).__name__
        if widget.get_root_window() is None:
            raise StepFailed(f"cannot touch {name!r}: it is not on the screen (the window shows {self.describe()})")
        if widget.disabled:
            raise StepFailed(f"cannot touch {name!r}: it is disabled (the window shows {self.describe()})")
        self.scroll_into_view(widget)
        x, y = widget.to_window(*widget.center)
        if not (0 <= x < self.window.width and 0 <= y < self.window.height):
            raise StepFailed(f"cannot touch {name!r}: at ({x:.0f}, {y:.0f}), off the window")
        finger = Finger(x, y)
        finger.down()
        finger.up()
        self.frames(2)

    def scroll_into_view(self, widget: Widget) -> None:
        parent = widget.parent
        while parent is not None and parent is not self.window:
            if isinstance(parent, ScrollView):
                parent.scroll_to(widget, padding=0, animate=False)
                self.frames(2)
            parent = parent.parent

    def screenshot(self, path: str) -> str:
        """What the window shows now, as a PNG at ``path``.

        The pixels are read as ``Window.screenshot`` reads them, but Pillow writes the PNG: it lets
        other threads run while it compresses, where SDL_image holds the GIL — and the simulated
        devices answering the kiosk's drivers are Python threads of this process."""
        from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels
        from PIL import Image

        self.frames(1)
        width, height = (int(v) for v in self.window.size)
        pixels = glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)
        image = Image.frombytes("RGB", (width, height), pixels).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        image.save(path, format="PNG")
        return path


def walk(root: Widget) -> list[Widget]:
    """Every widget under ``root`` that is on the window, in tree order."""
    return [w for w in root.walk(restrict=True) if w.get_root_window() is not None]


def button_posting(root: Widget, event: object) -> Widget:
    """The one button under ``root`` that posts ``event`` (the staff-facing screens' buttons say it)."""
    found = [w for w in walk(root) if getattr(w, "event", None) == event]
    if len(found) != 1:
        raise StepFailed(f"{len(found)} buttons post {event} on this screen")
    return found[0]


def key(root: Widget, name: str) -> Widget:
    """The one keypad key under ``root`` named ``name`` (staff PIN: "digit:2", "ok", "delete")."""
    found = [w for w in walk(root) if getattr(w, "key", "") == name]
    if len(found) != 1:
        raise StepFailed(f"{len(found)} keys named {name!r} on this screen")
    return found[0]
