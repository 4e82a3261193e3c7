"""The touch screen: how fast the kiosk's UI comes up, how much memory it keeps, how fast rows show.

Everything runs offscreen (``SDL_VIDEODRIVER=offscreen``: Mesa's llvmpipe renders in software, so a
Pi's V3D GPU draws faster and this machine's load weighs on every frame). Three figures, each with
a baseline measured in the same run:

1. Launch to the idle screen: a process started as ``kiosk run`` starts (the station from its config
   files, pointed at the demo's simulated world in this process; the Kivy app), timed from ``Popen``
   until it has drawn the idle screen. Baseline: a bare Kivy app with one Label, launched the same
   way, until its first frame is drawn.
2. Memory (RSS) of that kiosk process at idle and after 10, 25 and 50 patron sessions played with
   real touches on its screen (card on the pad, PIN keypad, two books borrowed, receipt printed); the
   hands on the pad are this process's, asked for over a pipe. Goal: <= 150 MB, no growth. Baseline:
   the bare Kivy app's RSS at idle.
3. Stack present -> rows on screen, in one process: a patron's session is open on the items screen,
   10 books are put on the pad and the stack is handed to the station as the tag watcher hands it
   (``PadChanged``); measured until the frame that shows the 10 rows has been drawn (Kivy's clock
   runs at its default 60 fps). Baseline: the runner's own step for the same event (submit ->
   ``on_step``), i.e. the time without any UI.

Run: ``.venv/bin/python bench/ui.py [--trials N] [--sessions N]``
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hardware_mocks.ils import scenarios as S  # noqa: E402
from kiosk.demo.command import prepare_kivy  # noqa: E402

SCREEN = {"fullscreen": False, "width": 1024, "height": 600, "sounds": False}
#: Sessions after which the kiosk's RSS is reported (0: at idle, settled).
RSS_POINTS = (0, 10, 25, 50)
STACK = 10
PATRON = S.PATRON_CLEAN
WAIT = 60.0
SETTLE_SECONDS = 2.0


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def python_objects() -> str:
    """What lives in the interpreter: objects the GC tracks, and Kivy's cache entries (textures,
    images) — to tell a Python-level leak from the renderer's and the allocator's own growth."""
    import gc

    gc.collect()
    cached = 0
    with contextlib.suppress(ImportError):
        from kivy.cache import Cache

        cached = sum(len(entries) for entries in Cache._objects.values())
    return f"{len(gc.get_objects())} {cached}"


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# --- the child processes ------------------------------------------------------------------------------


def pump_until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    from kivy.base import EventLoop

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("not reached")
        EventLoop.idle()


def settle(seconds: float) -> None:
    from kivy.base import EventLoop

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        EventLoop.idle()


def child_bare(sessions: int) -> int:
    """Baseline: a Kivy app with one Label, nothing else."""
    from kivy.config import Config

    for key, value in SCREEN.items():
        if key in ("width", "height"):
            Config.set("graphics", key, str(value))
    Config.set("graphics", "fullscreen", "0")
    from kivy.app import App
    from kivy.base import EventLoop
    from kivy.uix.label import Label

    class Bare(App):
        def build(self) -> Label:
            return Label(text="Scan your card or place it on the pad")

    app = Bare()
    EventLoop.ensure_window()
    app._run_prepare()
    EventLoop.idle()  # the first frame, drawn
    say(f"IDLE {rss_mb():.1f}")
    if sessions >= 0:
        settle(SETTLE_SECONDS)
        say(f"RSS 0 {rss_mb():.1f}")
    app.stop()
    return 0


def child_kiosk(config_dir: str, sessions: int) -> int:
    """The kiosk as ``kiosk run`` starts it, frame by frame; with ``sessions`` >= 0, then plays that
    many sessions by touch, asking the parent (stdin/stdout) for the hands on the pad."""
    from kiosk.assembly import Station
    from kiosk.config import load_settings

    settings = load_settings(config_dir, None)
    station = Station.from_settings(settings)
    from kiosk.ui.app import KioskApp

    app = KioskApp(station)
    station.kiosk_mode = app
    from kivy.base import EventLoop

    station.start()
    try:
        EventLoop.ensure_window()
        app._run_prepare()
        pump_until(lambda: app.screen_name == "idle" and app.renders > 0)
        say(f"IDLE {rss_mb():.1f}")
        if sessions < 0:
            return 0
        from kiosk.demo.fingers import Fingers

        fingers = Fingers(lambda: app.screen_name, timeout=WAIT)
        fingers.until("ready", lambda: app.screen_name == "idle" and app.state.out_of_service is None
                      and any(r.component == "printer" and r.state == "ok" for r in app.state.staff.devices))
        settle(SETTLE_SECONDS)
        say(f"RSS 0 {rss_mb():.1f} {python_objects()}")
        for n in range(1, sessions + 1):
            books = (S.AVAILABLE_BOOKS[(2 * n) % len(S.AVAILABLE_BOOKS)],
                     S.AVAILABLE_BOOKS[(2 * n + 1) % len(S.AVAILABLE_BOOKS)])
            play_session(app, fingers, books)
            if n in RSS_POINTS:
                settle(SETTLE_SECONDS)
                say(f"RSS {n} {rss_mb():.1f} {python_objects()}")
        return 0
    finally:
        app.stop()
        station.close()


def ask(request: str) -> None:
    """The parent's hands: put a card or book on the pad, take it off, check books back in."""
    say(f"DO {request}")
    answer = sys.stdin.readline().strip()
    if answer != "OK":
        raise RuntimeError(f"the parent answered {answer!r} to {request!r}")


