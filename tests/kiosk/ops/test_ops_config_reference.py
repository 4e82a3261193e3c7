"""docs/config-reference.md is generated from the settings model: it must match what the code says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kiosk.config import SECRET_KEYS, schema_keys
from kiosk.ops.config_reference import render

DOC = Path(__file__).resolve().parents[3] / "docs" / "config-reference.md"


def test_the_committed_reference_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/config-reference.md is out of date: run python -m kiosk.ops.config_reference > docs/config-reference.md")


def test_every_key_is_in_a_table_row_and_secrets_are_marked() -> None:
    text = render()
    tables: dict[str, list[str]] = {}
    table = None
    for line in text.splitlines():
        if line.startswith("## ["):
            table = line[4:-1]
        elif table and line.startswith("| `"):
            tables.setdefault(table, []).append(line)
    rows = {f"{t}.{row.split('`')[1]}": row for t, lines in tables.items() for row in lines}
    assert set(rows) == set(schema_keys())
    assert {key for key, row in rows.items() if row.rstrip(" |").endswith("**secret**")} == SECRET_KEYS
    assert "| `port` | `6001` | an integer 1-65535 |" in rows["sip2.port"]
    assert "*required*" in rows["site.name"] and "*unset*" in rows["site.timezone"]


def test_the_module_prints_it() -> None:
    done = subprocess.run([sys.executable, "-m", "kiosk.ops.config_reference"], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout == render()
