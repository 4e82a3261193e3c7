"""The app as ``kiosk run`` starts it: a process of its own (the [ui] display settings must reach Kivy
before its window exists, which a test process that already has a window cannot show), Kivy's real
main loop, ESC pressed while it runs, and staff's "leave" ending it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, sys
    from kiosk.circulation.station import KioskState
    from kiosk.ui.settings import UiSettings

    class Station:
        site_name = "Run Library"
        ui_settings = UiSettings(fullscreen=False, width=800, height=480, sounds=False)
        def __init__(self):
            self.state = KioskState(languages=("en", "de"))
        def snapshot(self):
            return self.state
        def subscribe(self, callback):
            self.callback = callback
        def submit(self, event):
            return True

    from kiosk.ui.app import KioskApp
    from kivy.clock import Clock
    from kivy.config import Config

    app = KioskApp(Station())
    seen = {}

    def press_escape(_dt):
        from kivy.core.window import Window
        seen["size"] = list(Window.size)
        seen["escape_swallowed"] = Window.dispatch("on_keyboard", 27, 41, None, []) is True

    def still_running(_dt):
        seen["screen"] = app.screen_name
        seen["running_after_escape"] = app.root is not None and app.root.parent is not None
        app.leave()  # what staff's "leave the kiosk" does, from the runner's thread in real life

    def first_drawn(_dt):  # once the first state is on screen: ESC, a few frames, look, leave
        if not app.renders:
            return True
        press_escape(0)
        Clock.schedule_once(still_running, 0.2)
        return False

    Clock.schedule_interval(first_drawn, 0.05)
    Clock.schedule_once(lambda _dt: sys.exit(3), 10)  # a safety net: leave() must have ended the loop
    app.run()
    seen["exit_on_escape"] = Config.get("kivy", "exit_on_escape")
    seen["show_cursor"] = Config.get("graphics", "show_cursor")
    print("RESULT " + json.dumps(seen))
""")


def test_the_real_main_loop_takes_the_display_settings_ignores_escape_and_ends_on_leave(tmp_path) -> None:
    env = {**os.environ, "KIVY_HOME": str(tmp_path / "kivy")}
    os.makedirs(env["KIVY_HOME"])
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    seen = json.loads(line.removeprefix("RESULT "))
    assert seen == {
        "size": [800, 480],  # [ui] width and height, windowed
        "escape_swallowed": True,
        "screen": "idle",
        "running_after_escape": True,
        "exit_on_escape": "0",
        "show_cursor": "0",
    }