def play_session(app: Any, fingers: Any, books: tuple[str, str]) -> None:
    """One patron by touch: card, PIN, two books borrowed, receipt, thank you."""
    from kiosk.circulation.rows import RowState

    def on(screen: str, what: str, also: Callable[[Any], bool] = lambda _s: True) -> None:
        fingers.until(what, lambda: app.screen_name == screen and app.state is not None and also(app.state))

    screen = app.manager.get_screen
    ask(f"place {PATRON.id}")
    on("pin", "PIN")
    for key in (*PATRON.pin, "ok"):
        fingers.tap(screen("pin").keys[key])
    on("home", "account", lambda s: s.session.account is not None)
    ask(f"lift {PATRON.id}")
    fingers.tap(screen("home").borrow)
    on("items", "items")
    for book in books:
        ask(f"place {book}")
    lent = dict.fromkeys(books, RowState.DONE)
    on("items", "books lent", lambda s: {r.item_id: r.state for r in s.session.rows} == lent)
    for book in books:
        ask(f"lift {book}")
    on("items", "books taken", lambda s: not s.pad.items)
    fingers.tap(screen("items").finish)
    on("receipt", "receipt choice")
    choice = "print" if "print" in app.state.session.receipt_choices else "none"
    fingers.tap(screen("receipt").buttons[choice])
    on("thank_you", "thank you")
    fingers.tap(screen("thank_you"))
    on("idle", "idle", lambda s: s.session.account is None)
    ask("checkin " + " ".join(books))


# --- the parent ----------------------------------------------------------------------------------------


