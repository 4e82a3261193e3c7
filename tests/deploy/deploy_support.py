"""Shared parts of the deploy tests: the project's wheels, staged roots, running install.sh.

Why the wheel is built from a copy of the tree: ``pip wheel`` writes build/ and egg-info next to
the sources, and other work goes on in this tree at the same time. Why the upgrade's wheel is the
same wheel re-labelled with a higher version instead of a second build: it is what an upgrade looks
like to install.sh (a new version, a new file), at a fraction of a build's time. Why a wheelhouse:
both releases then install their dependencies offline from it (install.sh --wheelhouse, the way a
fleet without compilers installs), so the test does not depend on the index's mood twice.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL_SH = REPO / "deploy" / "install.sh"
UNIT_DIR = REPO / "systemd"
UNITS = sorted(p.name for p in UNIT_DIR.glob("*.service"))
TIMERS = sorted(p.name for p in UNIT_DIR.glob("*.timer"))
UNIT_FILES = UNITS + TIMERS  # everything install.sh puts into /usr/local/lib/systemd/system

_SOURCES = ("pyproject.toml", "README.md", "kiosk", "sip2", "hardware_mocks")
_RESULT = re.compile(r"^kiosk-install: result=(\S+) current=(\S*) previous=(\S*)$", re.M)


@dataclass(frozen=True)
class Wheels:
    old: Path
    old_version: str
    new: Path
    new_version: str
    wheelhouse: Path  # every dependency (with the evdev and usb extras) as wheels


def _build_wheel(src: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"pip wheel failed:\n{done.stdout}\n{done.stderr}"
    (wheel,) = out.glob("library_kiosk-*.whl")
    return wheel


def _copy_sources(dest: Path) -> Path:
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in _SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, dest / name, ignore=ignore)
        else:
            shutil.copy2(path, dest / name)
    return dest


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def relabel_wheel(wheel: Path, old: str, new: str, out: Path) -> Path:
    """The same wheel as version ``new``: dist-info renamed, METADATA and ``kiosk.__version__``
    changed, RECORD rewritten with the new hashes (PEP 427), so pip installs it like any build."""
    old_info, new_info = f"library_kiosk-{old}.dist-info/", f"library_kiosk-{new}.dist-info/"
    out.mkdir(parents=True, exist_ok=True)
    target = out / wheel.name.replace(f"library_kiosk-{old}-", f"library_kiosk-{new}-")
    records: list[str] = []
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            name = item.filename.replace(old_info, new_info, 1)
            if name == f"{new_info}RECORD":
                continue
            data = src.read(item)
            if name == f"{new_info}METADATA":
                data = re.sub(rb"(?m)^Version: .*$", f"Version: {new}".encode(), data, count=1)
            elif name == "kiosk/__init__.py":
                data = re.sub(rb'__version__ = "[^"]+"', f'__version__ = "{new}"'.encode(), data, count=1)
            dst.writestr(name, data)
            records.append(_record_line(name, data))
        records.append(f"{new_info}RECORD,,")
        dst.writestr(f"{new_info}RECORD", "\n".join(records) + "\n")
    return target


LOCK = REPO / "requirements.lock"


def _wheelhouse(wheel: Path, out: Path) -> Path:
    """Dependency wheels at the versions requirements.lock pins, as a fleet's wheelhouse is built."""
    constraints = ["-c", str(LOCK)] if LOCK.exists() else []
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", *constraints, "--wheel-dir", str(out), f"{wheel}[evdev,usb]"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, f"pip wheel (dependencies) failed:\n{done.stdout}\n{done.stderr}"
    return out


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    """The project's wheel as it is, the same one as the next version, and their dependencies."""
    base = tmp_path_factory.mktemp("wheels")
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    old = _build_wheel(_copy_sources(base / "src"), base / "old")
    newer = f"{version}.post1"
    new = relabel_wheel(old, version, newer, base / "new")
    return Wheels(old, version, new, newer, _wheelhouse(old, base / "wheelhouse"))


def seed_root(root: Path) -> Path:
    """A bare staged root: just the account files useradd --prefix needs, with a few of Debian's
    groups (so install.sh must both reuse existing groups and create missing ones)."""
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\ndialout:x:20:\nvideo:x:44:\nplugdev:x:46:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\ndialout:*::\nvideo:*::\nplugdev:*::\n")
    (etc / "shadow").chmod(0o640)
    (etc / "gshadow").chmod(0o640)
    return root


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def result(self) -> tuple[str, str, str]:
        """(result, current, previous) from install.sh's last, machine-readable line."""
        found = _RESULT.findall(self.stdout)
        assert found, f"no result line in install.sh output:\n{self.stdout}\n{self.stderr}"
        return found[-1]


def run_install(*args: str | Path, script: Path = INSTALL_SH, timeout: float = 300) -> Run:
    done = subprocess.run(
        ["bash", str(script), *map(str, args)], capture_output=True, text=True, timeout=timeout
    )
    return Run(done.returncode, done.stdout, done.stderr)


def unit_entries(text: str) -> list[tuple[str, str, str]]:
    """A unit file as (section, key, value) in order; repeated keys stay separate (systemd's own
    reading, which configparser cannot do)."""
    entries: list[tuple[str, str, str]] = []
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_values(text: str, key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in unit_entries(text) if s == section and k == key]
