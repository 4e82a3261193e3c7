"""deploy/ansible/: the playbooks parse, and the sample inventory with an encrypted vault renders
into config files that the kiosk's own loader accepts, with the values the inventory meant.

The rendering runs the role's real config tasks through ansible-playbook (render-config.yml, local
connection, into a temporary directory), including the role's `kiosk config check` gate; a typo in
the inventory must stop the play there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_support import REPO

from kiosk.config import load_config
from kiosk.staff_pin import hash_pin

BIN = Path(sys.executable).parent
HOSTS = ["central-kiosk-1.library.example", "central-kiosk-2.library.example",
         "north-kiosk-1.library.example", "north-returns-1.library.example"]
SIP2_PASSWORD = 'pa"ss wört\\1'
VAULT_PASSWORD = "vault-pass-for-tests"
CENTRAL_URL = "https://config.library.example/kiosk.json"


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is missing: pip install -e '.[test]' (ansible-core is a test dependency)"
    return str(path)


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LC_ALL="C.UTF-8", ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-tmp"),
        ANSIBLE_HOME=str(tmp / "ansible-home"), ANSIBLE_DEPRECATION_WARNINGS="0",
    )
    return env


def _ansible(tmp: Path, playbook_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("ansible-playbook"), *args], cwd=playbook_dir, env=_env(tmp),
        capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of deploy/ansible with a real, encrypted vault; returns (playbook dir, password file)."""
    tmp = tmp_path_factory.mktemp("ansible")
    playbooks = tmp / "ansible"
    shutil.copytree(REPO / "deploy" / "ansible", playbooks)
    vault = playbooks / "inventory" / "group_vars" / "all" / "vault.yml"
    pin_hash = hash_pin("482916")
    # JSON strings are YAML double-quoted strings: the quote and the backslash arrive as written.
    vault.write_text(
        f"vault_sip2_password: {json.dumps(SIP2_PASSWORD)}\nvault_staff_pin_hash: {json.dumps(pin_hash)}\n"
    )
    password_file = tmp / "vault-password"
    password_file.write_text(VAULT_PASSWORD + "\n")
    # One station pulls a central bundle (host_vars), so the play's timer decision is seen both ways.
    (playbooks / "inventory" / "host_vars" / f"{HOSTS[1]}.yml").write_text(
        f"kiosk_host_settings:\n  central_config:\n    url: {json.dumps(CENTRAL_URL)}\n"
        f"    digest: {json.dumps('ab' * 32)}\n"
    )
    done = subprocess.run(
        [_tool("ansible-vault"), "encrypt", "--vault-password-file", str(password_file), str(vault)],
        env=_env(tmp), capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert vault.read_text().startswith("$ANSIBLE_VAULT;")
    return playbooks, password_file


@pytest.fixture(scope="module")
def rendered(fleet: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    playbooks, password_file = fleet
    out = tmp_path_factory.mktemp("preview")
    done = _ansible(
        out, playbooks, "render-config.yml", "--vault-password-file", str(password_file),
        "-e", f"kiosk_preview_dir={out}", "-e", f"kiosk_command={BIN / 'kiosk'}",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (out / "ansible-output.txt").write_text(done.stdout)
    return out


def test_playbooks_pass_syntax_check(fleet: tuple[Path, Path], tmp_path: Path) -> None:
    playbooks, _ = fleet
    done = _ansible(tmp_path, playbooks, "--syntax-check", "site.yml", "render-config.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_host_gets_its_layers_and_a_root_only_secrets_file(rendered: Path) -> None:
    for host in HOSTS:
        files = sorted(str(p.relative_to(rendered / host)) for p in (rendered / host).rglob("*") if p.is_file())
        assert files == ["kiosk.d/10-branch.toml", "kiosk.toml", "secrets.toml"], host
        assert (rendered / host / "secrets.toml").stat().st_mode & 0o777 == 0o600


def test_fleet_branch_host_and_vault_values_reach_the_settings(rendered: Path) -> None:
    central = load_config(rendered / HOSTS[0], environ={}).settings
    assert (central.site.name, central.site.branch, central.sip2.location) == ("City Library", "Central", "CENTRAL")
    assert (central.sip2.host, central.sip2.port, central.sip2.tls) == ("sip2.ils.library.example", 6443, True)
    assert central.sip2.password == SIP2_PASSWORD
    assert central.station.kind == "self-check"

    bin_ = load_config(rendered / HOSTS[3], environ={}).settings
    assert bin_.site.branch == "Nordstadt-Süd"  # non-ASCII survives the template
    assert bin_.station.kind == "returns-bin"  # host_vars merged over the branch
    assert bin_.sip2.location == "NORTH"  # ...without losing the branch's other keys
    assert bin_.sip2.username == "north-returns-1"
    assert bin_.returns.sort_bins == {"1": "holds", "2": "transit"}
    assert bin_.offline.loan_days_by_type == {"dvd": 7}
    assert bin_.sip2.password == SIP2_PASSWORD


def test_the_config_pull_timer_follows_the_url_the_kiosk_reads(rendered: Path) -> None:
    # ansible-playbook prints each host's debug message as: ok: [host] => {"msg": "..."}
    output = (rendered / "ansible-output.txt").read_text()
    decisions = dict(re.findall(r'ok: \[(\S+)\] => \{\s*"msg": "(config pull timer [^"]*)"', output))
    assert decisions == {
        HOSTS[0]: "config pull timer off: no [central_config] url",
        HOSTS[1]: f"config pull timer on: {CENTRAL_URL}",
        HOSTS[2]: "config pull timer off: no [central_config] url",
        HOSTS[3]: "config pull timer off: no [central_config] url",
    }


def test_the_vault_secret_is_only_in_the_secrets_file(rendered: Path) -> None:
    for host in HOSTS:
        for name in ("kiosk.toml", "kiosk.d/10-branch.toml"):
            assert "wört" not in (rendered / host / name).read_text()
        assert "wört" in (rendered / host / "secrets.toml").read_text()


def test_a_typo_in_the_inventory_stops_the_play_at_the_config_check(
    fleet: tuple[Path, Path], tmp_path: Path
) -> None:
    playbooks, password_file = fleet
    broken = tmp_path / "ansible"
    shutil.copytree(playbooks, broken)
    branch = broken / "inventory" / "group_vars" / "branch_north.yml"
    branch.write_text(branch.read_text().replace('    language: "de"', '    langauge: "de"'))
    done = _ansible(
        tmp_path, broken, "render-config.yml", "--limit", HOSTS[2], "--vault-password-file", str(password_file),
        "-e", f"kiosk_preview_dir={tmp_path / 'out'}", "-e", f"kiosk_command={BIN / 'kiosk'}",
    )
    assert done.returncode != 0
    assert "site.langauge: unknown key" in done.stdout
    assert "Check the configuration with the kiosk's own validator" in done.stdout
