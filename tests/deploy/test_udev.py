"""deploy/udev/: udev's own rule parser reads every rule without a complaint.

systemd 252 (Debian 12) has no ``udevadm verify``; ``udevadm test`` parses every rules file it
finds and names each bad line ("file:line Invalid key ..."). It runs here in a private mount
namespace where the rules directories hold only our files and /etc/group has the groups install.sh
creates, so neither the machine's own rules nor its missing gpio group can pass or fail the check.
The broken copies below prove that a bad line is reported.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from deploy_support import REPO

RULES = REPO / "deploy" / "udev"
DEVICE = "/sys/class/tty/tty1"  # any real device: the rules are parsed whatever the device


def _parse(rule_files: dict[str, str], tmp_path: Path) -> str:
    """udevadm's output for ``rule_files`` (name -> text) as the only rules on the machine."""
    assert shutil.which("udevadm"), "udevadm is missing: install Debian's udev package (./dev does)"
    assert shutil.which("unshare"), "unshare is missing: install util-linux"
    staged = tmp_path / "rules"
    staged.mkdir()
    for name, text in rule_files.items():
        (staged / name).write_text(text)
    group = tmp_path / "group"
    known = Path("/etc/group").read_text()
    extra = "".join(f"{g}:x:{900 + i}:\n" for i, g in enumerate(("gpio", "plugdev", "dialout", "input"))
                    if not re.search(rf"^{g}:", known, re.M))
    group.write_text(known + extra)
    script = f"""
set -e
for d in /etc/udev/rules.d /usr/lib/udev/rules.d /run/udev /dev/char; do
  mkdir -p "$d"; mount -t tmpfs kiosk-test "$d"
done
cp {staged}/* /etc/udev/rules.d/
mount --bind {group} /etc/group
exec udevadm test --action=add {DEVICE}
"""
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True, text=True, timeout=60,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    return out


def _complaints(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("/etc/udev/rules.d/")]


def _uncommented_examples(text: str) -> str:
    """The example rules of the local template, as a site would enable them."""
    return "\n".join(line[2:] for line in text.splitlines() if line.startswith("# SUBSYSTEM")) + "\n"


def test_shipped_rules_parse_without_a_complaint(tmp_path: Path) -> None:
    files = {p.name: p.read_text() for p in sorted(RULES.glob("*.rules"))}
    assert sorted(files) == ["70-kiosk.rules", "71-kiosk-local.rules"]
    output = _parse(files, tmp_path)
    for name in files:
        assert f"Reading rules file: /etc/udev/rules.d/{name}" in output
    assert _complaints(output) == []


def test_the_local_templates_examples_parse_once_enabled(tmp_path: Path) -> None:
    examples = _uncommented_examples((RULES / "71-kiosk-local.rules").read_text())
    assert examples.count("SYMLINK+=") == 2
    assert _complaints(_parse({"71-kiosk-local.rules": examples}, tmp_path)) == []


@pytest.mark.parametrize(
    ("good", "bad", "complaint"),
    [
        ('SYMLINK+="kiosk-rfid"', 'SYMLNK+="kiosk-rfid"', "Invalid key 'SYMLNK'"),
        ('SUBSYSTEM=="gpio"', 'SUBSYSTEM="gpio"', "Invalid operator for SUBSYSTEM"),
        ('GROUP="gpio"', 'GROUP="gpoi"', "Unknown group 'gpoi'"),
    ],
)
def test_a_bad_line_is_reported(good: str, bad: str, complaint: str, tmp_path: Path) -> None:
    text = (RULES / "70-kiosk.rules").read_text()
    assert good in text
    output = _parse({"70-kiosk.rules": text.replace(good, bad, 1)}, tmp_path)
    assert any(complaint in line for line in _complaints(output)), output
