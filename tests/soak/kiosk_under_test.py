"""The kiosk process under test: ``kiosk run`` itself, with a control socket for the soak driver's fingers.

Run as ``python tests/soak/kiosk_under_test.py --control SOCKET -- run --config-dir DIR``. Everything
after ``--`` goes to the real ``kiosk`` command line (:func:`kiosk.cli.main`), so the process builds
the real station from its settings (journaled gateway, runner, reader, scanner, printer) and the real
:class:`~kiosk.ui.app.KioskApp` offscreen, exactly as ``kiosk run`` does; production code does not
know it is watched. The only addition is one thread serving the socket
(:class:`multiprocessing.connection.Listener`, one request and one answer at a time):

* ``{"op": "look"}``: what the screen shows now — the screen's name, every visible text, the visible
  buttons' words, and the rows drawn on the items screen (the ``Row`` each row widget was drawn from);
* ``{"op": "tap", "text": WORDS}``: a finger on the middle of the one visible button that says
  ``WORDS`` (with ``"any": true``, the top-most of several, as in a list of rows each with its own
  "Try again") — a real Kivy touch (``UnitTestTouch``) at the button's window coordinates, through Kivy's
  input dispatch, as tests/ui/conftest.py ``Stage.tap`` does; a covered, disabled or off-screen button
  does not fire;
* ``{"op": "ping"}``: whether the screen is up;
* ``{"op": "leftovers"}``: what the station's session state still holds about a patron (it must hold
  nothing between sessions);
* ``{"op": "diagnose"}``: the station's state and device health as text, for the message of a step
  that did not happen (never used to judge: the driver judges by the screen, the paper and the world).

Both run on Kivy's thread (``Clock.schedule_once``), between frames, as a real touch would arrive.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import Any

#: How long a request waits for Kivy's thread to take it (a frozen screen is an answer too).
ON_KIVY_THREAD_SECONDS = 10.0


def _on_kivy_thread(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``work()`` on Kivy's main thread; its answer, or why there is none."""
    from kivy.clock import Clock

    done = threading.Event()
    answer: dict[str, Any] = {}

    def run(_dt: float) -> None:
        try:
            answer.update(work())
        except Exception as exc:  # reported to the driver, which fails the run with it
            answer.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        finally:
            done.set()

    Clock.schedule_once(run, 0)
    if not done.wait(ON_KIVY_THREAD_SECONDS):
        return {"ok": False, "error": f"Kivy's thread did not run the request within {ON_KIVY_THREAD_SECONDS:g} s"}
    return answer


#: The station's last steps (event and phase after it), for :func:`diagnose` only.
STEPS: collections.deque[str] = collections.deque(maxlen=60)
_recording = threading.Lock()
_recorder: list[object] = []


def _record(event: object, state: object, commands: object) -> None:
    name = type(event).__name__
    if name in ("DeviceStatus", "IlsHealth", "OfflineQueueChanged"):
        return
    session = getattr(state, "session", None)
    detail = ""
    pad = getattr(event, "pad", None)
    if pad is not None:
        detail = f" items={[i.item_id[-5:] for i in pad.items]} cards={[c[-5:] for c in pad.patron_cards]}"
    elif hasattr(event, "action"):
        detail = f" {event.action}"
    STEPS.append(f"{time.monotonic():.2f} {name}{detail} -> {getattr(session, 'phase', '-')} "
                 f"card_on_pad={getattr(session, 'card_on_pad', '-')}")


def _app() -> Any:
    from kivy.app import App

    app = App.get_running_app()
    if app is None or getattr(app, "manager", None) is None or app.root is None or not app.renders:
        return None
    with _recording:
        if not _recorder and hasattr(app.station, "on_step"):
            _recorder.append(app.station.on_step(_record))
    return app


def _visible(widget: Any) -> bool:
    return widget.get_root_window() is not None and widget.opacity > 0 and not getattr(widget, "disabled", False)


def _shown(root: Any, current: Any) -> list[Any]:
    """Every widget on the window except those of a screen on its way out: Kivy keeps the last screen
    for the frame of the switch, which no patron sees."""
    from kivy.uix.screenmanager import Screen

    found: list[Any] = []
    stack = [root]
    while stack:
        widget = stack.pop()
        if isinstance(widget, Screen) and widget is not current:
            continue
        found.append(widget)
        stack.extend(reversed(widget.children))
    return found


def _texts(root: Any, current: Any) -> tuple[list[str], list[str]]:
    from kivy.uix.button import Button
    from kivy.uix.label import Label

    texts: list[str] = []
    buttons: list[str] = []
    for widget in _shown(root, current):
        if isinstance(widget, Label) and widget.text.strip() and _visible(widget):
            texts.append(widget.text)
            if isinstance(widget, Button):
                buttons.append(widget.text)
    return texts, buttons


