"""The words the code has: every core message table, and every literal the UI hands its translator.

Core message ids (``"pin.wrong"``) are what the state machines put in their states; their English
templates live beside the machines in ``MESSAGES`` tables. The UI's own words are written in
English at the call, ``ui.tr.text("Scan your card")``, and found here by reading the source (an
``ast`` walk: a call to any ``.text`` whose first argument is a string literal, or to the ``N_``
marker for words kept in tables). Nothing is imported from ``kiosk/ui`` to find them, so a screen
that needs Kivy is read without Kivy.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import kiosk

CORE_MODULES = (
    "kiosk.circulation.session_text",
    "kiosk.circulation.returns",
    "kiosk.circulation.staff",
    "kiosk.circulation.station",  # out-of-service wording ("oos.*"), when the station defines it
)
"""Modules whose ``MESSAGES`` table (id → English template) the catalogs translate."""

REPO_ROOT = Path(kiosk.__file__).resolve().parent.parent
UI_DIR = REPO_ROOT / "kiosk" / "ui"
MARKER = "N_"
"""``N_("Borrow")`` marks English kept in a table for extraction; translate it where shown with ``tr.text``."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing to translate: a core id (``context``) with its English, or a UI literal (no context)."""

    msgid: str
    context: str | None
    locations: tuple[tuple[str, int], ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class Found:
    """What a scan of the code found, and what it could not read (reported by ``extract --check``)."""

    entries: tuple[Entry, ...]
    problems: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()


def core_tables() -> list[tuple[str, Mapping[str, str]]]:
    """(module name, its MESSAGES table) for each core module that has one, in :data:`CORE_MODULES` order."""
    tables = []
    for name in CORE_MODULES:
        table = getattr(importlib.import_module(name), "MESSAGES", None)
        if isinstance(table, Mapping):
            tables.append((name, table))
    return tables


def core_messages() -> dict[str, str]:
    """Every core message id with its English template: what shows when a catalog lacks an id."""
    merged: dict[str, str] = {}
    for _, table in core_tables():
        merged.update(table)
    return merged


def find(ui_dirs: Iterable[Path] = (UI_DIR,), root: Path = REPO_ROOT) -> Found:
    """The core tables' entries (in their own order), then the UI's literals (by file and line)."""
    entries: dict[tuple[str | None, str], Entry] = {}
    english_of: dict[str, str] = {}
    problems: list[str] = []
    notices: list[str] = []
    for module, table in core_tables():
        path = _relative(Path(importlib.import_module(module).__file__ or module), root)
        for message_id, english in table.items():
            if english_of.setdefault(message_id, english) != english:
                problems.append(f"message id {message_id!r} is defined twice with different English ({path})")
                continue
            key = (message_id, english)
            previous = entries[key].locations if key in entries else ()
            entries[key] = Entry(english, message_id, (*previous, (path, 0)))
    for ui_dir in ui_dirs:
        for source in sorted(ui_dir.rglob("*.py")):
            if _inside(source, Path(__file__).parent):
                continue  # the translator's own code calls .text with variables, not words
            literals, skipped, error = _literals(source)
            path = _relative(source, root)
            if error:
                problems.append(f"{path}: cannot be read for words ({error})")
            notices += [f"{path}:{line}: .text() with a non-literal first argument is not extracted; mark the "
                        f"words with N_(\"...\") where they are written" for line in skipped]
            for english, line in literals:
                key = (None, english)
                previous = entries[key].locations if key in entries else ()
                entries[key] = Entry(english, None, (*previous, (path, line)))
    return Found(tuple(entries.values()), tuple(problems), tuple(notices))


def _literals(source: Path) -> tuple[list[tuple[str, int]], list[int], str]:
    """(english, line) of each literal handed to ``.text``/``N_``, lines of non-literal ``tr.text``
    calls, and a parse error if the file cannot be read."""
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    except (SyntaxError, UnicodeDecodeError, OSError) as error:
        return [], [], str(error)
    found: list[tuple[str, int]] = []
    skipped: list[int] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not _is_translation_call(node.func):
            continue
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.append((first.value, node.lineno))
        elif first is not None and _calls_translator(node.func):
            skipped.append(node.lineno)
    found.sort(key=lambda item: item[1])
    return found, sorted(skipped), ""


def _is_translation_call(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "text") or (
        isinstance(func, ast.Name) and func.id == MARKER)


def _calls_translator(func: ast.expr) -> bool:
    """``tr.text(...)`` or ``<anything>.tr.text(...)``: surely the translator, so a variable there is a miss."""
    if not isinstance(func, ast.Attribute):
        return False
    receiver = func.value
    return (isinstance(receiver, ast.Name) and receiver.id == "tr") or (
        isinstance(receiver, ast.Attribute) and receiver.attr == "tr")


def _inside(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())


def _relative(path: Path, root: Path) -> str:
    resolved = path.resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else resolved.as_posix()