def child_env(home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    prepare_kivy(env, headless=True, home=home)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Child:
    """A child process of this script, its stdout read line by line, its requests served."""

    def __init__(self, args: list[str], env: dict[str, str], serve: Callable[[str], None] | None = None) -> None:
        self.started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, __file__, *args], env=env, cwd=ROOT, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.serve = serve
        self._lines: queue.Queue[tuple[float, str | None]] = queue.Queue()
        threading.Thread(target=self._read, name="bench-child-reader", daemon=True).start()

    def lines(self) -> Iterator[tuple[float, str]]:
        """(perf_counter when read, line) for each line that is not a request; requests are served."""
        while True:
            try:
                at, line = self._lines.get(timeout=WAIT)
            except queue.Empty:
                raise TimeoutError("the child said nothing for a minute") from None
            if line is None:
                return
            if line.startswith("DO ") and self.serve is not None:
                self.serve(line[3:])
                assert self.process.stdin is not None
                self.process.stdin.write("OK\n")
                self.process.stdin.flush()
                continue
            yield at, line

    def _read(self) -> None:
        """On a thread: each line as it comes, stamped (a select() on the pipe would miss lines
        already read into the file object's buffer)."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put((time.perf_counter(), line.strip()))
        self._lines.put((time.perf_counter(), None))

    def close(self) -> int:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            return self.process.wait(WAIT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            if self.process.stdout is not None:
                self.process.stdout.close()


def kiosk_config(world: Any, folder: Path) -> str:
    """The kiosk's config files, pointing at ``world`` (no GPIO: the mock pins live in this process).
    8N1 and a 2 s printer status answer, as in the demo (kiosk/demo/wiring.py says why)."""
    from kiosk.demo.hardware import toml_document

    tables = world.overrides()
    del tables["gpio"]
    tables["rfid"]["feig_parity"] = "N"
    tables["printer"]["status_timeout_seconds"] = 2.0
    tables["ui"] = dict(SCREEN)
    path = folder / "kiosk.toml"
    path.write_bytes(toml_document(tables))
    path.chmod(0o600)
    return str(folder)


def launch(kind: str, config: str, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from Popen to the idle screen drawn, and the RSS then (MB)."""
    args = ["--child", kind, "--config", config, "--child-sessions", "-1"]
    child = Child(args, env)
    try:
        for at, line in child.lines():
            if line.startswith("IDLE "):
                return at - child.started, float(line.split()[1])
        raise RuntimeError(f"the {kind} child ended without reaching idle")
    finally:
        child.close()


def memory(kind: str, config: str, env: dict[str, str], sessions: int, world: Any) -> dict[int, float]:
    """RSS (MB) at idle (0) and after each of RSS_POINTS sessions."""
    from sip2.client import ClientConfig, SIP2Client

    host, port = world.ils.address
    sip = ClientConfig(host=host, port=port, username=S.LOGIN_USER, password=S.LOGIN_PASSWORD,
                       institution_id=S.INSTITUTION, timeout=5.0)

    def serve(request: str) -> None:
        verb, *ids = request.split()
        if verb == "place" and ids[0] == PATRON.id:
            world.pad.place_patron_card(ids[0])
        elif verb == "place":
            world.pad.place_set(ids[0])
        elif verb == "lift":
            world.pad.remove(ids[0])
        elif verb == "checkin":  # untimed: the books go back on the shelf for the next session
            with SIP2Client(sip) as client:
                for item in ids:
                    assert client.checkin(item).ok
        else:
            raise ValueError(request)

    child = Child(["--child", kind, "--config", config, "--child-sessions", str(sessions)], env, serve)
    found: dict[int, float] = {}
    objects: dict[int, tuple[int, int]] = {}
    try:
        for _at, line in child.lines():
            if line.startswith("RSS "):
                _, n, mb, *more = line.split()
                found[int(n)] = float(mb)
                if more:
                    objects[int(n)] = (int(more[0]), int(more[1]))
                if kind == "kiosk" and int(n):
                    print(f"    ... {n} sessions: {float(mb):.1f} MB", flush=True)
    finally:
        code = child.close()
    if code != 0:
        raise RuntimeError(f"the {kind} child failed (exit {code})")
    if objects:
        print("  Python objects (gc) / Kivy cache entries: "
              + ", ".join(f"{n}: {count} / {cached}" for n, (count, cached) in sorted(objects.items())))
    return found


