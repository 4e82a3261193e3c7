"""Which languages a kiosk can speak, and one cached translator per language asked for.

A language code may carry a region (``pt-BR``, ``de_AT``): its catalog is tried first, then the
language's (``pt``), then English, entry by entry; dates follow the most specific locale Babel
knows, so ``en-US`` reads "Dec 11, 2026" with English words. Bare ``en`` dates read "11 Dec 2026"
(Babel's ``en_GB``), day before month as most of the world writes it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from babel import Locale, UnknownLocaleError

from kiosk.circulation.rows import Param
from kiosk.ui.i18n.catalogs import CATALOG_DIR, CatalogError, Lookup, catalog_languages, load, po_path
from kiosk.ui.i18n.sources import core_messages
from kiosk.ui.i18n.translator import CatalogTranslator

log = logging.getLogger(__name__)

ENGLISH = "en"
ENGLISH_DATES = "en_GB"

ReceiptWording = Callable[[str, Mapping[str, Param]], str]


def normalise(code: str) -> str:
    """``pt-br`` → ``pt_BR``, ``zh-hans`` → ``zh_Hans``: the spelling of catalog directories and Babel locales."""
    parts = code.strip().replace("-", "_").split("_")
    return "_".join([parts[0].lower(), *(p.title() if len(p) == 4 else p.upper() for p in parts[1:])])


def candidates(code: str) -> tuple[str, ...]:
    """The catalogs to try for ``code``, most specific first: ``pt_BR`` → (``pt_BR``, ``pt``). Nothing
    for what is not a language code: the code names a directory, so ``../x`` must not reach one."""
    key = normalise(code)
    if not is_language_code(key):
        return ()
    parts = key.split("_")
    return tuple(dict.fromkeys("_".join(parts[:n]) for n in range(len(parts), 0, -1)))


_CODE = re.compile(r"[a-z]{2,3}(_[A-Za-z0-9]{1,8})*", re.ASCII)


def is_language_code(code: str) -> bool:
    """``de``, ``pt_BR``, ``zh_Hant``: what may name a catalog directory."""
    return _CODE.fullmatch(normalise(code)) is not None


class Languages:
    """The catalogs in one directory. Thread-safe: the UI thread and the runner's both ask."""

    def __init__(self, directory: Path = CATALOG_DIR, english: Mapping[str, str] | None = None) -> None:
        self.directory = directory
        self._english = english
        self._translators: dict[str, CatalogTranslator] = {}
        self._lock = threading.Lock()

    def available(self) -> tuple[str, ...]:
        """English (the code's own words) and every language with a catalog here."""
        return (ENGLISH, *(code for code in catalog_languages(self.directory) if code != ENGLISH))

    def translator(self, language: str) -> CatalogTranslator:
        """The translator for ``language``, built once. Unknown languages get English and a warning."""
        key = normalise(language)
        with self._lock:
            if key not in self._translators:
                self._translators[key] = self._build(language, key)
            return self._translators[key]

    def receipt_wording(self, language: str) -> ReceiptWording:
        """Core message ids rendered for the printed receipt: like the screen's, but a line's leading
        spaces (the receipt's indent) are kept."""
        translator = self.translator(language)

        def wording(message_id: str, params: Mapping[str, Param]) -> str:
            return translator.render(message_id, params, collapse=False)

        return wording

    def _build(self, requested: str, key: str) -> CatalogTranslator:
        english = self._english if self._english is not None else core_messages()
        lookups: list[Lookup] = []
        for code in candidates(key):
            if not po_path(code, self.directory).is_file():
                continue
            try:
                lookups.append(load(code, self.directory))
            except CatalogError as error:
                log.error("%s: its words are shown from the next fallback", error)
        base = key.split("_")[0]
        if not lookups and base not in ("", ENGLISH):
            log.warning("no catalog for language %r (available: %s): showing English", requested,
                        ", ".join(self.available()))
        understood = bool(lookups) or base == ENGLISH
        return CatalogTranslator(lookups[0].language if lookups else ENGLISH, lookups, english,
                                 _date_locale(key if understood else ENGLISH))


def _date_locale(key: str) -> Locale:
    for code in candidates(key):
        if code == ENGLISH:
            return Locale.parse(ENGLISH_DATES)
        try:
            return Locale.parse(code)
        except (ValueError, TypeError, UnknownLocaleError):
            continue
    return Locale.parse(ENGLISH_DATES)


def language_name(code: str) -> str:
    """The language's name in itself, capitalised for a button: "Deutsch", "Français", "English".
    A code Babel does not know is shown as the code."""
    try:
        name = Locale.parse(normalise(code)).get_display_name() or code
    except (ValueError, TypeError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:]
