"""sd_notify against a real AF_UNIX datagram socket, as systemd's is, and the watchdog's pacing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardware_mocks.ils import IlsSimulator
from kiosk.ops.watchdog import Notifier, Watchdog, watchdog_interval
from kiosk.sync.journal import Journal


class Systemd:
    """The receiving end of $NOTIFY_SOCKET: collects every datagram."""

    def __init__(self, address: str | bytes, name: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.01)
        self.name = name

    def messages(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.sock.recv(4096).decode())
            except (TimeoutError, BlockingIOError):
                return out

    def wait_for(self, text: str, timeout: float = 30.0) -> list[str]:
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen += self.messages()
            if any(text in m for m in seen):
                return seen
            time.sleep(0.02)
        raise AssertionError(f"{text!r} never arrived; got {seen}")


@pytest.fixture
def systemd() -> Iterator[Systemd]:
    # A short directory: AF_UNIX paths are limited to 107 bytes, pytest's tmp_path can be longer.
    directory = tempfile.mkdtemp(prefix="notify-", dir="/tmp")
    path = os.path.join(directory, "notify")
    receiver = Systemd(path, path)
    yield receiver
    receiver.sock.close()
    os.unlink(path)
    os.rmdir(directory)


@pytest.fixture
def abstract_systemd() -> Iterator[Systemd]:
    name = f"kiosk-test-{os.getpid()}-{time.monotonic_ns()}"
    receiver = Systemd(b"\0" + name.encode(), "@" + name)
    yield receiver
    receiver.sock.close()


def test_without_notify_socket_every_call_is_a_quiet_no_op() -> None:
    notifier = Notifier(environ={})
    assert not notifier.enabled
    assert notifier.ready("up") is False
    assert notifier.watchdog() is False
    watchdog = Watchdog.from_environment({})
    assert not watchdog.enabled
    assert watchdog.feed() is False


def test_ready_status_watchdog_and_stopping_reach_the_socket(systemd: Systemd) -> None:
    notifier = Notifier(environ={"NOTIFY_SOCKET": systemd.name})
    assert notifier.ready("serving\npatrons")
    assert notifier.status("3 waiting")
    assert notifier.watchdog()
    assert notifier.stopping()
    assert systemd.messages() == ["READY=1\nSTATUS=serving patrons", "STATUS=3 waiting", "WATCHDOG=1", "STOPPING=1"]


def test_an_abstract_socket_name_starts_with_at(abstract_systemd: Systemd) -> None:
    assert Notifier(environ={"NOTIFY_SOCKET": abstract_systemd.name}).ready()
    assert abstract_systemd.messages() == ["READY=1"]


def test_a_vanished_socket_is_logged_once_and_never_raised(
    systemd: Systemd, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(environ={"NOTIFY_SOCKET": systemd.name + "-gone"})
    assert notifier.watchdog() is False
    assert notifier.watchdog() is False
    assert len([r for r in caplog.records if "sd_notify" in r.getMessage()]) == 1


def test_the_interval_is_half_of_watchdog_usec_and_only_for_the_named_process() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=2) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({}) is None


def test_feed_pings_at_most_once_per_interval(systemd: Systemd) -> None:
    now = [100.0]
    watchdog = Watchdog(Notifier(systemd.name), 15.0, clock=lambda: now[0])
    sent = []
    for step in range(40):  # a loop feeding every second for 40 s
        now[0] = 100.0 + step
        sent.append(watchdog.feed())
    assert [i for i, s in enumerate(sent) if s] == [0, 15, 30]
    assert systemd.messages() == ["WATCHDOG=1"] * 3


def test_a_failing_check_stops_the_pings_until_it_recovers(systemd: Systemd) -> None:
    now = [0.0]
    runner_alive = [True]
    watchdog = Watchdog(Notifier(systemd.name), 1.0, clock=lambda: now[0])
    watchdog.add_check("runner thread", lambda: runner_alive[0])
    assert watchdog.feed()
    runner_alive[0] = False
    now[0] = 5.0
    assert not watchdog.feed()

    def broken() -> bool:
        raise RuntimeError("bug")

    runner_alive[0] = True
    watchdog.add_check("broken", broken)
    now[0] = 10.0
    assert not watchdog.feed()
    watchdog.add_check("broken", lambda: True)
    assert watchdog.feed()
    assert systemd.messages() == ["WATCHDOG=1", "WATCHDOG=1"]


def test_wait_keeps_pinging_while_it_sleeps_and_returns_early_when_stopped(systemd: Systemd) -> None:
    watchdog = Watchdog(Notifier(systemd.name), 0.05)
    stop = threading.Event()
    assert watchdog.wait(stop, 0.3) is False
    assert len(systemd.messages()) >= 2  # one at once, at least one more before 0.3 s have passed
    stop.set()
    assert watchdog.wait(stop, 60.0) is True


def test_kiosk_sync_is_ready_pings_the_watchdog_and_says_it_stops(systemd: Systemd, tmp_path: Path) -> None:
    journal_path = tmp_path / "journal.sqlite"
    with IlsSimulator() as sim, Journal.open(journal_path):
        host, port = sim.address
        etc = tmp_path / "etc"
        etc.mkdir()
        (etc / "kiosk.toml").write_text(
            f'[sip2]\nhost = "{host}"\nport = {port}\n[journal]\npath = "{journal_path}"\npoll_seconds = 3600.0\n'
        )
        env = {**os.environ, "NOTIFY_SOCKET": systemd.name, "WATCHDOG_USEC": "200000"}
        env.pop("WATCHDOG_PID", None)
        process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "sync", "--config-dir", str(etc)],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            seen = systemd.wait_for("READY=1")
            # The loop sleeps an hour between rounds (poll_seconds); the watchdog wants a ping every
            # 0.1 s: only wait() pinging while it sleeps can deliver three.
            deadline = time.monotonic() + 30
            while seen.count("WATCHDOG=1") < 3 and time.monotonic() < deadline:
                seen += systemd.messages()
                time.sleep(0.02)
        finally:
            process.send_signal(signal.SIGTERM)
            _out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert seen.count("WATCHDOG=1") >= 3
        assert any(m.startswith("STOPPING=1") for m in systemd.messages())
        assert "level=" in err  # the key=value log format, not basicConfig's