def look() -> dict[str, Any]:
    app = _app()
    if app is None:
        return {"ok": True, "up": False}
    screen = app.manager.current_screen
    texts, buttons = _texts(app.root, screen)
    rows = []
    if app.screen_name == "items":
        for widget in getattr(screen, "row_widgets", []):
            row = widget.row
            rows.append({"item": row.item_id, "kind": str(row.kind), "state": str(row.state),
                         "message": row.message.id, "offline": bool(row.offline), "confirmed": bool(row.confirmed),
                         "label": row.label})
    return {"ok": True, "up": True, "screen": app.screen_name, "texts": texts, "buttons": buttons, "rows": rows}


def tap(words: str, any_of_them: bool = False) -> dict[str, Any]:
    from kivy.base import EventLoop
    from kivy.tests.common import UnitTestTouch
    from kivy.uix.button import Button

    app = _app()
    if app is None:
        return {"ok": False, "error": "the screen is not up"}
    current = app.manager.current_screen
    found = [w for w in _shown(app.root, current) if isinstance(w, Button) and w.text == words and _visible(w)]
    if any_of_them and found:
        found = [max(found, key=lambda w: w.to_window(*w.center)[1])]
    if len(found) != 1:
        return {"ok": False, "error": f"{len(found)} visible buttons say {words!r}", "screen": app.screen_name,
                "buttons": _texts(app.root, current)[1]}
    button = found[0]
    x, y = button.to_window(*button.center)
    window = EventLoop.window
    if not (0 <= x < window.width and 0 <= y < window.height):
        return {"ok": False, "error": f"{words!r} is off the screen at ({x:.0f}, {y:.0f})"}
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()
    return {"ok": True, "screen": app.screen_name}


def diagnose() -> dict[str, Any]:
    from kivy.app import App

    app = App.get_running_app()
    station = getattr(app, "station", None)
    if station is None:
        return {"ok": False, "error": "no station yet"}
    state = station.snapshot()
    session = getattr(state, "session", None)
    health = {name: f"{h.state}: {h.detail}" if hasattr(h, "detail") else str(h)
              for name, h in station.device_health().items()}
    summary = {"out_of_service": repr(getattr(state, "out_of_service", None)), "online": getattr(state, "online", None),
               "staff": repr(getattr(state, "staff", None))[:200], "health": health}
    if session is not None:
        summary.update(phase=str(session.phase), card_on_pad=session.card_on_pad, pad=repr(session.pad)[:600],
                       left_behind=session.left_behind, rows=[(r.item_id, str(r.state)) for r in session.rows],
                       notice=repr(session.notice))
    summary["steps"] = list(STEPS)
    return {"ok": True, "state": summary}


#: What a patron session keeps about its patron; all of it must be empty between sessions.
PATRON_FIELDS = ("patron_id", "pin", "account", "rows", "renewals", "lookup_ref", "receipt_ref", "receipt_choices")


def leftovers() -> dict[str, Any]:
    from kivy.app import App

    station = getattr(App.get_running_app(), "station", None)
    if station is None:
        return {"ok": False, "error": "no station yet"}
    session = station.snapshot().session
    held = [name for name in PATRON_FIELDS if getattr(session, name, None)]
    return {"ok": True, "phase": str(session.phase), "held": held}


def serve(listener: Listener) -> None:
    """Answer the driver, one connection after another (it reconnects after a hiccup)."""
    while True:
        try:
            connection = listener.accept()
        except OSError:
            return
        threading.Thread(target=_serve_one, args=(connection,), name="soak-control", daemon=True).start()


def _serve_one(connection: Connection) -> None:
    with contextlib.closing(connection):
        while True:
            try:
                request = connection.recv()
            except (EOFError, OSError):
                return
            op = request.get("op")
            if op == "ping":
                answer = {"ok": True, "up": _app() is not None, "pid": os.getpid()}
            elif op == "look":
                answer = _on_kivy_thread(look) if _app() is not None else {"ok": True, "up": False}
            elif op == "diagnose":
                answer = diagnose()
            elif op == "leftovers":
                answer = leftovers()
            elif op == "tap":
                words = str(request.get("text", ""))
                any_of_them = bool(request.get("any", False))
                answer = _on_kivy_thread(lambda words=words, any_of_them=any_of_them: tap(words, any_of_them))
            else:
                answer = {"ok": False, "error": f"unknown op {op!r}"}
            try:
                connection.send(answer)
            except OSError:
                return


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--control", required=True, help="Unix socket the driver connects to")
    args = parser.parse_args(argv[:split])
    kiosk_argv = argv[split + 1:]
    path = Path(args.control)
    path.unlink(missing_ok=True)
    listener = Listener(str(path), family="AF_UNIX")
    threading.Thread(target=serve, args=(listener,), name="soak-control-accept", daemon=True).start()
    from kiosk.cli import main as kiosk_main

    return kiosk_main(kiosk_argv)


if __name__ == "__main__":
    sys.exit(main())
