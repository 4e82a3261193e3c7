"""sd_notify without libsystemd: tell systemd we are ready, alive, and what we are doing.

Why not the ``sdnotify`` package: the protocol is one AF_UNIX datagram per message to the socket
named in ``$NOTIFY_SOCKET`` (a leading ``@`` means Linux's abstract namespace), and doing it here
lets the same code tell a missing socket (not under systemd: a no-op) from a broken one (logged
once, never raised: a kiosk must not stop serving patrons because systemd went away).

The :class:`Watchdog` is what a unit's ``WatchdogSec=`` needs: a loop calls :meth:`Watchdog.feed`
as often as it likes, and ``WATCHDOG=1`` goes out at most every half of ``$WATCHDOG_USEC``, so a
loop that freezes stops the pings and systemd restarts the service. Extra liveness checks (the
runner's thread still alive) can be added: while one fails the pings stop too, so a UI whose
window still draws but whose runner died is restarted as well. ``wait`` sleeps on a stop event in
slices short enough to keep feeding, for loops that back off for a minute (``kiosk sync``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

log = logging.getLogger("kiosk.ops.watchdog")


def _address(name: str) -> str | bytes:
    """``@name`` is an abstract socket: the kernel's name starts with a NUL byte instead."""
    return b"\0" + name[1:].encode() if name.startswith("@") else name


class Notifier:
    """Sends sd_notify messages to ``socket_path`` (default ``$NOTIFY_SOCKET``); without one every
    call is a no-op returning False. Thread-safe; never raises for a socket problem."""

    def __init__(self, socket_path: str | None = None, *, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.socket_path = socket_path if socket_path is not None else env.get("NOTIFY_SOCKET", "")
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        return bool(self.socket_path)

    def send(self, *lines: str) -> bool:
        """Send ``lines`` (``KEY=value`` each) as one datagram; True when it went out."""
        if not self.socket_path or not lines:
            return False
        payload = "\n".join(lines).encode("utf-8")
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.sendto(payload, _address(self.socket_path))
            except OSError as exc:
                if not self._failed:  # once: a vanished socket would otherwise log every second
                    log.warning("sd_notify to %s failed: %s", self.socket_path, exc)
                self._failed = True
                self._close()
                return False
            self._failed = False
            return True

    def ready(self, status: str = "") -> bool:
        """READY=1: start-up is complete (for the UI: the window exists and the devices were probed)."""
        return self.send("READY=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def status(self, text: str) -> bool:
        """STATUS=...: the line ``systemctl status`` shows."""
        return self.send(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self, status: str = "") -> bool:
        return self.send("STOPPING=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def _close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def close(self) -> None:
        with self._lock:
            self._close()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def watchdog_interval(environ: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """Half of ``$WATCHDOG_USEC`` in seconds, or None when systemd expects no pings from this process
    (no watchdog, a malformed value, or ``$WATCHDOG_PID`` naming another process)."""
    env = os.environ if environ is None else environ
    usec, owner = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if owner:
        try:
            if int(owner) != (os.getpid() if pid is None else pid):
                return None
        except ValueError:
            return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2 / 1_000_000 if value > 0 else None


Check = Callable[[], bool]


class Watchdog:
    """Pings systemd's watchdog while the loop that feeds it, and every added check, are alive.

    ``interval`` (seconds between pings) defaults to half of ``$WATCHDOG_USEC``; None disables the
    pings (not under a watchdog), and :meth:`feed` is then nearly free.
    """

    def __init__(
        self,
        notifier: Notifier | None = None,
        interval: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.notifier = notifier or Notifier()
        self.interval = interval
        self._clock = clock
        self._last: float | None = None
        self._checks: dict[str, Check] = {}
        self._failing: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Watchdog:
        return cls(Notifier(environ=environ), watchdog_interval(environ))

    @property
    def enabled(self) -> bool:
        return self.interval is not None and self.notifier.enabled

    def add_check(self, name: str, check: Check) -> None:
        """While ``check()`` is false (or raises) no ping goes out: systemd restarts the service."""
        with self._lock:
            self._checks[name] = check

    def feed(self) -> bool:
        """Call from the loop that must stay alive; True when a WATCHDOG=1 went out now."""
        if not self.enabled:
            return False
        now = self._clock()
        with self._lock:
            assert self.interval is not None
            if self._last is not None and now - self._last < self.interval:
                return False
            failing = self._failing_check()
            if failing is not None:
                if failing != self._failing:
                    log.error("watchdog: %s is not alive; no more pings, systemd will restart the service",
                              failing)
                self._failing = failing
                return False
            self._failing = None
            self._last = now
        return self.notifier.watchdog()

    def _failing_check(self) -> str | None:
        for name, check in self._checks.items():
            try:
                if not check():
                    return name
            except Exception:
                log.exception("watchdog check %s raised", name)
                return name
        return None

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """``stop.wait(seconds)`` that keeps feeding meanwhile; True when ``stop`` was set."""
        deadline = self._clock() + seconds
        slice_ = self.interval / 2 if self.enabled and self.interval else None
        while True:
            self.feed()
            remaining = deadline - self._clock()
            if remaining <= 0:
                return stop.is_set()
            if stop.wait(min(remaining, slice_) if slice_ else remaining):
                return True
