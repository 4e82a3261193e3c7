"""The kiosk's languages: catalogs complete and in step with the code, the translator's fallbacks,
due dates in the patron's language, the receipt's wording. No Kivy needed.

A string added to the code without re-extracting, or left untranslated, fails here with the
command to run: ``python -m kiosk.ui.i18n.extract`` (then translate what it names).
"""

from __future__ import annotations

import logging
import shutil
import string
import subprocess
import sys
import textwrap
from datetime import date, datetime
from pathlib import Path

import pytest
from babel.dates import format_date
from babel.messages.catalog import Catalog
from hypothesis import given
from hypothesis import strategies as st

from kiosk.circulation import session_text
from kiosk.circulation.rows import Message
from kiosk.ui.context import CORE_MESSAGES, EnglishTranslator
from kiosk.ui.i18n import N_, available_languages, language_name, receipt_wording, translator
from kiosk.ui.i18n.catalogs import CATALOG_DIR, load, po_path, read_catalog, template_path
from kiosk.ui.i18n.extract import COMMAND, main, render, run, translation_problems
from kiosk.ui.i18n.languages import Languages
from kiosk.ui.i18n.sources import REPO_ROOT, UI_DIR, core_messages, find
from sip2.fields import encode_date

LANGUAGES = ("de", "fr")
CORE = core_messages()
ROOT = Path(__file__).resolve().parents[2]


