"""The processes under test, as the day starts, kills and restarts them.

* :class:`ScreenKiosk`: the self-check kiosk, ``kiosk run`` with its touch screen offscreen, started
  through tests/soak/kiosk_under_test.py so the driver can look at the screen and touch it;
* :class:`Process` running ``kiosk run --headless`` (the returns bin) or ``kiosk sync`` (one per
  journal): the real console script, nothing added.

Every incarnation's stderr goes to ``<name>.log`` in the run's directory (appended, so a killed
process's last words stay). ``rss_kb`` reads ``VmRSS`` from ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Client, Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "kiosk_under_test.py"
KIOSK = Path(sys.executable).with_name("kiosk")
#: Kivy offscreen (EGL + Mesa), no sound device, no argv parsing, default config: as tests/conftest.py.
KIVY_ENV = {
    "SDL_VIDEODRIVER": "offscreen", "SDL_AUDIODRIVER": "dummy", "KIVY_NO_ARGS": "1", "KIVY_NO_FILELOG": "1",
    "KIVY_LOG_MODE": "PYTHON", "KIVY_METRICS_DENSITY": "1", "KCFG_KIVY_EXIT_ON_ESCAPE": "0",
    "KIVY_USE_DEFAULTCONFIG": "1",
}


class KioskDied(Exception):
    """The kiosk process is gone (the day killed it, or it died on its own)."""


def rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Process:
    """One long-running process the day may SIGKILL and restart; each start is an incarnation."""

    def __init__(self, name: str, argv: list[str], rundir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.rundir = rundir
        self.env = {**os.environ, **(env or {})}
        self.lock = threading.RLock()
        self.popen: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.incarnations = 0
        self.kills = 0
        self.unexpected_exits: list[str] = []
        self._expected_exit = False  # the next exit is the day's doing (kill, stop)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        with self.lock:
            if self.alive:
                return
            if self.popen is not None and not self._expected_exit:
                self.unexpected_exits.append(f"{self.name} exited with {self.popen.returncode} on its own")
            self._expected_exit = False
            log = open(self.rundir / f"{self.name}.log", "ab")  # noqa: SIM115 - the child keeps it
            try:
                log.write(f"--- incarnation {self.incarnations + 1} at {time.strftime('%X')}\n".encode())
                log.flush()
                self.popen = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=log,
                                              cwd=str(HERE.parent.parent))
            finally:
                log.close()
            self.started_at = time.monotonic()
            self.incarnations += 1

    def kill(self) -> bool:
        """SIGKILL; True if it was running."""
        with self.lock:
            if not self.alive:
                return False
            assert self.popen is not None
            self._expected_exit = True
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)
            self.kills += 1
            return True

    def restart(self) -> None:
        with self.lock:
            self.kill()
            self.start()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, as systemd stops a unit; SIGKILL after ``timeout``. The exit code (None if killed)."""
        with self.lock:
            if self.popen is None:
                return None
            if self.popen.poll() is None:
                self._expected_exit = True
                self.popen.send_signal(signal.SIGTERM)
                try:
                    return self.popen.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.kill()
                    return None
            return self.popen.returncode

    def rss_kb(self) -> int | None:
        pid = self.pid
        return rss_kb(pid) if pid is not None and self.alive else None


class ScreenKiosk(Process):
    """The self-check kiosk with its screen, and the driver's eyes and finger on it."""

    def __init__(self, config_dir: Path, rundir: Path) -> None:
        self.socket = rundir / "kiosk-control.sock"
        kivy_home = rundir / "kivy-home"
        kivy_home.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, str(LAUNCHER), "--control", str(self.socket), "--",
                "run", "--config-dir", str(config_dir)]
        super().__init__("selfcheck-kiosk", argv, rundir, env={**KIVY_ENV, "KIVY_HOME": str(kivy_home)})
        self._connection: Connection | None = None

    def start(self) -> None:
        with self.lock:
            self._drop_connection()
            self.socket.unlink(missing_ok=True)
            super().start()

    def kill(self) -> bool:
        with self.lock:
            self._drop_connection()
            return super().kill()

    def _drop_connection(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(OSError):
                self._connection.close()
            self._connection = None

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request to the launcher; :class:`KioskDied` when the process is gone."""
        with self.lock:
            if not self.alive:
                raise KioskDied(f"{self.name} is not running")
            try:
                if self._connection is None:
                    self._connection = Client(str(self.socket), family="AF_UNIX")
                self._connection.send(request)
                return self._connection.recv()
            except (OSError, EOFError) as exc:
                self._drop_connection()
                if not self.alive:
                    raise KioskDied(f"{self.name} died") from exc
                raise

    def wait_up(self, timeout: float = 60.0) -> None:
        """Until the screen is drawn (the station runs and Kivy's first frame is out)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise KioskDied(f"{self.name} exited with {self.popen.returncode if self.popen else None} "
                                f"while starting (see {self.name}.log)")
            if self.socket.exists():
                try:
                    if self.ask({"op": "look"}).get("up"):
                        return
                except (OSError, EOFError):
                    pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}'s screen not up within {timeout:g} s")


def headless_kiosk(config_dir: Path, rundir: Path, env: dict[str, str] | None = None) -> Process:
    return Process("returns-kiosk", [str(KIOSK), "run", "--headless", "--config-dir", str(config_dir)], rundir,
                   env=env)


def sync(name: str, config_dir: Path, rundir: Path) -> Process:
    return Process(name, [str(KIOSK), "sync", "--config-dir", str(config_dir)], rundir)


def sync_once(config_dir: Path, rundir: Path) -> subprocess.CompletedProcess[str]:
    """``kiosk sync --once``: one drain (and its retention purge), then exit."""
    return subprocess.run([str(KIOSK), "sync", "--once", "--config-dir", str(config_dir)], capture_output=True,
                          text=True, timeout=120, cwd=str(HERE.parent.parent))
