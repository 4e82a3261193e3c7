"""``kiosk run --headless`` as systemd runs it: its own process, configured from files, stopped with
SIGTERM, against the demo's simulated ILS, reader, scanner and printer in this process."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from hardware_mocks.ils import scenarios as S
from kiosk.cli import main
from kiosk.demo.hardware import DemoHardware, toml_document

WAIT = 30.0  # a fresh interpreter imports the whole kiosk before it says anything


def read_until(process: subprocess.Popen[str], wanted: str, timeout: float) -> str:
    """stderr up to the first line containing ``wanted`` (AssertionError with what came otherwise)."""
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 0.2)
        if not ready:
            continue
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if wanted in line:
            return "".join(seen)
    raise AssertionError(f"{wanted!r} not logged; got:\n{''.join(seen)}")


def test_headless_kiosk_runs_from_its_config_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    with DemoHardware(returns_bin=True) as world:
        tables = world.overrides()
        del tables["gpio"]  # no GPIO in that process: it has no mock pins to drive
        (tmp_path / "kiosk.toml").write_bytes(toml_document(tables))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("JOURNAL_STREAM", None)
        env.pop("NOTIFY_SOCKET", None)
        process = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "run", "--headless", "--config-dir", str(tmp_path)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
        )
        try:
            read_until(process, "running headless (returns-bin)", WAIT)
            world.place(S.ITEM_HOLD_HERE)  # dropped into that kiosk's chute
            deadline = time.monotonic() + WAIT
            while world.ils.library.applied("09", item=S.ITEM_HOLD_HERE) == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert world.ils.library.applied("09", item=S.ITEM_HOLD_HERE) == 1
            process.send_signal(signal.SIGTERM)
            read_until(process, "kiosk station closed", WAIT)
            assert process.wait(WAIT) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            assert process.stderr is not None
            process.stderr.close()


def test_run_refuses_a_broken_config_with_one_line_per_problem(tmp_path: Path, capsys) -> None:
    (tmp_path / "kiosk.toml").write_text('[station]\nkind = "kiosk"\n', encoding="utf-8")
    assert main(["run", "--headless", "--config-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "station.kind" in err and "kiosk.toml" in err