def stack_to_rows(trials: int) -> tuple[list[float], list[float], list[float]]:
    """Per trial: stack handed over -> 10 rows drawn; -> the runner's step done; and the part of the
    first that the app spent rendering states (building the rows' widgets), the rest being the
    runner, the hand-over to Kivy's clock, layout and drawing."""
    from kiosk.assembly import Station
    from kiosk.circulation.events import CardPresented, PadChanged, PinEntered, Pressed
    from kiosk.circulation.model import Pad, PadItem
    from kiosk.circulation.rows import RowState
    from kiosk.circulation.session import Phase
    from kiosk.demo.hardware import DemoHardware
    from sip2.client import ClientConfig, SIP2Client

    books = S.AVAILABLE_BOOKS[:STACK]
    drawn: list[float] = []
    stepped: list[float] = []
    python: list[float] = []
    with DemoHardware() as world:
        # The demo's world, the kiosk's screen alone; 8N1 and a 2 s printer status answer as in the demo.
        settings = world.settings({"rfid": {"feig_parity": "N"}, "printer": {"status_timeout_seconds": 2.0},
                                   "ui": SCREEN})
        station = Station.from_settings(settings, devices=world.devices())
        from kiosk.ui.app import KioskApp

        app = KioskApp(station)  # before Kivy's window exists: the [ui] size applies
        from kivy.base import EventLoop

        host, port = world.ils.address
        sip = ClientConfig(host=host, port=port, username=S.LOGIN_USER, password=S.LOGIN_PASSWORD,
                           institution_id=S.INSTITUTION, timeout=5.0)
        step_at: dict[str, float] = {}
        lock = threading.Lock()

        def observe(event: Any, state: Any, commands: Any) -> None:
            if isinstance(event, PadChanged) and len(event.pad.items) == STACK:
                with lock:
                    step_at.setdefault("step", time.perf_counter())

        station.on_step(observe)
        rendered: list[float] = []  # seconds in app.refresh (the screens' Python), per state drawn
        refresh = app.refresh

        def timed_refresh(*args: Any) -> None:
            started = time.perf_counter()
            refresh(*args)
            rendered.append(time.perf_counter() - started)

        app.refresh = timed_refresh  # type: ignore[method-assign]
        station.start()
        try:
            EventLoop.ensure_window()
            app._run_prepare()
            pump_until(lambda: app.screen_name == "idle" and app.state.out_of_service is None)
            for _ in range(trials):
                station.submit(CardPresented(PATRON.id, source="barcode"))
                pump_until(lambda: app.state.session.phase is Phase.PIN)
                station.submit(PinEntered(PATRON.pin))
                pump_until(lambda: app.screen_name == "home")
                settle(0.3)
                for book in books:
                    world.pad.place_set(book)
                uids = {tag.barcode: tag.uid for tag in world.pad.tags_on_pad()}
                pad = Pad(items=tuple(PadItem(uid=uids[b], item_id=b) for b in books))
                items = app.manager.get_screen("items")
                with lock:
                    step_at.clear()
                rendered.clear()
                t0 = time.perf_counter()
                station.submit(PadChanged(pad))  # the stack, as the watcher hands it over
                while not (app.screen_name == "items" and len(items.row_widgets) == STACK):
                    EventLoop.idle()
                t1 = time.perf_counter()  # that idle() drew the frame with the rows
                pump_until(lambda: "step" in step_at)
                drawn.append(t1 - t0)
                stepped.append(step_at["step"] - t0)
                python.append(sum(rendered))
                # Untimed: the books are lent, taken away, the patron leaves, the books go back.
                pump_until(lambda: sum(r.state is RowState.DONE for r in app.state.session.rows) == STACK)
                for book in books:
                    world.pad.remove(book)
                pump_until(lambda: not app.state.pad.items)
                station.submit(Pressed("finish"))
                pump_until(lambda: app.state.session.phase in (Phase.RECEIPT, Phase.IDLE))
                if app.state.session.phase is Phase.RECEIPT:
                    station.submit(Pressed("receipt_none"))
                pump_until(lambda: app.state.session.phase is Phase.IDLE)
                with SIP2Client(sip) as client:
                    for book in books:
                        assert client.checkin(book).ok
        finally:
            app.stop()
            station.close()
    return drawn, stepped, python


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    quiet = logging.StreamHandler()
    quiet.setLevel(logging.ERROR)  # Kivy's and the kiosk's log lines are not the bench's output
    logging.basicConfig(level=logging.ERROR, handlers=[quiet])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5, help="launches of each app, and stack trials")
    parser.add_argument("--sessions", type=int, default=max(RSS_POINTS))
    parser.add_argument("--child", choices=("kiosk", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--child-sessions", type=int, default=-1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "bare":
        return child_bare(args.child_sessions)
    if args.child == "kiosk":
        return child_kiosk(args.config, args.child_sessions)

    from kiosk.demo.hardware import DemoHardware

    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp, DemoHardware() as world:
        folder = Path(tmp)
        config = kiosk_config(world, folder)
        env = child_env(str(folder / "kivy"))
        launch(kind="bare", config=config, env=env)  # warm the file cache for both: not counted
        launch(kind="kiosk", config=config, env=env)
        times: dict[str, list[float]] = {"kiosk": [], "bare": []}
        idle_rss: dict[str, list[float]] = {"kiosk": [], "bare": []}
        for _ in range(args.trials):
            for kind in ("kiosk", "bare"):
                seconds, mb = launch(kind, config, env)
                times[kind].append(seconds)
                idle_rss[kind].append(mb)
        kiosk_s, bare_s = median(times["kiosk"]), median(times["bare"])
        print(f"launch -> idle screen drawn, offscreen 1024x600, median of {args.trials} (min / max):")
        print(f"  kiosk (station + app):  {kiosk_s:5.2f} s ({min(times['kiosk']):.2f} / {max(times['kiosk']):.2f})")
        print(f"  bare Kivy app, 1 Label: {bare_s:5.2f} s ({min(times['bare']):.2f} / {max(times['bare']):.2f})"
              f"  ratio {kiosk_s / bare_s:.2f}")

        print(f"memory of the kiosk process, {args.sessions} sessions by touch:", flush=True)
        bare_mem = memory("bare", config, env, 0, world)[0]
        kiosk_mem = memory("kiosk", config, env, args.sessions, world)
        points = [n for n in RSS_POINTS if n <= args.sessions]
        print("  RSS MB: " + ", ".join(f"{n} sessions {kiosk_mem[n]:.1f}" for n in points))
        print(f"  bare Kivy app at idle: {bare_mem:.1f} MB; kiosk at idle / bare: {kiosk_mem[0] / bare_mem:.2f}")
        if len(points) > 2:
            growth = kiosk_mem[points[-1]] - kiosk_mem[points[1]]
            print(f"  growth from {points[1]} to {points[-1]} sessions: {growth:+.1f} MB (goal: none); "
                  f"max {max(kiosk_mem.values()):.1f} MB (goal <= 150)")

    home = tempfile.mkdtemp(prefix="bench-ui-kivy-")
    prepare_kivy(os.environ, headless=True, home=home)
    drawn, stepped, python = stack_to_rows(args.trials)
    ui_ms, step_ms = median(drawn) * 1000, median(stepped) * 1000
    print(f"{STACK} books handed to the station (PadChanged) -> rows drawn, median of {args.trials} (min / max):")
    print(f"  rows drawn on the items screen: {ui_ms:6.1f} ms ({min(drawn) * 1000:.1f} / {max(drawn) * 1000:.1f})")
    print(f"  the runner's step alone:        {step_ms:6.1f} ms ({min(stepped) * 1000:.1f} / "
          f"{max(stepped) * 1000:.1f})  ratio {ui_ms / step_ms:.1f}")
    print(f"  of the rows' time, the screens' Python (app.refresh): {median(python) * 1000:.1f} ms; the rest is "
          f"Kivy's clock, layout and llvmpipe's drawing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
