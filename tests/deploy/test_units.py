"""The systemd units: systemd's own checker reads them, their exposure scores stay where they were
measured, and what they promise the program (secrets, state directory, groups) matches what the
program and the installer actually do.

``systemd-analyze verify`` works without systemd as PID 1, but refuses a unit whose ExecStart binary
is missing (../shared/reference/platform.md §5.2), so each unit is checked as a copy whose ExecStart
points at a stub executable. Typos only warn (exit 0), so any output at all fails the check; the
typo'd copies below prove the check notices them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from deploy_support import INSTALL_SH, REPO, UNIT_DIR, UNITS, unit_values

from kiosk.cli import build_parser
from kiosk.config import DEFAULT_CONFIG_DIR, SECRETS_FILE, JournalSettings

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
ARTIFACTS = REPO / "artifacts"

# Exposure scores measured with systemd 252 (Debian 12) when the units were written; a change that
# loosens the sandbox raises the score and fails here. Lower them when a unit gets tighter.
MAX_EXPOSURE = {
    "kiosk-sync.service": 1.1,
    "kiosk-ui.service": 1.5,
    "kiosk-returns.service": 1.5,
}


def _analyzer() -> str:
    assert SYSTEMD_ANALYZE, "systemd-analyze is missing: install Debian's systemd package (./dev does)"
    return SYSTEMD_ANALYZE


def _with_stub_exec(unit: Path, dest_dir: Path) -> Path:
    """A copy of ``unit`` whose ExecStart runs a stub in ``dest_dir`` instead of /opt/kiosk/..."""
    stub = dest_dir / "kiosk"
    if not stub.exists():
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    text = unit.read_text().replace("/opt/kiosk/current/bin/kiosk", str(stub))
    copy = dest_dir / unit.name
    copy.write_text(text)
    return copy


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_analyzer(), "verify", str(unit)], capture_output=True, text=True, timeout=60)


def _exposure(unit: Path) -> float:
    done = subprocess.run(
        [_analyzer(), "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True, text=True, timeout=60,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert found, f"no exposure level in systemd-analyze security output:\n{done.stdout}\n{done.stderr}"
    return float(found.group(1))


def test_there_is_a_unit_for_each_process() -> None:
    assert UNITS == ["kiosk-returns.service", "kiosk-sync.service", "kiosk-ui.service"]


@pytest.mark.parametrize("name", UNITS)
def test_systemd_accepts_the_unit_without_a_word(name: str, tmp_path: Path) -> None:
    done = _verify(_with_stub_exec(UNIT_DIR / name, tmp_path))
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@pytest.mark.parametrize(
    ("good", "bad", "complaint"),
    [
        ("\nWatchdogSec=", "\nWatchDogSec=", "Unknown key 'WatchDogSec'"),
        ("\nRestart=always\n", "\nRestart=allways\n", "Failed to parse service restart specifier"),
        ("\nProtectSystem=strict\n", "\nProtectSystem=stricter\n", "Failed to parse protect system value"),
    ],
)
def test_the_check_notices_typos(good: str, bad: str, complaint: str, tmp_path: Path) -> None:
    text = (UNIT_DIR / "kiosk-ui.service").read_text()
    assert text.count(good) == 1
    broken = tmp_path / "kiosk-ui.service"
    broken.write_text(text.replace(good, bad))
    done = _verify(_with_stub_exec(broken, tmp_path))
    assert complaint in done.stderr


def test_exposure_scores_do_not_rise(tmp_path: Path) -> None:
    scores = {name: _exposure(_with_stub_exec(UNIT_DIR / name, tmp_path)) for name in UNITS}
    report = "\n".join(
        f"{name:24} exposure {score:.1f} (limit {MAX_EXPOSURE[name]:.1f})" for name, score in scores.items()
    )
    print(f"\nsystemd-analyze security --offline=true\n{report}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "systemd-security.txt").write_text(report + "\n")
    assert {n: s for n, s in scores.items() if s > MAX_EXPOSURE[n]} == {}


def test_loosening_the_sync_sandbox_raises_its_score(tmp_path: Path) -> None:
    tight = _exposure(_with_stub_exec(UNIT_DIR / "kiosk-sync.service", tmp_path))
    loose_text = (UNIT_DIR / "kiosk-sync.service").read_text().replace("PrivateDevices=yes\n", "")
    loose_dir = tmp_path / "loose"
    loose_dir.mkdir()
    (loose_dir / "kiosk-sync.service").write_text(loose_text)
    assert _exposure(_with_stub_exec(loose_dir / "kiosk-sync.service", loose_dir)) > tight


@pytest.mark.parametrize("name", UNITS)
def test_secrets_arrive_where_the_config_loader_looks(name: str) -> None:
    # kiosk/config.py reads $CREDENTIALS_DIRECTORY/<SECRETS_FILE>; the credential's name must match.
    text = (UNIT_DIR / name).read_text()
    assert unit_values(text, "LoadCredential") == [f"{SECRETS_FILE}:{DEFAULT_CONFIG_DIR / SECRETS_FILE}"]


@pytest.mark.parametrize("name", UNITS)
def test_the_journal_lives_in_the_units_writable_state_directory(name: str) -> None:
    text = (UNIT_DIR / name).read_text()
    (state,) = unit_values(text, "StateDirectory")
    assert unit_values(text, "ProtectSystem") == ["strict"]
    assert Path(JournalSettings().path).parent == Path("/var/lib") / state


def test_kivy_home_is_writable_for_the_screen() -> None:
    text = (UNIT_DIR / "kiosk-ui.service").read_text()
    env = dict(v.split("=", 1) for line in unit_values(text, "Environment") for v in line.split())
    (state,) = unit_values(text, "StateDirectory")
    assert Path(env["KIVY_HOME"]).is_relative_to(Path("/var/lib") / state)
    assert env["SDL_VIDEODRIVER"] == "kmsdrm"


@pytest.mark.parametrize("name", UNITS)
def test_every_supplementary_group_is_one_the_installer_creates(name: str) -> None:
    # systemd refuses to start a unit naming a group that does not exist.
    created = re.search(r"^KIOSK_GROUPS=\(([^)]*)\)", INSTALL_SH.read_text(), re.M)
    assert created
    groups = {g for line in unit_values((UNIT_DIR / name).read_text(), "SupplementaryGroups") for g in line.split()}
    assert groups <= set(created.group(1).split())


@pytest.mark.parametrize("name", UNITS)
def test_units_run_the_release_install_sh_switches(name: str) -> None:
    (exec_start,) = unit_values((UNIT_DIR / name).read_text(), "ExecStart")
    assert exec_start.split()[0] == "/opt/kiosk/current/bin/kiosk"
    assert 'OPT=/opt/kiosk\n' in INSTALL_SH.read_text()


@pytest.mark.parametrize(
    ("name", "command", "headless"),
    [("kiosk-ui.service", "run", False), ("kiosk-returns.service", "run", True), ("kiosk-sync.service", "sync", None)],
)
def test_execstart_is_a_command_the_kiosk_knows(name: str, command: str, headless: bool | None) -> None:
    (exec_start,) = unit_values((UNIT_DIR / name).read_text(), "ExecStart")
    args = build_parser().parse_args(exec_start.split()[1:])
    assert args.command == command
    if headless is not None:
        assert args.headless is headless


def test_the_sync_service_has_no_devices_and_the_screen_no_device_free_for_all() -> None:
    sync = (UNIT_DIR / "kiosk-sync.service").read_text()
    assert unit_values(sync, "PrivateDevices") == ["yes"]
    assert unit_values(sync, "DeviceAllow") == []
    for name in ("kiosk-ui.service", "kiosk-returns.service"):
        text = (UNIT_DIR / name).read_text()
        assert unit_values(text, "DevicePolicy") == ["closed"]
        assert unit_values(text, "DeviceAllow")  # each device class named, nothing else


def test_screen_and_bin_never_run_together() -> None:
    ui = (UNIT_DIR / "kiosk-ui.service").read_text()
    returns = (UNIT_DIR / "kiosk-returns.service").read_text()
    assert "kiosk-returns.service" in unit_values(ui, "Conflicts", "Unit")[0].split()
    assert "kiosk-ui.service" in unit_values(returns, "Conflicts", "Unit")[0].split()
