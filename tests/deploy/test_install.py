"""deploy/install.sh, run for real into a throwaway root: first install, a second run, an upgrade,
two rollbacks (the first to a release from before the central config pull's units), a role change,
and a [central_config] url set, broken and removed (the pull's timer follows it); then the tree,
modes, owners, units and the installed kiosk command are checked.

The root is bare (no python3 of its own), so install.sh builds each release's venv with this
machine's python3 at <root>/opt/kiosk/releases/<version>; pip resolves the dependencies (with the
default extras) from a wheelhouse, offline, as a fleet without compilers does. Two venvs are built
in all (release N and N+1); every other step takes well under a second.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from deploy_support import INSTALL_SH, LOCK, REPO, UNIT_DIR, UNIT_FILES, Run, Wheels, run_install, seed_root

# Appended to kiosk.toml, whose last table is [station]: IT's edit, and still a configuration that
# loads (install.sh reads it with the kiosk's own loader to decide on the pull's timer).
CONFIG_EDIT = '\n# Edited by IT: a self-check station\nkind = "self-check"\n'
SECRETS = '[sip2]\npassword = "p4ss"\n'
LOCAL_DROPIN = '[site]\nbranch = "See"\n'
JOURNAL_BYTES = b"SQLite format 3\x00 pretend journal with unsent transactions"
NEWER_UNIT_LINE = "# as shipped with the next release\n"
PULL_UNITS = ("kiosk-config-pull.service", "kiosk-config-pull.timer")
PULL_TIMER_LINK = "/etc/systemd/system/timers.target.wants/kiosk-config-pull.timer"
CENTRAL_URL = "https://config.library.example/kiosk/see.toml"
CENTRAL_DROPIN = f'[central_config]\nurl = "{CENTRAL_URL}"\ndigest = "{"ab" * 32}"\n'


@dataclass
class Story:
    """What happened to one staged root, step by step (later steps change the same root)."""

    root: Path
    wheels: Wheels
    runs: dict[str, Run] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)  # step -> `kiosk --version` after it
    sync_units: dict[str, bytes] = field(default_factory=dict)  # step -> installed kiosk-sync.service
    snapshots: dict[str, dict[str, bytes]] = field(default_factory=dict)
    timer_links: dict[str, str | None] = field(default_factory=dict)  # step -> the pull timer's link after it

    def timer_link(self) -> str | None:
        link = self.path(PULL_TIMER_LINK)
        return os.readlink(link) if link.is_symlink() else None

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def kiosk_version(self) -> str:
        done = subprocess.run(
            [str(self.path("/opt/kiosk/current/bin/kiosk")), "--version"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def kept_files(self) -> dict[str, bytes]:
        names = ["/etc/kiosk/kiosk.toml", "/etc/kiosk/secrets.toml", "/etc/kiosk/kiosk.d/90-local.toml",
                 "/var/lib/kiosk/journal.sqlite"]
        return {name: self.path(name).read_bytes() for name in names}

    def step(self, name: str, *args: str | Path, script: Path = INSTALL_SH) -> Run:
        run = run_install("--root", self.root, *args, script=script)
        assert run.returncode == 0, f"{name}: install.sh failed\n{run.stdout}\n{run.stderr}"
        self.runs[name] = run
        self.versions[name] = self.kiosk_version()
        self.sync_units[name] = self.path("/usr/local/lib/systemd/system/kiosk-sync.service").read_bytes()
        return run


def newer_bundle(dest: Path) -> Path:
    """deploy/ and systemd/ as the next release ships them: kiosk-sync.service differs. Returns its
    install.sh."""
    for name in ("deploy", "systemd"):
        shutil.copytree(REPO / name, dest / name)
    with (dest / "systemd" / "kiosk-sync.service").open("a") as unit:
        unit.write(NEWER_UNIT_LINE)
    return dest / "deploy" / "install.sh"


@pytest.fixture(scope="module")
def story(wheels: Wheels, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    s = Story(seed_root(tmp_path_factory.mktemp("stage")), wheels)
    s.step("install", "--wheel", wheels.old, "--wheelhouse", wheels.wheelhouse)
    # IT's own edits, a secret, a hand drop-in and a journal with work in it: none may be lost.
    with s.path("/etc/kiosk/kiosk.toml").open("a") as f:
        f.write(CONFIG_EDIT)
    s.path("/etc/kiosk/secrets.toml").write_text(SECRETS)
    s.path("/etc/kiosk/kiosk.d/90-local.toml").write_text(LOCAL_DROPIN)
    s.path("/var/lib/kiosk/journal.sqlite").write_bytes(JOURNAL_BYTES)
    s.snapshots["before"] = s.kept_files()
    s.step("again", "--wheel", wheels.old, "--wheelhouse", wheels.wheelhouse)
    s.snapshots["again"] = s.kept_files()
    # Someone followed an old note and made the secrets group-readable: the upgrade repairs it.
    s.path("/etc/kiosk/secrets.toml").chmod(0o640)
    newer = newer_bundle(tmp_path_factory.mktemp("bundle"))
    s.step("upgrade", "--wheel", wheels.new, "--wheelhouse", wheels.wheelhouse, script=newer)
    s.snapshots["upgrade"] = s.kept_files()
    # The release rolled back to predates the pull's units: the installed ones must stay.
    for name in PULL_UNITS:
        s.path(f"/opt/kiosk/releases/{wheels.old_version}/deploy/systemd/{name}").unlink()
    s.step("rollback", "--rollback")
    s.timer_links["rollback"] = s.timer_link()
    s.step("rollforward", "--rollback")
    s.step("returns", "--wheel", wheels.new, "--role", "returns")
    s.step("kiosk", "--wheel", wheels.new, "--role", "kiosk")
    s.timer_links["kiosk"] = s.timer_link()
    # Ansible's branch drop-in names a config server: the pull's timer goes on...
    central = s.path("/etc/kiosk/kiosk.d/20-central-source.toml")
    central.write_text(CENTRAL_DROPIN)
    s.step("central", "--wheel", wheels.new)
    s.timer_links["central"] = s.timer_link()
    # ...stays on while a typo keeps the configuration from loading (nobody can tell)...
    central.write_text(CENTRAL_DROPIN.replace("digest =", "digset ="))
    s.step("central-broken", "--wheel", wheels.new)
    s.timer_links["central-broken"] = s.timer_link()
    # ...and goes off with the url.
    central.unlink()
    s.step("central-off", "--wheel", wheels.new)
    s.timer_links["central-off"] = s.timer_link()
    yield s
    shutil.rmtree(s.root)  # two venvs, ~400 MB: not worth keeping among pytest's last runs


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _kiosk_ids(root: Path) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == "kiosk":
            return int(fields[2]), int(fields[3])
    raise AssertionError("no kiosk user in the staged /etc/passwd")


def test_first_install_reports_itself_and_runs(story: Story) -> None:
    assert story.runs["install"].result == ("installed", story.wheels.old_version, "")
    assert story.versions["install"] == f"kiosk {story.wheels.old_version}"


def test_the_installed_kiosk_command_runs_from_the_staged_venv(story: Story) -> None:
    done = subprocess.run(
        [str(story.path("/opt/kiosk/current/bin/kiosk")), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Library self-service kiosk" in done.stdout
    # IT's PATH reaches it too (the link is absolute: it resolves on the target, not here).
    assert os.readlink(story.path("/usr/local/bin/kiosk")) == "/opt/kiosk/current/bin/kiosk"


def test_the_config_skeleton_passes_the_kiosks_own_check(story: Story, tmp_path: Path) -> None:
    # The skeleton as shipped (the story's copy carries IT's edits), checked by the installed kiosk.
    etc = tmp_path / "etc-kiosk"
    (etc / "kiosk.d").mkdir(parents=True)
    shutil.copy(REPO / "deploy/config/kiosk.toml", etc / "kiosk.toml")
    shutil.copy(REPO / "deploy/config/secrets.toml", etc / "secrets.toml")
    (etc / "secrets.toml").chmod(0o600)
    done = subprocess.run(
        [str(story.path("/opt/kiosk/current/bin/kiosk")), "config", "check", "--config-dir", str(etc)],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "config OK (3 layers" in done.stdout


def test_dependencies_are_the_versions_requirements_lock_pins(story: Story) -> None:
    release = story.path(f"/opt/kiosk/releases/{story.wheels.old_version}")
    assert (release / "requirements.lock").read_bytes() == LOCK.read_bytes()
    assert "constraints=requirements.lock" in (release / ".kiosk-release").read_text().splitlines()
    pins = dict(
        line.split("==", 1) for line in LOCK.read_text().splitlines() if line and not line.startswith("#")
    )
    script = "import importlib.metadata as m, json; print(json.dumps({d.name: d.version for d in m.distributions()}))"
    done = subprocess.run(
        [str(release / "bin/python"), "-c", script], capture_output=True, text=True, timeout=60
    )
    installed = json.loads(done.stdout)
    normal = {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in installed.items()}
    assert {n: (v, normal.get(n)) for n, v in pins.items() if normal.get(n) != v} == {}


def test_user_and_groups(story: Story) -> None:
    passwd = {line.split(":")[0]: line.split(":") for line in story.path("/etc/passwd").read_text().splitlines()}
    assert passwd["kiosk"][5:] == ["/var/lib/kiosk", "/usr/sbin/nologin"]
    assert int(passwd["kiosk"][2]) < 1000  # a system user
    groups = {line.split(":")[0]: line.split(":") for line in story.path("/etc/group").read_text().splitlines()}
    for name in ("video", "render", "input", "audio", "dialout", "plugdev", "gpio"):
        assert "kiosk" in groups[name][3].split(","), name
    # Existing groups were reused, missing ones created; nothing twice.
    assert groups["dialout"][2] == "20"
    names = [line.split(":")[0] for line in story.path("/etc/group").read_text().splitlines()]
    assert len(names) == len(set(names))


def test_directories_modes_and_owners(story: Story) -> None:
    uid, gid = _kiosk_ids(story.root)
    expected = {
        "/opt/kiosk": (0o755, 0, 0),
        "/opt/kiosk/releases": (0o755, 0, 0),
        "/etc/kiosk": (0o755, 0, 0),
        "/etc/kiosk/kiosk.d": (0o755, 0, 0),
        "/etc/kiosk/kiosk.toml": (0o644, 0, 0),
        "/etc/kiosk/secrets.toml": (0o600, 0, 0),
        "/var/lib/kiosk": (0o750, uid, gid),
        "/var/lib/kiosk/kivy": (0o750, uid, gid),
        "/var/cache/kiosk": (0o750, uid, gid),
        "/etc/udev/rules.d/70-kiosk.rules": (0o644, 0, 0),
        "/etc/udev/rules.d/71-kiosk-local.rules": (0o644, 0, 0),
    }
    actual = {}
    for name in expected:
        st = story.path(name).stat()
        actual[name] = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    assert actual == expected
    # The code belongs to root: the service user cannot change what it runs.
    release = story.path("/opt/kiosk/current").resolve()
    kiosk_script = release / "bin" / "kiosk"
    assert (kiosk_script.stat().st_uid, release.stat().st_uid) == (0, 0)
    assert not _mode(kiosk_script) & 0o022


def test_units_installed_as_shipped(story: Story) -> None:
    for name in UNIT_FILES:
        installed = story.path(f"/usr/local/lib/systemd/system/{name}")
        assert installed.read_bytes() == (UNIT_DIR / name).read_bytes(), name
        assert _mode(installed) == 0o644


def test_kiosk_role_enables_screen_and_sync_and_masks_the_tty1_login(story: Story) -> None:
    wants = story.path("/etc/systemd/system/multi-user.target.wants")
    assert sorted(p.name for p in wants.iterdir() if p.name.startswith("kiosk-")) == [
        "kiosk-sync.service", "kiosk-ui.service"
    ]
    assert os.readlink(wants / "kiosk-ui.service") == "/usr/local/lib/systemd/system/kiosk-ui.service"
    assert os.readlink(story.path("/etc/systemd/system/getty@tty1.service")) == "/dev/null"


def test_returns_role_enables_the_bin_instead(story: Story) -> None:
    assert story.runs["returns"].result[0] == "changed"
    assert story.runs["kiosk"].result[0] == "changed"
    out = story.runs["returns"].stdout
    assert "enabled: kiosk-returns.service kiosk-sync.service (returns station)" in out
    # ...and the last step switched back: the screen again, the bin disabled.
    assert "enabled: kiosk-ui.service kiosk-sync.service (kiosk station)" in story.runs["kiosk"].stdout
    assert not story.path("/etc/systemd/system/multi-user.target.wants/kiosk-returns.service").exists()


def test_installed_units_pass_systemd_verify_inside_the_root(story: Story, tmp_path: Path) -> None:
    # Variant (a) of platform.md §5.2: verify --root needs the distribution's units (targets) there.
    analyzer = shutil.which("systemd-analyze")
    assert analyzer, "systemd-analyze is missing: install Debian's systemd package (./dev does)"
    system_units = next(p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir())
    target = story.path("/usr/lib/systemd/system")
    if not target.exists():
        shutil.copytree(system_units, target, symlinks=True)
    units = [f"/usr/local/lib/systemd/system/{name}" for name in UNIT_FILES]
    done = subprocess.run(
        [analyzer, "verify", f"--root={story.root}", *units], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_pull_timer_is_on_exactly_while_a_central_config_url_is_set(story: Story) -> None:
    installed = "/usr/local/lib/systemd/system/kiosk-config-pull.timer"
    assert story.timer_links == {
        "rollback": None, "kiosk": None, "central": installed, "central-broken": installed, "central-off": None
    }
    assert "not enabled: kiosk-config-pull.timer (no [central_config] url)" in story.runs["install"].stdout
    assert story.runs["central"].result[0] == "changed"
    assert f"enabled: kiosk-config-pull.timer (central config from {CENTRAL_URL})" in story.runs["central"].stdout
    assert story.runs["central-off"].result[0] == "changed"


def test_a_configuration_that_does_not_load_leaves_the_timer_alone(story: Story) -> None:
    run = story.runs["central-broken"]
    assert run.result[0] == "unchanged"
    assert "warning: kiosk-config-pull.timer left enabled: the configuration does not load:" in run.stdout
    assert "central_config.digset: unknown key" in run.stdout


def test_a_rollback_to_a_release_without_the_pull_units_keeps_them(story: Story) -> None:
    out = story.runs["rollback"].stdout
    for name in PULL_UNITS:
        assert f"{name}: not in " in out
        installed = story.path(f"/usr/local/lib/systemd/system/{name}")
        assert installed.read_bytes() == (UNIT_DIR / name).read_bytes()
    # the release built from this tree keeps them, for its own rollback
    kept = story.path(f"/opt/kiosk/releases/{story.wheels.new_version}/deploy/systemd")
    assert sorted(p.name for p in kept.iterdir()) == sorted(UNIT_FILES)


def test_second_run_changes_nothing(story: Story) -> None:
    assert story.runs["again"].result == ("unchanged", story.wheels.old_version, "")
    assert "already built from this wheel" in story.runs["again"].stdout
    assert story.snapshots["again"] == story.snapshots["before"]


def test_upgrade_switches_release_and_keeps_config_and_journal(story: Story) -> None:
    w = story.wheels
    assert story.runs["upgrade"].result == ("upgraded", w.new_version, w.old_version)
    assert story.versions["upgrade"] == f"kiosk {w.new_version}"
    assert story.snapshots["upgrade"] == story.snapshots["before"]
    # the repaired secrets mode is still 0600 at the end of the story, with the same content
    assert _mode(story.path("/etc/kiosk/secrets.toml")) == 0o600
    assert "was mode 640; now 600" in story.runs["upgrade"].stdout
    releases = sorted(p.name for p in story.path("/opt/kiosk/releases").iterdir())
    assert releases == sorted([w.old_version, w.new_version])
    assert sorted(p.name for p in story.path("/opt/kiosk/wheels").iterdir()) == sorted([w.old.name, w.new.name])


def test_rollback_goes_back_and_a_second_one_forward(story: Story) -> None:
    w = story.wheels
    assert story.runs["rollback"].result == ("rolled-back", w.old_version, w.new_version)
    assert story.versions["rollback"] == f"kiosk {w.old_version}"
    assert story.runs["rollforward"].result == ("rolled-back", w.new_version, w.old_version)
    assert story.versions["rollforward"] == f"kiosk {w.new_version}"
    assert os.readlink(story.path("/opt/kiosk/current")) == f"releases/{w.new_version}"


def test_units_follow_the_release_through_upgrade_and_rollback(story: Story) -> None:
    shipped = (UNIT_DIR / "kiosk-sync.service").read_bytes()
    newer = shipped + NEWER_UNIT_LINE.encode()
    assert [story.sync_units[step] for step in ("install", "upgrade", "rollback", "rollforward")] == [
        shipped, newer, shipped, newer
    ]
    # each release keeps the units it came with, for that rollback
    w = story.wheels
    kept = story.path(f"/opt/kiosk/releases/{w.old_version}/deploy/systemd/kiosk-sync.service")
    assert kept.read_bytes() == shipped


def test_rollback_with_nothing_before_says_so(tmp_path: Path) -> None:
    run = run_install("--root", seed_root(tmp_path / "root"), "--rollback")
    assert run.returncode == 1
    assert "no previous release to roll back to" in run.stderr


def test_a_different_wheel_with_the_same_version_is_refused(story: Story, tmp_path: Path) -> None:
    # A rebuilt wheel that kept its version: installing it over the release would hide which code
    # runs, so install.sh stops before touching anything.
    rebuilt = tmp_path / story.wheels.new.name
    shutil.copy(story.wheels.new, rebuilt)
    with zipfile.ZipFile(rebuilt, "a") as archive:
        archive.writestr("kiosk/_rebuilt.txt", "different bytes")
    current_before = os.readlink(story.path("/opt/kiosk/current"))
    run = run_install("--root", story.root, "--wheel", rebuilt)
    assert run.returncode == 1
    assert f"release {story.wheels.new_version} exists, built from another wheel" in run.stderr
    assert os.readlink(story.path("/opt/kiosk/current")) == current_before


def test_bad_arguments_are_refused_before_anything_happens(tmp_path: Path) -> None:
    root = seed_root(tmp_path / "root")
    for name in ("library_kiosk-..-py3-none-any.whl", "other-1.0-py3-none-any.whl"):
        (tmp_path / name).write_bytes(b"PK")
    for args, message in [
        (["--wheel", tmp_path / "missing.whl"], "no such file"),
        (["--wheel", tmp_path / "library_kiosk-..-py3-none-any.whl"], "not a library_kiosk wheel with a usable"),
        (["--wheel", tmp_path / "other-1.0-py3-none-any.whl"], "not a library_kiosk wheel with a usable"),
        (["--wheel", tmp_path / "x.whl", "--role", "desk"], "--role must be kiosk or returns"),
        (["--frobnicate"], "unknown option: --frobnicate"),
    ]:
        run = run_install("--root", root, *args)
        assert (run.returncode, message in run.stderr) == (1, True), run.stderr
    assert not (root / "opt/kiosk/releases").exists()