def names(template: str) -> set[str]:
    """Placeholder names by the standard library's own parser (independent of kiosk.ui.i18n.formatting)."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def copy_catalogs(tmp_path: Path) -> Path:
    directory = tmp_path / "i18n"
    shutil.copytree(CATALOG_DIR, directory, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return directory


def write_screen(directory: Path, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "screen.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return directory


# --- the catalogs as committed ------------------------------------------------------------------


def test_catalogs_are_in_step_with_the_code_and_complete() -> None:
    report = run(check=True)
    assert not report.problems and not report.todo, (
        "\n".join([*report.problems, *report.todo])
        + f"\n\nRun `{COMMAND}`, then translate the entries named in kiosk/ui/i18n/<lang>/LC_MESSAGES/kiosk.po "
        "(docs/translating.md)."
    )


def test_the_core_tables_include_the_station_and_match_the_ui_context() -> None:
    assert set(CORE_MESSAGES) <= set(CORE)
    assert {"pin.wrong", "returns.open", "staff.pin", "receipt.due"} <= set(CORE)
    assert any(message_id.startswith("oos.") for message_id in CORE)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_core_id_and_ui_literal_has_a_translation(language: str) -> None:
    lookup = load(language)
    missing = [message_id for message_id, english in CORE.items() if not lookup.pgettext(message_id, english)]
    ui_words = [entry.msgid for entry in find().entries if entry.context is None]
    missing += [repr(english) for english in ui_words if not lookup.gettext(english)]
    assert ui_words, "the UI's own words were not found: is the extractor looking at kiosk/ui?"
    assert not missing, f"{language}: no translation for {', '.join(missing)}; run `{COMMAND}` and translate"


@pytest.mark.parametrize("path", [template_path(), *(po_path(lang) for lang in LANGUAGES)], ids=str)
def test_placeholders_and_receipt_indent_are_kept_in_every_entry(path: Path) -> None:
    catalog = read_catalog(path)
    checked = 0
    for message in catalog:
        if not message.id or not message.string:
            continue
        checked += 1
        assert names(message.string) == names(message.id), (message.context, message.id, message.string)
        indent = len(message.id) - len(message.id.lstrip(" "))
        assert len(message.string) - len(message.string.lstrip(" ")) == indent, (message.context, message.string)
    assert checked or path.suffix == ".pot"


def test_core_ids_are_keyed_by_context_with_the_english_as_msgid() -> None:
    catalog = read_catalog(template_path())
    core_entries = {m.context: m.id for m in catalog if m.id and m.context is not None}
    assert core_entries == CORE


def test_available_languages_and_their_own_names() -> None:
    assert available_languages()[0] == "en"
    assert set(LANGUAGES) <= set(available_languages())
    assert [language_name(code) for code in ("en", "de", "fr")] == ["English", "Deutsch", "Français"]
    assert language_name("xx") == "xx"


# --- rendering ----------------------------------------------------------------------------------


def test_translated_messages_fill_every_placeholder() -> None:
    for language in LANGUAGES:
        tr = translator(language)
        for message_id, english in CORE.items():
            params = {name: f"<{name}-value>" for name in names(english) if name != "due"}
            words = tr.message_id(message_id, **params)
            assert "{" not in words and all(value in words for value in params.values()), (language, words)
            assert words != tr.message_id(message_id) or not params


def test_english_is_the_core_tables_own_words() -> None:
    tr, fallback = translator("en"), EnglishTranslator()
    for message_id, english in CORE_MESSAGES.items():
        params = {name: f"x{i}" for i, name in enumerate(sorted(names(english))) if name != "due"}
        assert tr.message_id(message_id, **params) == fallback.message_id(message_id, **params)
    assert tr.text("Scan your card") == fallback.text("Scan your card")
    assert tr.text("{n} items", n=3) == fallback.text("{n} items", n=3) == "3 items"
    assert tr.message(Message("no.such.id")) == fallback.message(Message("no.such.id")) == "no.such.id"


def test_the_ils_words_are_never_translated(tmp_path: Path) -> None:
    _catalog_with(tmp_path, "de", {(None, "Cancel"): "Abbrechen",
                                   ("item.refused", CORE["item.refused"]): "Nicht ausgeliehen. {ils}"})
    tr = Languages(tmp_path).translator("de")
    assert tr.text("Cancel") == "Abbrechen"  # the UI's word has a German translation...
    words = tr.message_id("item.refused", ils=("Cancel", "Item blocked"))
    assert words == "Nicht ausgeliehen. Cancel Item blocked"  # ...yet the ILS's own "Cancel" is shown as sent
    assert translator("de").message_id("returns.closed.bin_full", bins=(1, 2)).endswith("(1, 2)")  # as the core joins


def test_french_keeps_its_no_break_spaces_on_screen() -> None:
    words = translator("fr").message_id("pin.wrong", left=2)
    assert "\u00a0:" in words and "  " not in words


def test_translator_is_cached_per_language() -> None:
    assert translator("de") is translator("de")
    assert translator("de").language == "de"


def test_receipt_wording_keeps_the_indent_in_the_patrons_language() -> None:
    de = receipt_wording("de")
    due = "20261211    235900"
    assert de("receipt.due", {"due": due}) == "  fällig am " + format_date(date(2026, 12, 11), "medium", locale="de")
    assert de("receipt.card", {"card": "****1234"}) == "Ausweis: ****1234"
    assert receipt_wording("en")("receipt.was_returned", {}) == session_text.MESSAGES["receipt.was_returned"]
    assert receipt_wording("fr")("receipt.title", {}) == translator("fr").message_id("receipt.title")


# --- due dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "11 Dec 2026"), ("de", "11.12.2026"), ("fr", "11 déc. 2026"), ("en-US", "Dec 11, 2026"),
])
def test_due_dates_in_the_patrons_language(language: str, expected: str) -> None:
    tr = translator(language)
    for text in ("20261211    235900", "20261211   Z120000", "20261211 EST000000", "20261211", "2026-12-11",
                 " 20261211    235900 "):
        assert tr.due(text) == expected, text


def test_due_parameters_are_dates_in_messages() -> None:
    assert translator("de").message_id("item.done", due="20261211    235900") == "Ausgeliehen. Fällig am 11.12.2026."
    assert translator("fr").message(Message.of("renew.done", due="2026-12-11")) == "Prolongé jusqu'au 11 déc. 2026."


@pytest.mark.parametrize("text", ["", "next Tuesday", "20261311    000000", "2026-02-30", " " * 18,
                                  "due 20261211", "12/11/2026", "2026121"])
def test_what_is_not_surely_a_date_is_shown_unchanged(text: str) -> None:
    for language in ("en", *LANGUAGES):
        assert translator(language).due(text) == text


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
       st.sampled_from(["en", "de", "fr"]))
def test_any_sip2_date_reads_as_that_date(when: datetime, language: str) -> None:
    locale = {"en": "en_GB"}.get(language, language)
    assert translator(language).due(encode_date(when)) == format_date(when.date(), "medium", locale=locale)


@given(st.text(), st.sampled_from(["en", "de", "fr", "xx"]))
def test_due_never_raises(text: str, language: str) -> None:
    result = translator(language).due(text)
    assert isinstance(result, str) and (result == text or result[:1].isalnum())


# --- never a crash, never a blank ---------------------------------------------------------------

PARAM_VALUES = st.one_of(
    st.text(), st.integers(), st.tuples(st.text(), st.text()), st.tuples(st.integers()),
    st.sampled_from(["{", "}", "{ils}", "{0}", "{due:%d}", "\u202e", "20261211    235900"]),
)
PARAM_NAMES = st.one_of(st.sampled_from(sorted({n for t in CORE.values() for n in names(t)})),
                        st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True))


@given(st.sampled_from(sorted(CORE)) | st.text(), st.dictionaries(PARAM_NAMES, PARAM_VALUES, max_size=5),
       st.sampled_from(["en", "de", "fr", "pt-BR", "xx"]))
def test_rendering_any_message_never_raises(message_id: str, params: dict, language: str) -> None:
    tr = translator(language)
    words = tr.message(Message.of(message_id, **params)) if message_id.isidentifier() else tr.message_id(
        message_id, **params)
    assert isinstance(words, str)
    if message_id in CORE:
        assert words.strip()
    assert isinstance(receipt_wording(language)(message_id, params), str)


@given(st.text(), st.dictionaries(PARAM_NAMES, PARAM_VALUES, max_size=3), st.sampled_from(["en", "de", "fr"]))
def test_ui_text_never_raises(english: str, params: dict, language: str) -> None:
    words = translator(language).text(english, **params)
    assert isinstance(words, str)
    if not params:
        assert words == (translator(language).text(english) or english)


# --- fallbacks ----------------------------------------------------------------------------------


def test_an_unknown_language_is_english_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    languages = Languages()
    with caplog.at_level(logging.WARNING, logger="kiosk.ui.i18n"):
        tr = languages.translator("tlh")
    assert tr.language == "en"
    assert tr.message_id("item.waiting") == CORE["item.waiting"]
    assert any("'tlh'" in record.getMessage() for record in caplog.records)
    caplog.clear()
    languages.translator("tlh")
    assert not caplog.records  # cached: warned once
    assert languages.translator("../de").language == "en"  # a code names a directory: no way out of it


def _catalog_with(directory: Path, language: str, entries: dict[tuple[str | None, str], str]) -> None:
    catalog = Catalog(locale=None, domain="kiosk", fuzzy=False)
    for (context, english), translated in entries.items():
        catalog.add(english, translated, context=context)
    path = po_path(language, directory)
    path.parent.mkdir(parents=True)
    path.write_bytes(render(catalog))


def test_a_region_falls_back_to_its_language_then_english(tmp_path: Path) -> None:
    _catalog_with(tmp_path, "pt", {("item.waiting", CORE["item.waiting"]): "Aguardando",
                                   (None, "Cancel"): "Cancelar", (None, "OK"): "OK (pt)"})
    _catalog_with(tmp_path, "pt_BR", {(None, "OK"): "OK (pt_BR)"})
    languages = Languages(tmp_path)
    tr = languages.translator("pt-BR")
    assert languages.available() == ("en", "pt", "pt_BR")
    assert tr.language == "pt_BR"
    assert (tr.text("OK"), tr.text("Cancel"), tr.message_id("item.waiting")) == ("OK (pt_BR)", "Cancelar", "Aguardando")
    # no Portuguese words for it: English, with Brazil's dates
    assert tr.message_id("item.done", due="20261211") == "Checked out. Due 11 de dez. de 2026."
    assert languages.translator("pt").text("OK") == "OK (pt)"


def test_missing_fuzzy_or_broken_entries_show_the_english(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _catalog_with(tmp_path, "de", {
        ("pin.wrong", CORE["pin.wrong"]): "Falsche PIN {ils",  # a translator's typo
        ("item.done", "Checked out, due {due}."): "Ausgeliehen, fällig am {due}.",  # for an older English
        ("item.waiting", CORE["item.waiting"]): "Wartet",
    })
    tr = Languages(tmp_path).translator("de")
    with caplog.at_level(logging.WARNING, logger="kiosk.ui.i18n"):
        assert tr.message_id("pin.wrong", left=1, ils="x") == "Wrong PIN. Tries left: 1. x"
    assert any("pin.wrong" in record.getMessage() for record in caplog.records)
    assert tr.message_id("item.done", due="20261211") == "Checked out. Due 11.12.2026."
    assert tr.message_id("item.waiting") == "Wartet"
    assert tr.message_id("gate.alarm") == CORE["gate.alarm"]
    assert tr.text("Words nobody translated") == "Words nobody translated"


def test_an_unreadable_catalog_is_english_not_a_crash(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = po_path("de", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b'msgid "unterminated\nmsgstr ""\n\x00\xff')
    with caplog.at_level(logging.ERROR, logger="kiosk.ui.i18n"):
        tr = Languages(tmp_path).translator("de")
    assert tr.message_id("item.waiting") == CORE["item.waiting"]
    assert caplog.records


# --- extraction ---------------------------------------------------------------------------------


def test_the_extractor_finds_every_form_of_translator_call(tmp_path: Path) -> None:
    ui = write_screen(tmp_path / "ui", """
        BUTTONS = [(N_("Borrow now"), "borrow")]

        def render(ui, label, self=None):
            ui.tr.text("Scan your card, please")
            self.ui.tr.text("You have {n} loans", n=1)
            tr = ui.tr
            tr.text("Split "
                    "over lines")
            ui.tr.text(label)  # not extractable: noticed
            print("not a translation")
            ui.texts("not a translation either")
    """)
    found = find([ui], root=tmp_path)
    ui_words = [(entry.msgid, entry.locations) for entry in found.entries if entry.context is None]
    assert ui_words == [
        ("Borrow now", (("ui/screen.py", 2),)),
        ("Scan your card, please", (("ui/screen.py", 5),)),
        ("You have {n} loans", (("ui/screen.py", 6),)),
        ("Split over lines", (("ui/screen.py", 8),)),
    ]
    assert len(found.notices) == 1 and "ui/screen.py:10" in found.notices[0]
    assert N_("Borrow now") == "Borrow now"


def test_a_string_added_without_extracting_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    directory = copy_catalogs(tmp_path)
    ui = write_screen(tmp_path / "newui", 'def render(ui):\n    return ui.tr.text("A brand new label")\n')
    argv = ["--check", "--catalogs", str(directory), "--ui", str(UI_DIR), "--ui", str(ui)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "kiosk.pot is out of date" in err and "'A brand new label'" in err and COMMAND in err

    assert main(argv[1:]) == 0  # extracting writes the template and merges the catalogs...
    capsys.readouterr()
    assert main(argv) == 1  # ...and the new entry waits for its translators
    err = capsys.readouterr().err
    assert "de: untranslated: 'A brand new label'" in err and "fr: untranslated: 'A brand new label'" in err
    assert "out of date" not in err


def test_extracting_merges_new_removed_and_changed_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = copy_catalogs(tmp_path)
    ui = write_screen(tmp_path / "newui", 'def render(ui):\n    return ui.tr.text("A brand new label")\n')
    run(check=False, directory=directory, ui_dirs=[UI_DIR, ui])
    de = read_catalog(po_path("de", directory))
    assert de.get("A brand new label") is not None and de.get("A brand new label").string == ""
    de.get("A brand new label").string = "Ein ganz neues Etikett"
    po_path("de", directory).write_bytes(render(de))

    old_english = CORE["item.waiting"]
    old_german = de.get(old_english, context="item.waiting").string
    monkeypatch.setitem(session_text.MESSAGES, "item.waiting", "Waiting for the other parts")
    (ui / "screen.py").unlink()
    report = run(check=False, directory=directory, ui_dirs=[UI_DIR, ui])
    assert po_path("de", directory) in report.written

    de = read_catalog(po_path("de", directory))
    assert de.get("A brand new label") is None and de.obsolete["A brand new label"].string == "Ein ganz neues Etikett"
    assert "A brand new label" not in read_catalog(po_path("fr", directory)).obsolete  # nothing to reuse there
    changed = de.get("Waiting for the other parts", context="item.waiting")
    assert changed.fuzzy and changed.string == old_german and changed.previous_id == [old_english]
    assert de.get(old_english, context="item.waiting") is None
    tr = Languages(directory, english=core_messages()).translator("de")
    assert tr.message_id("item.waiting") == "Waiting for the other parts"  # fuzzy: not shown until reviewed
    todo = run(check=True, directory=directory, ui_dirs=[UI_DIR]).todo
    assert any("fuzzy" in line and "item.waiting" in line for line in todo)


def test_extracting_twice_changes_nothing(tmp_path: Path) -> None:
    directory = copy_catalogs(tmp_path)
    run(check=False, directory=directory)
    before = {path: path.read_bytes() for path in directory.rglob("*.po*")}
    assert run(check=False, directory=directory).written == ()
    assert {path: path.read_bytes() for path in directory.rglob("*.po*")} == before


def test_a_new_language_starts_from_the_template(tmp_path: Path) -> None:
    directory = copy_catalogs(tmp_path)
    run(check=False, directory=directory, init=["it"])
    italian = read_catalog(po_path("it", directory))
    assert {(m.id, m.context) for m in italian if m.id} == {(m.id, m.context) for m in read_catalog(
        template_path(directory)) if m.id}
    assert not any(m.string for m in italian if m.id)
    assert Languages(directory).translator("it").message_id("item.waiting") == CORE["item.waiting"]
    report = run(check=False, directory=directory, init=["../it", "de"])
    assert len(report.problems) == 2 and not (directory.parent / "it").exists()


def test_the_check_names_bad_translations() -> None:
    catalog = Catalog(locale="de", domain="kiosk", fuzzy=False)
    catalog.add("Due {due}", "Fällig", context="a")
    catalog.add("  due {due}", "fällig am {due}", context="b")
    catalog.add("Hello", "", context="c")
    catalog.add("Bye", "Tschüss {", context="d")
    catalog.add("Go", "Los", context="e", flags=["fuzzy"])
    problems = translation_problems(catalog)
    assert [p.split(":")[0].split(" ")[0] for p in problems] == [
        "placeholders", "leading", "untranslated", "unusable", "fuzzy"]


def test_the_command_line_and_no_kivy(tmp_path: Path) -> None:
    directory = copy_catalogs(tmp_path)
    ui = write_screen(tmp_path / "newui", 'def render(ui):\n    return ui.tr.text("Yet another label")\n')
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.ui.i18n.extract", "--check", "--catalogs", str(directory), "--ui", str(ui)],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 1 and "'Yet another label'" in result.stderr and COMMAND in result.stderr
    probe = ("import sys; from kiosk.ui.i18n import translator, receipt_wording; "
             "translator('de').message_id('item.done', due='20261211'); receipt_wording('fr'); "
             "print('kivy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60,
                            check=True)
    assert result.stdout.strip() == "False"


def test_locations_are_relative_to_the_repository() -> None:
    catalog = read_catalog(template_path())
    files = {location for m in catalog if m.id for location, _ in m.locations}
    assert "kiosk/circulation/session_text.py" in files
    assert all((REPO_ROOT / location).is_file() for location in files)
