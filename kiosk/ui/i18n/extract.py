"""Keep the catalogs in step with the code: ``python -m kiosk.ui.i18n.extract [--check] [--init LANG]``.

Without options it regenerates ``kiosk.pot`` from the code (every core ``MESSAGES`` table and every
UI literal, see :mod:`kiosk.ui.i18n.sources`) and merges it into each language's ``.po``: new
entries arrive empty, entries the code dropped become obsolete (``#~``, kept for reuse), an entry
whose English changed keeps its old translation marked fuzzy (not shown until reviewed). Files
whose entries did not change are not rewritten, so re-running is a no-op.

``--check`` changes nothing and exits 1 naming every entry that is missing, untranslated, fuzzy
or stale, every translation whose ``{placeholders}`` differ from the English, and a template out
of date with the code: CI runs it through ``tests/ui/test_i18n.py``.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import write_po

from kiosk.ui.i18n.catalogs import (
    CATALOG_DIR,
    DOMAIN,
    CatalogError,
    catalog_languages,
    po_path,
    read_catalog,
    template_path,
)
from kiosk.ui.i18n.formatting import TemplateError, placeholders
from kiosk.ui.i18n.languages import is_language_code
from kiosk.ui.i18n.sources import REPO_ROOT, UI_DIR, Found, find

COMMAND = "python -m kiosk.ui.i18n.extract"
PROJECT = "library-kiosk"
NOTES = {
    "ils": "{ils} is the library system's own words, shown as it sent them (never translated).",
    "due": "{due} is a date, already written the patron's way (e.g. 11.12.2026).",
}
HEADER = "# Words of the library kiosk ({lang}).\n# Distributed under the same license as the library-kiosk project.\n#"

Key = tuple[str, str | None]  # (msgid, msgctxt): how Babel keys an entry


@dataclass(frozen=True, slots=True)
class Report:
    """``problems``: catalogs out of step with the code, or unreadable; ``todo``: entries a translator
    must fill or fix; ``notices``: words the extractor could not see (not a failure)."""

    problems: tuple[str, ...]
    todo: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()
    written: tuple[Path, ...] = ()


def build_template(found: Found) -> tuple[Catalog, list[str]]:
    """The template for what the code holds, and the entries whose English cannot be a template."""
    template = Catalog(domain=DOMAIN, project=PROJECT, version=_version(), fuzzy=False,
                       header_comment=HEADER.format(lang="template"), creation_date=datetime.now(UTC))
    problems = []
    for entry in found.entries:
        try:
            names = placeholders(entry.msgid)
        except TemplateError as error:
            problems.append(f"{_name(entry.context, entry.msgid)}: the English is not a valid template ({error})")
            names = frozenset()
        notes = [NOTES[name] for name in sorted(names) if name in NOTES]
        if entry.msgid[:1].isspace():
            notes.append("A receipt line: keep the leading spaces, they indent it under the title above.")
        template.add(entry.msgid, context=entry.context, locations=list(entry.locations), auto_comments=notes,
                     flags=["python-brace-format"] if names else [])
    return template, problems


def merge(po: Catalog, template: Catalog) -> Catalog:
    """``po`` brought up to ``template`` (Babel's update), keeping core ids paired by their msgctxt:
    when an id's English changed, its old translation is kept as fuzzy with the old English shown to
    the translator (``#| msgid``). Babel's guessing from similar-looking entries is off: it paired UI
    words with unrelated core ids ("Returns" with a receipt line), noise a translator must undo. A UI
    string whose English changed is a new entry; its old translation stays in the file as obsolete
    (``#~``) for reuse, an untranslated one is dropped.
    """
    previous = {(m.id, m.context): list(m.previous_id) for m in po if m.id and m.previous_id}
    by_context = {m.context: m for m in po if m.id and m.context is not None}
    for message in template:
        old = by_context.get(message.context) if message.context is not None else None
        if old is None or old.id == message.id or _get(po, (message.id, message.context)) is not None:
            continue
        po.delete(old.id, context=old.context)
        po.add(message.id, string=old.string, context=message.context, flags=set(old.flags) | {"fuzzy"},
               user_comments=old.user_comments)
        previous[(message.id, message.context)] = [old.id] if isinstance(old.id, str) else list(old.id)
    po.update(template, no_fuzzy_matching=True)
    for key in [key for key, message in po.obsolete.items() if not message.string]:
        del po.obsolete[key]  # nothing a translator could reuse
    for key, old_ids in previous.items():
        merged = _get(po, key)
        if merged is not None and merged.fuzzy and not merged.previous_id:
            merged.previous_id = old_ids
    return po


def new_catalog(language: str, template: Catalog) -> Catalog:
    try:
        locale: Locale | None = Locale.parse(language)
    except (ValueError, UnknownLocaleError):
        locale = None  # a language Babel has no data for can still have a catalog
    name = (locale.english_name if locale is not None else None) or language
    po = Catalog(locale=locale, domain=DOMAIN, project=PROJECT, version=_version(), fuzzy=False,
                 header_comment=HEADER.format(lang=name), language_team=name)
    return merge(po, template)


def render(catalog: Catalog) -> bytes:
    stream = io.BytesIO()
    write_po(stream, catalog, include_lineno=False, include_previous=True, width=100)
    return stream.getvalue()


def run(*, check: bool, directory: Path = CATALOG_DIR, ui_dirs: Iterable[Path] = (UI_DIR,),
        root: Path = REPO_ROOT, init: Sequence[str] = ()) -> Report:
    """Extract (or with ``check``, only compare) and report what a translator or developer must do."""
    found = find(ui_dirs, root)
    template, problems = build_template(found)
    problems = [*found.problems, *problems]
    todo: list[str] = []
    written: list[Path] = []
    outputs: dict[Path, bytes] = {}

    pot = render(template)
    existing = _read_bytes(template_path(directory))
    if existing is None or _body(existing) != _body(pot):
        if check:
            problems.append(_template_drift(directory, template))
        else:
            outputs[template_path(directory)] = pot

    for language in init:
        if not is_language_code(language):
            problems.append(f"{language!r} is not a language code such as it, pt_BR")
        elif po_path(language, directory).exists():
            problems.append(f"{language}: a catalog exists already ({po_path(language, directory)})")
        elif not check:
            outputs[po_path(language, directory)] = render(new_catalog(language, template))

    for language in catalog_languages(directory):
        path = po_path(language, directory)
        try:
            po = read_catalog(path, language)
        except CatalogError as error:
            problems.append(f"{language}: {error}")
            continue
        before = set(_keys(po))
        merged = merge(po, template)
        data = render(merged)
        if _body(data) != _body(_read_bytes(path) or b""):
            if check:
                stale = sorted(before - set(_keys(merged)), key=str)
                problems.append(f"{language}: the catalog is not merged with kiosk.pot"
                                + (f" (stale: {', '.join(_name(c, i) for i, c in stale)})" if stale else ""))
            else:
                outputs[path] = data
        todo += [f"{language}: {p}" for p in translation_problems(merged)]

    for path, data in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return Report(tuple(problems), tuple(todo), found.notices, tuple(written))


def translation_problems(po: Catalog) -> list[str]:
    """Entries a patron would see in English, or could not be shown as translated."""
    problems = []
    for message in po:
        if not message.id or not isinstance(message.id, str) or not isinstance(message.string, str):
            continue
        name = _name(message.context, message.id)
        if not message.string:
            problems.append(f"untranslated: {name}")
            continue
        if message.fuzzy:
            problems.append(f"fuzzy (the English changed: review the translation, then remove the fuzzy flag): {name}")
        try:
            wanted, got = placeholders(message.id), placeholders(message.string)
        except TemplateError as error:
            problems.append(f"unusable translation of {name}: {error}")
            continue
        if wanted != got:
            problems.append(f"placeholders differ in {name}: English has {sorted(wanted)}, translation {sorted(got)}")
        indent = len(message.id) - len(message.id.lstrip())
        if message.string[:indent] != message.id[:indent] or message.string[indent:indent + 1].isspace():
            problems.append(f"leading spaces differ in {name} (the receipt's indent): keep {indent}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 naming what is out of date")
    parser.add_argument("--init", action="append", default=[], metavar="LANG",
                        help="start a catalog for a new language (e.g. it, pt_BR)")
    parser.add_argument("--catalogs", type=Path, default=CATALOG_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--ui", type=Path, action="append", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    report = run(check=args.check, directory=args.catalogs, ui_dirs=args.ui or [UI_DIR], init=args.init)
    for notice in report.notices:
        print(f"note: {notice}", file=sys.stderr)
    for path in report.written:
        print(f"wrote {_display(path)}")
    for line in (*report.problems, *report.todo):
        print(line, file=sys.stderr)
    if report.problems:
        print(f"{len(report.problems)} problem(s). Run `{COMMAND}` to bring the catalogs up to date with the code "
              "(docs/translating.md).", file=sys.stderr)
    if report.todo:
        print(f"{len(report.todo)} entr{'y' if len(report.todo) == 1 else 'ies'} to translate or fix in the .po "
              "files named (docs/translating.md).", file=sys.stderr)
    return 1 if report.problems or (args.check and report.todo) else 0


def _template_drift(directory: Path, template: Catalog) -> str:
    try:
        old = {(m.id, m.context) for m in read_catalog(template_path(directory)) if m.id}
    except CatalogError:
        old = set()
    new = {(m.id, m.context) for m in template if m.id}
    missing = [_name(c, i) for i, c in _keys(template) if (i, c) not in old]
    stale = sorted(_name(c, i) for i, c in old - new if isinstance(i, str))
    detail = "; ".join(part for part in (
        f"not extracted: {', '.join(missing)}" if missing else "",
        f"no longer in the code: {', '.join(stale)}" if stale else "",
    ) if part) or "locations or notes changed"
    return f"kiosk.pot is out of date with the code ({detail}): run `{COMMAND}`"


def _keys(catalog: Catalog) -> list[Key]:
    return [(m.id, m.context) for m in catalog if m.id and isinstance(m.id, str)]


def _get(catalog: Catalog, key: Key) -> Message | None:
    return catalog.get(key[0], context=key[1])


def _name(context: str | None, msgid: object) -> str:
    return context if context is not None else repr(msgid)


def _body(data: bytes) -> bytes:
    """A catalog without its header: the dates there change on every write and mean nothing here."""
    return data.split(b"\n\n", 1)[1] if b"\n\n" in data else b""


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _version() -> str:
    try:
        return metadata.version(PROJECT)
    except metadata.PackageNotFoundError:
        return "0"


def _display(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else str(path)


__all__ = ["Report", "build_template", "main", "merge", "run", "translation_problems"]

if __name__ == "__main__":
    sys.exit(main())
