"""The systemd units: systemd's own checker reads them, their exposure scores stay where they were
measured, and what they promise the program (secrets, state directory, groups, the central config
pull's one writable directory and the services it restarts) matches what the program and the
installer actually do.

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
from deploy_support import INSTALL_SH, REPO, TIMERS, UNIT_DIR, UNIT_FILES, UNITS, unit_entries, unit_values

from kiosk.cli import build_parser
from kiosk.config import DEFAULT_CONFIG_DIR, DROPIN_DIR, SECRETS_FILE, JournalSettings

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
ARTIFACTS = REPO / "artifacts"

# Exposure scores measured with systemd 252 (Debian 12) when the units were written; a change that
# loosens the sandbox raises the score and fails here. Lower them when a unit gets tighter.
MAX_EXPOSURE = {
    "kiosk-sync.service": 1.1,
    "kiosk-ui.service": 1.5,
    "kiosk-returns.service": 1.5,
    "kiosk-config-pull.service": 1.4,  # root (0.4) and the network: the price of writing /etc/kiosk/kiosk.d
}
# The services that run as the kiosk user for as long as the station is up; the pull is a root oneshot.
STATION_SERVICES = ["kiosk-returns.service", "kiosk-sync.service", "kiosk-ui.service"]
PULL = "kiosk-config-pull.service"
PULL_TIMER = "kiosk-config-pull.timer"


def _analyzer() -> str:
    assert SYSTEMD_ANALYZE, "systemd-analyze is missing: install Debian's systemd package (./dev does)"
    return SYSTEMD_ANALYZE


def _with_stub_exec(unit: Path, dest_dir: Path) -> Path:
    """A copy of ``unit`` whose ExecStart runs a stub in ``dest_dir`` instead of /opt/kiosk/...; a timer
    gets the service it starts copied beside it (verify refuses a timer without its unit)."""
    stub = dest_dir / "kiosk"
    if not stub.exists():
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    if unit.suffix == ".timer":
        _with_stub_exec(UNIT_DIR / f"{unit.stem}.service", dest_dir)
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
    assert sorted([*STATION_SERVICES, PULL]) == UNITS
    assert TIMERS == [PULL_TIMER]


@pytest.mark.parametrize("name", UNIT_FILES)
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


def test_the_check_reads_the_timer_too(tmp_path: Path) -> None:
    text = (UNIT_DIR / PULL_TIMER).read_text()
    assert text.count("\nOnCalendar=") == 1
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / PULL_TIMER).write_text(text.replace("\nOnCalendar=", "\nOnCalender="))
    done = _verify(_with_stub_exec(broken / PULL_TIMER, tmp_path))
    assert "Unknown key 'OnCalender'" in done.stderr


def test_exposure_scores_do_not_rise(tmp_path: Path) -> None:
    scores = {name: _exposure(_with_stub_exec(UNIT_DIR / name, tmp_path)) for name in UNITS}
    report = "\n".join(
        f"{name:26} exposure {score:.1f} (limit {MAX_EXPOSURE[name]:.1f})" for name, score in scores.items()
    )
    print(f"\nsystemd-analyze security --offline=true\n{report}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "systemd-security.txt").write_text(report + "\n")
    assert {n: s for n, s in scores.items() if s > MAX_EXPOSURE[n]} == {}


@pytest.mark.parametrize(
    ("name", "setting"),
    [("kiosk-sync.service", "PrivateDevices=yes\n"), (PULL, "CapabilityBoundingSet=\n")],
)
def test_loosening_a_sandbox_raises_its_score(name: str, setting: str, tmp_path: Path) -> None:
    tight = _exposure(_with_stub_exec(UNIT_DIR / name, tmp_path))
    text = (UNIT_DIR / name).read_text()
    assert text.count(setting) == 1
    loose_dir = tmp_path / "loose"
    loose_dir.mkdir()
    (loose_dir / name).write_text(text.replace(setting, ""))
    assert _exposure(_with_stub_exec(loose_dir / name, loose_dir)) > tight


@pytest.mark.parametrize("name", UNITS)
def test_secrets_arrive_where_the_config_loader_looks(name: str) -> None:
    # kiosk/config.py reads $CREDENTIALS_DIRECTORY/<SECRETS_FILE>; the credential's name must match.
    text = (UNIT_DIR / name).read_text()
    assert unit_values(text, "LoadCredential") == [f"{SECRETS_FILE}:{DEFAULT_CONFIG_DIR / SECRETS_FILE}"]


@pytest.mark.parametrize("name", STATION_SERVICES)
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


def test_the_pull_restarts_every_station_service_and_nothing_else() -> None:
    # try-restart touches only what runs, so a kiosk and a returns bin share the line; a new
    # long-running service must be added there, or a changed bundle would not reach it.
    (exec_start,) = unit_values((UNIT_DIR / PULL).read_text(), "ExecStart")
    args = build_parser().parse_args(exec_start.split()[1:])
    assert (args.command, args.config_command) == ("config", "pull")
    assert (args.config_dir, args.secrets) == (None, None)  # /etc/kiosk, and the credential
    assert sorted(args.restart) == STATION_SERVICES


def test_the_pull_may_write_only_where_the_bundle_goes() -> None:
    text = (UNIT_DIR / PULL).read_text()
    # kiosk/ops/central_config.py writes <config dir>/kiosk.d/50-central.toml and its state file there,
    # each as a temporary file in the same directory renamed over the old one.
    (writable,) = unit_values(text, "ReadWritePaths")
    assert Path(writable) == DEFAULT_CONFIG_DIR / DROPIN_DIR
    assert unit_values(text, "ProtectSystem") == ["strict"]
    assert unit_values(text, "ProtectHome") == ["yes"]
    # Root (no User=), because /etc/kiosk/kiosk.d is root's; but without a single capability.
    assert unit_values(text, "User") == []
    assert unit_values(text, "CapabilityBoundingSet") == [""]
    assert unit_values(text, "NoNewPrivileges") == ["yes"]
    assert unit_values(text, "PrivateUsers") == ["yes"]
    assert unit_values(text, "PrivateDevices") == ["yes"]
    assert unit_values(text, "RestrictAddressFamilies") == ["AF_UNIX AF_INET AF_INET6"]
    assert unit_values(text, "SystemCallFilter")[0] == "@system-service"
    assert unit_values(text, "Type") == ["oneshot"]


def test_the_pull_is_started_by_its_timer_only() -> None:
    timer = (UNIT_DIR / PULL_TIMER).read_text()
    assert unit_values(timer, "Unit", "Timer") in ([], [PULL])  # none: the service of the same name
    assert unit_values(timer, "WantedBy", "Install") == ["timers.target"]
    assert unit_values(timer, "OnBootSec", "Timer")
    # A changed bundle restarts the services, ending a patron's session: pulls happen at night.
    calendar = unit_values(timer, "OnCalendar", "Timer")
    assert len(calendar) == 1 and int(calendar[0].split()[-1].split(":")[0]) < 6
    assert not unit_values(timer, "OnUnitActiveSec", "Timer") and unit_values(timer, "Persistent", "Timer") == ["true"]
    # A fleet that boots together must not reach the config server in the same second.
    assert unit_values(timer, "RandomizedDelaySec", "Timer")
    # No [Install] in the service: enabling it by mistake would pull at every boot, beside the timer.
    assert "Install" not in {section for section, _, _ in unit_entries((UNIT_DIR / PULL).read_text())}


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
